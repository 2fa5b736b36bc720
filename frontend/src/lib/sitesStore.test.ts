import { describe, expect, it, vi } from "vitest";
import { manualFrames, site } from "../test/fixtures";
import { SitesStore } from "./sitesStore";

describe("SitesStore", () => {
  it("applies status_update deltas to the listed sites, once per frame", () => {
    const frames = manualFrames();
    const store = new SitesStore(() => {}, frames.schedule);
    const listener = vi.fn();
    store.subscribe(listener);
    store.applySnapshot([site(1), site(2)]);
    listener.mockClear();
    const untouched = store.getState().sites[1];
    for (let i = 0; i < 100; i += 1) {
      store.receive({ type: "status_update", data: { site_id: 1, connection_errors: i } });
    }
    store.receive({ type: "status_update", data: { site_id: 1, sensor_counts: { online: 1, offline: 3 } } });
    frames.runFrame();
    expect(listener).toHaveBeenCalledTimes(1);
    expect(store.getState().sites[0]?.connection?.connection_errors).toBe(99);
    expect(store.getState().sites[0]?.sensor_counts).toMatchObject({ online: 1, offline: 3, total: 4 });
    expect(store.getState().sites[1]).toBe(untouched);
  });

  it("buffers deltas during a resync and replays them on top of the fresh list", () => {
    const frames = manualFrames();
    const onUnknown = vi.fn();
    const store = new SitesStore(onUnknown, frames.schedule);
    store.applySnapshot([site(1)]);
    store.beginResync();
    store.receive({ type: "status_update", data: { site_id: 2, status: "error", status_changed_at: "2026-11-30T11:00:00Z" } });
    frames.runFrame();
    store.applySnapshot([site(1), site(2)]);
    expect(store.getState().sites[1]?.connection?.status).toBe("error");
    expect(onUnknown).not.toHaveBeenCalled();
  });

  it("does not roll a status back for an older status_update", () => {
    const frames = manualFrames();
    const store = new SitesStore(() => {}, frames.schedule);
    store.applySnapshot([site(1)]);
    store.receive({ type: "status_update", data: { site_id: 1, status: "error", status_changed_at: "2026-11-30T11:00:00Z" } });
    store.receive({ type: "status_update", data: { site_id: 1, status: "connected", status_changed_at: "2026-11-30T10:59:00Z" } });
    frames.runFrame();
    expect(store.getState().sites[0]?.connection?.status).toBe("error");
  });

  it("asks for a re-read when a delta names a site it does not know", () => {
    const frames = manualFrames();
    const onUnknown = vi.fn();
    const store = new SitesStore(onUnknown, frames.schedule);
    store.applySnapshot([site(1)]);
    store.receive({ type: "status_update", data: { site_id: 42, status: "connected" } });
    frames.runFrame();
    expect(onUnknown).toHaveBeenCalledTimes(1);
  });
});
