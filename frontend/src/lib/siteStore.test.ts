import { describe, expect, it, vi } from "vitest";
import { manualFrames, reading, sensor, snapshot } from "../test/fixtures";
import { SiteStore } from "./siteStore";

function setup(hooks = {}) {
  const frames = manualFrames();
  const store = new SiteStore(hooks, frames.schedule);
  const listener = vi.fn();
  store.subscribe(listener);
  return { store, frames, listener };
}

describe("SiteStore", () => {
  it("applies a snapshot then sensors_update deltas", () => {
    const { store, frames } = setup();
    store.receive({ type: "snapshot", data: snapshot() });
    frames.runFrame();
    expect(store.getState().ready).toBe(true);
    expect(store.getState().sensors.map((s) => s.device_name)).toEqual(["S1", "S2"]);

    store.receive({
      type: "sensors_update",
      site_id: 3,
      sensors: [sensor(1, { last_seen_at: "2026-11-30T10:00:05Z", last_reading_at: "2026-11-30T10:00:05Z", readings: [reading("2026-11-30T10:00:05Z", { acc_x: 0.5 })] })],
    });
    frames.runFrame();
    const s1 = store.getState().sensors[0];
    expect(s1?.readings.map((r) => r.timestamp)).toEqual(["2026-11-30T10:00:05Z", "2026-11-30T10:00:00Z"]);
    expect(s1?.readings[0]?.acc_x).toBe(0.5);
  });

  it("keeps at most `retention` readings, newest first, without duplicates", () => {
    const { store, frames } = setup();
    store.receive({ type: "snapshot", data: snapshot() });
    for (const ts of ["2026-11-30T10:00:01Z", "2026-11-30T10:00:02Z", "2026-11-30T10:00:03Z", "2026-11-30T10:00:03Z"]) {
      store.receive({ type: "sensors_update", site_id: 3, sensors: [sensor(1, { last_seen_at: ts, last_reading_at: ts, readings: [reading(ts)] })] });
    }
    frames.runFrame();
    expect(store.getState().sensors[0]?.readings.map((r) => r.timestamp)).toEqual([
      "2026-11-30T10:00:03Z",
      "2026-11-30T10:00:02Z",
      "2026-11-30T10:00:01Z",
    ]);
  });

  it("adds a sensor it has not seen yet", () => {
    const { store, frames } = setup();
    store.receive({ type: "snapshot", data: snapshot() });
    store.receive({ type: "sensors_update", site_id: 3, sensors: [sensor(9, { device_name: "NEW" })] });
    frames.runFrame();
    expect(store.getState().sensors.map((s) => s.device_name)).toEqual(["S1", "S2", "NEW"]);
  });

  it("only gives changed sensors new objects (memoised cards stay put)", () => {
    const { store, frames } = setup();
    store.receive({ type: "snapshot", data: snapshot() });
    frames.runFrame();
    const before = store.getState().sensors;
    store.receive({ type: "sensors_update", site_id: 3, sensors: [sensor(2, { last_seen_at: "2026-11-30T10:00:09Z", readings: [reading("2026-11-30T10:00:09Z")] })] });
    frames.runFrame();
    const after = store.getState().sensors;
    expect(after).not.toBe(before);
    expect(after[0]).toBe(before[0]);
    expect(after[1]).not.toBe(before[1]);
  });

  it("applies sensor_status changes by device name (offline from a missed heartbeat)", () => {
    const { store, frames } = setup();
    store.receive({ type: "snapshot", data: snapshot() });
    store.receive({
      type: "sensor_status",
      site_id: 3,
      changes: [{ device_name: "S2", old: "online", new: "offline", reason: "missing from heartbeat", at: "2026-11-30T10:01:00Z" }],
    });
    frames.runFrame();
    const s2 = store.getState().sensors[1];
    expect(s2?.status).toBe("offline");
    expect(s2?.is_online).toBe(false);
    expect(store.getState().sensors[0]?.status).toBe("online");
  });

  it("does not roll a sensor back for an older sensors_update arriving late", () => {
    const { store, frames } = setup();
    store.receive({ type: "snapshot", data: snapshot() });
    store.receive({
      type: "sensors_update",
      site_id: 3,
      sensors: [sensor(1, { total_messages: 20, last_seen_at: "2026-11-30T10:00:10Z", last_reading_at: "2026-11-30T10:00:10Z", readings: [reading("2026-11-30T10:00:10Z")] })],
    });
    frames.runFrame();
    store.receive({
      type: "sensors_update",
      site_id: 3,
      sensors: [sensor(1, { total_messages: 15, status: "stale", last_seen_at: "2026-11-30T10:00:07Z", last_reading_at: "2026-11-30T10:00:07Z", readings: [reading("2026-11-30T10:00:07Z")] })],
    });
    frames.runFrame();
    const s1 = store.getState().sensors[0];
    expect(s1?.total_messages).toBe(20);
    expect(s1?.status).toBe("online");
    expect(s1?.last_reading_at).toBe("2026-11-30T10:00:10Z");
    expect(s1?.readings[0]?.timestamp).toBe("2026-11-30T10:00:10Z");
  });

  it("ignores an older sensor_status transition", () => {
    const { store, frames } = setup();
    store.receive({ type: "snapshot", data: snapshot({ sensors: [sensor(1, { status_changed_at: "2026-11-30T10:05:00Z" })] }) });
    store.receive({ type: "sensor_status", site_id: 3, changes: [{ device_name: "S1", old: "online", new: "offline", reason: "", at: "2026-11-30T10:04:00Z" }] });
    frames.runFrame();
    expect(store.getState().sensors[0]?.status).toBe("online");
  });

  it("on reconnect buffers deltas until the fresh snapshot, which replaces the state, then replays them", () => {
    const { store, frames } = setup();
    store.receive({ type: "snapshot", data: snapshot() });
    frames.runFrame();

    store.beginResync();
    store.receive({
      type: "sensors_update",
      site_id: 3,
      sensors: [sensor(2, { last_seen_at: "2026-11-30T10:02:00Z", last_reading_at: "2026-11-30T10:02:00Z", readings: [reading("2026-11-30T10:02:00Z")] })],
    });
    frames.runFrame();
    // Not applied yet: the snapshot has not arrived.
    expect(store.getState().sensors[1]?.last_reading_at).toBe("2026-11-30T10:00:00Z");

    const fresh = snapshot({
      sensors: [sensor(2, { last_seen_at: "2026-11-30T10:01:00Z", last_reading_at: "2026-11-30T10:01:00Z", readings: [reading("2026-11-30T10:01:00Z")] }), sensor(5)],
      server_time: "2026-11-30T10:01:30Z",
    });
    store.receive({ type: "snapshot", data: fresh });
    frames.runFrame();
    const state = store.getState();
    expect(state.sensors.map((s) => s.id)).toEqual([2, 5]); // S1 is gone: the snapshot replaced the state
    expect(state.sensors[0]?.last_reading_at).toBe("2026-11-30T10:02:00Z"); // the buffered delta replayed on top
    expect(state.sensors[0]?.readings.map((r) => r.timestamp)).toEqual(["2026-11-30T10:02:00Z", "2026-11-30T10:01:00Z"]);
  });

  it("batches many events into one notification per frame", () => {
    const { store, frames, listener } = setup();
    store.receive({ type: "snapshot", data: snapshot() });
    for (let i = 1; i <= 200; i += 1) {
      const ts = new Date(Date.UTC(2026, 10, 30, 10, 0, 0) + i * 10).toISOString();
      store.receive({ type: "sensors_update", site_id: 3, sensors: [sensor(1 + (i % 2), { last_seen_at: ts, last_reading_at: ts, readings: [reading(ts)] })] });
    }
    expect(listener).not.toHaveBeenCalled();
    expect(frames.pending).toBe(1);
    frames.runFrame();
    expect(listener).toHaveBeenCalledTimes(1);
    expect(store.getState().sensors[0]?.total_messages).toBe(10);
    expect(store.getState().sensors[0]?.readings).toHaveLength(3);
  });

  it("merges site_update into the connection, asks for system info and events, ignores an older status", () => {
    const onSystemInfoChanged = vi.fn();
    const onLoggedChange = vi.fn();
    const { store, frames } = setup({ onSystemInfoChanged, onLoggedChange });
    store.receive({ type: "snapshot", data: snapshot() });
    store.receive({ type: "site_update", data: { site_id: 3, status: "error", status_changed_at: "2026-11-30T10:03:00Z", error_message: "refused", system_info_updated: true } });
    store.receive({ type: "site_update", data: { site_id: 3, status: "connected", status_changed_at: "2026-11-30T10:02:00Z" } });
    frames.runFrame();
    expect(store.getState().connection?.status).toBe("error");
    expect(store.getState().connection?.error_message).toBe("refused");
    expect(onSystemInfoChanged).toHaveBeenCalledTimes(1);
    expect(onLoggedChange).toHaveBeenCalled();
  });
});
