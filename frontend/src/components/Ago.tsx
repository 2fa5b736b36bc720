// "12 s ago" on the server's clock: the only part of a card or a table row that follows the
// shared 1 s ticker, so a tick re-renders this text and not its whole card or row.
import { memo } from "react";
import { useNow } from "../lib/ticker";
import { ago } from "../lib/time";

export const Ago = memo(function Ago({ iso, clockOffsetMs }: { iso: string | null | undefined; clockOffsetMs: number }) {
  const now = useNow();
  return <>{ago(iso, now + clockOffsetMs)}</>;
});
