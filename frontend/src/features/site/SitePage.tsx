import { useMemo, useState } from "react";
import { Link, NavLink, useParams } from "react-router-dom";
import { Badge } from "../../components/Badge";
import { SensorCard } from "../../components/SensorCard";
import { Segmented } from "../../components/Segmented";
import { EmptyState, LoadingBlock } from "../../components/StateViews";
import { useMqttStatus } from "../../hooks/useMqttStatus";
import { CONNECTION_LABELS, CONNECTION_TONES, HEARTBEAT_LABELS, HEARTBEAT_TONES } from "../../lib/labels";
import { groupsFromKey, groupsKey, tableGroups } from "../../lib/measures";
import { useNow } from "../../lib/ticker";
import { useStoredChoice } from "../../lib/useStoredChoice";
import { ago, fullTime } from "../../lib/time";
import { AlertsBrowser } from "../alerts/AlertsBrowser";
import { AvailabilityView } from "../availability/AvailabilityView";
import { MaintenanceBanner } from "../maintenance/MaintenanceBanner";
import { MaintenancePanel } from "../maintenance/MaintenancePanel";
import { CountsBar } from "../sites/SiteTile";
import { EventsPanel } from "./EventsPanel";
import { SensorTable } from "./SensorTable";
import { SENSOR_FILTERS, SENSOR_SORTS, selectSensors, type SensorFilter, type SensorSort } from "./sensorFilters";
import { SystemInfoPanel } from "./SystemInfoPanel";

export type SensorView = "cards" | "table";
export const SENSOR_VIEWS: readonly { key: SensorView; label: string }[] = [
  { key: "cards", label: "Cards" },
  { key: "table", label: "Table" },
];
export const SENSOR_VIEW_KEY = "site-view";

/** The site page's views, each its own address under /sites/<id>/ (so a link or a reload keeps it). */
type SiteTab = "live" | "availability" | "alerts" | "maintenance";
const SITE_TABS: readonly { key: SiteTab; label: string; path: string }[] = [
  { key: "live", label: "Live", path: "" },
  { key: "availability", label: "Availability", path: "availability/" },
  { key: "alerts", label: "Alerts", path: "alerts/" },
  { key: "maintenance", label: "Maintenance", path: "maintenance/" },
];

function tabOf(rest: string | undefined): SiteTab {
  const first = (rest ?? "").split("/")[0];
  return SITE_TABS.find((t) => t.key === first)?.key ?? "live";
}

function SiteTabs({ siteId, current }: { siteId: number; current: SiteTab }) {
  return (
    <nav className="site-tabs" aria-label="Site views">
      {SITE_TABS.map((tab) => (
        <NavLink key={tab.key} to={`/sites/${siteId}/${tab.path}`} className="site-tab" aria-current={tab.key === current ? "page" : undefined} end>
          {tab.label}
        </NavLink>
      ))}
    </nav>
  );
}

function BackLink() {
  return (
    <p className="back">
      <Link to="/">← All sites</Link>
    </p>
  );
}

export function SitePage() {
  const { siteId } = useParams();
  const id = Number.parseInt(siteId ?? "", 10);
  if (!Number.isFinite(id) || id <= 0) {
    return (
      <div className="page">
        <BackLink />
        <EmptyState title="You don't have access to this site" level={1}>
          <p>It does not exist or it is not shared with your account.</p>
        </EmptyState>
      </div>
    );
  }
  return <SiteView key={id} siteId={id} />;
}

function SiteView({ siteId }: { siteId: number }) {
  const tab = tabOf(useParams()["*"]);
  const status = useMqttStatus(siteId);
  const now = useNow();
  const serverNow = now + status.clockOffsetMs;
  const [query, setQuery] = useState("");
  const [filter, setFilter] = useState<SensorFilter>("all");
  const [sort, setSort] = useState<SensorSort>("name");
  const [view, setView] = useStoredChoice<SensorView>(SENSOR_VIEW_KEY, ["cards", "table"], "cards");

  const sensors = useMemo(
    () => selectSensors(status.sensors, { query, filter, sort, serverNow, staleAfterSeconds: status.staleAfterSeconds }),
    // Re-evaluated each tick only when it can change the set (status filter / status sort).
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [status.sensors, query, filter, sort, status.staleAfterSeconds, filter !== "all" || sort === "status" ? serverNow : 0],
  );

  // The table's measurement columns: of the whole site, so they do not come and go with a filter.
  const groupKeys = useMemo(() => groupsKey(tableGroups(status.sensors)), [status.sensors]);
  const groups = useMemo(() => groupsFromKey(groupKeys), [groupKeys]);
  const showType = useMemo(() => status.sensors.some((s) => s.device_type), [status.sensors]);

  if (status.notFound) {
    return (
      <div className="page">
        <BackLink />
        <EmptyState title="You don't have access to this site" level={1}>
          <p>It does not exist or it is not shared with your account.</p>
        </EmptyState>
      </div>
    );
  }

  if (!status.ready) {
    return (
      <div className="page">
        <BackLink />
        <h1>{status.detail?.name ?? "Site"}</h1>
        <LoadingBlock label="Connecting to the site…" lines={4} />
      </div>
    );
  }

  const site = status.site;
  const c = status.connection;
  const counts = status.counts;
  const unlisted = Math.max(0, (status.serverCounts?.total ?? 0) - status.sensors.length);
  return (
    <div className="page">
      <BackLink />
      <section className="site-head" aria-labelledby="site-title">
        <div className="site-title">
          <h1 id="site-title">{site?.name}</h1>
          <span className="code">{site?.code}</span>
          {status.detail?.customer && <span className="quiet">{status.detail.customer.name}</span>}
        </div>
        <div className="site-states" aria-live="polite">
          {c ? (
            <>
              <span className="state-item">
                <span className="quiet">Connection </span>
                <Badge tone={CONNECTION_TONES[c.status]}>{CONNECTION_LABELS[c.status]}</Badge>
              </span>
              <span className="state-item">
                <span className="quiet">Heartbeat </span>
                <Badge tone={HEARTBEAT_TONES[c.heartbeat_state]}>{HEARTBEAT_LABELS[c.heartbeat_state]}</Badge>{" "}
                <time className="quiet" dateTime={c.last_heartbeat_at ?? undefined} title={fullTime(c.last_heartbeat_at)}>
                  {ago(c.last_heartbeat_at, serverNow)}
                </time>
              </span>
              {c.connection_errors > 0 && (
                <span className="state-item text-bad" title={c.error_message}>
                  {c.connection_errors} error{c.connection_errors === 1 ? "" : "s"}
                  {c.error_message ? `: ${c.error_message}` : ""}
                </span>
              )}
            </>
          ) : (
            <Badge tone="muted">No connection configured</Badge>
          )}
        </div>
        <div className="site-counts">
          <span className="count count--ok">{counts.online} online</span>
          <span className={`count${counts.stale ? " count--warn" : " quiet"}`}>{counts.stale} stale</span>
          <span className={`count${counts.offline ? " count--bad" : " quiet"}`}>{counts.offline} offline</span>
          <span className="quiet">of {counts.total} sensors</span>
          <CountsBar {...counts} />
        </div>
      </section>
      <MaintenanceBanner siteId={siteId} />
      <SiteTabs siteId={siteId} current={tab} />

      {tab === "availability" && <AvailabilityView siteId={siteId} />}
      {tab === "alerts" && <AlertsBrowser siteId={siteId} />}
      {tab === "maintenance" && <MaintenancePanel siteId={siteId} />}
      {tab === "live" && (
        <div className="site-layout">
          <section className="sensors" aria-labelledby="sensors-title">
            <h2 id="sensors-title">Sensors</h2>
            {unlisted > 0 && (
              <p className="notice" role="note">
                This site reports {unlisted} more sensor{unlisted === 1 ? "" : "s"} than the live view lists (the
                per-site sensor limit); counts above cover the listed ones.
              </p>
            )}
            <div className="toolbar" role="search">
              <label className="field">
                <span className="field-label">Search</span>
                <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="Name or type" />
              </label>
              <label className="field">
                <span className="field-label">Sort</span>
                <select value={sort} onChange={(e) => setSort(e.target.value as SensorSort)}>
                  {SENSOR_SORTS.map((s) => (
                    <option key={s.key} value={s.key}>
                      {s.label}
                    </option>
                  ))}
                </select>
              </label>
              <Segmented label="View" options={SENSOR_VIEWS} value={view} onChange={setView} />
            </div>
            <div className="filters" role="group" aria-label="Filter by state">
              {SENSOR_FILTERS.map((f) => (
                <button
                  key={f.key}
                  type="button"
                  className={`chip${filter === f.key ? " chip--on" : ""}`}
                  aria-pressed={filter === f.key}
                  onClick={() => setFilter(f.key)}
                >
                  {f.label} <span className="chip-count">{f.key === "all" ? counts.total : counts[f.key]}</span>
                </button>
              ))}
            </div>
            {status.sensors.length === 0 ? (
              <EmptyState title="No sensors yet">
                <p>Sensors appear here as soon as the datalogger reports them.</p>
              </EmptyState>
            ) : sensors.length === 0 ? (
              <p className="quiet">No sensors match.</p>
            ) : view === "table" ? (
              <SensorTable
                sensors={sensors}
                groups={groups}
                staleAfterSeconds={status.staleAfterSeconds}
                clockOffsetMs={status.clockOffsetMs}
                labelledBy="sensors-title"
                showType={showType}
              />
            ) : (
              <div className="cards">
                {sensors.map((sensor) => (
                  <SensorCard key={sensor.id} sensor={sensor} staleAfterSeconds={status.staleAfterSeconds} clockOffsetMs={status.clockOffsetMs} />
                ))}
              </div>
            )}
          </section>
          <aside className="site-side" aria-label="Site details">
            <SystemInfoPanel info={status.systemInfo} serverNow={serverNow} />
            <EventsPanel events={status.events} status={status.eventsStatus} error={status.eventsError} onRetry={status.reloadEvents} />
          </aside>
        </div>
      )}
    </div>
  );
}
