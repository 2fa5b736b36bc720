// Once-per-frame scheduling: requestAnimationFrame while the tab is visible, a timer fallback for a
// hidden tab (where animation frames do not run at all).

export type FrameScheduler = (callback: () => void) => () => void;

const HIDDEN_FALLBACK_MS = 250;

export const animationFrameScheduler: FrameScheduler = (callback) => {
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    if (frame !== null) cancelAnimationFrame(frame);
    clearTimeout(timer);
    callback();
  };
  const canAnimate = typeof requestAnimationFrame === "function" && document.visibilityState !== "hidden";
  const frame = canAnimate ? requestAnimationFrame(run) : null;
  // Also armed while visible: the tab may be hidden before the frame comes.
  const timer = setTimeout(run, canAnimate ? HIDDEN_FALLBACK_MS : 0);
  return () => {
    done = true;
    if (frame !== null) cancelAnimationFrame(frame);
    clearTimeout(timer);
  };
};

/** Queues items and hands them over in one batch per frame. */
export class FrameQueue<T> {
  private items: T[] = [];
  private cancel: (() => void) | null = null;

  constructor(
    private readonly flush: (items: T[]) => void,
    private readonly schedule: FrameScheduler = animationFrameScheduler,
  ) {}

  push(item: T): void {
    this.items.push(item);
    if (this.cancel === null) {
      this.cancel = this.schedule(() => {
        this.cancel = null;
        this.drain();
      });
    }
  }

  /** Applies what is queued now (tests, teardown). */
  drain(): void {
    if (this.cancel) {
      this.cancel();
      this.cancel = null;
    }
    const items = this.items;
    if (items.length === 0) return;
    this.items = [];
    this.flush(items);
  }

  dispose(): void {
    if (this.cancel) this.cancel();
    this.cancel = null;
    this.items = [];
  }
}
