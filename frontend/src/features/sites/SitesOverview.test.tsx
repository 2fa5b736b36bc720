import { act, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, useLocation } from "react-router-dom";
import { describe, expect, it, vi } from "vitest";
import { connection, site } from "../../test/fixtures";
import type { Site } from "../../lib/types";
import { compareSites, filterCounts, selectSites } from "./filters";
import { PAGE_SIZE, SitesView } from "./SitesOverviewPage";

function Location() {
  const location = useLocation();
  return <output data-testid="location">{location.search}</output>;
}

function renderView(sites: Site[], url = "/") {
  return render(
    <MemoryRouter initialEntries={[url]}>
      <SitesView sites={sites} status="ready" error={null} onRetry={() => {}} isStaff />
      <Location />
    </MemoryRouter>,
  );
}

const tileNames = () =>
  within(screen.getByRole("list", { name: "Sites" }))
    .getAllByRole("heading")
    .map((h) => h.textContent);

const mixed: Site[] = [
  site(10, { name: "Ten", code: "DEMO10" }),
  site(2, { name: "Two", code: "DEMO2", customer: { id: 2, name: "Harbour Authority" } }),
  site(1, { name: "One", code: "DEMO1", connection: connection({ status: "error", heartbeat_state: "missing" }) }),
  site(3, { name: "Three", code: "DEMO3", connection: connection({ status: "disabled", enabled: false }) }),
  site(4, { name: "Four", code: "DEMO4", sensor_counts: { total: 4, online: 3, stale: 1, offline: 0 } }),
];

describe("sites overview", () => {
  it("sorts codes naturally: DEMO2 before DEMO10", () => {
    renderView(mixed);
    expect(tileNames()).toEqual(["One", "Two", "Three", "Four", "Ten"]);
    expect([...mixed].sort(compareSites("code")).map((s) => s.code)).toEqual(["DEMO1", "DEMO2", "DEMO3", "DEMO4", "DEMO10"]);
  });

  it("sorts problems first on request", () => {
    renderView(mixed, "/?sort=problems");
    expect(tileNames()[0]).toBe("One"); // disconnected with heartbeat missing
    expect(tileNames()[1]).toBe("Four"); // a stale sensor
    expect(tileNames().at(-1)).toBe("Three"); // disabled last
  });

  it("searches name, code and customer (debounced) and mirrors it in the URL", async () => {
    const user = userEvent.setup();
    renderView(mixed);
    await user.type(screen.getByRole("searchbox", { name: "Search" }), "harbour");
    expect(await screen.findByText("1 of 5 sites")).toBeInTheDocument();
    expect(tileNames()).toEqual(["Two"]);
    expect(screen.getByTestId("location").textContent).toBe("?q=harbour");
  });

  it("filters by state, with a count per filter, mirrored in the URL", async () => {
    const user = userEvent.setup();
    renderView(mixed);
    const filters = screen.getByRole("group", { name: "Filter by state" });
    expect(within(filters).getByRole("button", { name: "All 5" })).toHaveAttribute("aria-pressed", "true");
    expect(within(filters).getByRole("button", { name: "Problems 2" })).toBeInTheDocument();
    expect(within(filters).getByRole("button", { name: "Heartbeat missing 1" })).toBeInTheDocument();
    expect(within(filters).getByRole("button", { name: "Disabled 1" })).toBeInTheDocument();

    await user.click(within(filters).getByRole("button", { name: "Problems 2" }));
    expect(tileNames()).toEqual(["One", "Four"]);
    expect(screen.getByTestId("location").textContent).toBe("?filter=problems");

    await user.click(within(filters).getByRole("button", { name: /Disconnected/ }));
    expect(tileNames()).toEqual(["One"]);
  });

  it("reads its filter from the URL", () => {
    renderView(mixed, "/?filter=disabled");
    expect(tileNames()).toEqual(["Three"]);
  });

  it("paginates a large list", async () => {
    const many = Array.from({ length: 1000 }, (_, i) => site(i + 1));
    const user = userEvent.setup();
    renderView(many);
    expect(within(screen.getByRole("list", { name: "Sites" })).getAllByRole("listitem")).toHaveLength(PAGE_SIZE);
    expect(screen.getByText(/page 1 of 17/)).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Next" }));
    expect(tileNames()[0]).toBe(`Site ${PAGE_SIZE + 1}`);
  });

  it("shows the empty state with a hint for staff", () => {
    renderView([]);
    expect(screen.getByRole("heading", { name: "No sites yet" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "admin" })).toHaveAttribute("href", "/admin/");
  });

  it("shows an error with a retry", async () => {
    const onRetry = vi.fn();
    render(
      <MemoryRouter>
        <SitesView sites={[]} status="error" error="boom" onRetry={onRetry} isStaff={false} />
      </MemoryRouter>,
    );
    await act(async () => screen.getByRole("button", { name: "Retry" }).click());
    expect(onRetry).toHaveBeenCalled();
    expect(screen.getByText("boom")).toBeInTheDocument();
  });

  it("renders site names from devices as text, never HTML", () => {
    const { container } = renderView([site(1, { name: "<img src=x onerror=alert(1)>" })]);
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getByText("<img src=x onerror=alert(1)>")).toBeInTheDocument();
  });

  it("counts per filter follow the search", () => {
    expect(filterCounts(mixed, "demo1")).toMatchObject({ all: 2, problems: 1 });
    expect(selectSites(mixed, "", "connected", "code").map((s) => s.code)).toEqual(["DEMO2", "DEMO4", "DEMO10"]);
  });
});
