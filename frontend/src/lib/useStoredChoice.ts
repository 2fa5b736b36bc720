// A choice among a few values, remembered in localStorage (falls back to memory when storage is
// unavailable, e.g. blocked cookies or a private window that throws).
import { useCallback, useState } from "react";

function read<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
  try {
    const value = window.localStorage.getItem(key);
    return value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : fallback;
  } catch {
    return fallback;
  }
}

export function useStoredChoice<T extends string>(key: string, allowed: readonly T[], fallback: T): [T, (value: T) => void] {
  const [value, setValue] = useState<T>(() => read(key, allowed, fallback));
  const set = useCallback(
    (next: T) => {
      setValue(next);
      try {
        window.localStorage.setItem(key, next);
      } catch {
        // not remembered; the choice still applies to this page
      }
    },
    [key],
  );
  return [value, set];
}
