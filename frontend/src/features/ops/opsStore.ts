// The operations view's state: /api/ops/ read after each status-socket (re)connect, debounced
// (≤ 2 s) after changes the server logs, and every 15 s (the worker's liveness has no push);
// status_update deltas applied to the rows in between, once per frame.
import { api as defaultApi, type Api } from "../../lib/api";
import { FrameQueue, type FrameScheduler } from "../../lib/frame";
import { mergeConnection } from "../../lib/siteStore";
import { clockOffset } from "../../lib/time";
import type { Connection, ConnectionDelta, OpsConnection, OpsState } from "../../lib/types";

export interface OpsView {
  status: "loading" | "ready" | "error";
  error: string | null;
  data: OpsState | null;
  clockOffsetMs: number;
}

const LOGGED = ["status", "heartbeat_state", "error_message"] as const;

function applyDelta(row: OpsConnection, delta: ConnectionDelta): OpsConnection {
  const merged = mergeConnection(row as unknown as Connection, delta) as unknown as OpsConnection;
  let next = merged;
  if (delta.sensor_counts) next = { ...next, sensor_counts: { ...row.sensor_counts, ...delta.sensor_counts } };
  return next;
}

export class OpsStore {
  private view: OpsView = { status: "loading", error: null, data: null, clockOffsetMs: 0 };
  private readonly listeners = new Set<() => void>();
  private readonly queue: FrameQueue<ConnectionDelta>;
  private buffer: ConnectionDelta[] | null = null;
  private debounce: ReturnType<typeof setTimeout> | null = null;
  private firstAsk = 0;
  private periodic: ReturnType<typeof setInterval> | null = null;
  private aborter: AbortController | null = null;
  private disposed = false;

  constructor(
    private readonly api: Pick<Api, "ops"> = defaultApi,
    schedule?: FrameScheduler,
  ) {
    this.queue = new FrameQueue((deltas) => this.applyBatch(deltas), schedule);
  }

  getView = (): OpsView => this.view;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  start(): void {
    this.periodic = setInterval(() => void this.refresh(), 15_000);
  }

  dispose(): void {
    this.disposed = true;
    if (this.periodic !== null) clearInterval(this.periodic);
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.aborter?.abort();
    this.queue.dispose();
    this.listeners.clear();
  }

  receive(frame: unknown): void {
    const f = frame as { type?: unknown; data?: unknown } | null;
    if (!f || f.type !== "status_update" || !f.data || typeof f.data !== "object") return;
    const delta = f.data as ConnectionDelta;
    if (this.buffer) this.buffer.push(delta);
    else this.queue.push(delta);
    if (LOGGED.some((k) => k in delta)) this.scheduleRefresh();
  }

  /** Debounced re-read: 400 ms after the last ask, at most 2 s after the first. */
  scheduleRefresh(): void {
    if (this.disposed) return;
    const now = Date.now();
    if (this.debounce === null) this.firstAsk = now;
    else clearTimeout(this.debounce);
    const wait = Math.max(0, Math.min(400, this.firstAsk + 2000 - now));
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.refresh();
    }, wait);
  }

  async refresh(): Promise<void> {
    if (this.disposed) return;
    this.aborter?.abort();
    const mine = new AbortController();
    this.aborter = mine;
    this.queue.drain();
    this.buffer ??= [];
    try {
      const data = await this.api.ops(mine.signal);
      if (mine.signal.aborted || this.disposed) return;
      const replay = this.buffer ?? [];
      this.buffer = null;
      let connections = data.connections;
      for (const delta of replay) connections = this.merge(connections, delta);
      this.set({ status: "ready", error: null, data: { ...data, connections }, clockOffsetMs: clockOffset(data.server_time) });
    } catch (error) {
      if (mine.signal.aborted || this.disposed) return;
      const replay = this.buffer ?? [];
      this.buffer = null;
      for (const d of replay) this.queue.push(d);
      const message = error instanceof Error ? error.message : String(error);
      this.set({ ...this.view, status: this.view.data ? "ready" : "error", error: message });
    }
  }

  private merge(rows: OpsConnection[], delta: ConnectionDelta): OpsConnection[] {
    const i = rows.findIndex((r) => r.site_id === delta.site_id);
    const row = rows[i];
    if (i < 0 || !row) return rows;
    const next = applyDelta(row, delta);
    if (next === row) return rows;
    const copy = [...rows];
    copy[i] = next;
    return copy;
  }

  private applyBatch(deltas: ConnectionDelta[]): void {
    const data = this.view.data;
    if (!data) return;
    let connections = data.connections;
    let unknown = false;
    for (const delta of deltas) {
      if (!connections.some((r) => r.site_id === delta.site_id)) unknown = true;
      connections = this.merge(connections, delta);
    }
    if (unknown) this.scheduleRefresh();
    if (connections === data.connections) return;
    const active = connections.filter((c) => c.status === "connected").length;
    this.set({ ...this.view, data: { ...data, connections, totals: { ...data.totals, active } } });
  }

  private set(view: OpsView): void {
    this.view = view;
    for (const l of this.listeners) l();
  }
}
