import { memo } from "react";

interface SparklineProps {
  /** Oldest first. */
  values: readonly number[];
  label: string;
  width?: number;
  height?: number;
}

/** A tiny inline-SVG trend of the last few values. */
export const Sparkline = memo(function Sparkline({ values, label, width = 48, height = 16 }: SparklineProps) {
  if (values.length < 2) return <span className="spark spark--empty" aria-hidden="true" />;
  const min = Math.min(...values);
  const max = Math.max(...values);
  const range = max - min || 1;
  const step = width / (values.length - 1);
  const points = values
    .map((v, i) => {
      const x = i * step;
      const y = max === min ? height / 2 : height - 2 - ((v - min) / range) * (height - 4);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
  const last = points.split(" ").at(-1)?.split(",") ?? ["0", "0"];
  return (
    <svg className="spark" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      <polyline points={points} fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinejoin="round" strokeLinecap="round" />
      <circle cx={last[0]} cy={last[1]} r="2" fill="currentColor" />
    </svg>
  );
});
