import { describe, expect, it } from "vitest";
import { reading, sensor } from "../test/fixtures";
import { bytes, fixed, uptime, usage } from "./format";
import { tableGroups } from "./measures";

describe("human units", () => {
  it("gives an uptime in two units, the smaller rounded", () => {
    expect(uptime(2_922_000)).toBe("33 d 20 h");
    expect(uptime(86_400)).toBe("1 d 0 h");
    expect(uptime(86_399)).toBe("1 d 0 h");
    expect(uptime(3_700)).toBe("1 h 2 min");
    expect(uptime(59)).toBe("1 min");
    expect(uptime(null)).toBe("—");
  });

  it("gives memory and disk in GB with the share used", () => {
    expect(bytes(2 * 1024 ** 3)).toBe("2.0 GB");
    expect(usage(2 * 1024 ** 3, 0.5 * 1024 ** 3)).toEqual({ text: "1.5 GB of 2.0 GB", percent: 75 });
    expect(usage(null, null)).toEqual({ text: "—", percent: null });
  });

  it("never shows a negative zero", () => {
    expect(fixed(-0.0004, 3)).toBe("0.000");
    expect(fixed(-0.0006, 3)).toBe("-0.001");
    expect(fixed(-0.04, 1)).toBe("0.0");
    expect(fixed(null, 2)).toBe("—");
  });
});

describe("table columns", () => {
  it("has acceleration and inclination always, magnetic field and gyroscope only when a sensor has them", () => {
    expect(tableGroups([sensor(1)]).map((g) => g.key)).toEqual(["acc", "incli"]);
    const gyro = sensor(2, { readings: [reading("2026-11-30T10:00:00Z"), reading("2026-11-30T09:59:55Z", { gyro_x: 0.1 })] });
    expect(tableGroups([sensor(1), gyro]).map((g) => g.key)).toEqual(["acc", "incli", "gyro"]);
    expect(tableGroups([]).map((g) => g.key)).toEqual(["acc", "incli"]);
  });
});
