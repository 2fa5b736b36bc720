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

export function tickerListenerCount(): number {
  return listeners.size;
}
