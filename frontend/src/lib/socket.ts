// One class per WebSocket: reconnects with exponential backoff and full jitter, pings the server at
// the application level, exposes its connection state, and calls onOpen after EVERY (re)connect so
// the owner can resync (a fresh snapshot, a re-read of the list).
import { redirectToLogin } from "./navigation";

export type ConnectionState = "connecting" | "live" | "reconnecting" | "offline" | "denied";

export const CLOSE_NOT_LOGGED_IN = 4401;
export const CLOSE_NOT_ALLOWED = 4403;

export interface SocketLike {
  readyState: number;
  onopen: ((event: Event) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = (url: string) => SocketLike;

export interface LiveSocketOptions {
  path: string;
  onMessage: (message: unknown) => void;
  /** Called after every successful (re)connect: resync here. */
  onOpen?: () => void;
  createSocket?: SocketFactory;
  random?: () => number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  pingEveryMs?: number;
  pongTimeoutMs?: number;
}

export interface SocketStatus {
  state: ConnectionState;
  /** When the next attempt starts (Date.now() ms), while reconnecting. */
  retryAt: number | null;
  /** Attempts since the last successful connection. */
  attempt: number;
}

const OPEN = 1;

export function socketUrl(path: string): string {
  const { protocol, host } = window.location;
  return `${protocol === "https:" ? "wss:" : "ws:"}//${host}${path}`;
}

/** Full jitter: a random delay between 0 and min(max, base * 2^attempt). */
export function backoffDelay(attempt: number, random: () => number, baseMs = 500, maxMs = 30_000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(random() * ceiling);
}

export class LiveSocket {
  private readonly options: Required<Omit<LiveSocketOptions, "onOpen">> & Pick<LiveSocketOptions, "onOpen">;
  private socket: SocketLike | null = null;
  private status: SocketStatus = { state: "connecting", retryAt: null, attempt: 0 };
  private readonly listeners = new Set<() => void>();
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pongTimer: ReturnType<typeof setTimeout> | null = null;
  private running = false;

  constructor(options: LiveSocketOptions) {
    this.options = {
      createSocket: (url) => new WebSocket(url),
      random: Math.random,
      baseDelayMs: 500,
      maxDelayMs: 30_000,
      pingEveryMs: 20_000,
      pongTimeoutMs: 10_000,
      // An option passed as undefined keeps its default.
      ...(Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as LiveSocketOptions),
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    window.addEventListener("online", this.handleOnline);
    window.addEventListener("offline", this.handleOffline);
    this.connect();
  }

  stop(): void {
    this.running = false;
    window.removeEventListener("online", this.handleOnline);
    window.removeEventListener("offline", this.handleOffline);
    this.clearTimers();
    this.dropSocket();
    this.setStatus({ state: "offline", retryAt: null, attempt: this.status.attempt });
  }

  /** Skips the wait of a pending reconnection. */
  retryNow(): void {
    if (!this.running || this.status.state === "denied") return;
    if (this.socket) return;
    this.clearRetry();
    this.connect();
  }

  send(message: unknown): void {
    if (this.socket && this.socket.readyState === OPEN) this.socket.send(JSON.stringify(message));
  }

  getStatus = (): SocketStatus => this.status;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  // ---------------------------------------------------------------- internals

  private setStatus(status: SocketStatus): void {
    const current = this.status;
    if (current.state === status.state && current.retryAt === status.retryAt && current.attempt === status.attempt) {
      return;
    }
    this.status = status;
    for (const listener of this.listeners) listener();
  }

  private connect(): void {
    this.clearRetry();
    const first = this.status.attempt === 0 && this.status.state === "connecting";
    this.setStatus({ state: first ? "connecting" : "reconnecting", retryAt: null, attempt: this.status.attempt });
    let socket: SocketLike;
    try {
      socket = this.options.createSocket(socketUrl(this.options.path));
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (socket !== this.socket) return;
      this.setStatus({ state: "live", retryAt: null, attempt: 0 });
      this.startPing();
      this.options.onOpen?.();
    };
    socket.onmessage = (event) => {
      if (socket !== this.socket) return;
      let message: unknown;
      try {
        message = JSON.parse(String(event.data));
      } catch {
        return; // not ours to understand
      }
      if (message && typeof message === "object" && (message as { type?: unknown }).type === "pong") {
        this.clearPong();
        return;
      }
      this.options.onMessage(message);
    };
    socket.onerror = () => {
      // A close follows; it decides.
    };
    socket.onclose = (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.stopPing();
      if (!this.running) return;
      if (event.code === CLOSE_NOT_LOGGED_IN) {
        this.running = false;
        this.setStatus({ state: "denied", retryAt: null, attempt: this.status.attempt });
        redirectToLogin();
        return;
      }
      if (event.code === CLOSE_NOT_ALLOWED) {
        this.running = false;
        this.setStatus({ state: "denied", retryAt: null, attempt: this.status.attempt });
        return;
      }
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    if (!this.running) return;
    if (typeof navigator !== "undefined" && navigator.onLine === false) {
      this.setStatus({ state: "offline", retryAt: null, attempt: this.status.attempt });
      return; // the "online" event reconnects
    }
    const { random, baseDelayMs, maxDelayMs } = this.options;
    const attempt = this.status.attempt;
    const delay = backoffDelay(attempt, random, baseDelayMs, maxDelayMs);
    this.setStatus({ state: "reconnecting", retryAt: Date.now() + delay, attempt: attempt + 1 });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  private startPing(): void {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      this.send({ type: "ping" });
      if (this.pongTimer === null) {
        this.pongTimer = setTimeout(() => {
          this.pongTimer = null;
          this.forceReconnect();
        }, this.options.pongTimeoutMs);
      }
    }, this.options.pingEveryMs);
  }

  private forceReconnect(): void {
    const socket = this.socket;
    this.socket = null;
    this.stopPing();
    if (socket) {
      socket.onclose = null;
      try {
        socket.close(4000, "no pong");
      } catch {
        // already closing
      }
    }
    this.scheduleReconnect();
  }

  private handleOnline = (): void => {
    if (this.running && !this.socket) this.connect();
  };

  private handleOffline = (): void => {
    if (this.running && !this.socket) {
      this.clearRetry();
      this.setStatus({ state: "offline", retryAt: null, attempt: this.status.attempt });
    }
  };

  private clearPong(): void {
    if (this.pongTimer !== null) clearTimeout(this.pongTimer);
    this.pongTimer = null;
  }

  private stopPing(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.clearPong();
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private clearTimers(): void {
    this.clearRetry();
    this.stopPing();
  }

  private dropSocket(): void {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
    try {
      socket.close(1000, "page left");
    } catch {
      // already closed
    }
  }
}
