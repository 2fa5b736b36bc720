# The two commands: `make demo` runs the whole system, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
MANAGE := $(PY) backend/manage.py
STAMP := $(VENV)/.installed
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test
DEMO_ENV := DEBUG=1
PORT ?= 8000
# The web app (frontend/): installed from package-lock.json, rebuilt when a source file changes.
FRONTEND_DEPS := frontend/node_modules/.installed
FRONTEND_BUILD := frontend/dist/index.html
FRONTEND_SOURCES := $(shell find frontend/src frontend/index.html frontend/vite.config.ts frontend/tsconfig*.json frontend/public -type f 2>/dev/null)

.PHONY: help demo test system-deps test-frontend test-sqlite test-postgres lint format requirements secret-key clean node

help:
	@echo "make demo          install everything and serve the system on http://127.0.0.1:8000"
	@echo "                   (make demo PORT=8001 to serve on another port)"
	@echo "make test          install what tests need and run every test: frontend (Vitest), backend and"
	@echo "                   browser tests on SQLite, then again on PostgreSQL"
	@echo "make frontend      build the web app (frontend/dist); cd frontend && npm run dev for development"
	@echo "make lint          ruff (lint, format check, complexity <= 12) and mypy (django-stubs) on backend/"
	@echo "make format        apply ruff's fixes and formatting"
	@echo "make requirements  re-pin requirements/*.txt from requirements/*.in"
	@echo "make bench         benchmarks (ingest, end to end, the ramp with 1 and 2 workers); make bench-soak: 30-minute soak"
	@echo "make bench-scale   1,000 connections x 100 sensors @ 5 s on one broker, one worker (about 3 minutes)"
	@echo "make bench-flood   one site floods 300 x 5,000-sensor heartbeats: the other sites' latency, worker RSS (2 min)"
	@echo "make bench-frontend  the web app's time per frame in Chromium under live load (bench/run.py frontend)"
	@echo "make secret-key    print a new SECRET_KEY and FIELD_ENCRYPTION_KEYS value"

$(STAMP): requirements/base.txt requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed; set PYTHON=python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements/base.txt -r requirements/dev.txt
	@touch $(STAMP)

demo: $(STAMP) $(FRONTEND_BUILD)
	$(DEMO_ENV) $(MANAGE) migrate --no-input -v 0
	$(DEMO_ENV) $(MANAGE) demo --port $(PORT)

test: lint system-deps test-frontend test-sqlite test-postgres

# Node 20+ builds the web app; without it, say so plainly instead of failing inside npm.
node:
	@command -v node >/dev/null || { echo "Node.js 20 or newer is needed to build the web app (frontend/): install it (e.g. apt-get install nodejs npm, or from nodejs.org) and run make again." >&2; exit 1; }
	@node -e 'const [major, minor] = process.versions.node.split(".").map(Number); if (major < 20 || (major === 20 && minor < 19)) { console.error("Node.js " + process.versions.node + " is too old: the web app needs Node.js 20.19 or newer."); process.exit(1); }'

$(FRONTEND_DEPS): frontend/package.json frontend/package-lock.json | node
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(FRONTEND_BUILD): $(FRONTEND_DEPS) $(FRONTEND_SOURCES)
	cd frontend && npm run build --silent

.PHONY: frontend
frontend: $(FRONTEND_BUILD)

# Vitest (store, socket, hooks, components); the build before it type-checks the whole app and is
# what the browser tests of test-sqlite / test-postgres load.
test-frontend: $(FRONTEND_BUILD)
	cd frontend && npm test --silent

# The MQTT tests start private Mosquitto brokers (TLS, passwords, restarts); the dashboard's browser
# test drives Debian's Chromium (Playwright's own browser download is not used); the compose test runs
# Debian's docker-compose. Install them where missing.
system-deps:
	@command -v mosquitto >/dev/null || PATH="$$PATH:/usr/sbin" command -v mosquitto >/dev/null || { \
		echo "Installing mosquitto (needed by the MQTT tests)"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq mosquitto; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq mosquitto; fi; }
	@test -x /usr/bin/chromium || { \
		echo "Installing chromium (needed by the browser tests)"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }
	@command -v docker-compose >/dev/null || { \
		echo "Installing docker-compose (the compose file's test validates it; no Docker engine needed)"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq docker-compose; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq docker-compose; fi; }

test-sqlite: $(STAMP) $(FRONTEND_BUILD)
	$(MANAGE) makemigrations --check --dry-run --settings=config.settings_test
	$(PY) -m pytest

# CI=true makes an unreachable PostgreSQL a failure; elsewhere it is skipped with the reason.
test-postgres: $(STAMP) $(FRONTEND_BUILD)
	@if $(PY) -c 'import socket; socket.create_connection(("127.0.0.1", 5432), timeout=2)' 2>/dev/null; then \
		echo "== backend tests on PostgreSQL ($(POSTGRES_URL))"; \
		DATABASE_URL=$(POSTGRES_URL) $(PY) -m pytest; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is not reachable on 127.0.0.1:5432 and CI=true: failing." >&2; exit 1; \
	else \
		echo "SKIPPED: PostgreSQL tests (nothing listens on 127.0.0.1:5432)."; \
	fi

# mypy's settings (django-stubs plugin on config.settings_test, check_untyped_defs) are in pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff check backend bench
	$(VENV)/bin/ruff format --check backend bench
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix backend bench
	$(VENV)/bin/ruff format backend bench

requirements:
	@test -x $(VENV)/bin/pip-compile || $(MAKE) $(STAMP)
	cd requirements && ../$(VENV)/bin/pip-compile -q --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links base.in -o base.txt
	cd requirements && ../$(VENV)/bin/pip-compile -q --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links dev.in -o dev.txt

secret-key: $(STAMP)
	@$(PY) -c 'import secrets; print("SECRET_KEY=" + secrets.token_urlsafe(50))'
	@$(PY) -c 'from cryptography.fernet import Fernet; print("FIELD_ENCRYPTION_KEYS=" + Fernet.generate_key().decode())'

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache frontend/node_modules frontend/dist

# Benchmarks (bench/, docs/performance.md): ingest + end to end (the redis-postgres ramp with 1 and with 2
# workers) in about 15 minutes, results and a summary in bench/results/. Needs PostgreSQL, Redis and
# Mosquitto on 127.0.0.1. The soak and the 1,000-connection run (a private Mosquitto) run on demand.
.PHONY: bench bench-soak bench-scale bench-flood
bench: $(STAMP)
	$(PY) bench/run.py

bench-scale: $(STAMP)
	$(PY) bench/run.py scale

bench-flood: $(STAMP)
	$(PY) bench/run.py flood

bench-soak: $(STAMP)
	$(PY) bench/run.py soak --minutes 30

# The web app's time per frame (bench/frontend.py): Debian's Chromium, Mosquitto on 127.0.0.1.
.PHONY: bench-frontend
bench-frontend: $(STAMP) $(FRONTEND_BUILD)
	$(PY) bench/run.py frontend
