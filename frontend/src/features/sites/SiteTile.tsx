import { memo } from "react";
import { Link } from "react-router-dom";
import { Badge } from "../../components/Badge";
import { CONNECTION_LABELS, CONNECTION_TONES, HEARTBEAT_LABELS, HEARTBEAT_TONES } from "../../lib/labels";
import { useNow } from "../../lib/ticker";
import { ago, fullTime } from "../../lib/time";
import type { Site } from "../../lib/types";
import { isDisabled } from "./filters";

export function CountsBar({ online, stale, offline, total }: { online: number; stale: number; offline: number; total: number }) {
  const sum = Math.max(total, online + stale + offline, 1);
  return (
    <div className="countbar" aria-hidden="true">
      <span className="countbar-ok" style={{ width: `${(online / sum) * 100}%` }} />
      <span className="countbar-warn" style={{ width: `${(stale / sum) * 100}%` }} />
      <span className="countbar-bad" style={{ width: `${(offline / sum) * 100}%` }} />
    </div>
  );
}

export const SiteTile = memo(function SiteTile({ site, clockOffsetMs }: { site: Site; clockOffsetMs: number }) {
  const now = useNow();
  const c = site.connection;
  const disabled = isDisabled(site);
  const counts = site.sensor_counts;
  return (
    <li className={`tile${disabled ? " tile--disabled" : ""}`}>
      <div className="tile-head">
        <h2 className="tile-title">
          <Link to={`/sites/${site.id}/`} className="tile-link">
            {site.name}
          </Link>
        </h2>
        <span className="code">{site.code}</span>
      </div>
      <p className="tile-customer">{site.customer?.name ?? <span className="quiet">No customer</span>}</p>
      {/* Two fixed lines (label, badge, age): the tile never reflows as the age ticks. */}
      <dl className="tile-states">
        <div>
          <dt className="quiet">Connection</dt>
          <dd>
            {c ? (
              <Badge tone={disabled ? "muted" : CONNECTION_TONES[c.status]}>{disabled && c.status !== "disabled" ? "Disabled" : CONNECTION_LABELS[c.status]}</Badge>
            ) : (
              <Badge tone="muted">No connection</Badge>
            )}
          </dd>
        </div>
        <div>
          <dt className="quiet">Heartbeat</dt>
          <dd>
            {c ? (
              <>
                <Badge tone={HEARTBEAT_TONES[c.heartbeat_state]}>{HEARTBEAT_LABELS[c.heartbeat_state]}</Badge>{" "}
                <time className="quiet age" dateTime={c.last_heartbeat_at ?? undefined} title={fullTime(c.last_heartbeat_at)}>
                  {ago(c.last_heartbeat_at, now + clockOffsetMs)}
                </time>
              </>
            ) : (
              <span className="quiet">—</span>
            )}
          </dd>
        </div>
      </dl>
      <div className="tile-sensors">
        <span className="count count--ok">{counts.online} online</span>
        <span className={`count${counts.stale ? " count--warn" : " quiet"}`}>{counts.stale} stale</span>
        <span className={`count${counts.offline ? " count--bad" : " quiet"}`}>{counts.offline} offline</span>
        <span className="quiet count-total">of {counts.total}</span>
      </div>
      <CountsBar {...counts} />
    </li>
  );
});
