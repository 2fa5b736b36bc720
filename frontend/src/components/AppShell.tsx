import type { ReactNode } from "react";
import { NavLink } from "react-router-dom";
import { LogoutButton } from "../features/auth/LogoutButton";
import { useMe } from "../features/auth/MeContext";
import { LiveIndicator } from "./LiveIndicator";

/** The brand mark: a blue rounded square with a white pulse line (also public/favicon.svg). */
export function BrandMark() {
  return (
    <svg className="brand-mark" viewBox="0 0 32 32" width="18" height="18" aria-hidden="true" focusable="false">
      <rect width="32" height="32" rx="7" fill="#0a5cc2" />
      <polyline points="4,17 10,17 13,9 18,24 21,14 23,17 28,17" fill="none" stroke="#fff" strokeWidth="2.6" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}

export function AppShell({ children }: { children: ReactNode }) {
  const me = useMe();
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar-brand">
          <NavLink to="/" className="brand">
            <BrandMark />
            Datalogger monitor
          </NavLink>
        </div>
        <nav className="topbar-nav" aria-label="Main">
          <NavLink to="/" end>
            Sites
          </NavLink>
          <NavLink to="/alerts/">Alerts</NavLink>
          {me.is_staff && <NavLink to="/ops/">Operations</NavLink>}
          {me.is_staff && <a href="/admin/">Admin</a>}
          {me.is_staff && <a href="/api/docs/">API docs</a>}
        </nav>
        <div className="topbar-end">
          <LiveIndicator />
          <span className="user" title={me.username}>
            {me.display_name || me.username}
          </span>
          <LogoutButton />
        </div>
      </header>
      <main id="main" className="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
