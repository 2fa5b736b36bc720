import { useEffect, useState, useSyncExternalStore } from "react";
import { subscribeStatus } from "../../lib/statusFeed";
import { OpsStore, type OpsView } from "./opsStore";

const LOADING: OpsView = { status: "loading", error: null, data: null, clockOffsetMs: 0 };
const noop = () => () => {};

export function useOps(): OpsView & { refresh: () => void } {
  const [store, setStore] = useState<OpsStore | null>(null);
  useEffect(() => {
    const created = new OpsStore();
    setStore(created);
    created.start();
    void created.refresh(); // at once, whether or not the socket comes
    let first = true;
    const unsubscribe = subscribeStatus({
      onMessage: (m) => created.receive(m),
      onOpen: () => {
        // The first open follows the initial read closely; still re-read to close the gap.
        if (first) {
          first = false;
          created.scheduleRefresh();
        } else {
          void created.refresh();
        }
      },
    });
    return () => {
      unsubscribe();
      created.dispose();
    };
  }, []);
  const view = useSyncExternalStore(store ? store.subscribe : noop, store ? store.getView : () => LOADING);
  return { ...view, refresh: () => void store?.refresh() };
}
