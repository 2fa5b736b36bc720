import { useResource } from "../../hooks/useResource";
import { api } from "../../lib/api";
import { fullTime, localTime } from "../../lib/time";

const REFRESH_MS = 60_000;

/** Shown on the site page while a maintenance window is active; says nothing when none is (or on error). */
export function MaintenanceBanner({ siteId }: { siteId: number }) {
  const active = useResource((signal) => api.maintenance(siteId, { state: "active" }, signal), [siteId], { refreshMs: REFRESH_MS });
  const current = active.data?.results[0];
  if (!current) return null;
  return (
    <p className="maint-banner" role="status">
      <strong>Maintenance in progress</strong> until{" "}
      <time dateTime={current.ends_at} title={fullTime(current.ends_at)}>
        {localTime(current.ends_at)}
      </time>
      {current.reason ? `: ${current.reason}` : ""}. Alerts are silenced and this time does not count against uptime.
    </p>
  );
}
