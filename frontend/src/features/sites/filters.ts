// The overview's filters, search and sorts: pure functions over the site list.
import { naturalCompare } from "../../lib/sort";
import type { Site } from "../../lib/types";

export const FILTERS = [
  { key: "all", label: "All" },
  { key: "problems", label: "Problems" },
  { key: "connected", label: "Connected" },
  { key: "heartbeat-missing", label: "Heartbeat missing" },
  { key: "disconnected", label: "Disconnected / error" },
  { key: "disabled", label: "Disabled" },
] as const;

export type FilterKey = (typeof FILTERS)[number]["key"];

export const SORTS = [
  { key: "code", label: "Code" },
  { key: "name", label: "Name" },
  { key: "problems", label: "Problems first" },
] as const;

export type SortKey = (typeof SORTS)[number]["key"];

export function isFilterKey(value: string | null): value is FilterKey {
  return FILTERS.some((f) => f.key === value);
}

export function isSortKey(value: string | null): value is SortKey {
  return SORTS.some((s) => s.key === value);
}

export function isDisabled(site: Site): boolean {
  const c = site.connection;
  return !site.is_active || (c !== null && (c.status === "disabled" || !c.enabled));
}

/** How unhealthy a site is: 0 is fully healthy; disabled sites are -1 (intentionally off). */
export function severity(site: Site): number {
  if (isDisabled(site)) return -1;
  const c = site.connection;
  if (!c) return 2; // no connection configured
  let score = 0;
  if (c.status === "disconnected" || c.status === "error") score = Math.max(score, 4);
  else if (c.status === "connecting") score = Math.max(score, 2);
  if (c.heartbeat_state === "missing") score = Math.max(score, 4);
  else if (c.heartbeat_state === "late") score = Math.max(score, 2);
  else if (c.heartbeat_state === "unknown" && c.status === "connected") score = Math.max(score, 1);
  if (site.sensor_counts.offline > 0) score = Math.max(score, 3);
  if (site.sensor_counts.stale > 0) score = Math.max(score, 1);
  return score;
}

export function matchesFilter(site: Site, filter: FilterKey): boolean {
  const c = site.connection;
  switch (filter) {
    case "all":
      return true;
    case "problems":
      return severity(site) > 0;
    case "connected":
      return c?.status === "connected" && !isDisabled(site);
    case "heartbeat-missing":
      return c?.heartbeat_state === "missing" && !isDisabled(site);
    case "disconnected":
      return (c?.status === "disconnected" || c?.status === "error") && !isDisabled(site);
    case "disabled":
      return isDisabled(site);
  }
}

export function normalise(text: string): string {
  return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().trim();
}

export function matchesSearch(site: Site, query: string): boolean {
  const q = normalise(query);
  if (!q) return true;
  return [site.name, site.code, site.customer?.name ?? ""].some((field) => normalise(field).includes(q));
}

export function compareSites(sort: SortKey): (a: Site, b: Site) => number {
  switch (sort) {
    case "name":
      return (a, b) => naturalCompare(a.name, b.name) || naturalCompare(a.code, b.code);
    case "problems":
      return (a, b) => severity(b) - severity(a) || naturalCompare(a.code, b.code);
    default:
      return (a, b) => naturalCompare(a.code, b.code) || naturalCompare(a.name, b.name);
  }
}

export function filterCounts(sites: readonly Site[], query: string): Record<FilterKey, number> {
  const counts = Object.fromEntries(FILTERS.map((f) => [f.key, 0])) as Record<FilterKey, number>;
  for (const site of sites) {
    if (!matchesSearch(site, query)) continue;
    for (const f of FILTERS) if (matchesFilter(site, f.key)) counts[f.key] += 1;
  }
  return counts;
}

export function selectSites(sites: readonly Site[], query: string, filter: FilterKey, sort: SortKey): Site[] {
  return sites.filter((s) => matchesFilter(s, filter) && matchesSearch(s, query)).sort(compareSites(sort));
}

export interface Totals {
  sites: number;
  connected: number;
  heartbeatMissing: number;
  online: number;
  stale: number;
  offline: number;
  sensors: number;
}

export function totalsOf(sites: readonly Site[]): Totals {
  const t: Totals = { sites: sites.length, connected: 0, heartbeatMissing: 0, online: 0, stale: 0, offline: 0, sensors: 0 };
  for (const s of sites) {
    if (s.connection?.status === "connected") t.connected += 1;
    if (s.connection?.heartbeat_state === "missing" && !isDisabled(s)) t.heartbeatMissing += 1;
    t.online += s.sensor_counts.online;
    t.stale += s.sensor_counts.stale;
    t.offline += s.sensor_counts.offline;
    t.sensors += s.sensor_counts.total;
  }
  return t;
}
