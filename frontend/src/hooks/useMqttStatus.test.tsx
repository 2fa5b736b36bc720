import { act, renderHook, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setNavigate } from "../lib/navigation";
import type { SiteFeedOptions } from "../lib/siteFeed";
import { FakeSocket, fakeSocketFactory } from "../test/fakeSocket";
import { manualFrames, sensor, site, snapshot } from "../test/fixtures";
import { useMqttStatus } from "./useMqttStatus";

function fakeApi() {
  return {
    site: vi.fn(async (id: number) => site(id)),
    systemInfo: vi.fn(async () => ({
      hostname: "dl-1",
      firmware_version: "2.1",
      ip_address: "10.0.0.2",
      uptime_seconds: 100,
      cpu_load: 0.5,
      temperature_c: 41,
      memory_total_bytes: 1,
      memory_free_bytes: 1,
      disk_total_bytes: 1,
      disk_free_bytes: 1,
      reported_at: null,
      received_at: null,
    })),
    siteLogs: vi.fn(async () => ({ count: 0, next: null, previous: null, results: [] })),
  };
}

describe("useMqttStatus", () => {
  beforeEach(() => {
    FakeSocket.reset();
    setNavigate(vi.fn());
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function mount(api = fakeApi()) {
    const frames = manualFrames();
    const options: SiteFeedOptions = { api, createSocket: fakeSocketFactory, schedule: frames.schedule, eventsDebounceMs: 0 };
    const hook = renderHook(() => useMqttStatus(3, options));
    await act(async () => {}); // the site's REST read resolves
    const deliver = async (frame: unknown) =>
      act(async () => {
        FakeSocket.last().message(frame);
        frames.runFrame();
        vi.isFakeTimers() ? vi.advanceTimersByTime(0) : await new Promise((r) => setTimeout(r, 0));
      });
    return { ...hook, frames, api, deliver };
  }

  it("opens the site socket and exposes the snapshot, then deltas, with client-side counts", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    vi.setSystemTime(Date.parse("2026-11-30T10:00:05Z"));
    const { result, deliver } = await mount();
    expect(result.current.ready).toBe(false);
    expect(result.current.connectionState).toBe("connecting");
    expect(FakeSocket.last().url).toMatch(/\/ws\/mqtt\/site\/3\/$/);

    act(() => FakeSocket.last().open());
    expect(result.current.connectionState).toBe("live");
    await deliver({ type: "snapshot", data: snapshot() });
    expect(result.current.ready).toBe(true);
    expect(result.current.site?.code).toBe("DEMO3");
    expect(result.current.sensors).toHaveLength(2);
    expect(result.current.counts).toEqual({ total: 2, online: 2, stale: 0, offline: 0 });
    expect(Math.abs(result.current.serverNow() - Date.parse("2026-11-30T10:00:05Z"))).toBeLessThan(1000);

    await deliver({ type: "sensor_status", site_id: 3, changes: [{ device_name: "S2", old: "online", new: "offline", reason: "", at: "2026-11-30T10:00:06Z" }] });
    expect(result.current.counts).toEqual({ total: 2, online: 1, stale: 0, offline: 1 });

    // No event for 30 s more: S1 turns stale on the client.
    act(() => {
      vi.advanceTimersByTime(31_000);
    });
    expect(result.current.counts).toEqual({ total: 2, online: 0, stale: 1, offline: 1 });
  });

  it("re-fetches the system info when the socket says it changed", async () => {
    const { result, deliver, api } = await mount();
    act(() => FakeSocket.last().open());
    await deliver({ type: "snapshot", data: snapshot() });
    await deliver({ type: "site_update", data: { site_id: 3, system_info_updated: true } });
    await waitFor(() => expect(result.current.systemInfo?.hostname).toBe("dl-1"));
    expect(api.systemInfo).toHaveBeenCalledWith(3, expect.anything());
  });

  it("takes the fresh snapshot after a reconnect", async () => {
    vi.useFakeTimers();
    const { result, deliver } = await mount();
    act(() => FakeSocket.last().open());
    await deliver({ type: "snapshot", data: snapshot() });
    act(() => FakeSocket.last().serverClose(1006));
    expect(result.current.connectionState).toBe("reconnecting");
    act(() => {
      vi.advanceTimersByTime(30_000);
    });
    expect(FakeSocket.instances).toHaveLength(2);
    act(() => FakeSocket.last().open());
    await deliver({ type: "snapshot", data: snapshot({ sensors: [sensor(7, { device_name: "only" })] }) });
    expect(result.current.sensors.map((s) => s.device_name)).toEqual(["only"]);
    expect(result.current.connectionState).toBe("live");
  });

  it("reports a site it may not see (4403) as not found", async () => {
    const { result } = await mount();
    act(() => FakeSocket.last().serverClose(4403));
    expect(result.current.connectionState).toBe("denied");
    expect(result.current.notFound).toBe(true);
  });

  it("closes the socket on unmount", async () => {
    const { unmount } = await mount();
    const socket = FakeSocket.last();
    act(() => socket.open());
    unmount();
    expect(socket.closed).not.toBeNull();
  });
});
