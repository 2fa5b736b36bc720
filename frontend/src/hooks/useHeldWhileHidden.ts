// A value shown by a part of the page that may be off-screen: near the viewport it is the newest at
// once; off-screen it is held and refreshed at most every HIDDEN_REFRESH_MS (spread over frames),
// and the newest again as soon as the part comes near the viewport. Memoised children given the
// held value do not re-render for changes nobody sees.
import { useEffect, useRef, useState, type RefObject } from "react";
import { HIDDEN_REFRESH_MS, observeVisibility, refreshLater } from "../lib/visibility";

export function useHeldWhileHidden<T>(value: T, ref: RefObject<Element | null>, refreshMs: number = HIDDEN_REFRESH_MS): T {
  const [hidden, setHidden] = useState(false);
  const [held, setHeld] = useState(value);
  const latest = useRef(value);

  useEffect(() => {
    latest.current = value;
  });

  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    return observeVisibility(element, (visible) => {
      if (!visible) setHeld(latest.current);
      setHidden(!visible);
    });
  }, [ref]);

  // Off-screen with a newer value than the one shown: refresh it later (once, not per change).
  const pending = hidden && held !== value;
  useEffect(() => {
    if (!pending) return;
    return refreshLater(() => setHeld(latest.current), refreshMs);
  }, [pending, refreshMs]);

  return hidden ? held : value;
}
