import { act, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { reading, sensor } from "../test/fixtures";
import { vi } from "vitest";
import { SensorCard } from "./SensorCard";

const LAST = "2026-11-30T10:00:00Z";
const LAST_MS = Date.parse(LAST);

describe("SensorCard", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("shows an online sensor with its name, type, last update and present values with units", () => {
    vi.setSystemTime(LAST_MS + 5_000);
    render(<SensorCard sensor={sensor(1, { device_name: "NW-pier", device_type: "ACC3" })} staleAfterSeconds={30} clockOffsetMs={0} />);
    expect(screen.getByRole("heading", { name: "NW-pier" })).toBeInTheDocument();
    expect(screen.getByText("ACC3")).toBeInTheDocument();
    expect(screen.getByText("Online")).toBeInTheDocument();
    expect(screen.getByText(/5 s ago/)).toBeInTheDocument();
    expect(screen.getByText("Acceleration")).toBeInTheDocument();
    expect(screen.getByText("0.998")).toBeInTheDocument();
    expect(screen.getByText("Inclination")).toBeInTheDocument();
  });

  it("shows the server's stale and offline states", () => {
    vi.setSystemTime(LAST_MS + 1_000);
    const { rerender } = render(<SensorCard sensor={sensor(1, { status: "stale" })} staleAfterSeconds={30} clockOffsetMs={0} />);
    expect(screen.getByText("Stale")).toBeInTheDocument();
    rerender(<SensorCard sensor={sensor(1, { status: "offline", is_online: false })} staleAfterSeconds={30} clockOffsetMs={0} />);
    expect(screen.getByText("Offline")).toBeInTheDocument();
    expect(screen.queryByText("Online")).not.toBeInTheDocument();
  });

  it("turns stale 30 s after its last reading without any new event, on the server's clock", () => {
    // The browser's clock runs 1 h behind the server's: the offset must be applied.
    const offset = 3_600_000;
    vi.setSystemTime(LAST_MS - offset + 25_000); // server time: 25 s after the last reading
    render(<SensorCard sensor={sensor(1)} staleAfterSeconds={30} clockOffsetMs={offset} />);
    expect(screen.getByText("Online")).toBeInTheDocument();
    expect(screen.getByText(/25 s ago/)).toBeInTheDocument();

    act(() => {
      vi.advanceTimersByTime(5_000);
    });
    expect(screen.getByText("Online")).toBeInTheDocument(); // exactly 30 s: not yet
    act(() => {
      vi.advanceTimersByTime(1_000);
    });
    expect(screen.getByText("Stale")).toBeInTheDocument();
    expect(screen.getByText(/31 s ago/)).toBeInTheDocument();
  });

  it("lets the server's offline win over a fresh reading", () => {
    vi.setSystemTime(LAST_MS + 1_000);
    render(<SensorCard sensor={sensor(1, { status: "offline" })} staleAfterSeconds={30} clockOffsetMs={0} />);
    expect(screen.getByText("Offline")).toBeInTheDocument();
  });

  it("does not render absent magnetometer and gyroscope values", () => {
    vi.setSystemTime(LAST_MS + 1_000);
    render(<SensorCard sensor={sensor(1)} staleAfterSeconds={30} clockOffsetMs={0} />);
    expect(screen.queryByText("Magnetic field")).not.toBeInTheDocument();
    expect(screen.queryByText("Gyroscope")).not.toBeInTheDocument();
  });

  it("renders magnetometer and gyroscope with units when present, and a trend of the last readings", () => {
    vi.setSystemTime(LAST_MS + 1_000);
    const withAll = sensor(1, {
      readings: [
        reading(LAST, { mag_x: 21.5, mag_y: -3.25, mag_z: 40, gyro_x: 0.5, gyro_y: 0, gyro_z: -1.25 }),
        reading("2026-11-30T09:59:55Z", { mag_x: 21.4, mag_y: -3.2, mag_z: 40.1, gyro_x: 0.4, gyro_y: 0.1, gyro_z: -1.2 }),
        reading("2026-11-30T09:59:50Z", { mag_x: 21.3, mag_y: -3.1, mag_z: 40.2, gyro_x: 0.3, gyro_y: 0.2, gyro_z: -1.1 }),
      ],
    });
    render(<SensorCard sensor={withAll} staleAfterSeconds={30} clockOffsetMs={0} />);
    expect(screen.getByText("Magnetic field")).toBeInTheDocument();
    expect(screen.getByText("21.5")).toBeInTheDocument();
    expect(screen.getByText("Gyroscope")).toBeInTheDocument();
    expect(screen.getByText("-1.25")).toBeInTheDocument();
    expect(screen.getByRole("img", { name: /Magnetic field x, last 3 readings: 21.3, 21.4, 21.5/ })).toBeInTheDocument();
  });

  it("renders a device name with HTML in it as text", () => {
    vi.setSystemTime(LAST_MS + 1_000);
    const name = "<img src=x onerror=alert(1)>";
    const { container } = render(<SensorCard sensor={sensor(1, { device_name: name })} staleAfterSeconds={30} clockOffsetMs={0} />);
    expect(screen.getByRole("heading", { name })).toHaveTextContent(name);
    expect(container.querySelector("img")).toBeNull();
  });
});
