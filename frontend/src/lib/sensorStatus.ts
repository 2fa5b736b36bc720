// The status a sensor shows: the server's offline/stale always win; otherwise a sensor whose newest
// reading arrived more than stale_after_seconds ago (on the server's clock) is stale, even before
// the server says so.
import { parseTime } from "./time";
import type { Sensor, SensorCounts, SensorStatus } from "./types";

export const DEFAULT_STALE_AFTER_SECONDS = 30;

export function lastArrival(sensor: Sensor): string | null {
  return sensor.readings[0]?.received_at ?? sensor.last_reading_at ?? null;
}

export function effectiveStatus(sensor: Sensor, serverNowMs: number, staleAfterSeconds: number): SensorStatus {
  if (sensor.status === "offline" || sensor.status === "stale") return sensor.status;
  const last = parseTime(lastArrival(sensor));
  if (last !== null && serverNowMs - last > staleAfterSeconds * 1000) return "stale";
  return "online";
}

/** When a sensor that shows online now turns stale on its own (server ms), or null. */
export function staleAt(sensor: Sensor, staleAfterSeconds: number): number | null {
  const last = parseTime(lastArrival(sensor));
  return last === null ? null : last + staleAfterSeconds * 1000;
}

export function countSensors(sensors: readonly Sensor[], serverNowMs: number, staleAfterSeconds: number): SensorCounts {
  const counts: SensorCounts = { total: sensors.length, online: 0, stale: 0, offline: 0 };
  for (const sensor of sensors) counts[effectiveStatus(sensor, serverNowMs, staleAfterSeconds)] += 1;
  return counts;
}
