"""Settings for the test suite: production settings (DEBUG off) with fixed test secrets."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
# A throw-away key, used by tests only: it protects nothing.
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "hpdnnHBRvzbuDchnrkoSSfkaiNzqKhiIqPDfrFvM_4c=")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not shared-cache memory: the MQTT tests write from the worker's thread while the test
    # reads from its own, and only a file database gives them WAL and the busy timeout.
    # One file per test run, so concurrent runs never share (and corrupt) a database.
    _test_db = Path(tempfile.gettempdir()) / f"dlmon-test-{os.getpid()}.sqlite3"
    DATABASES["default"]["TEST"] = {"NAME": str(_test_db)}  # noqa: F405
    # Durability is not what tests check; skipping fsync keeps the file as fast as memory.
    DATABASES["default"]["OPTIONS"]["init_command"] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"  # noqa: F405

else:
    # PostgreSQL: a test database per run as well (pytest-django creates and drops it).
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}  # noqa: F405

# Tests render pages without running collectstatic first.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_AUTOREFRESH = True  # no collected static folder to index at start-up
# Set before config.asgi is imported: its origin check copies the list at import time.
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
# The worker's tests run it without the alert evaluator's threads; apps/alerts/tests turn it on.
ALERTS_IN_WORKER = False
# Nor the analytics roll-up job (apps/analytics/tests run it directly).
ANALYTICS_ROLLUP_INTERVAL = 0
