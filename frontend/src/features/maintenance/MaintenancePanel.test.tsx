import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { MaintenanceWindow, Me } from "../../lib/types";
import { fakeFetch } from "../../test/fakeFetch";
import { MeProvider } from "../auth/MeContext";
import { MaintenanceBanner } from "./MaintenanceBanner";
import { MaintenancePanel } from "./MaintenancePanel";

function me(isStaff: boolean): Me {
  return {
    id: 1,
    username: isStaff ? "night-shift" : "acme",
    display_name: "",
    is_staff: isStaff,
    can_control: isStaff,
    server_time: "2026-11-30T10:00:00Z",
    stale_after_seconds: 60,
    heartbeat_timeout_seconds: 75,
  };
}

function win(id: number, state: MaintenanceWindow["state"], overrides: Partial<MaintenanceWindow> = {}): MaintenanceWindow {
  return {
    id,
    site: 3,
    starts_at: "2026-11-30T09:00:00Z",
    ends_at: "2026-11-30T12:00:00Z",
    reason: `Works ${id}`,
    created_by: "operator",
    state,
    ...overrides,
  };
}

const page = (results: MaintenanceWindow[]) => ({ body: { count: results.length, next: null, previous: null, results } });

function renderPanel(isStaff: boolean) {
  return render(
    <MeProvider me={me(isStaff)}>
      <MaintenancePanel siteId={3} />
    </MeProvider>,
  );
}

describe("maintenance windows", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("groups the windows as active, upcoming and past, read only for a customer", async () => {
    fakeFetch({ "/api/sites/3/maintenance/": page([win(3, "upcoming"), win(2, "active"), win(1, "past")]) });
    renderPanel(false);
    const active = await screen.findByRole("list", { name: "Active windows" });
    expect(active).toHaveTextContent("Works 2");
    expect(screen.getByRole("list", { name: "Upcoming windows" })).toHaveTextContent("Works 3");
    expect(screen.getByRole("list", { name: "Past windows" })).toHaveTextContent("planned by operator");
    expect(screen.queryByRole("button", { name: /Delete/ })).toBeNull();
    expect(screen.queryByRole("form")).toBeNull();
  });

  it("says when none is planned", async () => {
    fakeFetch({ "/api/sites/3/maintenance/": page([]) });
    renderPanel(false);
    expect(await screen.findByText(/No maintenance planned/)).toBeInTheDocument();
  });

  it("shows the API's refusals beside their fields", async () => {
    const { calls } = fakeFetch({
      "/api/sites/3/maintenance/": page([]),
      "POST /api/sites/3/maintenance/": {
        status: 400,
        body: { ends_at: ["The end must be after the start."], reason: ["This field may not be blank."] },
      },
    });
    renderPanel(true);
    const form = await screen.findByRole("form", { name: "Plan a maintenance window" });
    await userEvent.type(within(form).getByLabelText("Starts"), "2026-12-01T10:00");
    await userEvent.type(within(form).getByLabelText("Ends"), "2026-12-01T09:00");
    await userEvent.click(within(form).getByRole("button", { name: "Add window" }));
    const ends = within(form).getByLabelText("Ends");
    await waitFor(() => expect(ends).toHaveAccessibleDescription("The end must be after the start."));
    expect(ends).toHaveAttribute("aria-invalid", "true");
    expect(within(form).getByLabelText("Reason")).toHaveAccessibleDescription("This field may not be blank.");
    expect(within(form).getByLabelText("Starts")).not.toHaveAttribute("aria-invalid");
    const post = calls.find((c) => c.method === "POST");
    expect(post?.headers).toHaveProperty("X-CSRFToken");
  });

  it("adds a window and lists it", async () => {
    let added = false;
    const { fn } = fakeFetch({
      "/api/sites/3/maintenance/": () => page(added ? [win(9, "upcoming", { reason: "Firmware update" })] : []),
      "POST /api/sites/3/maintenance/": () => {
        added = true;
        return { status: 201, body: win(9, "upcoming", { reason: "Firmware update" }) };
      },
    });
    renderPanel(true);
    const form = await screen.findByRole("form", { name: "Plan a maintenance window" });
    await userEvent.type(within(form).getByLabelText("Starts"), "2026-12-01T10:00");
    await userEvent.type(within(form).getByLabelText("Ends"), "2026-12-01T12:00");
    await userEvent.type(within(form).getByLabelText("Reason"), "Firmware update");
    await userEvent.click(within(form).getByRole("button", { name: "Add window" }));
    expect(await screen.findByRole("list", { name: "Upcoming windows" })).toHaveTextContent("Firmware update");
    const post = fn.mock.calls.find(([, init]) => init?.method === "POST");
    const body = JSON.parse(String(post?.[1]?.body)) as Record<string, string>;
    expect(body.starts_at).toBe(new Date(2026, 11, 1, 10, 0).toISOString()); // local time, sent as an instant
    expect(body.reason).toBe("Firmware update");
  });

  it("deletes a window only once confirmed", async () => {
    let deleted = false;
    const { calls } = fakeFetch({
      "/api/sites/3/maintenance/": () => page(deleted ? [] : [win(4, "upcoming")]),
      "DELETE /api/sites/3/maintenance/4/": () => {
        deleted = true;
        return { status: 200 }; // (the stand-in cannot build a 204; an empty 200 reads the same)
      },
    });
    const confirm = vi.spyOn(window, "confirm").mockReturnValue(false);
    renderPanel(true);
    const remove = await screen.findByRole("button", { name: /^Delete the window starting/ });
    await userEvent.click(remove);
    expect(calls.filter((c) => c.method === "DELETE")).toHaveLength(0);
    confirm.mockReturnValue(true);
    await userEvent.click(remove);
    expect(await screen.findByText(/No maintenance planned/)).toBeInTheDocument();
    expect(calls.filter((c) => c.method === "DELETE")).toHaveLength(1);
  });

  it("announces an active window on the site page, and nothing otherwise", async () => {
    fakeFetch({ "/api/sites/3/maintenance/?state=active": page([win(2, "active", { reason: "Crane on the deck" })]) });
    const { unmount } = render(<MaintenanceBanner siteId={3} />);
    expect(await screen.findByRole("status")).toHaveTextContent(/Maintenance in progress until .*: Crane on the deck\. Alerts are silenced/);
    unmount();
    fakeFetch({ "/api/sites/3/maintenance/?state=active": page([]) });
    const { container } = render(<MaintenanceBanner siteId={3} />);
    await waitFor(() => expect(fetch).toHaveBeenCalled());
    expect(container).toBeEmptyDOMElement();
  });
});
