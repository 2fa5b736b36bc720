import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { api } from "../../lib/api";
import { INITIAL_SITES_STATE, SitesStore, type SitesState } from "../../lib/sitesStore";
import { subscribeStatus } from "../../lib/statusFeed";
import type { Site } from "../../lib/types";

const noop = () => () => {};

/** The overview's live site list: read on every status-socket (re)connect, then kept by deltas. */
export function useSites(load: (signal?: AbortSignal) => Promise<Site[]> = api.sites): SitesState & { retry: () => void } {
  const [store, setStore] = useState<SitesStore | null>(null);
  const reload = useRef<() => void>(() => {});

  useEffect(() => {
    let aborter: AbortController | null = null;
    let pending: ReturnType<typeof setTimeout> | null = null;
    const created = new SitesStore(() => {
      // A site we have not seen: re-read the list, at most once every 2 s.
      if (pending === null) pending = setTimeout(() => {
        pending = null;
        read();
      }, 2000);
    });
    const read = () => {
      aborter?.abort();
      const mine = new AbortController();
      aborter = mine;
      created.beginResync();
      load(mine.signal).then(
        (sites) => {
          if (!mine.signal.aborted) created.applySnapshot(sites);
        },
        (error: unknown) => {
          if (mine.signal.aborted) return;
          created.fail(error instanceof Error ? error.message : String(error));
        },
      );
    };
    reload.current = read;
    setStore(created);
    let opened = false;
    const unsubscribe = subscribeStatus({
      onMessage: (m) => created.receive(m),
      onOpen: () => {
        opened = true;
        read();
      },
    });
    // The list is read after every socket (re)connect; if the socket is slow to come, read anyway.
    const fallback = setTimeout(() => {
      if (!opened) read();
    }, 1500);
    return () => {
      clearTimeout(fallback);
      unsubscribe();
      aborter?.abort();
      if (pending !== null) clearTimeout(pending);
      created.dispose();
    };
  }, [load]);

  const state = useSyncExternalStore(store ? store.subscribe : noop, store ? store.getState : () => INITIAL_SITES_STATE);
  const retry = useCallback(() => reload.current(), []);
  return { ...state, retry };
}
