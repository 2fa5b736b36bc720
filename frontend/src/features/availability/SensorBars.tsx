import { useState } from "react";
import { Pager } from "../../components/Pager";
import { Segmented } from "../../components/Segmented";
import { ErrorState, LoadingBlock } from "../../components/StateViews";
import { useResource } from "../../hooks/useResource";
import { api } from "../../lib/api";
import type { AvailabilityBucket, AvailabilityWindow } from "../../lib/types";
import { AvailabilityBar } from "./AvailabilityBar";

const PAGE_SIZE = 50; // the API's default page
type Ordering = "name" | "uptime";
const ORDERINGS: readonly { key: Ordering; label: string }[] = [
  { key: "name", label: "Name" },
  { key: "uptime", label: "Lowest uptime" },
];

/** Per-sensor bars; a sensor's segments take their end and maintenance time from the site's buckets. */
export function SensorBars({ siteId, window, siteBuckets }: { siteId: number; window: AvailabilityWindow; siteBuckets: readonly AvailabilityBucket[] }) {
  const [page, setPage] = useState(1);
  const [ordering, setOrdering] = useState<Ordering>("name");
  const [shownFor, setShownFor] = useState(window);
  if (shownFor !== window) {
    setShownFor(window);
    setPage(1);
  }
  const sensors = useResource(
    (signal) => api.sensorAvailability(siteId, { window, page, ordering: ordering === "uptime" ? "uptime" : null }, signal),
    [siteId, window, page, ordering],
  );
  const bySiteBucket = new Map(siteBuckets.map((b) => [b.start, b]));
  return (
    <section className="panel" aria-labelledby="sensor-bars-title">
      <div className="panel-head">
        <h2 id="sensor-bars-title">
          Sensors <span className="quiet">{sensors.data ? `(${sensors.data.count})` : ""}</span>
        </h2>
        {!(sensors.data && sensors.data.count <= 1) && (
          <Segmented
            label="Order"
            options={ORDERINGS}
            value={ordering}
            onChange={(value) => {
              setOrdering(value);
              setPage(1);
            }}
          />
        )}
      </div>
      {sensors.data === null ? (
        sensors.status === "error" ? (
          <ErrorState title="Could not load the sensors' availability" message={sensors.error} onRetry={sensors.reload} />
        ) : (
          <LoadingBlock label="Loading the sensors' availability…" />
        )
      ) : sensors.data.results.length === 0 ? (
        <p className="quiet">No sensors yet: they appear once the datalogger reports them.</p>
      ) : (
        <>
          <div className="avail-rows">
            {sensors.data.results.map((s) => (
              <AvailabilityBar
                key={s.sensor}
                label={s.device_name}
                uptime={s.uptime_percentage}
                downSeconds={s.down_seconds}
                segments={s.buckets.map((b) => {
                  const site = bySiteBucket.get(b.start);
                  return { start: b.start, end: site?.end ?? b.start, uptime: b.uptime_percentage, maintenanceSeconds: site?.maintenance_seconds ?? 0 };
                })}
              />
            ))}
          </div>
          <Pager label="Sensor pages" page={page} count={sensors.data.count} pageSize={PAGE_SIZE} onPage={setPage} />
        </>
      )}
    </section>
  );
}
