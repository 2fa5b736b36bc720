// A sensor's status as shown (the server's, or stale on the client's clock): follows the shared
// 1 s ticker but re-renders its component only when the status itself changes.
import { effectiveStatus } from "../lib/sensorStatus";
import { useTicking } from "../lib/ticker";
import type { Sensor, SensorStatus } from "../lib/types";

export function useSensorStatus(sensor: Sensor, staleAfterSeconds: number, clockOffsetMs: number): SensorStatus {
  return useTicking((now) => effectiveStatus(sensor, now + clockOffsetMs, staleAfterSeconds));
}
