import { Link } from "react-router-dom";

export function NotFoundPage() {
  return (
    <div className="state state--empty">
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. <Link to="/">Back to the sites</Link>
      </p>
    </div>
  );
}
