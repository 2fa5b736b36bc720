// Off-screen parts of a page that update often (the site page's sensor cards): one
// shared IntersectionObserver says which are near the viewport, and those that are not refresh at
// most every few seconds, a few per animation frame, instead of all at once on every update.
import { animationFrameScheduler } from "./frame";

/** Near the viewport: within this margin above or below it counts as visible (updated at once). */
export const VISIBLE_MARGIN = "300px 0px";
/** Off-screen parts refresh at most this often. */
export const HIDDEN_REFRESH_MS = 5_000;
/** At most this many off-screen refreshes per animation frame. */
export const REFRESHES_PER_FRAME = 10;

type Listener = (visible: boolean) => void;

const listeners = new Map<Element, Listener>();
let observer: IntersectionObserver | null = null;

function sharedObserver(): IntersectionObserver | null {
  if (observer) return observer;
  if (typeof IntersectionObserver !== "function") return null;
  observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) listeners.get(entry.target)?.(entry.isIntersecting);
    },
    { rootMargin: VISIBLE_MARGIN },
  );
  return observer;
}

/** Calls back with whether the element is near the viewport, from the observer's first report on.
 * Without IntersectionObserver, never calls back (everything counts as visible). */
export function observeVisibility(element: Element, listener: Listener): () => void {
  const io = sharedObserver();
  if (!io) return () => {};
  listeners.set(element, listener);
  io.observe(element);
  return () => {
    listeners.delete(element);
    io.unobserve(element);
  };
}

// ---------------------------------------------------------------- refreshing off-screen parts

const due = new Set<() => void>();
let cancelFrame: (() => void) | null = null;

function pump(): void {
  cancelFrame = null;
  let n = 0;
  for (const refresh of due) {
    if (n === REFRESHES_PER_FRAME) break;
    due.delete(refresh);
    refresh();
    n += 1;
  }
  if (due.size > 0) cancelFrame = animationFrameScheduler(pump);
}

/** Runs ``refresh`` after ``delayMs``, in an animation frame shared with at most
 * REFRESHES_PER_FRAME - 1 others; returns a cancel function. */
export function refreshLater(refresh: () => void, delayMs: number = HIDDEN_REFRESH_MS): () => void {
  const entry = () => refresh();
  const timer = setTimeout(() => {
    due.add(entry);
    cancelFrame ??= animationFrameScheduler(pump);
  }, delayMs);
  return () => {
    clearTimeout(timer);
    due.delete(entry);
    if (due.size === 0 && cancelFrame) {
      cancelFrame();
      cancelFrame = null;
    }
  };
}
