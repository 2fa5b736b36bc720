import { useId, useState, type FormEvent } from "react";
import { api, ApiError } from "../../lib/api";
import type { MaintenanceWindow } from "../../lib/types";

type Field = "starts_at" | "ends_at" | "reason";
type Errors = Partial<Record<Field | "form", string>>;

/** The API's 400 body ({"field": ["message"], "non_field_errors": [...]}) as one message per field. */
export function fieldErrors(body: unknown, fallback: string): Errors {
  if (!body || typeof body !== "object") return { form: fallback };
  const errors: Errors = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    const text = Array.isArray(value) ? value.map(String).join(" ") : String(value);
    if (key === "starts_at" || key === "ends_at" || key === "reason") errors[key] = text;
    else errors.form = errors.form ? `${errors.form} ${text}` : text;
  }
  return Object.keys(errors).length ? errors : { form: fallback };
}

/** A datetime-local value (the browser's time) as an ISO instant; "" stays "" for the API to refuse. */
function instant(local: string): string {
  if (!local) return "";
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? local : t.toISOString();
}

export function MaintenanceForm({ siteId, onAdded }: { siteId: number; onAdded: (window: MaintenanceWindow) => void }) {
  const id = useId();
  const [startsAt, setStartsAt] = useState("");
  const [endsAt, setEndsAt] = useState("");
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const created = await api.addMaintenance(siteId, { starts_at: instant(startsAt), ends_at: instant(endsAt), reason });
      setStartsAt("");
      setEndsAt("");
      setReason("");
      onAdded(created);
    } catch (e) {
      if (e instanceof ApiError && e.status === 400) setErrors(fieldErrors(e.body, e.message));
      else setErrors({ form: e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
    }
  }

  const field = (name: Field) => ({
    id: `${id}-${name}`,
    "aria-invalid": errors[name] ? true : undefined,
    "aria-describedby": errors[name] ? `${id}-${name}-error` : undefined,
  });
  const error = (name: Field) =>
    errors[name] && (
      <span className="field-error" id={`${id}-${name}-error`}>
        {errors[name]}
      </span>
    );

  return (
    <form className="maint-form" onSubmit={(e) => void submit(e)} aria-labelledby={`${id}-title`} noValidate>
      <h3 id={`${id}-title`}>Plan a maintenance window</h3>
      <p className="quiet">Alerts are silenced during the window and its time does not count against uptime. Times are your local time.</p>
      {errors.form && (
        <p className="text-bad" role="alert">
          {errors.form}
        </p>
      )}
      <div className="maint-fields">
        <div className="field">
          <label className="field-label" htmlFor={`${id}-starts_at`}>
            Starts
          </label>
          <input type="datetime-local" value={startsAt} onChange={(e) => setStartsAt(e.target.value)} {...field("starts_at")} />
          {error("starts_at")}
        </div>
        <div className="field">
          <label className="field-label" htmlFor={`${id}-ends_at`}>
            Ends
          </label>
          <input type="datetime-local" value={endsAt} onChange={(e) => setEndsAt(e.target.value)} {...field("ends_at")} />
          {error("ends_at")}
        </div>
        <div className="field maint-reason">
          <label className="field-label" htmlFor={`${id}-reason`}>
            Reason
          </label>
          <input type="text" value={reason} maxLength={200} onChange={(e) => setReason(e.target.value)} placeholder="Firmware update, sensor replacement…" {...field("reason")} />
          {error("reason")}
        </div>
      </div>
      <button type="submit" className="btn" disabled={busy}>
        {busy ? "Adding…" : "Add window"}
      </button>
    </form>
  );
}
