import { useState } from "react";
import { Badge } from "../../components/Badge";
import { Pager } from "../../components/Pager";
import { ErrorState, LoadingBlock } from "../../components/StateViews";
import { useResource } from "../../hooks/useResource";
import { api } from "../../lib/api";
import { fullTime, localTime } from "../../lib/time";
import { periodLength } from "./uptime";
import type { AvailabilityWindow, DowntimeKind } from "../../lib/types";

const PAGE_SIZE = 20;
const KIND_LABELS: Record<DowntimeKind, string> = { connection: "Connection", heartbeat: "Heartbeat", sensor: "Sensor" };

export function DowntimeList({ siteId, window }: { siteId: number; window: AvailabilityWindow }) {
  const [page, setPage] = useState(1);
  const [shownFor, setShownFor] = useState(window);
  if (shownFor !== window) {
    // A new window starts at its first page.
    setShownFor(window);
    setPage(1);
  }
  const periods = useResource((signal) => api.downtime(siteId, { window, page, page_size: PAGE_SIZE }, signal), [siteId, window, page]);
  return (
    <section className="panel" aria-labelledby="downtime-title">
      <h2 id="downtime-title">
        Down time <span className="quiet">{periods.data ? `(${periods.data.count})` : ""}</span>
      </h2>
      {periods.data === null ? (
        periods.status === "error" ? (
          <ErrorState title="Could not load the down time" message={periods.error} onRetry={periods.reload} />
        ) : (
          <LoadingBlock label="Loading the down time…" />
        )
      ) : periods.data.results.length === 0 ? (
        <p className="quiet">No down time recorded in this window.</p>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table downtime-table">
              <thead>
                <tr>
                  <th scope="col">What</th>
                  <th scope="col">Start</th>
                  <th scope="col">End</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {periods.data.results.map((p) => (
                  <tr key={`${p.kind}-${p.sensor ?? ""}-${p.start}`}>
                    <td data-label="What">
                      {KIND_LABELS[p.kind]}
                      {p.device_name && <span className="code"> {p.device_name}</span>}
                    </td>
                    <td data-label="Start">
                      <time dateTime={p.start} title={fullTime(p.start)}>
                        {localTime(p.start)}
                      </time>
                    </td>
                    <td data-label="End">
                      {p.end ? (
                        <time dateTime={p.end} title={fullTime(p.end)}>
                          {localTime(p.end)}
                        </time>
                      ) : (
                        <Badge tone="bad">ongoing</Badge>
                      )}
                    </td>
                    <td data-label="Duration">{periodLength(p.duration_seconds)}</td>
                    <td data-label="Reason" className="c-message">
                      {p.reason}
                      {p.in_maintenance && (
                        <>
                          {" "}
                          <Badge tone="info">maintenance</Badge>
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager label="Down time pages" page={page} count={periods.data.count} pageSize={PAGE_SIZE} onPage={setPage} />
        </>
      )}
    </section>
  );
}
