// Time on the server's clock, ages and local times.

export function parseTime(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** Server clock minus this browser's, from a server_time received just now. */
export function clockOffset(serverTime: string | null | undefined, receivedAt = Date.now()): number {
  const t = parseTime(serverTime);
  return t === null ? 0 : t - receivedAt;
}

export function span(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const m = Math.floor(s / 60);
    const rest = s % 60;
    return m < 10 && rest ? `${m} min ${rest} s` : `${m} min`;
  }
  if (s < 86400) {
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  return h ? `${d} d ${h} h` : `${d} d`;
}

/** "12 s ago", "just now" or "never", measured on the server's clock. */
export function ago(iso: string | null | undefined, serverNowMs: number): string {
  const t = parseTime(iso);
  if (t === null) return "never";
  const seconds = (serverNowMs - t) / 1000;
  if (seconds < 1) return "just now";
  return `${span(seconds)} ago`;
}

export function secondsSince(iso: string | null | undefined, serverNowMs: number): number | null {
  const t = parseTime(iso);
  return t === null ? null : (serverNowMs - t) / 1000;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** HH:MM:SS local time; with the date when it is not today. */
export function localTime(iso: string | null | undefined, withDateIfOld = true): string {
  const t = parseTime(iso);
  if (t === null) return "—";
  const d = new Date(t);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (!withDateIfOld || d.toDateString() === new Date().toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

export function fullTime(iso: string | null | undefined): string {
  const t = parseTime(iso);
  return t === null ? "" : new Date(t).toLocaleString();
}

// The app-wide server clock offset (from /api/me/'s server_time), for pages without a snapshot.
let appOffset = 0;

export function setAppClockOffset(ms: number): void {
  appOffset = ms;
}

export function appClockOffset(): number {
  return appOffset;
}
