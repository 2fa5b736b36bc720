import { csrfToken } from "../../lib/cookies";

/** Logging out is a POST with the CSRF token; the server redirects to the login page. */
export function LogoutButton() {
  return (
    <form method="post" action="/logout/" className="logout-form">
      <input type="hidden" name="csrfmiddlewaretoken" value={csrfToken()} />
      <button type="submit" className="btn btn--quiet">
        Log out
      </button>
    </form>
  );
}
