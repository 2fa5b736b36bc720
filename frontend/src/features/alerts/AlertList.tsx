import { useState } from "react";
import { Link } from "react-router-dom";
import { Badge } from "../../components/Badge";
import { api } from "../../lib/api";
import { fullTime, localTime } from "../../lib/time";
import type { Alert } from "../../lib/types";
import { compactSensors, KIND_LABELS, STATE_LABELS, STATE_TONES } from "./alertText";

function AcknowledgeButton({ alert, onDone }: { alert: Alert; onDone: (updated: Alert) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function acknowledge() {
    if (!window.confirm(`Acknowledge "${alert.title}" (${alert.site_name})? Everyone following the site sees it as handled.`)) return;
    setBusy(true);
    setError(null);
    try {
      onDone(await api.acknowledgeAlert(alert.id));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }
  return (
    <>
      <button type="button" className="btn btn--small" disabled={busy} onClick={() => void acknowledge()} aria-label={`Acknowledge ${alert.title}`}>
        {busy ? "Acknowledging…" : "Acknowledge"}
      </button>
      {error && (
        <span className="text-bad" role="alert">
          {error}
        </span>
      )}
    </>
  );
}

function AlertItem({ alert, showSite, onChange }: { alert: Alert; showSite: boolean; onChange: (updated: Alert) => void }) {
  const sensors = alert.affected_sensors;
  return (
    <li className={`alert-item alert-item--${alert.state} alert-item--${alert.severity}`} aria-labelledby={`alert-${alert.id}-title`}>
      <div className="alert-head">
        <Badge tone={STATE_TONES[alert.state]}>{STATE_LABELS[alert.state]}</Badge>
        <Badge tone={alert.severity === "critical" ? "bad" : "warn"}>{alert.severity === "critical" ? "Critical" : "Warning"}</Badge>
        <h3 className="alert-title" id={`alert-${alert.id}-title`}>
          {alert.title}
        </h3>
        {alert.in_maintenance && <Badge tone="info">maintenance</Badge>}
      </div>
      <div className="alert-meta">
        {showSite && (
          <Link to={`/sites/${alert.site}/alerts`}>
            {alert.site_name} <span className="code">{alert.site_code}</span>
          </Link>
        )}
        <span>{KIND_LABELS[alert.kind]}</span>
        <span>
          opened{" "}
          <time dateTime={alert.opened_at} title={fullTime(alert.opened_at)}>
            {localTime(alert.opened_at)}
          </time>
        </span>
        {alert.acknowledged_at && (
          <span>
            acknowledged{alert.acknowledged_by ? ` by ${alert.acknowledged_by}` : ""}{" "}
            <time dateTime={alert.acknowledged_at} title={fullTime(alert.acknowledged_at)}>
              {localTime(alert.acknowledged_at)}
            </time>
          </span>
        )}
        {alert.resolved_at && (
          <span>
            resolved{" "}
            <time dateTime={alert.resolved_at} title={fullTime(alert.resolved_at)}>
              {localTime(alert.resolved_at)}
            </time>
          </span>
        )}
      </div>
      {alert.message && (
        <p className="alert-message" title={alert.message}>
          {alert.message}
        </p>
      )}
      {sensors.length > 0 && (
        <p className="alert-sensors" title={sensors.length > 3 ? sensors.join(", ") : undefined}>
          <span className="quiet">{sensors.length === 1 ? "Sensor" : `${sensors.length} sensors`}: </span>
          {compactSensors(sensors)}
        </p>
      )}
      {alert.state === "open" && (
        <div className="alert-actions">
          <AcknowledgeButton alert={alert} onDone={onChange} />
        </div>
      )}
    </li>
  );
}

export function AlertList({ alerts, showSite, onChange }: { alerts: readonly Alert[]; showSite: boolean; onChange: (updated: Alert) => void }) {
  return (
    <ul className="alert-list" aria-label="Alerts">
      {alerts.map((alert) => (
        <AlertItem key={alert.id} alert={alert} showSite={showSite} onChange={onChange} />
      ))}
    </ul>
  );
}
