import { useCallback, useEffect, useRef, useState } from "react";
import { Link } from "react-router-dom";
import { Badge } from "../../components/Badge";
import { EmptyState, ErrorState, LoadingBlock } from "../../components/StateViews";
import { api, ApiError } from "../../lib/api";
import { CONNECTION_LABELS, CONNECTION_TONES, HEARTBEAT_LABELS, HEARTBEAT_TONES } from "../../lib/labels";
import { naturalCompare } from "../../lib/sort";
import { useNow } from "../../lib/ticker";
import { ago, fullTime, localTime, secondsSince, span } from "../../lib/time";
import type { OpsConnection, Worker } from "../../lib/types";
import { useMe } from "../auth/MeContext";
import { StaffOnly } from "../auth/StaffOnly";
import { EventsTable } from "../site/EventsPanel";
import { useOps } from "./useOps";

type Action = "start" | "stop" | "restart";
const ACTION_LABELS: Record<Action, string> = { start: "Start", stop: "Stop", restart: "Restart" };
const PAST: Record<Action, string> = { start: "started", stop: "stopped", restart: "restarted" };

interface Flash {
  id: number;
  tone: "ok" | "bad";
  text: string;
}

function WorkerSignal({ worker, serverNow }: { worker: Worker | null; serverNow: number }) {
  if (!worker) {
    return (
      <div className="worker worker--none">
        <Badge tone="bad">No worker</Badge>
        <span>
          No MQTT worker has reported yet. Start one with <code>manage.py run_mqtt</code>; until then nothing connects.
        </span>
      </div>
    );
  }
  const age = secondsSince(worker.last_seen_at, serverNow);
  const alive = age !== null && age <= worker.stale_after;
  return (
    <div className={`worker worker--${alive ? "alive" : "down"}`}>
      <Badge tone={alive ? "ok" : "bad"}>{alive ? "Worker alive" : "Worker down"}</Badge>
      <span>
        {alive ? "Last tick " : `Down since ${localTime(worker.last_seen_at)}, last tick `}
        {ago(worker.last_seen_at, serverNow)} · {worker.hostname} pid {worker.pid} · running {worker.connections} connection
        {worker.connections === 1 ? "" : "s"} · {worker.alive_workers} worker{worker.alive_workers === 1 ? "" : "s"} alive
        {worker.started_at && <span className="quiet"> · started {fullTime(worker.started_at)}</span>}
      </span>
      {worker.workers && worker.workers.length > 1 && (
        <ul className="worker-peers" aria-label="Live workers">
          {worker.workers.map((peer) => (
            <li key={peer.worker_id}>
              <code>{peer.hostname}</code> pid {peer.pid} · {peer.connections} connection{peer.connections === 1 ? "" : "s"}
              <span className="quiet"> · last tick {ago(peer.last_seen_at, serverNow)}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function pendingOf(row: OpsConnection): string {
  if (!row.enabled && row.status !== "disabled") return "stopping";
  if (row.enabled && row.status === "disabled") return "starting";
  return "";
}

function ConnectionRow({
  row,
  serverNow,
  canControl,
  busy,
  onAction,
}: {
  row: OpsConnection;
  serverNow: number;
  canControl: boolean;
  busy: boolean;
  onAction: (row: OpsConnection, action: Action) => void;
}) {
  const pending = pendingOf(row);
  const sinceSeconds = secondsSince(row.status_changed_at, serverNow);
  return (
    <tr className={`conn conn--${row.status}`}>
      <th scope="row" data-label="Site">
        <Link to={`/sites/${row.site_id}/`}>{row.site_name}</Link> <span className="code">{row.site_code}</span>
      </th>
      <td data-label="Broker">
        <code>{row.broker}</code> {row.tls ? <span className="tag">TLS</span> : <span className="quiet tag-plain">no TLS</span>}
      </td>
      <td data-label="Enabled">{row.enabled ? "Yes" : <span className="quiet">No</span>}</td>
      <td data-label="Status">
        <Badge tone={CONNECTION_TONES[row.status]}>{CONNECTION_LABELS[row.status]}</Badge>
        {sinceSeconds !== null && <span className="quiet"> for {span(sinceSeconds)}</span>}
        {pending && <span className="pending"> {pending}…</span>}
      </td>
      <td data-label="Heartbeat">
        <Badge tone={HEARTBEAT_TONES[row.heartbeat_state]}>{HEARTBEAT_LABELS[row.heartbeat_state]}</Badge>
      </td>
      <td data-label="Last heartbeat">
        <time dateTime={row.last_heartbeat_at ?? undefined} title={fullTime(row.last_heartbeat_at)}>
          {ago(row.last_heartbeat_at, serverNow)}
        </time>
      </td>
      <td data-label="Errors" className="c-errors">
        <span className={row.connection_errors ? "text-bad" : "quiet"}>{row.connection_errors}</span>
        {row.error_message && (
          <span className="error-message" title={row.error_message}>
            {" "}
            {row.error_message}
          </span>
        )}
      </td>
      <td data-label="Sensors online" className="num c-sensors">
        {row.sensor_counts.online}
        <span className="quiet"> / {row.sensor_counts.total}</span>
        {row.sensor_counts.stale > 0 && <span className="text-warn"> · {row.sensor_counts.stale} stale</span>}
        {row.sensor_counts.offline > 0 && <span className="text-bad"> · {row.sensor_counts.offline} offline</span>}
      </td>
      <td data-label="Actions">
        {canControl ? (
          <div className="actions">
            {(["start", "stop", "restart"] as const).map((action) => (
              <button
                key={action}
                type="button"
                className={`btn btn--small btn--${action}`}
                aria-label={`${ACTION_LABELS[action]} ${row.site_name}`}
                disabled={busy || (action === "start" && row.enabled) || (action === "stop" && !row.enabled)}
                onClick={() => onAction(row, action)}
              >
                {ACTION_LABELS[action]}
              </button>
            ))}
          </div>
        ) : (
          <span className="quiet" title="You may not change connections">
            view only
          </span>
        )}
      </td>
    </tr>
  );
}

export function OpsPage() {
  const me = useMe();
  if (!me.is_staff) return <StaffOnly />;
  return <OpsView canControl={me.can_control} />;
}

function OpsView({ canControl }: { canControl: boolean }) {
  const { status, error, data, clockOffsetMs, refresh } = useOps();
  const now = useNow();
  const serverNow = now + clockOffsetMs;
  const [busy, setBusy] = useState<ReadonlySet<number>>(new Set());
  const [flash, setFlash] = useState<Flash | null>(null);
  const flashId = useRef(0);

  useEffect(() => {
    if (!flash) return;
    const timer = setTimeout(() => setFlash(null), 8000);
    return () => clearTimeout(timer);
  }, [flash]);

  const onAction = useCallback(
    async (row: OpsConnection, action: Action) => {
      if (action !== "start" && !window.confirm(`${ACTION_LABELS[action]} the connection of ${row.site_name} (${row.site_code})?`)) return;
      setBusy((b) => new Set(b).add(row.id));
      try {
        await api.control(row.id, action);
        setFlash({ id: ++flashId.current, tone: "ok", text: `${row.site_name}: connection ${PAST[action]}.` });
        refresh();
      } catch (e) {
        const message =
          e instanceof ApiError && e.status === 403
            ? `You may not change connections (${e.message})`
            : e instanceof Error
              ? e.message
              : String(e);
        setFlash({ id: ++flashId.current, tone: "bad", text: `${row.site_name}: could not ${action} — ${message}` });
      } finally {
        setBusy((b) => {
          const next = new Set(b);
          next.delete(row.id);
          return next;
        });
      }
    },
    [refresh],
  );

  const rows = data ? [...data.connections].sort((a, b) => naturalCompare(a.site_code, b.site_code)) : [];

  return (
    <div className="page">
      <div className="page-head">
        <h1>Operations</h1>
      </div>
      <div className="flash-area" role="status" aria-live="polite">
        {flash && (
          <div key={flash.id} className={`flash flash--${flash.tone}`}>
            <span>{flash.text}</span>
            <button type="button" className="link-button" onClick={() => setFlash(null)} aria-label="Dismiss message">
              Dismiss
            </button>
          </div>
        )}
      </div>
      {status === "loading" ? (
        <LoadingBlock label="Loading the operations state…" lines={6} />
      ) : status === "error" || !data ? (
        <ErrorState title="Could not load the operations state" message={error} onRetry={refresh} />
      ) : (
        <>
          <WorkerSignal worker={data.worker} serverNow={serverNow} />
          <section className="totals totals--4" aria-label="Totals" aria-live="polite">
            <div className="total">
              <span className="total-value">{data.totals.connections}</span>
              <span className="total-label">Connections</span>
            </div>
            <div className="total total--ok">
              <span className="total-value">
                {data.totals.active}
                <span className="total-of"> / {data.totals.connections}</span>
              </span>
              <span className="total-label">Active (connected)</span>
            </div>
            <div className="total">
              <span className="total-value">{data.totals.sensors}</span>
              <span className="total-label">Sensors</span>
            </div>
            <div className="total total--ok">
              <span className="total-value">
                {data.totals.online_sensors}
                <span className="total-of"> / {data.totals.sensors}</span>
              </span>
              <span className="total-label">Online sensors</span>
            </div>
          </section>
          {error && <p className="text-bad">Last refresh failed: {error}</p>}
          <section className="panel" aria-labelledby="conn-title">
            <h2 id="conn-title">Connections</h2>
            {rows.length === 0 ? (
              <p className="quiet">
                No MQTT connections yet. <a href="/admin/">Add one in the admin</a>; it appears here as soon as it exists.
              </p>
            ) : (
              <div className="table-wrap">
                <table className="table ops-table">
                  <thead>
                    <tr>
                      <th scope="col">Site</th>
                      <th scope="col">Broker</th>
                      <th scope="col">Enabled</th>
                      <th scope="col">Status</th>
                      <th scope="col">Heartbeat</th>
                      <th scope="col">Last heartbeat</th>
                      <th scope="col">Errors</th>
                      <th scope="col" className="num">
                        Sensors online
                      </th>
                      <th scope="col">
                        <span className="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((row) => (
                      <ConnectionRow key={row.id} row={row} serverNow={serverNow} canControl={canControl} busy={busy.has(row.id)} onAction={onAction} />
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
          <section className="panel" aria-labelledby="log-title">
            <h2 id="log-title">
              Recent events <span className="quiet">(latest 50)</span>
            </h2>
            {data.logs.length === 0 ? (
              <EmptyState title="No events yet">
                <p>Connections, heartbeats missed or resumed and operators' actions appear here.</p>
              </EmptyState>
            ) : (
              <EventsTable events={data.logs.slice(0, 50)} showSite />
            )}
          </section>
        </>
      )}
    </div>
  );
}
