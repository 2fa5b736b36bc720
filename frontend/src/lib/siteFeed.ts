// Everything the site page is fed with, outside React: the site socket into a SiteStore, plus the
// REST reads around it (the site itself, its system info when the socket says it changed, its
// recent events, re-read debounced after logged changes).
import { api as defaultApi, ApiError, type Api } from "./api";
import { publishLive } from "./liveIndicator";
import { SiteStore } from "./siteStore";
import { LiveSocket, type SocketFactory } from "./socket";
import type { FrameScheduler } from "./frame";
import type { LogEvent, Site } from "./types";

export type Loadable = "loading" | "ready" | "error";

export interface SiteExtras {
  detail: Site | null;
  /** The site does not exist or is not visible to this user (HTTP 404/403). */
  notFound: boolean;
  events: readonly LogEvent[];
  eventsStatus: Loadable;
  eventsError: string | null;
}

export interface SiteFeedOptions {
  api?: Pick<Api, "site" | "systemInfo" | "siteLogs">;
  createSocket?: SocketFactory;
  schedule?: FrameScheduler;
  eventsDebounceMs?: number;
  eventsMaxWaitMs?: number;
}

export class SiteFeed {
  readonly store: SiteStore;
  readonly socket: LiveSocket;
  private extras: SiteExtras = { detail: null, notFound: false, events: [], eventsStatus: "loading", eventsError: null };
  private readonly listeners = new Set<() => void>();
  private readonly api: NonNullable<SiteFeedOptions["api"]>;
  private eventsTimer: ReturnType<typeof setTimeout> | null = null;
  private eventsFirstAskedAt = 0;
  private readonly debounceMs: number;
  private readonly maxWaitMs: number;
  private aborter = new AbortController();
  private unpublish: (() => void) | null = null;
  private disposed = false;

  constructor(
    readonly siteId: number,
    options: SiteFeedOptions = {},
  ) {
    this.api = options.api ?? defaultApi;
    this.debounceMs = options.eventsDebounceMs ?? 500;
    this.maxWaitMs = options.eventsMaxWaitMs ?? 2000;
    this.store = new SiteStore(
      {
        onSystemInfoChanged: () => void this.loadSystemInfo(),
        onLoggedChange: () => this.scheduleEvents(),
        onSnapshot: () => this.scheduleEvents(0),
      },
      options.schedule,
    );
    this.socket = new LiveSocket({
      path: `/ws/mqtt/site/${siteId}/`,
      createSocket: options.createSocket,
      onMessage: (message) => this.store.receive(message),
      onOpen: () => this.store.beginResync(),
    });
  }

  start(): void {
    this.unpublish = publishLive(this.socket);
    this.socket.start();
    void this.loadDetail();
  }

  dispose(): void {
    this.disposed = true;
    this.aborter.abort();
    if (this.eventsTimer !== null) clearTimeout(this.eventsTimer);
    this.socket.stop();
    this.unpublish?.();
    this.store.dispose();
    this.listeners.clear();
  }

  getExtras = (): SiteExtras => this.extras;

  subscribeExtras = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  reloadEvents(): void {
    this.scheduleEvents(0);
  }

  private setExtras(patch: Partial<SiteExtras>): void {
    if (this.disposed) return;
    this.extras = { ...this.extras, ...patch };
    for (const l of this.listeners) l();
  }

  private async loadDetail(): Promise<void> {
    try {
      const detail = await this.api.site(this.siteId, this.aborter.signal);
      this.setExtras({ detail });
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 403)) {
        this.setExtras({ notFound: true });
      }
      // Anything else: the socket's snapshot still gives the page what it needs.
    }
  }

  private async loadSystemInfo(): Promise<void> {
    try {
      const info = await this.api.systemInfo(this.siteId, this.aborter.signal);
      if (!this.disposed) this.store.setSystemInfo(info);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && !this.disposed) this.store.setSystemInfo(null);
    }
  }

  /** Debounced (≤ maxWait) re-read of the recent events. */
  private scheduleEvents(wait = this.debounceMs): void {
    if (this.disposed) return;
    const now = Date.now();
    if (this.eventsTimer === null) this.eventsFirstAskedAt = now;
    else clearTimeout(this.eventsTimer);
    const delay = Math.max(0, Math.min(wait, this.eventsFirstAskedAt + this.maxWaitMs - now));
    this.eventsTimer = setTimeout(() => {
      this.eventsTimer = null;
      void this.loadEvents();
    }, delay);
  }

  private async loadEvents(): Promise<void> {
    try {
      const page = await this.api.siteLogs(this.siteId, this.aborter.signal);
      this.setExtras({ events: page.results, eventsStatus: "ready", eventsError: null });
    } catch (error) {
      if (this.disposed) return;
      const message = error instanceof Error ? error.message : "Could not load the events";
      this.setExtras({ eventsStatus: this.extras.eventsStatus === "ready" ? "ready" : "error", eventsError: message });
    }
  }
}
