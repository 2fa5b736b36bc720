import { useSearchParams } from "react-router-dom";
import { Segmented } from "../../components/Segmented";
import { ErrorState, LoadingBlock } from "../../components/StateViews";
import { useResource } from "../../hooks/useResource";
import { api } from "../../lib/api";
import type { AvailabilityWindow, SiteAvailability, UptimeFigure } from "../../lib/types";
import { AvailabilityBar, AvailabilityLegend } from "./AvailabilityBar";
import { CompletenessChart } from "./CompletenessChart";
import { DowntimeList } from "./DowntimeList";
import { ReportLinks } from "./ReportLinks";
import { SensorBars } from "./SensorBars";
import { downText, percentText, WINDOW_KEYS, WINDOWS, type Segment } from "./uptime";

const REFRESH_MS = 60_000; // hourly buckets: a minute is fresh enough

export function useWindowParam(): [AvailabilityWindow, (value: AvailabilityWindow) => void] {
  const [params, setParams] = useSearchParams();
  const raw = params.get("window");
  const value = (WINDOW_KEYS as readonly string[]).includes(raw ?? "") ? (raw as AvailabilityWindow) : "24h";
  const set = (next: AvailabilityWindow) =>
    setParams(
      (current) => {
        const updated = new URLSearchParams(current);
        if (next === "24h") updated.delete("window");
        else updated.set("window", next);
        return updated;
      },
      { replace: true },
    );
  return [value, set];
}

function segments(data: SiteAvailability, pick: "connection_uptime" | "heartbeat_uptime" | "sensors_uptime"): Segment[] {
  return data.buckets.map((b) => ({ start: b.start, end: b.end, uptime: b[pick], maintenanceSeconds: b.maintenance_seconds }));
}

function Figure({ label, figure }: { label: string; figure: UptimeFigure }) {
  return (
    <div className="total">
      <span className="total-value">{percentText(figure.uptime_percentage)}</span>
      <span className="total-label">{label}</span>
      <span className="total-of">{downText(figure.down_seconds, figure.uptime_percentage)}</span>
    </div>
  );
}

export function AvailabilityView({ siteId }: { siteId: number }) {
  const [window, setWindow] = useWindowParam();
  const availability = useResource((signal) => api.availability(siteId, window, signal), [siteId, window], { refreshMs: REFRESH_MS });
  const data = availability.data;
  return (
    <div className="availability">
      <div className="toolbar avail-toolbar">
        <Segmented label="Window" options={WINDOWS} value={window} onChange={setWindow} />
        <ReportLinks siteId={siteId} window={window} />
      </div>
      {data === null ? (
        availability.status === "error" ? (
          <ErrorState title="Could not load the availability" message={availability.error} onRetry={availability.reload} />
        ) : (
          <LoadingBlock label="Loading the availability…" lines={5} />
        )
      ) : (
        <>
          <section className="panel" aria-labelledby="site-avail-title">
            <h2 id="site-avail-title">
              Site availability <span className="quiet">({data.bucket === "hour" ? "hourly" : "daily"})</span>
            </h2>
            <div className="totals avail-totals">
              <Figure label="Connection" figure={data.connection} />
              <Figure label="Heartbeat" figure={data.heartbeat} />
              <div className="total">
                <span className="total-value">{percentText(data.sensors.uptime_percentage)}</span>
                <span className="total-label">Sensors</span>
                <span className="total-of">mean of {data.sensors.count}</span>
              </div>
            </div>
            <div className="avail-rows">
              <AvailabilityBar label="Connection" segments={segments(data, "connection_uptime")} uptime={data.connection.uptime_percentage} downSeconds={data.connection.down_seconds} />
              <AvailabilityBar label="Heartbeat" segments={segments(data, "heartbeat_uptime")} uptime={data.heartbeat.uptime_percentage} downSeconds={data.heartbeat.down_seconds} />
              <AvailabilityBar label="Sensors" segments={segments(data, "sensors_uptime")} uptime={data.sensors.uptime_percentage} downSeconds={null} />
            </div>
            <AvailabilityLegend />
            <h3 className="completeness-title">Heartbeat completeness</h3>
            <CompletenessChart buckets={data.buckets} {...data.completeness} />
          </section>
          <SensorBars siteId={siteId} window={window} siteBuckets={data.buckets} />
          <DowntimeList siteId={siteId} window={window} />
        </>
      )}
    </div>
  );
}
