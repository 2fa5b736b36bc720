// One API read held in React state: loading / ready / error, retry, and an optional refresh interval
// (a refresh keeps the shown data while it runs, so a poll never flashes a skeleton).
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "../lib/api";

export type Resource<T> =
  | { status: "loading"; data: null; error: null }
  | { status: "ready"; data: T; error: null }
  | { status: "error"; data: T | null; error: string; notFound: boolean };

export function useResource<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: readonly unknown[],
  { refreshMs = 0 }: { refreshMs?: number } = {},
): Resource<T> & { reload: () => void } {
  const [state, setState] = useState<Resource<T>>({ status: "loading", data: null, error: null });
  const [attempt, setAttempt] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(() => setAttempt((n) => n + 1), []);

  useEffect(() => {
    setState({ status: "loading", data: null, error: null });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  useEffect(() => {
    const controller = new AbortController();
    loadRef.current(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ status: "ready", data, error: null });
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        const message = error instanceof Error ? error.message : String(error);
        const notFound = error instanceof ApiError && error.isNotFound;
        setState((previous) => ({ status: "error", data: previous.data, error: message, notFound }));
      },
    );
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, attempt]);

  useEffect(() => {
    if (refreshMs <= 0) return;
    const timer = window.setInterval(reload, refreshMs);
    return () => window.clearInterval(timer);
  }, [refreshMs, reload]);

  return { ...state, reload };
}
