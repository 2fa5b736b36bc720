// Leaving the app for a server page (the login). Replaceable in tests, where jsdom cannot navigate.

type Go = (url: string) => void;

let go: Go = (url) => window.location.assign(url);
let redirecting = false;

export function setNavigate(fn: Go): void {
  go = fn;
  redirecting = false;
}

export function loginUrl(): string {
  const here = window.location.pathname + window.location.search;
  return `/login/?next=${encodeURIComponent(here)}`;
}

/** Sends the browser to the login page, once, coming back here afterwards. */
export function redirectToLogin(): void {
  if (redirecting) return;
  redirecting = true;
  go(loginUrl());
}
