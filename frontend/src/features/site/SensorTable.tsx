// The site's sensors as one dense table: a row per sensor, the newest values per axis. Rows are
// memoised on their sensor; the shared 1 s tick re-renders only the age text, and the status and
// name cells when the status flips. (Rows scrolled away are not held back as off-screen cards are:
// measured, spreading their refreshes over frames cost more table layouts than it saved.)
import { memo } from "react";
import { Ago } from "../../components/Ago";
import { Badge } from "../../components/Badge";
import { fixed } from "../../lib/format";
import { SENSOR_LABELS, SENSOR_TONES } from "../../lib/labels";
import { isPresent, type MeasureGroup } from "../../lib/measures";
import { useSensorStatus } from "../../hooks/useSensorStatus";
import { lastArrival } from "../../lib/sensorStatus";
import { fullTime, localTime } from "../../lib/time";
import type { Sensor } from "../../lib/types";

interface Timing {
  staleAfterSeconds: number;
  clockOffsetMs: number;
}

const StatusCell = memo(function StatusCell({ sensor, staleAfterSeconds, clockOffsetMs }: { sensor: Sensor } & Timing) {
  const status = useSensorStatus(sensor, staleAfterSeconds, clockOffsetMs);
  const clientStale = status === "stale" && sensor.status === "online";
  return (
    <td className={`st st--${status}`}>
      <Badge tone={SENSOR_TONES[status]} title={clientStale ? `No reading for over ${staleAfterSeconds} s` : undefined}>
        {SENSOR_LABELS[status]}
      </Badge>
    </td>
  );
});

/** The sticky name cell, with a stripe of the status colour: still seen when the table is scrolled sideways. */
const NameCell = memo(function NameCell({ sensor, staleAfterSeconds, clockOffsetMs }: { sensor: Sensor } & Timing) {
  const status = useSensorStatus(sensor, staleAfterSeconds, clockOffsetMs);
  return (
    <th scope="row" className={`c-name c-name--${status}`}>
      {sensor.device_name}
      {!sensor.is_active && <span className="tag">inactive</span>}
    </th>
  );
});

const UpdatedCell = memo(function UpdatedCell({ last, clockOffsetMs }: { last: string | null; clockOffsetMs: number }) {
  return (
    <td className="c-updated">
      <time dateTime={last ?? undefined} title={fullTime(last)}>
        {last ? localTime(last) : "never"}
      </time>
      {last && (
        <span className="quiet age">
          {" "}
          <Ago iso={last} clockOffsetMs={clockOffsetMs} />
        </span>
      )}
    </td>
  );
});

const SensorRow = memo(function SensorRow({
  sensor,
  groups,
  staleAfterSeconds,
  clockOffsetMs,
  showType,
}: { sensor: Sensor; groups: readonly MeasureGroup[]; showType: boolean } & Timing) {
  const newest = sensor.readings[0];
  return (
    <tr>
      <NameCell sensor={sensor} staleAfterSeconds={staleAfterSeconds} clockOffsetMs={clockOffsetMs} />
      {showType && <td className="c-type">{sensor.device_type || "—"}</td>}
      <StatusCell sensor={sensor} staleAfterSeconds={staleAfterSeconds} clockOffsetMs={clockOffsetMs} />
      <UpdatedCell last={lastArrival(sensor)} clockOffsetMs={clockOffsetMs} />
      {groups.map((group) =>
        group.axes.map((axis, i) => {
          const value = newest?.[axis.key];
          return (
            <td key={axis.key} className={`num${i === 0 ? " c-group" : ""}`}>
              {isPresent(value) ? fixed(value, group.decimals) : <span className="quiet">—</span>}
            </td>
          );
        }),
      )}
    </tr>
  );
});

export function SensorTable({
  sensors,
  groups,
  staleAfterSeconds,
  clockOffsetMs,
  labelledBy,
  showType = true,
}: {
  sensors: readonly Sensor[];
  groups: readonly MeasureGroup[];
  labelledBy?: string;
  /** The type column (left out when no sensor of the site reports a type). */
  showType?: boolean;
} & Timing) {
  return (
    <div className="sensor-table-wrap" tabIndex={0} role="region" aria-label="Sensor table">
      <table className="sensor-table" aria-labelledby={labelledBy}>
        <thead>
          <tr>
            <th scope="col" rowSpan={2} className="c-name">
              Sensor
            </th>
            {showType && (
              <th scope="col" rowSpan={2}>
                Type
              </th>
            )}
            <th scope="col" rowSpan={2}>
              Status
            </th>
            <th scope="col" rowSpan={2}>
              Last update
            </th>
            {groups.map((group) => (
              <th key={group.key} scope="colgroup" colSpan={group.axes.length} className="c-group c-group-head">
                {group.label} <span className="unit">({group.unit})</span>
              </th>
            ))}
          </tr>
          <tr>
            {groups.map((group) =>
              group.axes.map((axis, i) => (
                <th key={axis.key} scope="col" className={`num axis-head${i === 0 ? " c-group" : ""}`}>
                  <span className="visually-hidden">{group.label} </span>
                  {axis.name}
                </th>
              )),
            )}
          </tr>
        </thead>
        <tbody>
          {sensors.map((sensor) => (
            <SensorRow key={sensor.id} sensor={sensor} groups={groups} showType={showType} staleAfterSeconds={staleAfterSeconds} clockOffsetMs={clockOffsetMs} />
          ))}
        </tbody>
      </table>
    </div>
  );
}
