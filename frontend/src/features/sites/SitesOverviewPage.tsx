import { useDeferredValue, useEffect, useMemo, useState } from "react";
import { useSearchParams } from "react-router-dom";
import { EmptyState, ErrorState } from "../../components/StateViews";
import { appClockOffset } from "../../lib/time";
import type { Site } from "../../lib/types";
import { useMe } from "../auth/MeContext";
import {
  FILTERS,
  SORTS,
  filterCounts,
  isFilterKey,
  isSortKey,
  selectSites,
  totalsOf,
  type FilterKey,
  type SortKey,
} from "./filters";
import { SiteTile } from "./SiteTile";
import { useSites } from "./useSites";

export const PAGE_SIZE = 60;

function Totals({ sites }: { sites: readonly Site[] }) {
  const t = useMemo(() => totalsOf(sites), [sites]);
  return (
    <section className="totals" aria-label="Totals">
      <div className="total">
        <span className="total-value">{t.sites}</span>
        <span className="total-label">Sites</span>
      </div>
      <div className="total total--ok">
        <span className="total-value">{t.connected}</span>
        <span className="total-label">Connected</span>
      </div>
      <div className={`total${t.heartbeatMissing ? " total--bad" : ""}`}>
        <span className="total-value">{t.heartbeatMissing}</span>
        <span className="total-label">Heartbeat missing</span>
      </div>
      <div className="total total--ok">
        <span className="total-value">
          {t.online}
          <span className="total-of"> / {t.sensors}</span>
        </span>
        <span className="total-label">Sensors online</span>
      </div>
      <div className={`total${t.stale ? " total--warn" : ""}`}>
        <span className="total-value">{t.stale}</span>
        <span className="total-label">Stale</span>
      </div>
      <div className={`total${t.offline ? " total--bad" : ""}`}>
        <span className="total-value">{t.offline}</span>
        <span className="total-label">Offline</span>
      </div>
    </section>
  );
}

function SkeletonTiles() {
  return (
    <ul className="tiles" aria-hidden="true">
      {Array.from({ length: 8 }, (_, i) => (
        <li key={i} className="tile tile--skeleton">
          <div className="skeleton-line" />
          <div className="skeleton-line short" />
          <div className="skeleton-line" />
        </li>
      ))}
    </ul>
  );
}

export interface SitesViewProps {
  sites: readonly Site[];
  status: "loading" | "ready" | "error";
  error: string | null;
  onRetry: () => void;
  isStaff: boolean;
  clockOffsetMs?: number;
}

/** The overview itself, fed with a list (the page feeds it live; tests feed it directly). */
export function SitesView({ sites, status, error, onRetry, isStaff, clockOffsetMs = 0 }: SitesViewProps) {
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const filterParam = params.get("filter");
  const sortParam = params.get("sort");
  const filter: FilterKey = isFilterKey(filterParam) ? filterParam : "all";
  const sort: SortKey = isSortKey(sortParam) ? sortParam : "code";
  const page = Math.max(1, Number.parseInt(params.get("page") ?? "1", 10) || 1);

  const [input, setInput] = useState(q);
  useEffect(() => setInput(q), [q]);

  const update = (patch: Record<string, string | null>) => {
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        for (const [key, value] of Object.entries(patch)) {
          if (value === null || value === "" || (key === "filter" && value === "all") || (key === "sort" && value === "code") || (key === "page" && value === "1")) {
            next.delete(key);
          } else {
            next.set(key, value);
          }
        }
        return next;
      },
      { replace: true },
    );
  };

  // Search is debounced into the URL.
  useEffect(() => {
    if (input === q) return;
    const timer = setTimeout(() => update({ q: input, page: null }), 250);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [input]);

  const deferredSites = useDeferredValue(sites);
  const counts = useMemo(() => filterCounts(deferredSites, q), [deferredSites, q]);
  const selected = useMemo(() => selectSites(deferredSites, q, filter, sort), [deferredSites, q, filter, sort]);
  const pages = Math.max(1, Math.ceil(selected.length / PAGE_SIZE));
  const current = Math.min(page, pages);
  const shown = selected.slice((current - 1) * PAGE_SIZE, current * PAGE_SIZE);

  if (status === "loading") {
    return (
      <div className="page">
        <div className="page-head">
          <h1>Sites</h1>
        </div>
        <p className="visually-hidden" role="status">
          Loading the sites…
        </p>
        <SkeletonTiles />
      </div>
    );
  }
  if (status === "error") {
    return (
      <div className="page">
        <div className="page-head">
          <h1>Sites</h1>
        </div>
        <ErrorState title="Could not load the sites" message={error} onRetry={onRetry} />
      </div>
    );
  }
  if (sites.length === 0) {
    return (
      <div className="page">
        <div className="page-head">
          <h1>Sites</h1>
        </div>
        <EmptyState title="No sites yet">
          {isStaff ? (
            <p>
              Add a site and its MQTT connection in the <a href="/admin/">admin</a>; it appears here as soon as it exists.
            </p>
          ) : (
            <p>No sites are shared with your account yet. Ask your operator to give you access.</p>
          )}
        </EmptyState>
      </div>
    );
  }

  return (
    <div className="page">
      <div className="page-head">
        <h1>Sites</h1>
      </div>
      <Totals sites={sites} />
      <div className="toolbar" role="search">
        <label className="field">
          <span className="field-label">Search</span>
          <input type="search" value={input} onChange={(e) => setInput(e.target.value)} placeholder="Name, code or customer" />
        </label>
        <label className="field">
          <span className="field-label">Sort</span>
          <select value={sort} onChange={(e) => update({ sort: e.target.value, page: null })}>
            {SORTS.map((s) => (
              <option key={s.key} value={s.key}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div className="filters" role="group" aria-label="Filter by state">
        {FILTERS.map((f) => (
          <button
            key={f.key}
            type="button"
            className={`chip${filter === f.key ? " chip--on" : ""}`}
            aria-pressed={filter === f.key}
            onClick={() => update({ filter: f.key, page: null })}
          >
            {f.label} <span className="chip-count">{counts[f.key]}</span>
          </button>
        ))}
      </div>
      <p className="result-count" role="status" aria-live="polite">
        {selected.length === sites.length ? `${sites.length} sites` : `${selected.length} of ${sites.length} sites`}
        {pages > 1 && ` · page ${current} of ${pages}`}
      </p>
      {shown.length === 0 ? (
        <EmptyState title="No sites match">
          <p>
            <button type="button" className="link-button" onClick={() => { setInput(""); update({ q: null, filter: null, page: null }); }}>
              Clear the search and filter
            </button>
          </p>
        </EmptyState>
      ) : (
        <ul className="tiles" aria-label="Sites">
          {shown.map((site) => (
            <SiteTile key={site.id} site={site} clockOffsetMs={clockOffsetMs} />
          ))}
        </ul>
      )}
      {pages > 1 && (
        <nav className="pager" aria-label="Pages">
          <button type="button" className="btn" disabled={current <= 1} onClick={() => update({ page: String(current - 1) })}>
            Previous
          </button>
          <span>
            Page {current} of {pages}
          </span>
          <button type="button" className="btn" disabled={current >= pages} onClick={() => update({ page: String(current + 1) })}>
            Next
          </button>
        </nav>
      )}
    </div>
  );
}

export function SitesOverviewPage() {
  const me = useMe();
  const { sites, status, error, retry } = useSites();
  return <SitesView sites={sites} status={status} error={error} onRetry={retry} isStaff={me.is_staff} clockOffsetMs={appClockOffset()} />;
}
