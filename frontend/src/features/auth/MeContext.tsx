import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { api, ApiError } from "../../lib/api";
import { clockOffset, setAppClockOffset } from "../../lib/time";
import type { Me } from "../../lib/types";

export type MeState =
  | { status: "loading" }
  | { status: "error"; message: string; retry: () => void }
  | { status: "ready"; me: Me };

const MeContext = createContext<Me | null>(null);

export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error("useMe() outside <MeProvider>");
  return me;
}

export function MeProvider({ me, children }: { me: Me; children: ReactNode }) {
  return <MeContext.Provider value={me}>{children}</MeContext.Provider>;
}

/** Loads the current user once; a 401 sends the browser to the login page (in the API client). */
export function useLoadMe(load: () => Promise<Me> = api.me): MeState {
  const [state, setState] = useState<MeState>({ status: "loading" });
  const [attempt, setAttempt] = useState(0);
  const retry = useCallback(() => setAttempt((n) => n + 1), []);
  useEffect(() => {
    let cancelled = false;
    setState({ status: "loading" });
    load().then(
      (me) => {
        if (cancelled) return;
        setAppClockOffset(clockOffset(me.server_time));
        setState({ status: "ready", me });
      },
      (error: unknown) => {
        if (cancelled) return;
        const notLoggedIn = error instanceof ApiError && (error.status === 401 || error.status === 403);
        setState({
          status: "error",
          message: notLoggedIn ? "You are not logged in. Taking you to the login page…" : error instanceof Error ? error.message : String(error),
          retry,
        });
      },
    );
    return () => {
      cancelled = true;
    };
  }, [attempt, load, retry]);
  return state;
}
