import { useEffect, useState } from "react";
import { useSearchParams } from "react-router-dom";
import { Pager } from "../../components/Pager";
import { ErrorState, LoadingBlock } from "../../components/StateViews";
import { useResource } from "../../hooks/useResource";
import { api } from "../../lib/api";
import type { Alert, AlertState, Site } from "../../lib/types";
import { AlertList } from "./AlertList";

export const ALERTS_REFRESH_MS = 15_000; // a poll: cheap, and alerts are minutes-scale events
const PAGE_SIZE = 50; // the API's page
const STATES: readonly { key: AlertState | "all"; label: string }[] = [
  { key: "all", label: "All" },
  { key: "open", label: "Open" },
  { key: "acknowledged", label: "Acknowledged" },
  { key: "resolved", label: "Resolved" },
];

function stateParam(raw: string | null): AlertState | null {
  return raw === "open" || raw === "acknowledged" || raw === "resolved" ? raw : null;
}

const EMPTY_TEXT: Record<AlertState | "all", string> = {
  all: "Nothing has gone wrong here: no connection, heartbeat or sensor has raised an alert.",
  open: "Nothing needs attention right now.",
  acknowledged: "No alert is waiting acknowledged.",
  resolved: "No alert has been resolved yet.",
};

/**
 * Alerts newest first, filtered by state (and by site on the alerts page), mirrored in the address.
 * `siteId` fixes the site (the site page's history); `sites` offers a site filter.
 */
export function AlertsBrowser({ siteId, sites }: { siteId: number | null; sites?: readonly Site[] }) {
  const [params, setParams] = useSearchParams();
  const state = stateParam(params.get("state"));
  const site = siteId ?? (Number.parseInt(params.get("site") ?? "", 10) || null);
  const page = Math.max(1, Number.parseInt(params.get("page") ?? "1", 10) || 1);
  const alerts = useResource((signal) => api.alerts({ site, state, page }, signal), [site, state, page], { refreshMs: ALERTS_REFRESH_MS });
  const [updated, setUpdated] = useState<ReadonlyMap<number, Alert>>(new Map());
  useEffect(() => setUpdated(new Map()), [alerts.data]);

  function update(changes: Record<string, string | null>) {
    setParams((current) => {
      const next = new URLSearchParams(current);
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) next.delete(key);
        else next.set(key, value);
      }
      if (!("page" in changes)) next.delete("page");
      return next;
    });
  }

  const shown = alerts.data?.results.map((a) => updated.get(a.id) ?? a) ?? [];
  return (
    <div className="alerts">
      <div className="toolbar">
        <div className="filters" role="group" aria-label="Filter by state">
          {STATES.map((s) => (
            <button
              key={s.key}
              type="button"
              className={`chip${(state ?? "all") === s.key ? " chip--on" : ""}`}
              aria-pressed={(state ?? "all") === s.key}
              onClick={() => update({ state: s.key === "all" ? null : s.key })}
            >
              {s.label}
            </button>
          ))}
        </div>
        {sites && sites.length > 1 && (
          <label className="field">
            <span className="field-label">Site</span>
            <select value={site ?? ""} onChange={(e) => update({ site: e.target.value || null })}>
              <option value="">All sites</option>
              {sites.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name} ({s.code})
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {alerts.data === null ? (
        alerts.status === "error" ? (
          <ErrorState title="Could not load the alerts" message={alerts.error} onRetry={alerts.reload} />
        ) : (
          <LoadingBlock label="Loading the alerts…" />
        )
      ) : shown.length === 0 ? (
        <div className="state state--good">
          <h2>No alerts</h2>
          <p>{EMPTY_TEXT[state ?? "all"]}</p>
        </div>
      ) : (
        <>
          <AlertList
            alerts={shown}
            showSite={siteId === null}
            onChange={(alert) => {
              setUpdated((current) => new Map(current).set(alert.id, alert));
              alerts.reload();
            }}
          />
          <Pager label="Alert pages" page={page} count={alerts.data.count} pageSize={PAGE_SIZE} onPage={(p) => update({ page: String(p) })} />
        </>
      )}
    </div>
  );
}
