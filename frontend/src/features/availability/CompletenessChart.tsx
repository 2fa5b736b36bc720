import type { AvailabilityBucket } from "../../lib/types";
import { percentText, periodText } from "./uptime";

const HEIGHT = 80;

/**
 * Heartbeats received against expected per bucket, in plain SVG (a few dozen bars: no chart library
 * needed, and it renders and tests in jsdom). The expected count is the outline, the received the fill.
 */
export function CompletenessChart({
  buckets,
  expected,
  received,
  percentage,
}: {
  buckets: readonly AvailabilityBucket[];
  expected: number;
  received: number;
  percentage: number | null;
}) {
  const summary =
    expected > 0
      ? `${received.toLocaleString()} of ${expected.toLocaleString()} expected heartbeats received (${percentText(percentage)})`
      : "No heartbeats were expected in this window";
  const max = Math.max(1, ...buckets.map((b) => Math.max(b.expected_heartbeats, b.received_heartbeats)));
  const width = 100 / Math.max(1, buckets.length);
  return (
    <figure className="completeness">
      <figcaption>
        <span className="completeness-figure">{percentText(percentage)}</span> <span className="quiet">{summary}</span>
      </figcaption>
      {buckets.length > 0 && expected > 0 && (
        <svg className="completeness-chart" viewBox={`0 0 100 ${HEIGHT}`} preserveAspectRatio="none" role="img" aria-label={summary}>
          {buckets.map((b, i) => {
            const expectedHeight = (b.expected_heartbeats / max) * HEIGHT;
            const receivedHeight = (Math.min(b.received_heartbeats, max) / max) * HEIGHT;
            const short = b.received_heartbeats < b.expected_heartbeats;
            return (
              <g key={b.start} data-expected={b.expected_heartbeats} data-received={b.received_heartbeats}>
                <title>{`${periodText(b.start, b.end)}: ${b.received_heartbeats} of ${b.expected_heartbeats} heartbeats`}</title>
                <rect className="completeness-expected" x={i * width + width * 0.1} width={width * 0.8} y={HEIGHT - expectedHeight} height={expectedHeight} />
                <rect
                  className={`completeness-received${short ? " completeness-received--short" : ""}`}
                  x={i * width + width * 0.1}
                  width={width * 0.8}
                  y={HEIGHT - receivedHeight}
                  height={receivedHeight}
                />
              </g>
            );
          })}
        </svg>
      )}
    </figure>
  );
}
