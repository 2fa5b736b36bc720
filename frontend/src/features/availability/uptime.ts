// How an uptime figure reads: its colour band, its text and the period a bar segment covers.
import { span } from "../../lib/time";
import type { AvailabilityWindow } from "../../lib/types";

export type UptimeBand = "full" | "high" | "degraded" | "down" | "nodata";

export const WINDOWS: readonly { key: AvailabilityWindow; label: string }[] = [
  { key: "24h", label: "24 h" },
  { key: "7d", label: "7 d" },
  { key: "30d", label: "30 d" },
];

export const WINDOW_KEYS: readonly AvailabilityWindow[] = WINDOWS.map((w) => w.key);

/** Bands of the bars; the thresholds are those an SLA reads (three nines, two nines, 95 %). */
export function uptimeBand(percentage: number | null | undefined): UptimeBand {
  if (percentage === null || percentage === undefined || !Number.isFinite(percentage)) return "nodata";
  if (percentage >= 99.9) return "full";
  if (percentage >= 99) return "high";
  if (percentage >= 95) return "degraded";
  return "down";
}

export const LEGEND: readonly { band: UptimeBand | "maintenance"; label: string }[] = [
  { band: "full", label: "≥ 99.9 %" },
  { band: "high", label: "≥ 99 %" },
  { band: "degraded", label: "≥ 95 %" },
  { band: "down", label: "< 95 %" },
  { band: "nodata", label: "No data" },
  { band: "maintenance", label: "Maintenance" },
];

/** "99.95 %", "100 %", or "No data". */
export function percentText(percentage: number | null | undefined): string {
  if (percentage === null || percentage === undefined || !Number.isFinite(percentage)) return "No data";
  const text = percentage.toFixed(2).replace(/\.?0+$/, "");
  return `${text} %`;
}

/** The down time beside a figure; nothing to say when nothing was monitored. The API counts whole
 * seconds, so a figure under 100 % with 0 s down was down for less than a second (a reconnection). */
export function downText(seconds: number, uptime: number | null): string {
  if (seconds > 0) return `down ${span(seconds)}`;
  if (uptime === null) return "not monitored";
  return uptime < 100 ? "down under 1 s" : "no down time";
}

/** A down period's length: "under 1 s" rather than "0 s" for a period shorter than a second. */
export function periodLength(seconds: number): string {
  return seconds < 1 ? "under 1 s" : span(seconds);
}

// The app's text is English; a fixed format reads the same in every browser locale.
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const dayFormat = { format: (d: Date) => `${d.getDate()} ${MONTHS[d.getMonth()]}` };
const pad = (n: number) => String(n).padStart(2, "0");
const hm = (d: Date) => `${pad(d.getHours())}:${pad(d.getMinutes())}`;

/** A segment's period in local time: "30 Nov 10:00–11:00", or across midnight "30 Nov 01:00 – 1 Dec 01:00". */
export function periodText(startIso: string, endIso: string): string {
  const start = new Date(startIso);
  const end = new Date(endIso);
  if (start.toDateString() === end.toDateString()) return `${dayFormat.format(start)} ${hm(start)}–${hm(end)}`;
  const endsAtMidnight = end.getHours() === 0 && end.getMinutes() === 0 && end.getTime() - start.getTime() <= 86_400_000;
  if (endsAtMidnight && start.getHours() === 0 && start.getMinutes() === 0) return dayFormat.format(start);
  if (endsAtMidnight) return `${dayFormat.format(start)} ${hm(start)}–24:00`;
  return `${dayFormat.format(start)} ${hm(start)} – ${dayFormat.format(end)} ${hm(end)}`;
}

export interface Segment {
  start: string;
  end: string;
  uptime: number | null;
  maintenanceSeconds: number;
}

/** The text of a segment's tooltip and accessible name. */
export function segmentText(segment: Segment): string {
  const parts = [`${periodText(segment.start, segment.end)}: ${segment.uptime === null ? "no data" : `${percentText(segment.uptime)} up`}`];
  if (segment.maintenanceSeconds > 0) parts.push(`maintenance ${span(segment.maintenanceSeconds)}`);
  return parts.join(", ");
}
