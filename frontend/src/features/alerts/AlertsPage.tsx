import { useResource } from "../../hooks/useResource";
import { api } from "../../lib/api";
import { AlertsBrowser } from "./AlertsBrowser";

/** /alerts/: every alert of the sites this account may see. */
export function AlertsPage() {
  const sites = useResource((signal) => api.sites(signal), []);
  return (
    <div className="page">
      <div className="page-head">
        <h1>Alerts</h1>
        <p className="quiet">Newest first; refreshed every 15 s.</p>
      </div>
      <AlertsBrowser siteId={null} sites={sites.data ?? []} />
    </div>
  );
}
