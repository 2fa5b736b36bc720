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

.PHONY: help demo test system-deps test-sqlite test-postgres lint format requirements secret-key clean

help:
	@echo "make demo          install everything and serve the system on http://127.0.0.1:8000"
	@echo "make test          install what tests need and run every test (SQLite and PostgreSQL)"
	@echo "make lint          ruff (lint + format check)"
	@echo "make format        apply ruff's fixes and formatting"
	@echo "make requirements  re-pin requirements/*.txt from requirements/*.in"
	@echo "make bench         benchmarks (ingest, end to end); make bench-soak: 30-minute soak"
	@echo "make secret-key    print a new SECRET_KEY and FIELD_ENCRYPTION_KEYS value"

$(STAMP): requirements/base.txt requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed; set PYTHON=python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements/base.txt -r requirements/dev.txt
	@touch $(STAMP)

demo: $(STAMP)
	$(DEMO_ENV) $(MANAGE) migrate --no-input -v 0
	$(DEMO_ENV) $(MANAGE) demo

test: lint system-deps test-sqlite test-postgres

# The MQTT tests start private Mosquitto brokers (TLS, passwords, restarts); the dashboard's browser
# test drives Debian's Chromium (Playwright's own browser download is not used). Install them where missing.
system-deps:
	@command -v mosquitto >/dev/null || PATH="$$PATH:/usr/sbin" command -v mosquitto >/dev/null || { \
		echo "Installing mosquitto (needed by the MQTT tests)"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq mosquitto; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq mosquitto; fi; }
	@test -x /usr/bin/chromium || { \
		echo "Installing chromium (needed by the dashboard's browser test)"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

test-sqlite: $(STAMP)
	$(MANAGE) makemigrations --check --dry-run --settings=config.settings_test
	$(PY) -m pytest

# CI=true makes an unreachable PostgreSQL a failure; elsewhere it is skipped with the reason.
test-postgres: $(STAMP)
	@if $(PY) -c 'import socket; socket.create_connection(("127.0.0.1", 5432), timeout=2)' 2>/dev/null; then \
		echo "== backend tests on PostgreSQL ($(POSTGRES_URL))"; \
		DATABASE_URL=$(POSTGRES_URL) $(PY) -m pytest; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is not reachable on 127.0.0.1:5432 and CI=true: failing." >&2; exit 1; \
	else \
		echo "SKIPPED: PostgreSQL tests (nothing listens on 127.0.0.1:5432)."; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check backend bench
	$(VENV)/bin/ruff format --check backend bench

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
	rm -rf $(VENV) var .pytest_cache .ruff_cache

# Benchmarks (bench/, docs/performance.md): ingest + end to end in about 10 minutes, results and a summary
# in bench/results/. Needs PostgreSQL, Redis and Mosquitto on 127.0.0.1. The soak runs on demand.
.PHONY: bench bench-soak
bench: $(STAMP)
	$(PY) bench/run.py

bench-soak: $(STAMP)
	$(PY) bench/run.py soak --minutes 30
