import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setNavigate } from "../../lib/navigation";
import { setStatusSocketFactory } from "../../lib/statusFeed";
import type { Me, OpsConnection, OpsState } from "../../lib/types";
import { fakeFetch } from "../../test/fakeFetch";
import { FakeSocket, fakeSocketFactory } from "../../test/fakeSocket";
import { MeProvider } from "../auth/MeContext";
import { OpsPage } from "./OpsPage";

const NOW = Date.parse("2026-11-30T10:00:00Z");
const iso = (msAgo: number) => new Date(NOW - msAgo).toISOString();

const ME: Me = {
  id: 1,
  username: "op",
  display_name: "Operator",
  is_staff: true,
  can_control: true,
  server_time: iso(0),
  stale_after_seconds: 30,
  heartbeat_timeout_seconds: 30,
};

function row(id: number, overrides: Partial<OpsConnection> = {}): OpsConnection {
  return {
    id,
    site_id: id,
    site_name: `Bridge ${id}`,
    site_code: `DEMO${id}`,
    broker: "broker:8883",
    tls: true,
    enabled: true,
    status: "connected",
    status_changed_at: iso(60_000),
    last_connected_at: iso(60_000),
    last_heartbeat_at: iso(2_000),
    heartbeat_state: "ok",
    connection_errors: 0,
    error_message: "",
    sensor_counts: { total: 100, online: 100, stale: 0, offline: 0 },
    ...overrides,
  };
}

function state(overrides: Partial<OpsState> = {}): OpsState {
  return {
    server_time: iso(0),
    totals: { connections: 1, active: 1, sensors: 100, online_sensors: 100 },
    connections: [row(1)],
    logs: [],
    worker: {
      alive: true,
      last_seen_at: iso(3_000),
      started_at: iso(3_600_000),
      hostname: "worker-1",
      pid: 4242,
      connections: 1,
      alive_workers: 1,
      stale_after: 30,
    },
    ...overrides,
  };
}

function renderOps(me: Me = ME) {
  return render(
    <MemoryRouter>
      <MeProvider me={me}>
        <OpsPage />
      </MeProvider>
    </MemoryRouter>,
  );
}

const connections = () => screen.getByRole("region", { name: "Connections" });

describe("operations page", () => {
  beforeEach(() => {
    vi.useFakeTimers({ shouldAdvanceTime: true, toFake: ["Date"] });
    vi.setSystemTime(NOW);
    FakeSocket.reset();
    setStatusSocketFactory(fakeSocketFactory);
    setNavigate(vi.fn());
    document.cookie = "csrftoken=tok-123";
  });
  afterEach(() => {
    setStatusSocketFactory(undefined);
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("lists the connections with their sensors: online of total, stale in amber, offline in red", async () => {
    fakeFetch({
      "/api/ops/": {
        body: state({
          connections: [
            row(1, { sensor_counts: { total: 100, online: 97, stale: 0, offline: 3 } }),
            row(2, { sensor_counts: { total: 100, online: 96, stale: 2, offline: 2 } }),
          ],
        }),
      },
    });
    renderOps();
    const first = await within(await screen.findByRole("region", { name: "Connections" })).findByRole("row", { name: /Bridge 1/ });
    const cell = within(first).getByText("3 offline", { exact: false });
    expect(cell).toHaveClass("text-bad");
    expect(first).toHaveTextContent("97 / 100 · 3 offline");
    const second = within(connections()).getByRole("row", { name: /Bridge 2/ });
    expect(within(second).getByText(/2 stale/)).toHaveClass("text-warn");
    expect(within(second).getByText(/2 offline/)).toHaveClass("text-bad");
    expect(second).toHaveTextContent("96 / 100 · 2 stale · 2 offline");
  });

  it("asks before stopping, then POSTs the stop with the CSRF token and says so", async () => {
    const user = userEvent.setup();
    const { calls } = fakeFetch({ "/api/ops/": { body: state() }, "POST /api/connections/1/stop/": { body: {} } });
    const confirm = vi.spyOn(window, "confirm").mockReturnValue(true);
    renderOps();
    const stop = await screen.findByRole("button", { name: "Stop Bridge 1" });
    await user.click(stop);
    expect(confirm).toHaveBeenCalledWith(expect.stringContaining("Stop the connection of Bridge 1 (DEMO1)?"));
    const post = calls.find((c) => c.method === "POST");
    expect(post?.url).toBe("/api/connections/1/stop/");
    expect(post?.headers["X-CSRFToken"]).toBe("tok-123");
    expect(await screen.findByText("Bridge 1: connection stopped.")).toBeInTheDocument();
  });

  it("does nothing when the stop is not confirmed", async () => {
    const user = userEvent.setup();
    const { calls } = fakeFetch({ "/api/ops/": { body: state() } });
    vi.spyOn(window, "confirm").mockReturnValue(false);
    renderOps();
    await user.click(await screen.findByRole("button", { name: "Stop Bridge 1" }));
    expect(calls.some((c) => c.method === "POST")).toBe(false);
  });

  it("shows the error flash when the server refuses (403)", async () => {
    const user = userEvent.setup();
    fakeFetch({
      "/api/ops/": { body: state() },
      "POST /api/connections/1/stop/": { status: 403, body: { detail: "You do not have permission to perform this action." } },
    });
    vi.spyOn(window, "confirm").mockReturnValue(true);
    renderOps();
    await user.click(await screen.findByRole("button", { name: "Stop Bridge 1" }));
    const flash = await screen.findByText(/could not stop/);
    expect(flash).toHaveTextContent("Bridge 1: could not stop — You may not change connections (You do not have permission to perform this action.)");
    expect(flash.closest(".flash")).toHaveClass("flash--bad");
    await user.click(screen.getByRole("button", { name: "Dismiss message" }));
    expect(screen.queryByText(/could not stop/)).not.toBeInTheDocument();
  });

  it("shows a stop in flight as pending, and a start only when stopped", async () => {
    fakeFetch({
      "/api/ops/": {
        body: state({ connections: [row(1, { enabled: false, status: "connected" }), row(2, { enabled: false, status: "disabled" })] }),
      },
    });
    renderOps();
    const stopping = await within(await screen.findByRole("region", { name: "Connections" })).findByRole("row", { name: /Bridge 1/ });
    expect(within(stopping).getByText(/stopping…/)).toBeInTheDocument();
    expect(within(stopping).getByRole("button", { name: "Stop Bridge 1" })).toBeDisabled();
    const stopped = within(connections()).getByRole("row", { name: /Bridge 2/ });
    expect(within(stopped).getByText("Disabled")).toBeInTheDocument();
    expect(within(stopped).queryByText(/stopping…/)).not.toBeInTheDocument();
    expect(within(stopped).getByRole("button", { name: "Start Bridge 2" })).toBeEnabled();
  });

  it("says the worker is alive, or down since its last tick", async () => {
    fakeFetch({ "/api/ops/": { body: state() } });
    const { unmount } = renderOps();
    expect(await screen.findByText("Worker alive")).toBeInTheDocument();
    expect(screen.getByText(/worker-1 pid 4242/)).toBeInTheDocument();
    unmount();

    const base = state();
    fakeFetch({ "/api/ops/": { body: { ...base, worker: { ...base.worker!, last_seen_at: iso(120_000) } } } });
    renderOps();
    expect(await screen.findByText("Worker down")).toBeInTheDocument();
    expect(screen.getByText(/Down since/)).toHaveTextContent("2 min ago");
  });

  it("lists each live worker with its connections when several share them", async () => {
    const base = state();
    const peers = [
      { worker_id: "a", hostname: "node-a", pid: 11, connections: 15, last_seen_at: iso(2_000) },
      { worker_id: "b", hostname: "node-b", pid: 22, connections: 1, last_seen_at: iso(3_000) },
    ];
    fakeFetch({ "/api/ops/": { body: { ...base, worker: { ...base.worker!, alive_workers: 2, workers: peers } } } });
    renderOps();
    const list = await screen.findByRole("list", { name: "Live workers" });
    const items = within(list).getAllByRole("listitem");
    expect(items).toHaveLength(2);
    expect(items[0]).toHaveTextContent("node-a pid 11 · 15 connections");
    expect(items[1]).toHaveTextContent("node-b pid 22 · 1 connection");
  });

  it("says when no worker has reported", async () => {
    fakeFetch({ "/api/ops/": { body: state({ worker: null }) } });
    renderOps();
    expect(await screen.findByText("No worker")).toBeInTheDocument();
    expect(screen.getByText(/manage.py run_mqtt/)).toBeInTheDocument();
  });

  it("explains the empty state: no connections, no events", async () => {
    fakeFetch({
      "/api/ops/": { body: state({ connections: [], totals: { connections: 0, active: 0, sensors: 0, online_sensors: 0 }, worker: null }) },
    });
    renderOps();
    expect(await screen.findByText(/No MQTT connections yet/)).toBeInTheDocument();
    expect(within(connections()).getByRole("link", { name: "Add one in the admin" })).toHaveAttribute("href", "/admin/");
    expect(screen.getByRole("heading", { name: "No events yet" })).toBeInTheDocument();
  });

  it("lists recent events with their site", async () => {
    fakeFetch({
      "/api/ops/": {
        body: state({
          logs: [
            { id: 9, connection: 1, site: 1, site_code: "DEMO1", site_name: "Bridge 1", event_type: "stop", event: "Stopped by operator", level: "action", message: "by op", timestamp: iso(5_000), actor: "op" },
          ],
        }),
      },
    });
    renderOps();
    const events = await screen.findByRole("region", { name: /Recent events/ });
    expect(within(events).getByText("Stopped by operator")).toBeInTheDocument();
    expect(within(events).getByText("DEMO1")).toBeInTheDocument();
  });

  it("is view only without the control permission", async () => {
    fakeFetch({ "/api/ops/": { body: state() } });
    renderOps({ ...ME, can_control: false });
    expect(await screen.findByText("view only")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Stop Bridge 1" })).not.toBeInTheDocument();
  });

  it("applies a status update from the socket to its row", async () => {
    fakeFetch({ "/api/ops/": { body: state() } });
    renderOps();
    await screen.findByRole("row", { name: /Bridge 1/ });
    act(() => FakeSocket.last().open());
    act(() => FakeSocket.last().message({ type: "status_update", data: { site_id: 1, status: "disabled", enabled: false } }));
    await waitFor(() => expect(within(screen.getByRole("row", { name: /Bridge 1/ })).getByText("Disabled")).toBeInTheDocument());
  });
});
