// One sensor: status badge (client-side stale on the server's clock), last update, the present
// measurements with a 3-reading trend each. Memoised: it re-renders for its own sensor's changes
// and the shared 1 s tick only.
import { memo } from "react";
import { fixed } from "../lib/format";
import { SENSOR_LABELS, SENSOR_TONES } from "../lib/labels";
import { effectiveStatus, lastArrival } from "../lib/sensorStatus";
import { useNow } from "../lib/ticker";
import { ago, fullTime, localTime } from "../lib/time";
import type { Reading, Sensor } from "../lib/types";
import { Badge } from "./Badge";
import { Sparkline } from "./Sparkline";

type Axis = keyof Omit<Reading, "timestamp" | "received_at">;

interface Group {
  label: string;
  unit: string;
  decimals: number;
  axes: { key: Axis; name: string }[];
}

const GROUPS: Group[] = [
  { label: "Acceleration", unit: "g", decimals: 3, axes: [{ key: "acc_x", name: "x" }, { key: "acc_y", name: "y" }, { key: "acc_z", name: "z" }] },
  { label: "Inclination", unit: "°", decimals: 3, axes: [{ key: "incli_x", name: "x" }, { key: "incli_y", name: "y" }] },
  { label: "Magnetic field", unit: "µT", decimals: 1, axes: [{ key: "mag_x", name: "x" }, { key: "mag_y", name: "y" }, { key: "mag_z", name: "z" }] },
  { label: "Gyroscope", unit: "°/s", decimals: 2, axes: [{ key: "gyro_x", name: "x" }, { key: "gyro_y", name: "y" }, { key: "gyro_z", name: "z" }] },
];

export interface SensorCardProps {
  sensor: Sensor;
  staleAfterSeconds: number;
  /** Server clock minus the browser's (ms). */
  clockOffsetMs: number;
}

function Measurements({ readings }: { readings: readonly Reading[] }) {
  const newest = readings[0];
  if (!newest) return <p className="card-quiet">No readings yet</p>;
  const rows = GROUPS.map((group) => {
    const axes = group.axes.filter((axis) => newest[axis.key] !== null && newest[axis.key] !== undefined);
    return { group, axes };
  }).filter((g) => g.axes.length > 0);
  if (rows.length === 0) return <p className="card-quiet">No values in the latest reading</p>;
  return (
    <dl className="measures">
      {rows.map(({ group, axes }) => (
        <div className="measure-group" key={group.label}>
          <dt>
            {group.label} <span className="unit">({group.unit})</span>
          </dt>
          {axes.map((axis) => {
            const value = newest[axis.key] as number;
            const trend = readings
              .map((r) => r[axis.key])
              .filter((v): v is number => typeof v === "number")
              .reverse();
            return (
              <dd key={axis.key} className="measure">
                <span className="axis">{axis.name}</span>
                <span className="value">
                  {fixed(value, group.decimals)}
                  <span className="unit"> {group.unit}</span>
                </span>
                <Sparkline values={trend} label={`${group.label} ${axis.name}, last ${trend.length} readings: ${trend.map((v) => fixed(v, group.decimals)).join(", ")}`} />
              </dd>
            );
          })}
        </div>
      ))}
    </dl>
  );
}

export const SensorCard = memo(function SensorCard({ sensor, staleAfterSeconds, clockOffsetMs }: SensorCardProps) {
  const now = useNow();
  const serverNow = now + clockOffsetMs;
  const status = effectiveStatus(sensor, serverNow, staleAfterSeconds);
  const last = lastArrival(sensor);
  const clientStale = status === "stale" && sensor.status === "online";
  return (
    <article className={`card sensor sensor--${status}`} aria-labelledby={`sensor-${sensor.id}-name`}>
      <header className="card-head">
        <div className="card-title">
          <h3 id={`sensor-${sensor.id}-name`} className="sensor-name">
            {sensor.device_name}
          </h3>
          <span className="sensor-type">{sensor.device_type}</span>
        </div>
        <Badge tone={SENSOR_TONES[status]} title={clientStale ? `No reading for over ${staleAfterSeconds} s` : undefined}>
          {SENSOR_LABELS[status]}
        </Badge>
      </header>
      <p className="sensor-updated">
        <span className="card-quiet">Last update </span>
        <time dateTime={last ?? undefined} title={fullTime(last)}>
          {last ? localTime(last) : "never"}
        </time>
        {last && <span className="card-quiet"> · {ago(last, serverNow)}</span>}
        {!sensor.is_active && <span className="tag">inactive</span>}
      </p>
      <Measurements readings={sensor.readings} />
    </article>
  );
});
