import type { ReactNode } from "react";
import { NavLink } from "react-router-dom";
import { LogoutButton } from "../features/auth/LogoutButton";
import { useMe } from "../features/auth/MeContext";
import { LiveIndicator } from "./LiveIndicator";

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
            <span className="brand-mark" aria-hidden="true" />
            Datalogger monitor
          </NavLink>
        </div>
        <nav className="topbar-nav" aria-label="Main">
          <NavLink to="/" end>
            Sites
          </NavLink>
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
