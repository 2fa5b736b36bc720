import { useState } from "react";
import { Badge } from "../../components/Badge";
import { Pager } from "../../components/Pager";
import { ErrorState, LoadingBlock } from "../../components/StateViews";
import { useResource } from "../../hooks/useResource";
import { api } from "../../lib/api";
import type { Tone } from "../../lib/labels";
import { fullTime, localTime, span } from "../../lib/time";
import type { MaintenanceState, MaintenanceWindow } from "../../lib/types";
import { useMe } from "../auth/MeContext";
import { MaintenanceForm } from "./MaintenanceForm";

const PAGE_SIZE = 50;
const GROUPS: readonly { state: MaintenanceState; label: string; tone: Tone }[] = [
  { state: "active", label: "Active", tone: "info" },
  { state: "upcoming", label: "Upcoming", tone: "muted" },
  { state: "past", label: "Past", tone: "muted" },
];

function WindowItem({ item, canDelete, onDeleted }: { item: MaintenanceWindow; canDelete: boolean; onDeleted: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const length = (Date.parse(item.ends_at) - Date.parse(item.starts_at)) / 1000;
  async function remove() {
    if (!window.confirm(`Delete the maintenance window ${localTime(item.starts_at)} – ${localTime(item.ends_at)}?`)) return;
    setBusy(true);
    setError(null);
    try {
      await api.deleteMaintenance(item.site, item.id);
      onDeleted();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setBusy(false);
    }
  }
  return (
    <li className={`maint-item maint-item--${item.state}`}>
      <div className="maint-when">
        <time dateTime={item.starts_at} title={fullTime(item.starts_at)}>
          {localTime(item.starts_at)}
        </time>
        {" – "}
        <time dateTime={item.ends_at} title={fullTime(item.ends_at)}>
          {localTime(item.ends_at)}
        </time>
        <span className="quiet"> ({span(length)})</span>
      </div>
      <p className="maint-reason-text">{item.reason || <span className="quiet">No reason given</span>}</p>
      <div className="maint-meta quiet">{item.created_by ? `planned by ${item.created_by}` : ""}</div>
      {canDelete && (
        <div className="maint-actions">
          <button type="button" className="btn btn--small btn--quiet" disabled={busy} onClick={() => void remove()} aria-label={`Delete the window starting ${localTime(item.starts_at)}`}>
            Delete
          </button>
          {error && (
            <span className="text-bad" role="alert">
              {error}
            </span>
          )}
        </div>
      )}
    </li>
  );
}

/** A site's maintenance windows (active, upcoming, past); staff plan and delete them, customers read. */
export function MaintenancePanel({ siteId }: { siteId: number }) {
  const me = useMe();
  const [page, setPage] = useState(1);
  const windows = useResource((signal) => api.maintenance(siteId, { page }, signal), [siteId, page]);
  const data = windows.data;
  return (
    <div className="maintenance">
      {me.is_staff && <MaintenanceForm siteId={siteId} onAdded={windows.reload} />}
      <section className="panel" aria-labelledby="maint-title">
        <h2 id="maint-title">Maintenance windows</h2>
        {data === null ? (
          windows.status === "error" ? (
            <ErrorState title="Could not load the maintenance windows" message={windows.error} onRetry={windows.reload} />
          ) : (
            <LoadingBlock label="Loading the maintenance windows…" />
          )
        ) : data.results.length === 0 ? (
          <p className="quiet">
            No maintenance planned. {me.is_staff ? "Plan one above to silence alerts during works." : "The operations team plans them before works on site."}
          </p>
        ) : (
          <>
            {GROUPS.map((group) => {
              const items = data.results.filter((w) => w.state === group.state);
              if (items.length === 0) return null;
              return (
                <div key={group.state} className="maint-group">
                  <h3>
                    <Badge tone={group.tone}>{group.label}</Badge> <span className="quiet">{items.length}</span>
                  </h3>
                  <ul className="maint-list" aria-label={`${group.label} windows`}>
                    {items.map((w) => (
                      <WindowItem key={w.id} item={w} canDelete={me.is_staff} onDeleted={windows.reload} />
                    ))}
                  </ul>
                </div>
              );
            })}
            <Pager label="Maintenance pages" page={page} count={data.count} pageSize={PAGE_SIZE} onPage={setPage} />
          </>
        )}
      </section>
    </div>
  );
}
