// The measurement groups a sensor may report, in display order, with units and precision: shared by
// the sensor card and the sensor table.
import type { Reading, Sensor } from "./types";

export type Axis = keyof Omit<Reading, "timestamp" | "received_at">;

export interface MeasureGroup {
  key: "acc" | "incli" | "mag" | "gyro";
  label: string;
  unit: string;
  decimals: number;
  axes: { key: Axis; name: string }[];
}

export const MEASURE_GROUPS: readonly MeasureGroup[] = [
  { key: "acc", label: "Acceleration", unit: "g", decimals: 3, axes: [{ key: "acc_x", name: "x" }, { key: "acc_y", name: "y" }, { key: "acc_z", name: "z" }] },
  { key: "incli", label: "Inclination", unit: "°", decimals: 3, axes: [{ key: "incli_x", name: "x" }, { key: "incli_y", name: "y" }] },
  { key: "mag", label: "Magnetic field", unit: "µT", decimals: 1, axes: [{ key: "mag_x", name: "x" }, { key: "mag_y", name: "y" }, { key: "mag_z", name: "z" }] },
  { key: "gyro", label: "Gyroscope", unit: "°/s", decimals: 2, axes: [{ key: "gyro_x", name: "x" }, { key: "gyro_y", name: "y" }, { key: "gyro_z", name: "z" }] },
];

/** Always shown in the table: every sensor type reports acceleration and inclination. */
const ALWAYS: ReadonlySet<MeasureGroup["key"]> = new Set(["acc", "incli"]);

const present = (v: number | null | undefined): v is number => typeof v === "number" && Number.isFinite(v);

/** The groups the table shows for a site: acceleration and inclination, and magnetic field /
 * gyroscope only when some sensor's retained readings have them. */
export function tableGroups(sensors: readonly Sensor[]): readonly MeasureGroup[] {
  const seen = new Set<MeasureGroup["key"]>(ALWAYS);
  for (const group of MEASURE_GROUPS) {
    if (seen.has(group.key)) continue;
    outer: for (const sensor of sensors) {
      for (const reading of sensor.readings) {
        if (group.axes.some((axis) => present(reading[axis.key]))) {
          seen.add(group.key);
          break outer;
        }
      }
    }
  }
  return MEASURE_GROUPS.filter((g) => seen.has(g.key));
}

/** A stable key for a set of groups (to memoise on). */
export const groupsKey = (groups: readonly MeasureGroup[]): string => groups.map((g) => g.key).join(",");

export const groupsFromKey = (key: string): readonly MeasureGroup[] => {
  const keys = new Set(key.split(","));
  return MEASURE_GROUPS.filter((g) => keys.has(g.key));
};

export const isPresent = present;
