// Which socket the header's live indicator shows: the most recently published one still in use.
import type { LiveSocket } from "./socket";

const stack: LiveSocket[] = [];
const listeners = new Set<() => void>();
let current: LiveSocket | null = null;
let detach: (() => void) | null = null;

function notify(): void {
  for (const l of listeners) l();
}

function refresh(): void {
  const top = stack[stack.length - 1] ?? null;
  if (top === current) return;
  detach?.();
  current = top;
  detach = top ? top.subscribe(notify) : null;
  notify();
}

export function publishLive(socket: LiveSocket): () => void {
  stack.push(socket);
  refresh();
  return () => {
    const i = stack.lastIndexOf(socket);
    if (i >= 0) stack.splice(i, 1);
    refresh();
  };
}

export function subscribeLive(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function currentLiveSocket(): LiveSocket | null {
  return current;
}
