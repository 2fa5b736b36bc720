import { fixed, uptime, usage } from "../../lib/format";
import { ago, fullTime, localTime } from "../../lib/time";
import type { SystemInfo } from "../../lib/types";

function Usage({ total, free }: { total: number | null; free: number | null }) {
  const u = usage(total, free);
  return (
    <>
      {u.text}
      {u.percent !== null && (
        <>
          {" "}
          <span className={`quiet${u.percent >= 90 ? " text-bad" : u.percent >= 75 ? " text-warn" : ""}`}>({u.percent} % used)</span>
          <span className="meter" aria-hidden="true">
            <span style={{ width: `${u.percent}%` }} className={u.percent >= 90 ? "meter--bad" : u.percent >= 75 ? "meter--warn" : ""} />
          </span>
        </>
      )}
    </>
  );
}

export function SystemInfoPanel({ info, serverNow }: { info: SystemInfo | null; serverNow: number }) {
  return (
    <section className="panel" aria-labelledby="sysinfo-title">
      <h2 id="sysinfo-title">System info</h2>
      {!info ? (
        <p className="quiet">The datalogger has not reported its system info yet.</p>
      ) : (
        <dl className="facts">
          <div>
            <dt>Hostname</dt>
            <dd>{info.hostname || "—"}</dd>
          </div>
          <div>
            <dt>IP address</dt>
            <dd>
              <code>{info.ip_address || "—"}</code>
            </dd>
          </div>
          <div>
            <dt>Firmware</dt>
            <dd>{info.firmware_version || "—"}</dd>
          </div>
          <div>
            <dt>Uptime</dt>
            <dd>{uptime(info.uptime_seconds)}</dd>
          </div>
          <div>
            <dt>CPU load</dt>
            <dd>{fixed(info.cpu_load, 2)}</dd>
          </div>
          <div>
            <dt>Temperature</dt>
            <dd>{info.temperature_c === null ? "—" : `${fixed(info.temperature_c, 1)} °C`}</dd>
          </div>
          <div>
            <dt>Memory</dt>
            <dd>
              <Usage total={info.memory_total_bytes} free={info.memory_free_bytes} />
            </dd>
          </div>
          <div>
            <dt>Disk</dt>
            <dd>
              <Usage total={info.disk_total_bytes} free={info.disk_free_bytes} />
            </dd>
          </div>
          <div>
            <dt>Reported</dt>
            <dd>
              <time dateTime={info.reported_at ?? undefined} title={fullTime(info.reported_at)}>
                {localTime(info.reported_at)}
              </time>{" "}
              <span className="quiet">({ago(info.received_at ?? info.reported_at, serverNow)})</span>
            </dd>
          </div>
        </dl>
      )}
    </section>
  );
}

