// The site page's state, outside React: fed by a snapshot then deltas from /ws/mqtt/site/{id}/.
//
// - Incoming frames are queued and applied in one batch per animation frame; subscribers are
//   notified once per batch.
// - Updates are immutable: only changed sensors get new objects, so memoised cards stay put.
// - Out of order: a delta older than what it would replace does not roll the state back.
// - Resync: between beginResync() (the socket reopened) and the next snapshot, deltas are buffered
//   and replayed on top of the snapshot.
import { FrameQueue, type FrameScheduler } from "./frame";
import { DEFAULT_STALE_AFTER_SECONDS } from "./sensorStatus";
import { clockOffset, parseTime } from "./time";
import type {
  Connection,
  ConnectionDelta,
  Reading,
  Sensor,
  SensorCounts,
  SensorStatusChange,
  SiteFrame,
  SiteRef,
  SiteSnapshot,
  SystemInfo,
} from "./types";

export interface SiteState {
  /** False until the first snapshot. */
  ready: boolean;
  resyncing: boolean;
  site: SiteRef | null;
  connection: Connection | null;
  sensors: readonly Sensor[];
  serverCounts: SensorCounts | null;
  systemInfo: SystemInfo | null;
  /** Server clock minus the browser's, in ms, measured when the snapshot arrived. */
  clockOffsetMs: number;
  staleAfterSeconds: number;
  heartbeatTimeoutSeconds: number;
  retention: number;
}

export interface SiteStoreHooks {
  /** system_info_updated arrived: re-fetch the system info. */
  onSystemInfoChanged?: () => void;
  /** A change that the server logs (status, heartbeat state, error): re-fetch the events. */
  onLoggedChange?: () => void;
  /** A snapshot was applied. */
  onSnapshot?: () => void;
}

export const INITIAL_SITE_STATE: SiteState = {
  ready: false,
  resyncing: false,
  site: null,
  connection: null,
  sensors: [],
  serverCounts: null,
  systemInfo: null,
  clockOffsetMs: 0,
  staleAfterSeconds: DEFAULT_STALE_AFTER_SECONDS,
  heartbeatTimeoutSeconds: 30,
  retention: 3,
};

const LOGGED_FIELDS = ["status", "heartbeat_state", "error_message"] as const;
const CONNECTION_FIELDS = [
  "status",
  "status_changed_at",
  "last_connected_at",
  "connection_errors",
  "error_message",
  "last_heartbeat_at",
  "heartbeat_state",
  "reported_heartbeat_interval",
  "enabled",
] as const;

function newestTime(sensor: Sensor): number | null {
  const reading = parseTime(sensor.readings[0]?.timestamp);
  const seen = parseTime(sensor.last_seen_at);
  const last = parseTime(sensor.last_reading_at);
  const times = [reading, seen, last].filter((t): t is number => t !== null);
  return times.length ? Math.max(...times) : null;
}

function sortReadings(readings: Reading[], retention: number): Reading[] {
  const sorted = [...readings].sort((a, b) => (parseTime(b.timestamp) ?? 0) - (parseTime(a.timestamp) ?? 0));
  return sorted.slice(0, Math.max(1, retention));
}

/** Merges one sensors_update entry into the held sensor (or adds it). */
export function mergeSensor(held: Sensor | undefined, incoming: Sensor, retention: number): Sensor {
  if (!held) return { ...incoming, readings: sortReadings(incoming.readings ?? [], retention) };
  const known = new Set(held.readings.map((r) => r.timestamp));
  const fresh = (incoming.readings ?? []).filter((r) => !known.has(r.timestamp));
  const readings = fresh.length ? sortReadings([...fresh, ...held.readings], retention) : held.readings;
  const heldTime = newestTime(held);
  const incomingTime = newestTime({ ...incoming, readings: incoming.readings ?? [] });
  const older = heldTime !== null && incomingTime !== null && incomingTime < heldTime;
  if (older) {
    // Too late to replace anything; keep only readings we did not have (sorted into place).
    return readings === held.readings ? held : { ...held, readings };
  }
  return { ...held, ...incoming, readings };
}

function applyStatusChange(sensor: Sensor, change: SensorStatusChange): Sensor {
  const at = parseTime(change.at);
  const since = parseTime(sensor.status_changed_at);
  if (at !== null && since !== null && at < since) return sensor; // an older transition
  if (sensor.status === change.new && (at === null || at === since)) return sensor;
  return {
    ...sensor,
    status: change.new,
    is_online: change.new === "online",
    status_changed_at: change.at ?? sensor.status_changed_at,
  };
}

/** Merges changed connection fields; a status older than the held one is not applied. */
export function mergeConnection(held: Connection | null, delta: ConnectionDelta): Connection | null {
  if (!held) return held;
  const next: Connection = { ...held };
  let changed = false;
  const incomingSince = parseTime(delta.status_changed_at);
  const heldSince = parseTime(held.status_changed_at);
  const staleStatus = incomingSince !== null && heldSince !== null && incomingSince < heldSince;
  const incomingBeat = parseTime(delta.last_heartbeat_at);
  const heldBeat = parseTime(held.last_heartbeat_at);
  const staleBeat = incomingBeat !== null && heldBeat !== null && incomingBeat < heldBeat;
  for (const field of CONNECTION_FIELDS) {
    if (!(field in delta)) continue;
    if (staleStatus && (field === "status" || field === "status_changed_at")) continue;
    if (staleBeat && (field === "last_heartbeat_at" || field === "heartbeat_state")) continue;
    const value = delta[field];
    if (value === undefined || next[field] === value) continue;
    (next as unknown as Record<string, unknown>)[field] = value;
    changed = true;
  }
  return changed ? next : held;
}

export class SiteStore {
  private state: SiteState = INITIAL_SITE_STATE;
  private readonly listeners = new Set<() => void>();
  private readonly queue: FrameQueue<SiteFrame>;
  private buffer: SiteFrame[] = [];
  private resyncing = false;

  constructor(
    private readonly hooks: SiteStoreHooks = {},
    schedule?: FrameScheduler,
  ) {
    this.queue = new FrameQueue((frames) => this.applyBatch(frames), schedule);
  }

  getState = (): SiteState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Queues a frame from the socket; applied on the next animation frame. */
  receive(frame: unknown): void {
    if (!frame || typeof frame !== "object" || typeof (frame as { type?: unknown }).type !== "string") return;
    this.queue.push(frame as SiteFrame);
  }

  /** The socket (re)opened: hold deltas until the fresh snapshot, then replay them on top. */
  beginResync(): void {
    this.queue.drain();
    this.resyncing = true;
    this.buffer = [];
    if (this.state.ready) this.setState({ ...this.state, resyncing: true });
  }

  setSystemInfo(info: SystemInfo | null): void {
    if (info === this.state.systemInfo) return;
    this.setState({ ...this.state, systemInfo: info });
  }

  /** Applies everything queued now (tests, or before reading state synchronously). */
  flush(): void {
    this.queue.drain();
  }

  dispose(): void {
    this.queue.dispose();
    this.listeners.clear();
  }

  // ---------------------------------------------------------------- applying

  private applyBatch(frames: SiteFrame[]): void {
    let state = this.state;
    let snapshotApplied = false;
    for (const frame of frames) {
      if (frame.type === "snapshot") {
        state = this.applySnapshot(frame.data);
        snapshotApplied = true;
        const replay = this.buffer;
        this.buffer = [];
        this.resyncing = false;
        for (const buffered of replay) state = this.applyDelta(state, buffered);
      } else if (this.resyncing) {
        this.buffer.push(frame);
      } else {
        state = this.applyDelta(state, frame);
      }
    }
    this.setState(state);
    if (snapshotApplied) this.hooks.onSnapshot?.();
  }

  private applySnapshot(data: SiteSnapshot): SiteState {
    const retention = data.retention || INITIAL_SITE_STATE.retention;
    // Keep the objects of sensors that did not change, so their cards do not re-render.
    const previous = new Map(this.state.sensors.map((s) => [s.id, s]));
    const sensors = data.sensors.map((incoming) => {
      const fresh = { ...incoming, readings: sortReadings(incoming.readings ?? [], retention) };
      const held = previous.get(incoming.id);
      return held && JSON.stringify(held) === JSON.stringify(fresh) ? held : fresh;
    });
    return {
      ready: true,
      resyncing: false,
      site: data.site,
      connection: data.connection,
      sensors,
      serverCounts: data.sensor_counts,
      systemInfo: data.system_info,
      clockOffsetMs: clockOffset(data.server_time),
      staleAfterSeconds: data.stale_after_seconds || DEFAULT_STALE_AFTER_SECONDS,
      heartbeatTimeoutSeconds: data.heartbeat_timeout_seconds || 30,
      retention,
    };
  }

  private applyDelta(state: SiteState, frame: SiteFrame): SiteState {
    switch (frame.type) {
      case "sensors_update":
        return this.applySensors(state, frame.sensors);
      case "sensor_status":
        return this.applyStatusChanges(state, frame.changes);
      case "site_update":
        return this.applySiteUpdate(state, frame.data);
      default:
        return state;
    }
  }

  private applySensors(state: SiteState, incoming: Sensor[]): SiteState {
    if (!incoming?.length) return state;
    const index = new Map(state.sensors.map((s, i) => [s.id, i]));
    let sensors: Sensor[] | null = null;
    for (const sensor of incoming) {
      const i = index.get(sensor.id);
      const held = i === undefined ? undefined : (sensors ?? state.sensors)[i];
      const merged = mergeSensor(held, sensor, state.retention);
      if (merged === held) continue;
      sensors ??= [...state.sensors];
      if (i === undefined) {
        index.set(sensor.id, sensors.length);
        sensors.push(merged);
      } else {
        sensors[i] = merged;
      }
    }
    return sensors ? { ...state, sensors } : state;
  }

  private applyStatusChanges(state: SiteState, changes: SensorStatusChange[]): SiteState {
    if (!changes?.length) return state;
    const index = new Map(state.sensors.map((s, i) => [s.device_name, i]));
    let sensors: Sensor[] | null = null;
    for (const change of changes) {
      const i = index.get(change.device_name);
      if (i === undefined) continue;
      const held = (sensors ?? state.sensors)[i];
      if (!held) continue;
      const next = applyStatusChange(held, change);
      if (next === held) continue;
      sensors ??= [...state.sensors];
      sensors[i] = next;
    }
    return sensors ? { ...state, sensors } : state;
  }

  private applySiteUpdate(state: SiteState, delta: ConnectionDelta): SiteState {
    if (!delta) return state;
    const connection = mergeConnection(state.connection, delta);
    let next = state;
    if (connection !== state.connection) next = { ...next, connection };
    if (delta.sensor_counts) {
      next = { ...next, serverCounts: { ...(next.serverCounts ?? { total: 0, online: 0, stale: 0, offline: 0 }), ...delta.sensor_counts } };
    }
    if (delta.system_info_updated) this.hooks.onSystemInfoChanged?.();
    if (LOGGED_FIELDS.some((field) => field in delta)) this.hooks.onLoggedChange?.();
    return next;
  }

  private setState(state: SiteState): void {
    if (state === this.state) return;
    this.state = state;
    for (const listener of this.listeners) listener();
  }
}
