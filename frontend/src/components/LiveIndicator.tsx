import { useSyncExternalStore } from "react";
import { currentLiveSocket, subscribeLive } from "../lib/liveIndicator";
import type { SocketStatus } from "../lib/socket";
import { useNow } from "../lib/ticker";

const NONE: SocketStatus = { state: "offline", retryAt: null, attempt: 0 };

function useLiveStatus(): SocketStatus | null {
  return useSyncExternalStore(
    subscribeLive,
    () => currentLiveSocket()?.getStatus() ?? null,
  );
}

/** Live / Reconnecting in N s / Offline, for the page's socket. */
export function LiveIndicator() {
  const status = useLiveStatus();
  const now = useNow();
  if (!status) return null;
  const s = status ?? NONE;
  let text: string;
  let tone: string;
  switch (s.state) {
    case "live":
      text = "Live";
      tone = "ok";
      break;
    case "connecting":
      text = "Connecting…";
      tone = "warn";
      break;
    case "reconnecting": {
      const seconds = s.retryAt ? Math.max(0, Math.ceil((s.retryAt - now) / 1000)) : 0;
      text = seconds > 0 ? `Reconnecting in ${seconds} s` : "Reconnecting…";
      tone = "warn";
      break;
    }
    case "denied":
      text = "Not allowed";
      tone = "muted";
      break;
    default:
      text = "Offline";
      tone = "bad";
  }
  const canRetry = s.state === "reconnecting" && s.retryAt !== null;
  // The countdown ticks; only the state is announced.
  return (
    <div className={`live live--${tone}`}>
      <span className="badge-dot" aria-hidden="true" />
      <span className="visually-hidden" aria-live="polite">
        {s.state === "live" ? "Live updates connected" : s.state === "reconnecting" ? "Live updates interrupted, reconnecting" : text}
      </span>
      <span aria-hidden="true">{text}</span>
      {canRetry && (
        <button type="button" className="link-button" onClick={() => currentLiveSocket()?.retryNow()}>
          Retry now
        </button>
      )}
    </div>
  );
}
