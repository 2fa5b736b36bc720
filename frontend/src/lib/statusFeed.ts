// The one /ws/mqtt/status/ socket of the app, shared by the pages that use it (overview, operations):
// started by the first subscriber, stopped after the last one leaves.
import { LiveSocket, type SocketFactory } from "./socket";
import { publishLive } from "./liveIndicator";

export interface StatusListener {
  onMessage: (message: unknown) => void;
  /** After every (re)connect: resync. */
  onOpen: () => void;
}

let socket: LiveSocket | null = null;
let unpublish: (() => void) | null = null;
const listeners = new Set<StatusListener>();
let factory: SocketFactory | undefined;

export function setStatusSocketFactory(f: SocketFactory | undefined): void {
  factory = f;
}

export function statusSocket(): LiveSocket | null {
  return socket;
}

export function subscribeStatus(listener: StatusListener): () => void {
  listeners.add(listener);
  if (!socket) {
    socket = new LiveSocket({
      path: "/ws/mqtt/status/",
      createSocket: factory,
      onMessage: (message) => {
        for (const l of listeners) l.onMessage(message);
      },
      onOpen: () => {
        for (const l of listeners) l.onOpen();
      },
    });
    unpublish = publishLive(socket);
    socket.start();
  } else if (socket.getStatus().state === "live") {
    listener.onOpen(); // already live: this subscriber still needs its first read
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && socket) {
      socket.stop();
      unpublish?.();
      unpublish = null;
      socket = null;
    }
  };
}
