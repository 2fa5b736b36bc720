import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setNavigate } from "../../lib/navigation";
import type { LogEvent, SystemInfo } from "../../lib/types";
import { fakeFetch } from "../../test/fakeFetch";
import { FakeSocket } from "../../test/fakeSocket";
import { reading, sensor, site, snapshot } from "../../test/fixtures";
import { SENSOR_VIEW_KEY, SitePage } from "./SitePage";

const NOW = Date.parse("2026-11-30T10:00:05Z");
const GB = 1024 ** 3;

const INFO: SystemInfo = {
  hostname: "dl-bridge-3",
  firmware_version: "3.2.1",
  ip_address: "10.0.0.3",
  uptime_seconds: 2_922_000,
  cpu_load: 0.37,
  temperature_c: 45.9,
  memory_total_bytes: 2 * GB,
  memory_free_bytes: 0.5 * GB,
  disk_total_bytes: 32 * GB,
  disk_free_bytes: 20 * GB,
  reported_at: "2026-11-30T10:00:00Z",
  received_at: "2026-11-30T10:00:00Z",
};

const EVENTS: LogEvent[] = [
  { id: 2, connection: 1, site: 3, site_code: "DEMO3", event_type: "hb", event: "Heartbeat missing", level: "bad", message: "No heartbeat for 75 s", timestamp: "2026-11-30T09:59:00Z", actor: null },
  { id: 1, connection: 1, site: 3, site_code: "DEMO3", event_type: "stop", event: "Stopped by operator", level: "action", message: "", timestamp: "2026-11-30T09:58:00Z", actor: "admin" },
];

function routes(overrides: Parameters<typeof fakeFetch>[0] = {}) {
  return fakeFetch({
    "/api/sites/3/": { body: site(3, { name: "Bridge North", code: "DEMO3" }) },
    "/api/logs/": { body: { count: EVENTS.length, next: null, previous: null, results: EVENTS } },
    "/api/sites/3/maintenance/": { body: { count: 0, next: null, previous: null, results: [] } },
    ...overrides,
  });
}

function renderSite(path = "/sites/3/") {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route path="/sites/:siteId/*" element={<SitePage />} />
      </Routes>
    </MemoryRouter>,
  );
}

async function live(data = snapshot({ system_info: INFO })) {
  await act(async () => {});
  act(() => FakeSocket.last().open());
  act(() => FakeSocket.last().message({ type: "snapshot", data }));
  await screen.findByRole("region", { name: data.site.name });
}

describe("site page", () => {
  beforeEach(() => {
    vi.useFakeTimers({ shouldAdvanceTime: true, toFake: ["Date"] });
    vi.setSystemTime(NOW);
    FakeSocket.reset();
    vi.stubGlobal("WebSocket", FakeSocket);
    setNavigate(vi.fn());
    window.localStorage.clear();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("opens the site's socket and shows its header region, counts and sensor cards", async () => {
    routes();
    renderSite();
    await act(async () => {});
    expect(FakeSocket.last().url).toMatch(/\/ws\/mqtt\/site\/3\/$/);
    await live();
    const head = screen.getByRole("region", { name: "Bridge North" });
    expect(within(head).getByText("Connected")).toBeInTheDocument();
    expect(within(head).getByText("OK")).toBeInTheDocument();
    expect(within(head).getByText("2 online")).toBeInTheDocument();
    expect(screen.getByRole("article", { name: "S1" })).toHaveTextContent("Online");
    expect(screen.getAllByRole("article")).toHaveLength(2);
  });

  it("says when the server listed fewer sensors than the site has (the per-site cap)", async () => {
    routes();
    renderSite();
    await live(snapshot({ sensor_counts: { total: 5, online: 5, stale: 0, offline: 0 }, sensors_truncated: true }));
    expect(screen.getByRole("note")).toHaveTextContent("3 more sensors than the live view lists");
  });

  it("says nothing of the kind when every sensor is listed", async () => {
    routes();
    renderSite();
    await live();
    expect(screen.queryByRole("note")).not.toBeInTheDocument();
  });

  it("shows the system info in human units", async () => {
    routes();
    renderSite();
    await live();
    const info = screen.getByRole("region", { name: "System info" });
    const fact = (label: string) => within(info).getByText(label).nextElementSibling;
    expect(fact("Hostname")).toHaveTextContent("dl-bridge-3");
    expect(fact("IP address")).toHaveTextContent("10.0.0.3");
    expect(fact("Uptime")).toHaveTextContent("33 d 20 h");
    expect(fact("CPU load")).toHaveTextContent("0.37");
    expect(fact("Temperature")).toHaveTextContent("45.9 °C");
    expect(fact("Memory")).toHaveTextContent("1.5 GB of 2.0 GB (75 % used)");
    expect(fact("Disk")).toHaveTextContent("12.0 GB of 32.0 GB (38 % used)");
    expect(within(info).getByText("(75 % used)")).toHaveClass("text-warn");
  });

  it("says when the datalogger has not reported its system info", async () => {
    routes();
    renderSite();
    await live(snapshot({ system_info: null }));
    expect(within(screen.getByRole("region", { name: "System info" })).getByText(/has not reported its system info yet/)).toBeInTheDocument();
  });

  it("lists the site's recent events, newest first, with who did it", async () => {
    const { calls } = routes();
    renderSite();
    await live();
    const panel = screen.getByRole("region", { name: /Recent connection events/ });
    const items = await within(panel).findAllByRole("listitem");
    expect(items).toHaveLength(2);
    expect(items[0]).toHaveTextContent("Heartbeat missing");
    expect(items[0]).toHaveTextContent("No heartbeat for 75 s");
    expect(items[0]).toHaveTextContent("system");
    expect(items[1]).toHaveTextContent("Stopped by operator");
    expect(items[1]).toHaveTextContent("admin");
    expect(calls.some((c) => c.url === "/api/logs/?site=3&page_size=20")).toBe(true);
  });

  it("says when there are no events yet", async () => {
    routes({ "/api/logs/": { body: { count: 0, next: null, previous: null, results: [] } } });
    renderSite();
    await live();
    expect(await screen.findByText(/No events yet/)).toBeInTheDocument();
  });

  it("shows the not-allowed state when the socket refuses the site (4403)", async () => {
    routes();
    renderSite();
    await act(async () => {});
    act(() => FakeSocket.last().serverClose(4403));
    expect(await screen.findByRole("heading", { name: "You don't have access to this site" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "← All sites" })).toHaveAttribute("href", "/");
  });

  it("shows the not-allowed state when the site does not exist (404)", async () => {
    routes({ "/api/sites/3/": { status: 404, body: { detail: "No Site matches the given query." } } });
    renderSite();
    expect(await screen.findByRole("heading", { name: "You don't have access to this site" })).toBeInTheDocument();
  });

  it("shows the not-allowed state for a malformed site id, without a socket", () => {
    routes();
    renderSite("/sites/abc/");
    expect(screen.getByRole("heading", { name: "You don't have access to this site" })).toBeInTheDocument();
    expect(FakeSocket.instances).toHaveLength(0);
  });

  it("switches between cards and a table, remembers the choice, and the table keeps search and filter", async () => {
    const user = userEvent.setup();
    routes();
    const sensors = [
      sensor(1, { device_name: "NW-pier", readings: [reading("2026-11-30T10:00:00Z", { acc_z: 0.998 })] }),
      sensor(2, { device_name: "SE-pier", status: "offline", is_online: false }),
      sensor(3, { device_name: "Deck-mag", readings: [reading("2026-11-30T10:00:00Z", { mag_x: 21.5, mag_y: -3.25, mag_z: 40 })] }),
    ];
    const { unmount } = renderSite();
    await live(snapshot({ sensors, system_info: INFO }));

    const view = screen.getByRole("group", { name: "View" });
    const cardsButton = within(view).getByRole("button", { name: "Cards" });
    const tableButton = within(view).getByRole("button", { name: "Table" });
    expect(cardsButton).toHaveAttribute("aria-pressed", "true");
    expect(tableButton).toHaveAttribute("aria-pressed", "false");
    expect(screen.queryByRole("table")).not.toBeInTheDocument();

    await user.click(tableButton);
    expect(tableButton).toHaveAttribute("aria-pressed", "true");
    expect(window.localStorage.getItem(SENSOR_VIEW_KEY)).toBe("table");
    expect(screen.queryAllByRole("article")).toHaveLength(0);
    const table = screen.getByRole("table", { name: "Sensors" });
    const rows = within(table).getAllByRole("row").slice(2); // two header rows
    expect(rows.map((r) => within(r).getByRole("rowheader").textContent)).toEqual(["Deck-mag", "NW-pier", "SE-pier"]);
    const nw = within(table).getByRole("row", { name: /NW-pier/ });
    expect(nw).toHaveTextContent("Online");
    expect(nw).toHaveTextContent(/[45] s ago/);
    expect(within(nw).getByText("0.998")).toHaveClass("num");
    expect(within(table).getByRole("row", { name: /SE-pier/ })).toHaveTextContent("Offline");
    // a sensor of the site has a magnetometer: its columns are there; no gyroscope anywhere: none
    expect(within(table).getByRole("columnheader", { name: "Magnetic field (µT)" })).toBeInTheDocument();
    expect(within(table).queryByRole("columnheader", { name: "Gyroscope (°/s)" })).not.toBeInTheDocument();

    await user.click(within(screen.getByRole("group", { name: "Filter by state" })).getByRole("button", { name: /Offline/ }));
    expect(within(table).getAllByRole("rowheader").map((h) => h.textContent)).toEqual(["SE-pier"]);
    await user.click(within(screen.getByRole("group", { name: "Filter by state" })).getByRole("button", { name: /All/ }));
    await user.type(screen.getByRole("searchbox", { name: "Search" }), "nw");
    expect(within(table).getAllByRole("rowheader").map((h) => h.textContent)).toEqual(["NW-pier"]);

    unmount();
    FakeSocket.reset();
    renderSite();
    await live(snapshot({ sensors, system_info: INFO }));
    expect(within(screen.getByRole("group", { name: "View" })).getByRole("button", { name: "Table" })).toHaveAttribute("aria-pressed", "true");
    expect(screen.getByRole("table", { name: "Sensors" })).toBeInTheDocument();
  });

  it("ticks the table's ages and turns a silent sensor stale, as the cards do", async () => {
    window.localStorage.setItem(SENSOR_VIEW_KEY, "table");
    vi.useRealTimers();
    vi.useFakeTimers();
    vi.setSystemTime(NOW);
    routes();
    renderSite();
    await act(async () => {
      await vi.advanceTimersByTimeAsync(0);
    });
    act(() => FakeSocket.last().open());
    act(() => FakeSocket.last().message({ type: "snapshot", data: snapshot() }));
    await act(async () => {
      await vi.advanceTimersByTimeAsync(50);
    });
    const row = () => screen.getByRole("row", { name: /S1/ });
    expect(row()).toHaveTextContent("Online");
    expect(row()).toHaveTextContent(/[45] s ago/);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(27_000);
    });
    expect(row()).toHaveTextContent(/3[12] s ago/);
    expect(row()).toHaveTextContent("Stale");
  });

  it("leaves out the gyroscope and magnetometer columns when no sensor has them", async () => {
    window.localStorage.setItem(SENSOR_VIEW_KEY, "table");
    routes();
    renderSite();
    await live();
    const table = screen.getByRole("table", { name: "Sensors" });
    expect(within(table).getByRole("columnheader", { name: "Acceleration (g)" })).toBeInTheDocument();
    expect(within(table).getByRole("columnheader", { name: "Inclination (°)" })).toBeInTheDocument();
    expect(within(table).queryByRole("columnheader", { name: /Magnetic field/ })).not.toBeInTheDocument();
    await waitFor(() => expect(within(table).getAllByRole("rowheader")).toHaveLength(2));
  });

  it("switches to the availability view from its tab, keeping the site's header and showing an active maintenance", async () => {
    const empty = { body: { count: 0, next: null, previous: null, results: [] } };
    routes({
      "/api/sites/3/availability/": {
        body: {
          site: 3,
          start: "2026-11-29T10:00:00Z",
          end: "2026-11-30T10:00:00Z",
          bucket: "hour",
          connection: { uptime_percentage: 99.95, up_seconds: 86357, down_seconds: 43, excluded_seconds: 0, maintenance_seconds: 0 },
          heartbeat: { uptime_percentage: 100, up_seconds: 86400, down_seconds: 0, excluded_seconds: 0, maintenance_seconds: 0 },
          sensors: { uptime_percentage: 100, count: 2 },
          completeness: { expected: 0, received: 0, percentage: null },
          buckets: [],
        },
      },
      "/api/sites/3/sensors/availability/": empty,
      "/api/sites/3/downtime/": empty,
      "/api/sites/3/maintenance/": { body: { count: 1, next: null, previous: null, results: [{ id: 1, site: 3, starts_at: "2026-11-30T09:00:00Z", ends_at: "2026-11-30T11:00:00Z", reason: "Bearing replacement", created_by: "operator", state: "active" }] } },
    });
    renderSite();
    await live();
    expect((await screen.findByText("Maintenance in progress")).closest("p")).toHaveTextContent("Bearing replacement");
    const tabs = screen.getByRole("navigation", { name: "Site views" });
    expect(within(tabs).getByRole("link", { name: "Live" })).toHaveAttribute("aria-current", "page");
    await userEvent.click(within(tabs).getByRole("link", { name: "Availability" }));
    expect(within(tabs).getByRole("link", { name: "Availability" })).toHaveAttribute("aria-current", "page");
    expect(await screen.findByRole("heading", { name: /Site availability/ })).toBeInTheDocument();
    expect(screen.getAllByText("99.95 %").length).toBeGreaterThan(0);
    expect(screen.queryByRole("searchbox")).toBeNull(); // the live sensor list is not drawn behind it
    expect(screen.getByRole("region", { name: "Bridge North" })).toBeInTheDocument();
  });
});
