// The one API client. Same-origin session cookie; the CSRF token on unsafe methods; JSON errors
// become ApiError; "not logged in" sends the browser to the login page.
import { csrfToken } from "./cookies";
import { redirectToLogin } from "./navigation";
import type {
  Alert,
  AlertState,
  AvailabilityWindow,
  Connection,
  DowntimePeriod,
  LogEvent,
  MaintenanceState,
  MaintenanceWindow,
  Me,
  OpsState,
  Paginated,
  SensorAvailability,
  Site,
  SiteAvailability,
  SystemInfo,
} from "./types";

export class ApiError extends Error {
  readonly status: number;
  readonly body: unknown;

  constructor(status: number, message: string, body: unknown = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }

  get isNotFound(): boolean {
    return this.status === 404;
  }

  get isForbidden(): boolean {
    return this.status === 403;
  }
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const NOT_LOGGED_IN = /credentials were not provided|not authenticated|login required/i;

export interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
}

function messageOf(body: unknown, fallback: string): string {
  if (body && typeof body === "object") {
    const record = body as Record<string, unknown>;
    if (typeof record.detail === "string") return record.detail;
    if (typeof record.message === "string") return record.message;
    const first = Object.entries(record)[0];
    if (first) {
      const [key, value] = first;
      const text = Array.isArray(value) ? value.join(" ") : String(value);
      return `${key}: ${text}`;
    }
  }
  if (typeof body === "string" && body.trim() && body.length < 300) return body.trim();
  return fallback;
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = (options.method ?? "GET").toUpperCase();
  const headers: Record<string, string> = { Accept: "application/json" };
  if (UNSAFE.has(method)) headers["X-CSRFToken"] = csrfToken();
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body,
      credentials: "same-origin",
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "The server could not be reached. Check your network connection.");
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    const message = messageOf(parsed, `${response.status} ${response.statusText || "error"}`.trim());
    if (response.status === 401 || (response.status === 403 && NOT_LOGGED_IN.test(message))) {
      redirectToLogin();
    }
    throw new ApiError(response.status, message, parsed);
  }
  return parsed as T;
}

/** The path and query of a pagination link (the API gives absolute URLs; we stay on this origin). */
export function relativeUrl(link: string): string {
  const url = new URL(link, window.location.href);
  return url.pathname + url.search;
}

export async function fetchAllPages<T>(first: string, signal?: AbortSignal): Promise<T[]> {
  const all: T[] = [];
  let next: string | null = first;
  while (next) {
    const page: Paginated<T> = await request<Paginated<T>>(next, { signal });
    all.push(...page.results);
    next = page.next ? relativeUrl(page.next) : null;
  }
  return all;
}

/** "?a=1&b=2" from the defined values, or "" when there are none. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export type ReportKind = "uptime-site" | "uptime-sensor" | "downtime" | "logs" | "readings";

/** The streamed CSV report's address (a plain link: the browser downloads it with the session cookie). */
export function reportUrl(kind: ReportKind, siteId: number, window: AvailabilityWindow): string {
  switch (kind) {
    case "uptime-site":
      return `/api/reports/uptime.csv${query({ site: siteId, level: "site", window })}`;
    case "uptime-sensor":
      return `/api/reports/uptime.csv${query({ site: siteId, level: "sensor", window })}`;
    case "downtime":
      return `/api/reports/downtime.csv${query({ site: siteId, window })}`;
    case "logs":
      return `/api/reports/logs.csv${query({ site: siteId, window })}`;
    case "readings":
      return `/api/reports/readings.csv${query({ site: siteId })}`;
  }
}

export interface MaintenanceInput {
  starts_at: string;
  ends_at: string;
  reason: string;
}

export const api = {
  me: (signal?: AbortSignal) => request<Me>("/api/me/", { signal }),
  sites: (signal?: AbortSignal) => fetchAllPages<Site>("/api/sites/?page_size=500", signal),
  site: (id: number, signal?: AbortSignal) => request<Site>(`/api/sites/${id}/`, { signal }),
  systemInfo: (id: number, signal?: AbortSignal) =>
    request<SystemInfo>(`/api/sites/${id}/system-info/`, { signal }),
  siteLogs: (id: number, signal?: AbortSignal) =>
    request<Paginated<LogEvent>>(`/api/logs/?site=${id}&page_size=20`, { signal }),
  ops: (signal?: AbortSignal) => request<OpsState>("/api/ops/", { signal }),
  control: (connectionId: number, action: "start" | "stop" | "restart") =>
    request<Connection>(`/api/connections/${connectionId}/${action}/`, { method: "POST" }),
  availability: (siteId: number, window: AvailabilityWindow, signal?: AbortSignal) =>
    request<SiteAvailability>(`/api/sites/${siteId}/availability/${query({ window })}`, { signal }),
  sensorAvailability: (
    siteId: number,
    params: { window: AvailabilityWindow; page: number; ordering?: "uptime" | null },
    signal?: AbortSignal,
  ) => request<Paginated<SensorAvailability>>(`/api/sites/${siteId}/sensors/availability/${query(params)}`, { signal }),
  downtime: (siteId: number, params: { window: AvailabilityWindow; page: number; page_size?: number }, signal?: AbortSignal) =>
    request<Paginated<DowntimePeriod>>(`/api/sites/${siteId}/downtime/${query(params)}`, { signal }),
  alerts: (params: { site?: number | null; state?: AlertState | null; page?: number }, signal?: AbortSignal) =>
    request<Paginated<Alert>>(`/api/alerts/${query(params)}`, { signal }),
  acknowledgeAlert: (alertId: number) => request<Alert>(`/api/alerts/${alertId}/acknowledge/`, { method: "POST" }),
  maintenance: (siteId: number, params: { state?: MaintenanceState | null; page?: number } = {}, signal?: AbortSignal) =>
    request<Paginated<MaintenanceWindow>>(`/api/sites/${siteId}/maintenance/${query(params)}`, { signal }),
  addMaintenance: (siteId: number, body: MaintenanceInput) =>
    request<MaintenanceWindow>(`/api/sites/${siteId}/maintenance/`, { method: "POST", body }),
  deleteMaintenance: (siteId: number, windowId: number) =>
    request<null>(`/api/sites/${siteId}/maintenance/${windowId}/`, { method: "DELETE" }),
};

export type Api = typeof api;
