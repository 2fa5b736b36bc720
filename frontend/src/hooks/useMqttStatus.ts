// The hook a site page uses: opens the site socket (through lib), returns its live state.
import { useCallback, useEffect, useMemo, useState, useSyncExternalStore } from "react";
import { SiteFeed, type SiteExtras, type SiteFeedOptions } from "../lib/siteFeed";
import { countSensors } from "../lib/sensorStatus";
import { INITIAL_SITE_STATE, type SiteState } from "../lib/siteStore";
import type { ConnectionState, SocketStatus } from "../lib/socket";
import { useNow } from "../lib/ticker";
import type { Connection, Sensor, SensorCounts, SiteRef, SystemInfo, Site } from "../lib/types";

export interface MqttStatus {
  connectionState: ConnectionState;
  retryAt: number | null;
  retryNow: () => void;
  ready: boolean;
  notFound: boolean;
  site: SiteRef | null;
  detail: Site | null;
  connection: Connection | null;
  sensors: readonly Sensor[];
  /** Derived client-side (they agree with the cards' badges, client-side stale included). */
  counts: SensorCounts;
  /** The site's counts as the server keeps them: all its sensors, also those a capped snapshot left out. */
  serverCounts: SensorCounts | null;
  systemInfo: SystemInfo | null;
  events: SiteExtras["events"];
  eventsStatus: SiteExtras["eventsStatus"];
  eventsError: string | null;
  reloadEvents: () => void;
  staleAfterSeconds: number;
  heartbeatTimeoutSeconds: number;
  clockOffsetMs: number;
  /** Now on the server's clock (ms). */
  serverNow: () => number;
}

const EMPTY_EXTRAS: SiteExtras = { detail: null, notFound: false, events: [], eventsStatus: "loading", eventsError: null };
const CONNECTING: SocketStatus = { state: "connecting", retryAt: null, attempt: 0 };
const noopSubscribe = () => () => {};

export function useMqttStatus(siteId: number, options?: SiteFeedOptions): MqttStatus {
  const [feed, setFeed] = useState<SiteFeed | null>(null);

  useEffect(() => {
    const created = new SiteFeed(siteId, options);
    created.start();
    setFeed(created);
    return () => {
      created.dispose();
      setFeed(null);
    };
    // options are read once per site: they are wiring, not state.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [siteId]);

  const state: SiteState = useSyncExternalStore(
    feed ? feed.store.subscribe : noopSubscribe,
    feed ? feed.store.getState : () => INITIAL_SITE_STATE,
  );
  const socketStatus: SocketStatus = useSyncExternalStore(
    feed ? feed.socket.subscribe : noopSubscribe,
    feed ? feed.socket.getStatus : () => CONNECTING,
  );
  const extras: SiteExtras = useSyncExternalStore(
    feed ? feed.subscribeExtras : noopSubscribe,
    feed ? feed.getExtras : () => EMPTY_EXTRAS,
  );

  const now = useNow();
  const offset = state.clockOffsetMs;
  const serverNow = useCallback(() => Date.now() + offset, [offset]);
  const counts = useMemo(
    () => countSensors(state.sensors, now + offset, state.staleAfterSeconds),
    [state.sensors, now, offset, state.staleAfterSeconds],
  );
  const retryNow = useCallback(() => feed?.socket.retryNow(), [feed]);
  const reloadEvents = useCallback(() => feed?.reloadEvents(), [feed]);

  return {
    connectionState: socketStatus.state,
    retryAt: socketStatus.retryAt,
    retryNow,
    ready: state.ready,
    notFound: extras.notFound || socketStatus.state === "denied",
    site: state.site,
    detail: extras.detail,
    connection: state.connection,
    sensors: state.sensors,
    counts,
    serverCounts: state.serverCounts,
    systemInfo: state.systemInfo,
    events: extras.events,
    eventsStatus: extras.eventsStatus,
    eventsError: extras.eventsError,
    reloadEvents,
    staleAfterSeconds: state.staleAfterSeconds,
    heartbeatTimeoutSeconds: state.heartbeatTimeoutSeconds,
    clockOffsetMs: offset,
    serverNow,
  };
}
