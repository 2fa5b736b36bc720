import type { Tone } from "../../lib/labels";
import type { AlertKind, AlertState } from "../../lib/types";

export const STATE_LABELS: Record<AlertState, string> = { open: "Open", acknowledged: "Acknowledged", resolved: "Resolved" };
export const STATE_TONES: Record<AlertState, Tone> = { open: "bad", acknowledged: "warn", resolved: "ok" };
export const KIND_LABELS: Record<AlertKind, string> = {
  connection_down: "Connection down",
  heartbeat_missing: "Heartbeat missing",
  sensor_offline: "Sensor offline",
  sensor_stale: "Sensor stale",
  flapping: "Flapping",
};

/** "ACC01, ACC02 and 98 more": a site-wide alert names a few sensors, not a hundred. */
export function compactSensors(names: readonly string[], shown = 2): string {
  if (names.length <= shown + 1) return names.join(", ");
  return `${names.slice(0, shown).join(", ")} and ${names.length - shown} more`;
}
