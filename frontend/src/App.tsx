import { Navigate, Route, Routes } from "react-router-dom";
import { AppShell } from "./components/AppShell";
import { AlertsPage } from "./features/alerts/AlertsPage";
import { ErrorState, LoadingBlock } from "./components/StateViews";
import { MeProvider, useLoadMe } from "./features/auth/MeContext";
import { OpsPage } from "./features/ops/OpsPage";
import { SitePage } from "./features/site/SitePage";
import { SitesOverviewPage } from "./features/sites/SitesOverviewPage";
import { NotFoundPage } from "./pages/NotFoundPage";

export function App() {
  const meState = useLoadMe();
  if (meState.status === "loading") {
    return (
      <main className="boot" id="main">
        <LoadingBlock label="Loading your account…" />
      </main>
    );
  }
  if (meState.status === "error") {
    return (
      <main className="boot" id="main">
        <ErrorState title="Could not load your account" message={meState.message} onRetry={meState.retry} />
      </main>
    );
  }
  return (
    <MeProvider me={meState.me}>
      <AppShell>
        <Routes>
          <Route path="/" element={<SitesOverviewPage />} />
          <Route path="/sites" element={<Navigate to="/" replace />} />
          <Route path="/sites/:siteId/*" element={<SitePage />} />
          <Route path="/alerts/*" element={<AlertsPage />} />
          <Route path="/ops/*" element={<OpsPage />} />
          <Route path="*" element={<NotFoundPage />} />
        </Routes>
      </AppShell>
    </MeProvider>
  );
}
