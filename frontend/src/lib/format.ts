// Numbers in human units.

export function fixed(value: number | null | undefined, decimals: number): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const text = value.toFixed(decimals);
  // -0.0004 → "0.000", not "-0.000"
  return /^-0\.?0*$/.test(text) ? text.slice(1) : text;
}

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = value;
  let unit = 0;
  while (v >= 1024 && unit < units.length - 1) {
    v /= 1024;
    unit += 1;
  }
  const decimals = unit === 0 ? 0 : v >= 100 ? 0 : 1;
  return `${v.toFixed(decimals)} ${units[unit]}`;
}

export function uptime(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  return `${m} min`;
}

/** "12.0 GB of 16.0 GB (75 %)" style usage from total and free. */
export function usage(total: number | null | undefined, free: number | null | undefined): { text: string; percent: number | null } {
  if (total === null || total === undefined || free === null || free === undefined || total <= 0) {
    return { text: total ? bytes(total) : "—", percent: null };
  }
  const used = total - free;
  const percent = Math.round((used / total) * 100);
  return { text: `${bytes(used)} of ${bytes(total)}`, percent };
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
