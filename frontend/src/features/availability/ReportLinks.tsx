import { reportUrl, type ReportKind } from "../../lib/api";
import type { AvailabilityWindow } from "../../lib/types";

const REPORTS: readonly { kind: ReportKind; label: string }[] = [
  { kind: "uptime-site", label: "Site uptime" },
  { kind: "uptime-sensor", label: "Sensor uptime" },
  { kind: "downtime", label: "Downtime" },
  { kind: "logs", label: "Connection logs" },
  { kind: "readings", label: "Latest readings" },
];

/** Plain links to the streamed CSV reports of this site and window (the browser downloads them). */
export function ReportLinks({ siteId, window }: { siteId: number; window: AvailabilityWindow }) {
  return (
    <section className="reports" aria-labelledby="reports-title">
      <h3 id="reports-title" className="reports-title">
        Download CSV
      </h3>
      <ul className="reports-list">
        {REPORTS.map((report) => (
          <li key={report.kind}>
            <a className="btn btn--small" href={reportUrl(report.kind, siteId, window)} download>
              {report.label}
            </a>
          </li>
        ))}
      </ul>
    </section>
  );
}
