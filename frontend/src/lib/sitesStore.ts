// The overview's state, outside React: the list from /api/sites/ (the snapshot) then status_update
// deltas from /ws/mqtt/status/, applied in one batch per animation frame. Deltas that arrive while
// the list is being re-read are buffered and replayed on top of it.
import { FrameQueue, type FrameScheduler } from "./frame";
import { mergeConnection } from "./siteStore";
import type { ConnectionDelta, Site } from "./types";

export type LoadStatus = "loading" | "ready" | "error";

export interface SitesState {
  status: LoadStatus;
  error: string | null;
  sites: readonly Site[];
  /** Set on every change, for cheap memo keys. */
  version: number;
}

export const INITIAL_SITES_STATE: SitesState = { status: "loading", error: null, sites: [], version: 0 };

export function mergeSiteDelta(site: Site, delta: ConnectionDelta): Site {
  const connection = mergeConnection(site.connection, delta);
  let next = site;
  if (connection !== site.connection) next = { ...next, connection };
  if (delta.sensor_counts) {
    const counts = { ...site.sensor_counts, ...delta.sensor_counts };
    const same = (Object.keys(counts) as (keyof typeof counts)[]).every((k) => counts[k] === site.sensor_counts[k]);
    if (!same) next = { ...next, sensor_counts: counts };
  }
  return next;
}

export class SitesStore {
  private state: SitesState = INITIAL_SITES_STATE;
  private readonly listeners = new Set<() => void>();
  private readonly queue: FrameQueue<ConnectionDelta>;
  private buffer: ConnectionDelta[] | null = null;
  private index = new Map<number, number>();

  /** onUnknownSite: a delta for a site not in the list (a new site): the owner re-reads the list. */
  constructor(
    private readonly onUnknownSite: () => void = () => {},
    schedule?: FrameScheduler,
  ) {
    this.queue = new FrameQueue((deltas) => this.applyBatch(deltas), schedule);
  }

  getState = (): SitesState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  receive(frame: unknown): void {
    const f = frame as { type?: unknown; data?: unknown } | null;
    if (!f || f.type !== "status_update" || !f.data || typeof f.data !== "object") return;
    const data = f.data as ConnectionDelta;
    if (this.buffer) this.buffer.push(data);
    else this.queue.push(data);
  }

  /** A re-read of the list starts: hold deltas until it lands. */
  beginResync(): void {
    this.queue.drain();
    this.buffer ??= [];
  }

  applySnapshot(sites: Site[]): void {
    this.queue.drain();
    const previous = new Map(this.state.sites.map((s) => [s.id, s]));
    const list = sites.map((site) => {
      const held = previous.get(site.id);
      return held && JSON.stringify(held) === JSON.stringify(site) ? held : site;
    });
    this.reindex(list);
    const replay = this.buffer ?? [];
    this.buffer = null;
    const sites2 = this.applyDeltas(list, replay);
    this.setState({ status: "ready", error: null, sites: sites2, version: this.state.version + 1 });
  }

  fail(message: string): void {
    const buffered = this.buffer;
    this.buffer = null;
    if (this.state.status === "ready") {
      // Keep showing what we have; still apply what arrived meanwhile.
      if (buffered?.length) for (const d of buffered) this.queue.push(d);
      return;
    }
    this.setState({ ...this.state, status: "error", error: message, version: this.state.version + 1 });
  }

  flush(): void {
    this.queue.drain();
  }

  dispose(): void {
    this.queue.dispose();
    this.listeners.clear();
  }

  private reindex(sites: readonly Site[]): void {
    this.index = new Map(sites.map((s, i) => [s.id, i]));
  }

  private applyDeltas(sites: Site[], deltas: ConnectionDelta[]): Site[] {
    let out: Site[] | null = null;
    let unknown = false;
    for (const delta of deltas) {
      const i = this.index.get(delta.site_id);
      if (i === undefined) {
        unknown = true;
        continue;
      }
      const held = (out ?? sites)[i];
      if (!held) continue;
      const next = mergeSiteDelta(held, delta);
      if (next === held) continue;
      out ??= [...sites];
      out[i] = next;
    }
    if (unknown) this.onUnknownSite();
    return out ?? sites;
  }

  private applyBatch(deltas: ConnectionDelta[]): void {
    if (this.state.status !== "ready") return;
    const sites = this.applyDeltas(this.state.sites as Site[], deltas);
    if (sites !== this.state.sites) this.setState({ ...this.state, sites, version: this.state.version + 1 });
  }

  private setState(state: SitesState): void {
    this.state = state;
    for (const listener of this.listeners) listener();
  }
}
