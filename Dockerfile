# One image for the web server and the MQTT worker (docker/entrypoint.sh: web | worker | migrate |
# any manage.py command). Build: docker build -t dlmon:<version> .   Compose: docker-compose.yml.

# ---- the web app (frontend/): built with Node, only its dist/ goes into the image
FROM node:20-bookworm-slim AS frontend
WORKDIR /build/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY frontend/ ./
RUN npm run build

# ---- the Python image (no compilers: every pinned package ships a manylinux wheel)
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FRONTEND_DIST=/app/frontend/dist
WORKDIR /app
COPY requirements/base.txt requirements/base.txt
RUN pip install -r requirements/base.txt
COPY backend/ backend/
COPY docker/entrypoint.sh docker/healthcheck.py docker/
COPY --from=frontend /build/frontend/dist frontend/dist
# collectstatic imports the production settings, which refuse to start without keys: throwaway keys
# for this one command (they end up nowhere; the running containers get the real ones). The hashed
# names and the manifest it writes are what WhiteNoise serves with DEBUG off.
RUN SECRET_KEY=build-only-not-a-secret \
    FIELD_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python backend/manage.py collectstatic --no-input -v 0 \
    && rm -f /tmp/build.sqlite3* \
    && groupadd --system dlmon \
    && useradd --system --gid dlmon --home-dir /app --no-create-home --shell /usr/sbin/nologin dlmon \
    && mkdir -p var/spool \
    && chown -R dlmon:dlmon var
USER dlmon
EXPOSE 8000
# The web server's check; the worker's service overrides it with `healthcheck.py worker`.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py", "web"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["web"]
