import { act, render, screen } from "@testing-library/react";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { SensorCard } from "../components/SensorCard";
import { HIDDEN_REFRESH_MS, VISIBLE_MARGIN } from "../lib/visibility";
import { reading, sensor } from "../test/fixtures";

// A stand-in IntersectionObserver: the test says which elements are near the viewport.
class FakeObserver {
  static instances: FakeObserver[] = [];
  readonly targets = new Set<Element>();
  constructor(
    private readonly callback: IntersectionObserverCallback,
    readonly options?: IntersectionObserverInit,
  ) {
    FakeObserver.instances.push(this);
  }
  observe(target: Element) {
    this.targets.add(target);
  }
  unobserve(target: Element) {
    this.targets.delete(target);
  }
  disconnect() {
    this.targets.clear();
  }
  report(target: Element, visible: boolean) {
    this.callback([{ target, isIntersecting: visible } as IntersectionObserverEntry], this as unknown as IntersectionObserver);
  }
}

const T0 = "2026-11-30T10:00:00Z";
const T1 = "2026-11-30T10:00:01Z";
const T2 = "2026-11-30T10:00:02Z";
const at = (ts: string, accZ: number) => sensor(1, { last_reading_at: ts, readings: [reading(ts, { acc_z: accZ })] });

function observer(): FakeObserver {
  const io = FakeObserver.instances[0];
  if (!io) throw new Error("no IntersectionObserver created");
  return io;
}

function card(): Element {
  const element = document.querySelector("article.sensor");
  if (!element) throw new Error("no card");
  return element;
}

describe("SensorCard off-screen: held, refreshed every few seconds, the newest as soon as it comes near", () => {
  beforeAll(() => {
    vi.stubGlobal("IntersectionObserver", FakeObserver);
  });
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.parse(T0) + 500);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("updates at once while near the viewport", () => {
    const { rerender } = render(<SensorCard sensor={at(T0, 0.5)} staleAfterSeconds={30} clockOffsetMs={0} />);
    expect(observer().options?.rootMargin).toBe(VISIBLE_MARGIN);
    expect(observer().targets.has(card())).toBe(true);
    act(() => observer().report(card(), true));
    rerender(<SensorCard sensor={at(T1, 0.6)} staleAfterSeconds={30} clockOffsetMs={0} />);
    expect(screen.getByText("0.600")).toBeInTheDocument();
  });

  it("holds an off-screen card's values, refreshes them after a few seconds, and shows the newest when it comes into view", () => {
    const { rerender, unmount } = render(<SensorCard sensor={at(T0, 0.5)} staleAfterSeconds={30} clockOffsetMs={0} />);
    act(() => observer().report(card(), false));
    rerender(<SensorCard sensor={at(T1, 0.6)} staleAfterSeconds={30} clockOffsetMs={0} />);
    expect(screen.getByText("0.500")).toBeInTheDocument(); // held
    expect(screen.queryByText("0.600")).not.toBeInTheDocument();

    act(() => {
      vi.advanceTimersByTime(HIDDEN_REFRESH_MS + 300); // the refresh, in a following frame
    });
    expect(screen.getByText("0.600")).toBeInTheDocument();

    rerender(<SensorCard sensor={at(T2, 0.7)} staleAfterSeconds={30} clockOffsetMs={0} />);
    expect(screen.getByText("0.600")).toBeInTheDocument(); // held again
    act(() => observer().report(card(), true)); // scrolled near the viewport
    expect(screen.getByText("0.700")).toBeInTheDocument();

    const element = card();
    unmount();
    expect(observer().targets.has(element)).toBe(false);
  });
});
