import { act, fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes, useLocation } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AvailabilityBucket, Paginated, SensorAvailability, SiteAvailability, UptimeFigure } from "../../lib/types";
import { fakeFetch } from "../../test/fakeFetch";
import { AvailabilityView } from "./AvailabilityView";

const figure = (uptime: number | null, down = 0): UptimeFigure => ({
  uptime_percentage: uptime,
  up_seconds: 0,
  down_seconds: down,
  excluded_seconds: 0,
  maintenance_seconds: 0,
});

function bucket(hour: number, values: Partial<AvailabilityBucket> = {}): AvailabilityBucket {
  return {
    start: `2026-11-30T${String(hour).padStart(2, "0")}:00:00Z`,
    end: `2026-11-30T${String(hour + 1).padStart(2, "0")}:00:00Z`,
    connection_uptime: 100,
    heartbeat_uptime: 100,
    sensors_uptime: 100,
    maintenance_seconds: 0,
    expected_heartbeats: 60,
    received_heartbeats: 60,
    ...values,
  };
}

const AVAILABILITY: SiteAvailability = {
  site: 3,
  start: "2026-11-30T07:00:00Z",
  end: "2026-11-30T10:00:00Z",
  bucket: "hour",
  connection: figure(66.67, 3600),
  heartbeat: figure(100),
  sensors: { uptime_percentage: 87.5, count: 2 },
  completeness: { expected: 180, received: 150, percentage: 83.33 },
  buckets: [bucket(7), bucket(8, { connection_uptime: 0, received_heartbeats: 30, maintenance_seconds: 1800 }), bucket(9, { connection_uptime: null })],
};

const SENSORS: Paginated<SensorAvailability> = {
  count: 2,
  next: null,
  previous: null,
  results: [
    { sensor: 1, device_name: "ACC01", uptime_percentage: 75, down_seconds: 2700, buckets: [{ start: "2026-11-30T07:00:00Z", uptime_percentage: 25 }] },
    { sensor: 2, device_name: "ACC02", uptime_percentage: 100, down_seconds: 0, buckets: [{ start: "2026-11-30T07:00:00Z", uptime_percentage: 100 }] },
  ],
};

const DOWNTIME = {
  count: 2,
  next: null,
  previous: null,
  results: [
    { kind: "sensor", sensor: 1, device_name: "ACC01", start: "2026-11-30T09:15:00Z", end: null, duration_seconds: 2700, reason: "offline: missed 3 heartbeats", in_maintenance: false },
    { kind: "connection", sensor: null, device_name: null, start: "2026-11-30T08:00:00Z", end: "2026-11-30T09:00:00Z", duration_seconds: 3600, reason: "disconnected", in_maintenance: true },
  ],
};

const EMPTY = { count: 0, next: null, previous: null, results: [] };

function Where() {
  const location = useLocation();
  return <output data-testid="where">{location.pathname + location.search}</output>;
}

function renderView(path = "/sites/3/availability/") {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route
          path="/sites/:siteId/*"
          element={
            <>
              <AvailabilityView siteId={3} />
              <Where />
            </>
          }
        />
      </Routes>
    </MemoryRouter>,
  );
}

function routes(overrides: Parameters<typeof fakeFetch>[0] = {}) {
  return fakeFetch({
    "/api/sites/3/availability/": { body: AVAILABILITY },
    "/api/sites/3/sensors/availability/": { body: SENSORS },
    "/api/sites/3/downtime/": { body: DOWNTIME },
    ...overrides,
  });
}

describe("availability view", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("draws a segment per bucket coloured by its uptime, with the figure on each", async () => {
    routes();
    renderView();
    const connection = await screen.findByRole("group", { name: /^Connection: availability/ });
    const segments = within(connection).getAllByRole("img");
    expect(segments.map((s) => s.getAttribute("data-uptime"))).toEqual(["100", "0", ""]);
    expect(segments.map((s) => s.className)).toEqual([
      "avail-seg avail-seg--full",
      "avail-seg avail-seg--down avail-seg--maintenance",
      "avail-seg avail-seg--nodata",
    ]);
    expect(segments[1]).toHaveAccessibleName(/0 % up, maintenance 30 min$/);
    expect(screen.getAllByText("66.67 %").length).toBeGreaterThan(0);
    expect(screen.getAllByText("down 1 h").length).toBeGreaterThan(0);
    expect(screen.getByRole("list", { name: "Colours of the bars" })).toHaveTextContent("Maintenance");
  });

  it("shows a segment's tooltip on hover and moves it with the arrow keys", async () => {
    routes();
    renderView();
    const connection = await screen.findByRole("group", { name: /^Connection: availability/ });
    const [first, second, third] = within(connection).getAllByRole("img");
    fireEvent.mouseEnter(second!);
    expect(connection.querySelector(".avail-tip")).toHaveTextContent(/0 % up, maintenance 30 min/);
    fireEvent.mouseLeave(connection);
    expect(connection.querySelector(".avail-tip")).toBeNull();

    expect(first).toHaveAttribute("tabindex", "0"); // one tab stop per bar
    expect(second).toHaveAttribute("tabindex", "-1");
    act(() => first!.focus());
    expect(connection.querySelector(".avail-tip")).toHaveTextContent(/100 % up/);
    fireEvent.keyDown(first!, { key: "End" });
    expect(third).toHaveFocus();
    expect(connection.querySelector(".avail-tip")).toHaveTextContent(/no data/);
    fireEvent.keyDown(third!, { key: "ArrowLeft" });
    expect(second).toHaveFocus();
  });

  it("lists each sensor's bar and the down time, ongoing and in maintenance marked", async () => {
    routes();
    renderView();
    const sensor = await screen.findByRole("group", { name: /^ACC01: availability/ });
    expect(within(sensor).getByRole("img")).toHaveAttribute("data-uptime", "25");
    expect(screen.getByText("75 %")).toBeInTheDocument();
    const table = await screen.findByRole("table");
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows[0]).toHaveTextContent("ongoing");
    expect(rows[0]).toHaveTextContent("45 min");
    expect(rows[1]).toHaveTextContent("maintenance");
    expect(screen.getByRole("img", { name: /150 of 180 expected heartbeats received \(83.33 %\)/ })).toBeInTheDocument();
  });

  it("asks for the lowest uptime first when chosen, from the first page", async () => {
    const { calls } = routes();
    renderView();
    await screen.findByRole("group", { name: /^ACC01: availability/ });
    await userEvent.click(screen.getByRole("button", { name: "Lowest uptime" }));
    expect(calls.some((c) => c.url === "/api/sites/3/sensors/availability/?window=24h&page=1&ordering=uptime")).toBe(true);
    expect(screen.getByRole("button", { name: "Lowest uptime" })).toHaveAttribute("aria-pressed", "true");
  });

  it("says so when the window had no down time and no sensors", async () => {
    routes({ "/api/sites/3/sensors/availability/": { body: EMPTY }, "/api/sites/3/downtime/": { body: EMPTY } });
    renderView();
    expect(await screen.findByText(/No down time recorded in this window/)).toBeInTheDocument();
    expect(await screen.findByText(/No sensors yet/)).toBeInTheDocument();
  });

  it("puts the chosen window in the address, the requests and the CSV links", async () => {
    const { calls } = routes();
    renderView();
    await screen.findByRole("group", { name: /^Connection: availability/ });
    expect(screen.getByRole("link", { name: "Downtime" })).toHaveAttribute("href", "/api/reports/downtime.csv?site=3&window=24h");
    await userEvent.click(screen.getByRole("button", { name: "7 d" }));
    expect(screen.getByTestId("where")).toHaveTextContent("/sites/3/availability/?window=7d");
    expect(calls.some((c) => c.url === "/api/sites/3/availability/?window=7d")).toBe(true);
    expect(screen.getByRole("link", { name: "Sensor uptime" })).toHaveAttribute("href", "/api/reports/uptime.csv?site=3&level=sensor&window=7d");
    expect(screen.getByRole("link", { name: "Latest readings" })).toHaveAttribute("href", "/api/reports/readings.csv?site=3");
  });

  it("offers a retry when the figures cannot be loaded", async () => {
    routes({ "/api/sites/3/availability/": { status: 500, body: { detail: "Server error." } } });
    renderView("/sites/3/availability/?window=30d");
    expect(await screen.findByRole("alert")).toHaveTextContent("Could not load the availability");
    expect(screen.getByRole("button", { name: "Retry" })).toBeInTheDocument();
  });
});
