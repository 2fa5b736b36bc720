import type { ReactNode } from "react";
import type { Tone } from "../lib/labels";

/** A status badge: the colour always comes with its text. */
export function Badge({ tone, children, title }: { tone: Tone; children: ReactNode; title?: string }) {
  return (
    <span className={`badge badge--${tone}`} title={title}>
      <span className="badge-dot" aria-hidden="true" />
      {children}
    </span>
  );
}
