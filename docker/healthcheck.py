"""The container's health check, standard library only (the image has no curl).

``web`` (default): GET /healthz answers 200, i.e. the server runs and its database answers.
``worker``: the worker's own /metrics answers (served without the database, so a database outage,
which the worker rides out, does not make docker restart it).
"""

from __future__ import annotations

import os
import sys
import urllib.request


def _host_header() -> str:
    # Django answers 400 to a Host outside ALLOWED_HOSTS: ask as the first allowed name.
    allowed = [name.strip() for name in os.environ.get("ALLOWED_HOSTS", "").split(",") if name.strip()]
    name = allowed[0].lstrip("*.") if allowed else ""
    return name or "localhost"


def _url(role: str) -> tuple[str, dict[str, str]] | None:
    if role == "worker":
        port = os.environ.get("MQTT_WORKER_METRICS_PORT", "0")
        return None if port in {"", "0"} else (f"http://127.0.0.1:{port}/metrics", {})
    return f"http://127.0.0.1:{os.environ.get('WEB_PORT', '8000')}/healthz", {"Host": _host_header()}


def main(role: str) -> int:
    target = _url(role)
    if target is None:
        print("worker metrics are off (MQTT_WORKER_METRICS_PORT=0): nothing to check")
        return 0
    url, headers = target
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=4) as response:
            print(f"{url}: {response.status}")
            return 0 if response.status == 200 else 1
    except OSError as exc:  # URLError and HTTPError (a 503 from /healthz) included
        print(f"{url}: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "web"))
