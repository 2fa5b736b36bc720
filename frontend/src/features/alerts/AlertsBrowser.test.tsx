import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Alert } from "../../lib/types";
import { fakeFetch } from "../../test/fakeFetch";
import { AlertsBrowser } from "./AlertsBrowser";
import { compactSensors } from "./alertText";

function alert(id: number, overrides: Partial<Alert> = {}): Alert {
  return {
    id,
    site: 3,
    site_name: "Bridge North",
    site_code: "DEMO3",
    kind: "heartbeat_missing",
    severity: "critical",
    state: "open",
    title: "Bridge North went silent",
    message: "No heartbeat for 90 s",
    affected_sensors: [],
    opened_at: "2026-11-30T09:00:00Z",
    resolved_at: null,
    acknowledged_at: null,
    acknowledged_by: null,
    in_maintenance: false,
    ...overrides,
  };
}

const page = (results: Alert[]) => ({ body: { count: results.length, next: null, previous: null, results } });

function renderBrowser(siteId: number | null = null, path = "/alerts/") {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <AlertsBrowser siteId={siteId} />
    </MemoryRouter>,
  );
}

describe("alerts", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("names two sensors and counts the rest", () => {
    expect(compactSensors(["ACC01"])).toBe("ACC01");
    expect(compactSensors(["ACC01", "ACC02", "ACC03"])).toBe("ACC01, ACC02, ACC03");
    const hundred = Array.from({ length: 100 }, (_, i) => `ACC${String(i + 1).padStart(2, "0")}`);
    expect(compactSensors(hundred)).toBe("ACC01, ACC02 and 98 more");
  });

  it("reads 'No alerts' as good news when there are none", async () => {
    fakeFetch({ "/api/alerts/": page([]) });
    renderBrowser();
    expect(await screen.findByRole("heading", { name: "No alerts" })).toBeInTheDocument();
    expect(screen.getByText(/Nothing has gone wrong here/)).toBeInTheDocument();
  });

  it("lists alerts with their site, state, affected sensors and maintenance mark", async () => {
    const names = Array.from({ length: 100 }, (_, i) => `ACC${String(i + 1).padStart(2, "0")}`);
    fakeFetch({
      "/api/alerts/": page([
        alert(2, { affected_sensors: names }),
        alert(1, { state: "resolved", severity: "warning", title: "ACC07 offline", resolved_at: "2026-11-30T08:30:00Z", in_maintenance: true, acknowledged_at: "2026-11-30T08:10:00Z", acknowledged_by: "operator" }),
      ]),
    });
    renderBrowser();
    const silent = await screen.findByRole("listitem", { name: "Bridge North went silent" });
    expect(within(silent).getByText("ACC01, ACC02 and 98 more")).toBeInTheDocument();
    expect(within(silent).getByText("100 sensors:")).toBeInTheDocument();
    expect(within(silent).getByRole("link", { name: /Bridge North/ })).toHaveAttribute("href", "/sites/3/alerts");
    const resolved = screen.getByRole("listitem", { name: "ACC07 offline" });
    expect(within(resolved).getByText("Resolved")).toBeInTheDocument();
    expect(within(resolved).getByText("maintenance")).toBeInTheDocument();
    expect(within(resolved).getByText(/acknowledged by operator/)).toBeInTheDocument();
    expect(within(resolved).queryByRole("button", { name: /Acknowledge/ })).toBeNull();
  });

  it("acknowledges an open alert once confirmed and shows it acknowledged", async () => {
    let acknowledged = false;
    const { calls } = fakeFetch({
      "/api/alerts/": () => page([acknowledged ? alert(2, { state: "acknowledged", acknowledged_at: "2026-11-30T09:05:00Z", acknowledged_by: "night-shift" }) : alert(2)]),
      "POST /api/alerts/2/acknowledge/": () => {
        acknowledged = true;
        return { body: alert(2, { state: "acknowledged", acknowledged_at: "2026-11-30T09:05:00Z", acknowledged_by: "night-shift" }) };
      },
    });
    const confirm = vi.spyOn(window, "confirm").mockReturnValue(true);
    renderBrowser(3, "/sites/3/alerts/");
    await userEvent.click(await screen.findByRole("button", { name: "Acknowledge Bridge North went silent" }));
    expect(confirm).toHaveBeenCalledWith(expect.stringContaining('Acknowledge "Bridge North went silent"'));
    const item = screen.getByRole("listitem", { name: "Bridge North went silent" });
    expect(await within(item).findByText(/acknowledged by night-shift/)).toBeInTheDocument();
    expect(within(item).getByText("Acknowledged")).toBeInTheDocument();
    expect(within(item).queryByRole("button")).toBeNull();
    const post = calls.find((c) => c.method === "POST");
    expect(post?.url).toBe("/api/alerts/2/acknowledge/");
    expect(post?.headers).toHaveProperty("X-CSRFToken");
    // the site page's history asks for this site only
    expect(calls[0]?.url).toBe("/api/alerts/?site=3&page=1");
  });

  it("sends nothing when the acknowledgement is not confirmed", async () => {
    const { calls } = fakeFetch({ "/api/alerts/": page([alert(2)]) });
    vi.spyOn(window, "confirm").mockReturnValue(false);
    renderBrowser();
    await userEvent.click(await screen.findByRole("button", { name: "Acknowledge Bridge North went silent" }));
    expect(calls.filter((c) => c.method === "POST")).toHaveLength(0);
    expect(screen.getByRole("button", { name: "Acknowledge Bridge North went silent" })).toBeEnabled();
  });

  it("shows the API's refusal when the alert was resolved meanwhile", async () => {
    fakeFetch({
      "/api/alerts/": page([alert(2)]),
      "POST /api/alerts/2/acknowledge/": { status: 400, body: { detail: "A resolved alert cannot be acknowledged." } },
    });
    vi.spyOn(window, "confirm").mockReturnValue(true);
    renderBrowser();
    await userEvent.click(await screen.findByRole("button", { name: "Acknowledge Bridge North went silent" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("A resolved alert cannot be acknowledged.");
  });

  it("filters by state through the address and the request", async () => {
    const { calls } = fakeFetch({ "/api/alerts/": page([]) });
    renderBrowser();
    await screen.findByRole("heading", { name: "No alerts" });
    await userEvent.click(screen.getByRole("button", { name: "Open" }));
    await waitFor(() => expect(calls.at(-1)?.url).toBe("/api/alerts/?state=open&page=1"));
    expect(await screen.findByText("Nothing needs attention right now.")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Open" })).toHaveAttribute("aria-pressed", "true");
  });
});
