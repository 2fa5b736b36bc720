// One sensor: status badge (client-side stale on the server's clock), last update, the present
// measurements with a 3-reading trend each. Memoised: it re-renders for its own sensor's changes
// only. The shared 1 s tick re-renders just the "x s ago" text, and the card itself only when its
// status flips (online → stale); the measurements only when the readings change. A card away from
// the viewport shows its sensor as of at most a few seconds ago (useHeldWhileHidden), and the newest
// as soon as it comes near the viewport.
import { memo, useRef, type RefObject } from "react";
import { useHeldWhileHidden } from "../hooks/useHeldWhileHidden";
import { useSensorStatus } from "../hooks/useSensorStatus";
import { fixed } from "../lib/format";
import { SENSOR_LABELS, SENSOR_TONES } from "../lib/labels";
import { isPresent, MEASURE_GROUPS } from "../lib/measures";
import { lastArrival } from "../lib/sensorStatus";
import { fullTime, localTime } from "../lib/time";
import type { Reading, Sensor } from "../lib/types";
import { Ago } from "./Ago";
import { Badge } from "./Badge";
import { Sparkline } from "./Sparkline";

export interface SensorCardProps {
  sensor: Sensor;
  staleAfterSeconds: number;
  /** Server clock minus the browser's (ms). */
  clockOffsetMs: number;
}

const Measurements = memo(function Measurements({ readings }: { readings: readonly Reading[] }) {
  const newest = readings[0];
  if (!newest) return <p className="card-quiet">No readings yet</p>;
  const rows = MEASURE_GROUPS.map((group) => ({ group, axes: group.axes.filter((axis) => isPresent(newest[axis.key])) })).filter(
    (g) => g.axes.length > 0,
  );
  if (rows.length === 0) return <p className="card-quiet">No values in the latest reading</p>;
  // One group per block: its label and unit on the left, one line per axis on the right.
  return (
    <dl className="measures">
      {rows.map(({ group, axes }) => (
        <div className="measure-group" key={group.key}>
          <dt style={{ gridRow: `span ${axes.length}` }}>
            {group.label} <span className="unit">{group.unit}</span>
          </dt>
          {axes.map((axis) => {
            const value = fixed(newest[axis.key] as number, group.decimals);
            const trend: number[] = [];
            for (let i = readings.length - 1; i >= 0; i -= 1) {
              const v = readings[i]?.[axis.key];
              if (typeof v === "number") trend.push(v);
            }
            return (
              <dd key={axis.key} className="measure">
                <span className="axis">{axis.name}</span>
                <span className="value" title={`${value} ${group.unit}`}>
                  {value}
                </span>
                <Sparkline
                  values={trend}
                  width={40}
                  height={14}
                  label={`${group.label} ${axis.name}, last ${trend.length} readings: ${trend.map((v) => fixed(v, group.decimals)).join(", ")}`}
                />
              </dd>
            );
          })}
        </div>
      ))}
    </dl>
  );
});

export const SensorCard = memo(function SensorCard({ sensor, staleAfterSeconds, clockOffsetMs }: SensorCardProps) {
  const ref = useRef<HTMLElement>(null);
  const shown = useHeldWhileHidden(sensor, ref);
  return <CardBody sensor={shown} staleAfterSeconds={staleAfterSeconds} clockOffsetMs={clockOffsetMs} elementRef={ref} />;
});

const CardBody = memo(function CardBody({
  sensor,
  staleAfterSeconds,
  clockOffsetMs,
  elementRef,
}: SensorCardProps & { elementRef: RefObject<HTMLElement | null> }) {
  const status = useSensorStatus(sensor, staleAfterSeconds, clockOffsetMs);
  const last = lastArrival(sensor);
  const clientStale = status === "stale" && sensor.status === "online";
  return (
    <article ref={elementRef} className={`card sensor sensor--${status}`} aria-labelledby={`sensor-${sensor.id}-name`}>
      <header className="card-head">
        <div className="card-title">
          <h3 id={`sensor-${sensor.id}-name`} className="sensor-name">
            {sensor.device_name}
          </h3>
          <span className="sensor-type">{sensor.device_type}</span>
          {!sensor.is_active && <span className="tag">inactive</span>}
        </div>
        <Badge tone={SENSOR_TONES[status]} title={clientStale ? `No reading for over ${staleAfterSeconds} s` : undefined}>
          {SENSOR_LABELS[status]}
        </Badge>
      </header>
      <p className="sensor-updated">
        <span className="card-quiet">Updated </span>
        <time dateTime={last ?? undefined} title={fullTime(last)}>
          {last ? localTime(last) : "never"}
        </time>
        {last && (
          <span className="card-quiet">
            {" · "}
            <Ago iso={last} clockOffsetMs={clockOffsetMs} />
          </span>
        )}
      </p>
      <Measurements readings={sensor.readings} />
    </article>
  );
});
