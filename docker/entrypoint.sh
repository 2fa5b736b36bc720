#!/bin/sh
# The image's entrypoint: one image runs the web server, the MQTT worker and the migrations.
#   web      uvicorn (HTTP + WebSockets) on WEB_HOST:WEB_PORT (0.0.0.0:8000), WEB_CONCURRENCY processes
#   worker   manage.py run_mqtt (several may run: they share the connections through leases)
#   migrate  manage.py migrate, once before the others start
#   other    passed to manage.py (createsuperuser, check --deploy, shell, …)
# It finds backend/ beside its own folder, so the same script runs in the image (/app) and in a
# checkout (the compose test runs it there with the venv's python on PATH).
set -eu
cd "$(dirname "$0")/../backend"

command="${1:-web}"
[ "$#" -gt 0 ] && shift
case "$command" in
    web)
        # exec: the server is PID 1 and gets docker's SIGTERM itself (a clean shutdown of its sockets).
        exec python -m uvicorn config.asgi:application --lifespan on \
            --host "${WEB_HOST:-0.0.0.0}" --port "${WEB_PORT:-8000}" --workers "${WEB_CONCURRENCY:-1}" "$@"
        ;;
    worker)
        exec python manage.py run_mqtt "$@"
        ;;
    migrate)
        exec python manage.py migrate --no-input "$@"
        ;;
    *)
        exec python manage.py "$command" "$@"
        ;;
esac
