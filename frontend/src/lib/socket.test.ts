import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeSocket, fakeSocketFactory } from "../test/fakeSocket";
import { setNavigate } from "./navigation";
import { backoffDelay, LiveSocket } from "./socket";

describe("backoffDelay", () => {
  it("grows exponentially from 0.5 s and is capped at 30 s", () => {
    const top = () => 1; // the ceiling of the full-jitter window
    expect([0, 1, 2, 3, 4, 5, 6, 7, 10].map((n) => backoffDelay(n, top))).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it("uses full jitter: anywhere between 0 and the ceiling", () => {
    expect(backoffDelay(3, () => 0)).toBe(0);
    expect(backoffDelay(3, () => 0.25)).toBe(1000);
    expect(backoffDelay(20, () => 0.5)).toBe(15000);
  });
});

describe("LiveSocket", () => {
  const navigate = vi.fn();

  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.reset();
    navigate.mockReset();
    setNavigate(navigate);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  function make(extra: Partial<ConstructorParameters<typeof LiveSocket>[0]> = {}) {
    const onOpen = vi.fn();
    const onMessage = vi.fn();
    const socket = new LiveSocket({ path: "/ws/mqtt/status/", onOpen, onMessage, createSocket: fakeSocketFactory, random: () => 1, ...extra });
    socket.start();
    return { socket, onOpen, onMessage };
  }

  it("connects to ws://<host><path> and is live once open", () => {
    const { socket } = make();
    expect(FakeSocket.last().url).toBe(`ws://${window.location.host}/ws/mqtt/status/`);
    expect(socket.getStatus().state).toBe("connecting");
    FakeSocket.last().open();
    expect(socket.getStatus().state).toBe("live");
    socket.stop();
  });

  it("reconnects with growing delays (jittered, capped) and calls onOpen after every reconnect", () => {
    const random = vi.fn(() => 1);
    const { socket, onOpen } = make({ random });
    FakeSocket.last().open();
    expect(onOpen).toHaveBeenCalledTimes(1);

    const delays: number[] = [];
    for (let i = 0; i < 9; i += 1) {
      FakeSocket.last().serverClose(1006);
      const status = socket.getStatus();
      expect(status.state).toBe("reconnecting");
      delays.push((status.retryAt ?? 0) - Date.now());
      const count = FakeSocket.instances.length;
      vi.advanceTimersByTime(delays.at(-1) ?? 0);
      expect(FakeSocket.instances.length).toBe(count + 1); // a new attempt, but it fails again
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);

    FakeSocket.last().open();
    expect(onOpen).toHaveBeenCalledTimes(2); // resync after the reconnect
    expect(socket.getStatus()).toMatchObject({ state: "live", attempt: 0 });

    // After a successful connection the backoff starts again from the bottom.
    FakeSocket.last().serverClose(1006);
    expect((socket.getStatus().retryAt ?? 0) - Date.now()).toBe(500);
    vi.advanceTimersByTime(500);
    FakeSocket.last().open();
    expect(onOpen).toHaveBeenCalledTimes(3);
    socket.stop();
  });

  it("applies the jitter to each delay", () => {
    const values = [0.5, 0.1];
    const { socket } = make({ random: () => values.shift() ?? 1 });
    FakeSocket.last().serverClose(1006);
    expect((socket.getStatus().retryAt ?? 0) - Date.now()).toBe(250);
    vi.advanceTimersByTime(250);
    FakeSocket.last().serverClose(1006);
    expect((socket.getStatus().retryAt ?? 0) - Date.now()).toBe(100);
    socket.stop();
  });

  it("on close code 4401 sends the browser to the login page and does not retry", () => {
    const { socket } = make();
    FakeSocket.last().open();
    FakeSocket.last().serverClose(4401);
    expect(navigate).toHaveBeenCalledWith(`/login/?next=${encodeURIComponent(window.location.pathname)}`);
    vi.advanceTimersByTime(120_000);
    expect(FakeSocket.instances).toHaveLength(1);
    socket.stop();
  });

  it("on close code 4403 is denied and does not retry", () => {
    const { socket } = make();
    FakeSocket.last().serverClose(4403);
    expect(socket.getStatus().state).toBe("denied");
    vi.advanceTimersByTime(120_000);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(navigate).not.toHaveBeenCalled();
    socket.stop();
  });

  it("pings every 20 s and reconnects when no pong comes within 10 s", () => {
    const { socket, onMessage } = make();
    const first = FakeSocket.last();
    first.open();
    vi.advanceTimersByTime(20_000);
    expect(first.sent).toEqual([{ type: "ping" }]);
    first.message({ type: "pong" });
    expect(onMessage).not.toHaveBeenCalled(); // pongs are the socket's own business
    vi.advanceTimersByTime(20_000);
    expect(first.sent).toHaveLength(2);
    vi.advanceTimersByTime(10_000); // no pong this time
    expect(first.closed).not.toBeNull();
    expect(socket.getStatus().state).toBe("reconnecting");
    vi.advanceTimersByTime(500);
    expect(FakeSocket.instances).toHaveLength(2);
    socket.stop();
  });

  it("passes other frames to onMessage and notifies state listeners", () => {
    const { socket, onMessage } = make();
    const listener = vi.fn();
    socket.subscribe(listener);
    FakeSocket.last().open();
    expect(listener).toHaveBeenCalled();
    FakeSocket.last().message({ type: "status_update", data: { site_id: 1 } });
    expect(onMessage).toHaveBeenCalledWith({ type: "status_update", data: { site_id: 1 } });
    socket.stop();
    expect(socket.getStatus().state).toBe("offline");
  });
});

describe("LiveSocket defaults", () => {
  it("uses the browser's WebSocket when no factory is given (even as undefined)", () => {
    const created: string[] = [];
    class BrowserSocket extends FakeSocket {
      constructor(url: string) {
        super(url);
        created.push(url);
      }
    }
    vi.stubGlobal("WebSocket", BrowserSocket);
    const socket = new LiveSocket({ path: "/ws/x/", onMessage: () => {}, createSocket: undefined });
    socket.start();
    expect(created).toEqual([`ws://${window.location.host}/ws/x/`]);
    expect(socket.getStatus().state).toBe("connecting");
    socket.stop();
    vi.unstubAllGlobals();
  });
});
