import type { ConnectionStatus, HeartbeatState, SensorStatus } from "./types";

export type Tone = "ok" | "warn" | "bad" | "muted" | "info" | "action";

export const CONNECTION_LABELS: Record<ConnectionStatus, string> = {
  disconnected: "Disconnected",
  connecting: "Connecting",
  connected: "Connected",
  error: "Error",
  disabled: "Disabled",
};

export const CONNECTION_TONES: Record<ConnectionStatus, Tone> = {
  disconnected: "bad",
  connecting: "warn",
  connected: "ok",
  error: "bad",
  disabled: "muted",
};

export const HEARTBEAT_LABELS: Record<HeartbeatState, string> = {
  unknown: "Unknown",
  ok: "OK",
  late: "Late",
  missing: "Missing",
};

export const HEARTBEAT_TONES: Record<HeartbeatState, Tone> = {
  unknown: "muted",
  ok: "ok",
  late: "warn",
  missing: "bad",
};

export const SENSOR_LABELS: Record<SensorStatus, string> = {
  online: "Online",
  stale: "Stale",
  offline: "Offline",
};

export const SENSOR_TONES: Record<SensorStatus, Tone> = {
  online: "ok",
  stale: "warn",
  offline: "bad",
};
