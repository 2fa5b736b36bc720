import { describe, expect, it } from "vitest";
import { downText, LEGEND, percentText, periodLength, segmentText, uptimeBand } from "./uptime";

describe("uptime bands", () => {
  it.each([
    [100, "full"],
    [99.9, "full"],
    [99.89, "high"],
    [99, "high"],
    [98.99, "degraded"],
    [95, "degraded"],
    [94.99, "down"],
    [0, "down"],
    [null, "nodata"],
  ] as const)("%s %% reads as %s", (value, band) => {
    expect(uptimeBand(value)).toBe(band);
  });

  it("has a legend entry for every band and for maintenance", () => {
    expect(LEGEND.map((entry) => entry.band)).toEqual(["full", "high", "degraded", "down", "nodata", "maintenance"]);
  });

  it("never says 'no down time' beside a figure under 100 %, nor '0 s' for a period under a second", () => {
    expect(downText(0, 99.89)).toBe("down under 1 s");
    expect(downText(0, 100)).toBe("no down time");
    expect(downText(0, null)).toBe("not monitored");
    expect(downText(90, 99)).toBe("down 1 min 30 s");
    expect(periodLength(0)).toBe("under 1 s");
    expect(periodLength(43)).toBe("43 s");
  });

  it("writes figures without trailing zeros and says when there is no data", () => {
    expect(percentText(75)).toBe("75 %");
    expect(percentText(99.95)).toBe("99.95 %");
    expect(percentText(99.5)).toBe("99.5 %");
    expect(percentText(null)).toBe("No data");
  });

  it("names a segment's period, its figure and its maintenance time", () => {
    const start = new Date(2026, 10, 30, 10, 0).toISOString();
    const end = new Date(2026, 10, 30, 11, 0).toISOString();
    expect(segmentText({ start, end, uptime: 99.5, maintenanceSeconds: 0 })).toMatch(/^30 Nov 10:00–11:00: 99.5 % up$/);
    expect(segmentText({ start, end, uptime: null, maintenanceSeconds: 1800 })).toMatch(/10:00–11:00: no data, maintenance 30 min$/);
  });

  it("names a whole local day by its date", () => {
    const start = new Date(2026, 10, 29).toISOString();
    const end = new Date(2026, 10, 30).toISOString();
    expect(segmentText({ start, end, uptime: 100, maintenanceSeconds: 0 })).toBe("29 Nov: 100 % up");
  });
});
