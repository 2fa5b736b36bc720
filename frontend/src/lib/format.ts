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

/** Two units, the smaller rounded: 2,922,000 s (33 d 19 h 40 min) → "33 d 20 h". */
export function uptime(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, seconds);
  const hours = Math.round(s / 3600);
  if (hours >= 24) return `${Math.floor(hours / 24)} d ${hours % 24} h`;
  const minutes = Math.round(s / 60);
  if (minutes >= 60) return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  return `${minutes} min`;
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
