import { fullTime, localTime } from "../../lib/time";
import type { LogEvent } from "../../lib/types";
import { ErrorState, LoadingBlock } from "../../components/StateViews";

export function EventsTable({ events, showSite = false }: { events: readonly LogEvent[]; showSite?: boolean }) {
  return (
    <div className="table-wrap">
      <table className="table log-table">
        <thead>
          <tr>
            <th scope="col">Time</th>
            {showSite && <th scope="col">Site</th>}
            <th scope="col">Event</th>
            <th scope="col">Message</th>
            <th scope="col">By</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id} className={`log log--${e.level}`}>
              <td data-label="Time">
                <time dateTime={e.timestamp} title={fullTime(e.timestamp)}>
                  {localTime(e.timestamp)}
                </time>
              </td>
              {showSite && (
                <td data-label="Site">
                  {e.site_name ?? ""} <span className="code">{e.site_code}</span>
                </td>
              )}
              <td data-label="Event">
                <span className={`event event--${e.level}`}>{e.event}</span>
              </td>
              <td data-label="Message" className="c-message">
                {e.message}
              </td>
              <td data-label="By">{e.actor ?? <span className="quiet">system</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function EventsPanel({
  events,
  status,
  error,
  onRetry,
}: {
  events: readonly LogEvent[];
  status: "loading" | "ready" | "error";
  error: string | null;
  onRetry: () => void;
}) {
  return (
    <section className="panel" aria-labelledby="events-title">
      <h2 id="events-title">
        Recent connection events <span className="quiet">(last 20)</span>
      </h2>
      {status === "loading" ? (
        <LoadingBlock label="Loading the events…" />
      ) : status === "error" ? (
        <ErrorState title="Could not load the events" message={error} onRetry={onRetry} />
      ) : events.length === 0 ? (
        <p className="quiet">No events yet. Connections, heartbeats missed or resumed and operators' actions appear here.</p>
      ) : (
        <ol className="event-list">
          {events.map((e) => (
            <li key={e.id} className={`event-item event-item--${e.level}`}>
              <div className="event-meta">
                <time dateTime={e.timestamp} title={fullTime(e.timestamp)}>
                  {localTime(e.timestamp)}
                </time>
                <span className={`event event--${e.level}`}>{e.event}</span>
                <span className="event-actor">{e.actor ?? "system"}</span>
              </div>
              {e.message && <p className="event-message">{e.message}</p>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
