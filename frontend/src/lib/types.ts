// The backend contract, as the API and the sockets send it. Times are ISO 8601 strings or null.

export type ConnectionStatus = "disconnected" | "connecting" | "connected" | "error" | "disabled";
export type HeartbeatState = "unknown" | "ok" | "late" | "missing";
export type SensorStatus = "online" | "stale" | "offline";
export type LogLevel = "ok" | "warn" | "bad" | "action" | "info";

export interface SensorCounts {
  total: number;
  online: number;
  stale: number;
  offline: number;
}

export interface Me {
  id: number;
  username: string;
  display_name: string;
  is_staff: boolean;
  can_control: boolean;
  server_time: string;
  stale_after_seconds: number;
  heartbeat_timeout_seconds: number;
}

export interface Connection {
  id: number;
  enabled: boolean;
  status: ConnectionStatus;
  status_changed_at: string | null;
  heartbeat_state: HeartbeatState;
  last_heartbeat_at: string | null;
  last_connected_at: string | null;
  connection_errors: number;
  error_message: string;
  broker_host?: string;
  broker_port?: number;
  ssl_enabled?: boolean;
  heartbeat_interval?: number | null;
  reported_heartbeat_interval?: number | null;
}

export interface Site {
  id: number;
  name: string;
  code: string;
  customer: { id: number; name: string } | null;
  time_zone: string;
  is_active: boolean;
  connection: Connection | null;
  sensor_counts: SensorCounts;
  created_at: string;
  updated_at: string;
}

export interface Paginated<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

export interface SystemInfo {
  hostname: string | null;
  firmware_version: string | null;
  ip_address: string | null;
  uptime_seconds: number | null;
  cpu_load: number | null;
  temperature_c: number | null;
  memory_total_bytes: number | null;
  memory_free_bytes: number | null;
  disk_total_bytes: number | null;
  disk_free_bytes: number | null;
  reported_at: string | null;
  received_at: string | null;
}

export interface LogEvent {
  id: number;
  connection: number | null;
  site: number | null;
  site_code: string;
  site_name?: string;
  event_type: string;
  event: string;
  level: LogLevel;
  message: string;
  timestamp: string;
  actor: string | null;
}

export interface Reading {
  timestamp: string;
  received_at: string | null;
  acc_x: number | null;
  acc_y: number | null;
  acc_z: number | null;
  incli_x: number | null;
  incli_y: number | null;
  mag_x: number | null;
  mag_y: number | null;
  mag_z: number | null;
  gyro_x: number | null;
  gyro_y: number | null;
  gyro_z: number | null;
}

export interface Sensor {
  id: number;
  device_name: string;
  device_type: string;
  status: SensorStatus;
  is_online: boolean;
  is_active: boolean;
  status_changed_at: string | null;
  last_seen_at: string | null;
  last_reading_at: string | null;
  consecutive_misses: number;
  total_messages: number;
  readings: Reading[];
}

export interface SiteRef {
  id: number;
  name: string;
  code: string;
  time_zone: string;
}

export interface SiteSnapshot {
  site: SiteRef;
  connection: Connection | null;
  sensors: Sensor[];
  sensor_counts: SensorCounts;
  system_info: SystemInfo | null;
  server_time: string;
  stale_after_seconds: number;
  heartbeat_timeout_seconds: number;
  retention: number;
  /** The site has more sensors than the snapshot lists (the server's per-site cap). */
  sensors_truncated?: boolean;
}

/** The changed connection fields of a status_update / site_update frame. */
export type ConnectionDelta = Partial<
  Pick<
    Connection,
    | "status"
    | "status_changed_at"
    | "last_connected_at"
    | "connection_errors"
    | "error_message"
    | "last_heartbeat_at"
    | "heartbeat_state"
    | "reported_heartbeat_interval"
    | "enabled"
  >
> & { site_id: number; sensor_counts?: Partial<SensorCounts>; system_info_updated?: boolean };

export interface SensorStatusChange {
  device_name: string;
  old: SensorStatus;
  new: SensorStatus;
  reason: string;
  at: string | null;
}

export type SiteFrame =
  | { type: "snapshot"; data: SiteSnapshot }
  | { type: "sensors_update"; site_id: number; sensors: Sensor[] }
  | { type: "sensor_status"; site_id: number; changes: SensorStatusChange[] }
  | { type: "site_update"; data: ConnectionDelta }
  | { type: "pong" };

export type StatusFrame = { type: "status_update"; data: ConnectionDelta } | { type: "pong" };

export interface OpsConnection {
  id: number;
  site_id: number;
  site_name: string;
  site_code: string;
  broker: string;
  tls: boolean;
  enabled: boolean;
  status: ConnectionStatus;
  status_changed_at: string | null;
  last_connected_at: string | null;
  last_heartbeat_at: string | null;
  heartbeat_state: HeartbeatState;
  connection_errors: number;
  error_message: string;
  sensor_counts: SensorCounts;
}

/** A live worker and the clients it runs (workers share the connections through leases). */
export interface WorkerPeer {
  worker_id: string;
  hostname: string;
  pid: number;
  connections: number;
  last_seen_at: string | null;
}

export interface Worker {
  alive: boolean;
  last_seen_at: string | null;
  started_at: string | null;
  hostname: string;
  pid: number;
  connections: number;
  alive_workers: number;
  workers?: WorkerPeer[];
  stale_after: number;
}

export interface OpsState {
  server_time: string;
  totals: { connections: number; active: number; sensors: number; online_sensors: number };
  connections: OpsConnection[];
  logs: LogEvent[];
  worker: Worker | null;
}

// ---- Continuity of service (issue 12): availability, downtime, alerts, maintenance windows.

export type AvailabilityWindow = "24h" | "7d" | "30d";
export type AvailabilityBucketSize = "hour" | "day";

/** Uptime of one monitored thing over the window; excluded = disabled by an operator or unknown. */
export interface UptimeFigure {
  uptime_percentage: number | null;
  up_seconds: number;
  down_seconds: number;
  excluded_seconds: number;
  maintenance_seconds: number;
}

export interface AvailabilityBucket {
  start: string;
  end: string;
  connection_uptime: number | null;
  heartbeat_uptime: number | null;
  sensors_uptime: number | null;
  maintenance_seconds: number;
  expected_heartbeats: number;
  received_heartbeats: number;
}

export interface SiteAvailability {
  site: number;
  start: string;
  end: string;
  bucket: AvailabilityBucketSize;
  connection: UptimeFigure;
  heartbeat: UptimeFigure;
  sensors: { uptime_percentage: number | null; count: number };
  completeness: { expected: number; received: number; percentage: number | null };
  buckets: AvailabilityBucket[];
}

export interface SensorAvailability {
  sensor: number;
  device_name: string;
  uptime_percentage: number | null;
  down_seconds: number;
  buckets: { start: string; uptime_percentage: number | null }[];
}

export type DowntimeKind = "connection" | "heartbeat" | "sensor";

export interface DowntimePeriod {
  kind: DowntimeKind;
  sensor: number | null;
  device_name: string | null;
  start: string;
  /** null while the period is ongoing */
  end: string | null;
  duration_seconds: number;
  reason: string;
  in_maintenance: boolean;
}

export type AlertKind = "connection_down" | "heartbeat_missing" | "sensor_offline" | "sensor_stale" | "flapping";
export type AlertState = "open" | "acknowledged" | "resolved";

export interface Alert {
  id: number;
  site: number;
  site_name: string;
  site_code: string;
  kind: AlertKind;
  severity: "critical" | "warning";
  state: AlertState;
  title: string;
  message: string;
  affected_sensors: string[];
  opened_at: string;
  resolved_at: string | null;
  acknowledged_at: string | null;
  /** A username for staff; the word "operator" for customers. */
  acknowledged_by: string | null;
  in_maintenance: boolean;
}

export type MaintenanceState = "upcoming" | "active" | "past";

export interface MaintenanceWindow {
  id: number;
  site: number;
  starts_at: string;
  ends_at: string;
  reason: string;
  created_by: string | null;
  state: MaintenanceState;
}
