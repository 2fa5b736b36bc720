import { act, render, renderHook, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SensorCard } from "../components/SensorCard";
import { fixed } from "../lib/format";
import { sensor } from "../test/fixtures";
import { useSensorStatus } from "./useSensorStatus";

// Counts the card's number formatting: done when its measurements render.
vi.mock("../lib/format", async (importOriginal) => {
  const original = await importOriginal<typeof import("../lib/format")>();
  return { ...original, fixed: vi.fn(original.fixed) };
});

const LAST_MS = Date.parse("2026-11-30T10:00:00Z");

describe("useSensorStatus: the status follows the 1 s ticker, its component re-renders only when it flips", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("renders once per status, not once per tick", () => {
    vi.setSystemTime(LAST_MS + 25_000);
    let renders = 0;
    const { result } = renderHook(() => {
      renders += 1;
      return useSensorStatus(sensor(1), 30, 0);
    });
    expect(result.current).toBe("online");
    const first = renders;
    act(() => {
      vi.advanceTimersByTime(4_000); // 4 ticks, still online
    });
    expect(result.current).toBe("online");
    expect(renders).toBe(first);
    act(() => {
      vi.advanceTimersByTime(2_000); // 31 s after the reading: stale
    });
    expect(result.current).toBe("stale");
    expect(renders).toBe(first + 1);
    act(() => {
      vi.advanceTimersByTime(5_000);
    });
    expect(renders).toBe(first + 1);
  });

  it("keeps a card's age ticking while only the age text re-renders", () => {
    vi.setSystemTime(LAST_MS + 3_000);
    render(<SensorCard sensor={sensor(1)} staleAfterSeconds={30} clockOffsetMs={0} />);
    expect(screen.getByText(/· 3 s ago/)).toBeInTheDocument();
    const formatted = vi.mocked(fixed).mock.calls.length;
    expect(formatted).toBeGreaterThan(0);
    act(() => {
      vi.advanceTimersByTime(2_000);
    });
    expect(screen.getByText(/· 5 s ago/)).toBeInTheDocument();
    expect(vi.mocked(fixed).mock.calls.length).toBe(formatted); // the measurements were not redone
  });
});
