import { useRef, useState, type KeyboardEvent } from "react";
import { downText, percentText, segmentText, uptimeBand, LEGEND, type Segment } from "./uptime";

/**
 * One row of availability: a segment per bucket coloured by its uptime, the window's figure as text.
 * The bar is one tab stop; arrow keys move between segments (roving tabindex), so a page of 50 sensors
 * is not 1,500 tab stops. Hover or focus shows the segment's figure and period.
 */
export function AvailabilityBar({
  label,
  segments,
  uptime,
  downSeconds,
}: {
  label: string;
  segments: readonly Segment[];
  uptime: number | null;
  downSeconds: number | null;
}) {
  const [active, setActive] = useState<number | null>(null);
  const [current, setCurrent] = useState(0);
  const refs = useRef<(HTMLSpanElement | null)[]>([]);

  function move(event: KeyboardEvent<HTMLSpanElement>, index: number) {
    const last = segments.length - 1;
    const next =
      event.key === "ArrowRight" ? Math.min(last, index + 1)
      : event.key === "ArrowLeft" ? Math.max(0, index - 1)
      : event.key === "Home" ? 0
      : event.key === "End" ? last
      : null;
    if (next === null) return;
    event.preventDefault();
    setCurrent(next);
    setActive(next);
    refs.current[next]?.focus();
  }

  const shown = active === null ? null : segments[active];
  return (
    <div className="avail-row">
      <div className="avail-label">{label}</div>
      <div className="avail-track" role="group" aria-label={`${label}: availability per period (arrow keys move)`} onMouseLeave={() => setActive(null)}>
        {segments.length === 0 && <span className="avail-empty quiet">No periods</span>}
        {segments.map((segment, index) => {
          const band = uptimeBand(segment.uptime);
          const maintenance = segment.maintenanceSeconds > 0;
          return (
            <span
              key={segment.start}
              ref={(el) => {
                refs.current[index] = el;
              }}
              role="img"
              tabIndex={index === Math.min(current, segments.length - 1) ? 0 : -1}
              aria-label={segmentText(segment)}
              data-uptime={segment.uptime ?? ""}
              data-start={segment.start}
              className={`avail-seg avail-seg--${band}${maintenance ? " avail-seg--maintenance" : ""}`}
              onMouseEnter={() => setActive(index)}
              onFocus={() => {
                setCurrent(index);
                setActive(index);
              }}
              onBlur={() => setActive(null)}
              onKeyDown={(event) => move(event, index)}
            />
          );
        })}
        {shown && active !== null && (
          <span className={`avail-tip${tipEdge(active, segments.length)}`} aria-hidden="true" style={{ left: `${((active + 0.5) / segments.length) * 100}%` }}>
            {segmentText(shown)}
          </span>
        )}
      </div>
      <div className="avail-figure">
        <strong data-figure="uptime">{percentText(uptime)}</strong>
        {downSeconds !== null && <span className="quiet"> {downText(downSeconds, uptime)}</span>}
      </div>
    </div>
  );
}

/** Near either end the tooltip is anchored on that side, so it stays inside the page. */
function tipEdge(index: number, count: number): string {
  const at = (index + 0.5) / count;
  return at < 0.2 ? " avail-tip--start" : at > 0.8 ? " avail-tip--end" : "";
}

export function AvailabilityLegend() {
  return (
    <ul className="avail-legend" aria-label="Colours of the bars">
      {LEGEND.map((entry) => (
        <li key={entry.band}>
          <span
            className={`avail-swatch ${entry.band === "maintenance" ? "avail-seg--nodata avail-seg--maintenance" : `avail-seg--${entry.band}`}`}
            aria-hidden="true"
          />
          {entry.label}
        </li>
      ))}
    </ul>
  );
}
