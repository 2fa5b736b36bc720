import { effectiveStatus, lastArrival } from "../../lib/sensorStatus";
import { naturalCompare } from "../../lib/sort";
import { parseTime } from "../../lib/time";
import type { Sensor, SensorStatus } from "../../lib/types";

export type SensorFilter = "all" | SensorStatus;
export type SensorSort = "name" | "status" | "updated";

export const SENSOR_FILTERS: { key: SensorFilter; label: string }[] = [
  { key: "all", label: "All" },
  { key: "online", label: "Online" },
  { key: "stale", label: "Stale" },
  { key: "offline", label: "Offline" },
];

export const SENSOR_SORTS: { key: SensorSort; label: string }[] = [
  { key: "name", label: "Name" },
  { key: "status", label: "Status (problems first)" },
  { key: "updated", label: "Last update" },
];

const RANK: Record<SensorStatus, number> = { offline: 0, stale: 1, online: 2 };

export function selectSensors(
  sensors: readonly Sensor[],
  opts: { query: string; filter: SensorFilter; sort: SensorSort; serverNow: number; staleAfterSeconds: number },
): Sensor[] {
  const q = opts.query.trim().toLowerCase();
  const status = new Map(sensors.map((s) => [s.id, effectiveStatus(s, opts.serverNow, opts.staleAfterSeconds)]));
  const list = sensors.filter(
    (s) =>
      (opts.filter === "all" || status.get(s.id) === opts.filter) &&
      (!q || s.device_name.toLowerCase().includes(q) || s.device_type.toLowerCase().includes(q)),
  );
  const byName = (a: Sensor, b: Sensor) => naturalCompare(a.device_name, b.device_name);
  if (opts.sort === "status") {
    list.sort((a, b) => RANK[status.get(a.id) ?? "online"] - RANK[status.get(b.id) ?? "online"] || byName(a, b));
  } else if (opts.sort === "updated") {
    list.sort((a, b) => (parseTime(lastArrival(b)) ?? 0) - (parseTime(lastArrival(a)) ?? 0) || byName(a, b));
  } else {
    list.sort(byName);
  }
  return list;
}
