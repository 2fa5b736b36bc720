import { afterEach, describe, expect, it, vi } from "vitest";
import { animationFrameScheduler, FrameQueue } from "./frame";

describe("frame scheduling", () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("flushes a queue once per animation frame", () => {
    let frameCallback: FrameRequestCallback | null = null;
    vi.stubGlobal("requestAnimationFrame", (cb: FrameRequestCallback) => {
      frameCallback = cb;
      return 1;
    });
    vi.stubGlobal("cancelAnimationFrame", () => {});
    const flush = vi.fn();
    const queue = new FrameQueue<number>(flush, animationFrameScheduler);
    for (let i = 0; i < 50; i += 1) queue.push(i);
    expect(flush).not.toHaveBeenCalled();
    (frameCallback as unknown as FrameRequestCallback)(0);
    expect(flush).toHaveBeenCalledTimes(1);
    expect(flush.mock.calls[0]?.[0]).toHaveLength(50);
  });

  it("falls back to a timer when the tab is hidden (no animation frames)", () => {
    vi.useFakeTimers();
    const raf = vi.fn(() => 1);
    vi.stubGlobal("requestAnimationFrame", raf);
    vi.stubGlobal("cancelAnimationFrame", () => {});
    const visibility = vi.spyOn(document, "visibilityState", "get").mockReturnValue("hidden");
    const flush = vi.fn();
    const queue = new FrameQueue<number>(flush, animationFrameScheduler);
    queue.push(1);
    queue.push(2);
    expect(raf).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(flush).toHaveBeenCalledWith([1, 2]);
    visibility.mockRestore();
  });
});
