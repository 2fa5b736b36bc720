import { Link } from "react-router-dom";

export function StaffOnly() {
  return (
    <div className="state state--empty">
      <h1>Staff only</h1>
      <p>The operations view is for the operations team. Your sites are on the overview.</p>
      <p>
        <Link to="/">Go to your sites</Link>
      </p>
    </div>
  );
}
