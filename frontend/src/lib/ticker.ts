// One shared 1 s ticker for the whole page (not one interval per card).
import { useSyncExternalStore } from "react";

const listeners = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | null = null;
let now = Date.now();

function tick(): void {
  now = Date.now();
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (timer === null) {
    now = Date.now();
    timer = setInterval(tick, 1000);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  };
}

const getNow = () => now;

/** Date.now(), refreshed once a second by the shared ticker. */
export function useNow(): number {
  return useSyncExternalStore(subscribe, getNow, getNow);
}

/**
 * A value derived from the ticker's now: the component re-renders only when it changes (compared
 * with Object.is), not on every tick. E.g. a sensor's status, which flips to stale once.
 */
export function useTicking<T>(select: (now: number) => T): T {
  const snapshot = () => select(now);
  return useSyncExternalStore(subscribe, snapshot, snapshot);
}

export function tickerListenerCount(): number {
  return listeners.size;
}
