import type { Connection, Reading, Sensor, Site, SiteSnapshot } from "../lib/types";

export function reading(timestamp: string, values: Partial<Reading> = {}): Reading {
  return {
    timestamp,
    received_at: timestamp,
    acc_x: 0.01,
    acc_y: -0.02,
    acc_z: 0.998,
    incli_x: 0.12,
    incli_y: -0.05,
    mag_x: null,
    mag_y: null,
    mag_z: null,
    gyro_x: null,
    gyro_y: null,
    gyro_z: null,
    ...values,
  };
}

export function sensor(id: number, overrides: Partial<Sensor> = {}): Sensor {
  return {
    id,
    device_name: `S${id}`,
    device_type: "ACC3",
    status: "online",
    is_online: true,
    is_active: true,
    status_changed_at: "2026-11-30T10:00:00Z",
    last_seen_at: "2026-11-30T10:00:00Z",
    last_reading_at: "2026-11-30T10:00:00Z",
    consecutive_misses: 0,
    total_messages: 10,
    readings: [reading("2026-11-30T10:00:00Z")],
    ...overrides,
  };
}

export function connection(overrides: Partial<Connection> = {}): Connection {
  return {
    id: 1,
    enabled: true,
    status: "connected",
    status_changed_at: "2026-11-30T09:00:00Z",
    heartbeat_state: "ok",
    last_heartbeat_at: "2026-11-30T10:00:00Z",
    last_connected_at: "2026-11-30T09:00:00Z",
    connection_errors: 0,
    error_message: "",
    ...overrides,
  };
}

export function snapshot(overrides: Partial<SiteSnapshot> = {}): SiteSnapshot {
  return {
    site: { id: 3, name: "Bridge North", code: "DEMO3", time_zone: "UTC" },
    connection: connection(),
    sensors: [sensor(1), sensor(2)],
    sensor_counts: { total: 2, online: 2, stale: 0, offline: 0 },
    system_info: null,
    server_time: "2026-11-30T10:00:05Z",
    stale_after_seconds: 30,
    heartbeat_timeout_seconds: 30,
    retention: 3,
    ...overrides,
  };
}

export function site(id: number, overrides: Partial<Site> = {}): Site {
  return {
    id,
    name: `Site ${id}`,
    code: `DEMO${id}`,
    customer: { id: 1, name: "Acme Bridges" },
    time_zone: "UTC",
    is_active: true,
    connection: connection({ id }),
    sensor_counts: { total: 4, online: 4, stale: 0, offline: 0 },
    created_at: "2026-11-01T00:00:00Z",
    updated_at: "2026-11-01T00:00:00Z",
    ...overrides,
  };
}

/** A scheduler the test flushes by hand: one "animation frame" per call of runFrame(). */
export function manualFrames() {
  let pending: (() => void)[] = [];
  const schedule = (cb: () => void) => {
    pending.push(cb);
    return () => {
      pending = pending.filter((p) => p !== cb);
    };
  };
  return {
    schedule,
    runFrame() {
      const now = pending;
      pending = [];
      now.forEach((cb) => cb());
    },
    get pending() {
      return pending.length;
    },
  };
}
