"""Settings come from the environment; a bad value stops start-up with a message naming it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BACKEND = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, config.settings as s; "
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], 'name': str(s.DATABASES['default']['NAME']),"
    " 'options': s.DATABASES['default'].get('OPTIONS', {}), 'tz': s.TIME_ZONE, 'mqtt': s.MQTT_SETTINGS,"
    " 'hosts': s.ALLOWED_HOSTS, 'debug': s.DEBUG}))"
)


def _load(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "MQTT_", "DATABASE"))}
    clean.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    clean.update(env)
    for key in [key for key, value in clean.items() if value == "<unset>"]:
        del clean[key]
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=BACKEND, env=clean, capture_output=True, text=True, timeout=60
    )


def test_debug_defaults_give_sqlite_in_wal_mode_utc_and_the_seeds_mqtt_settings(tmp_path: Path) -> None:
    result = _load(tmp_path, DEBUG="1", SECRET_KEY="<unset>", FIELD_ENCRYPTION_KEYS="<unset>")
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["db"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in loaded["options"]["init_command"]
    assert loaded["tz"] == "UTC"
    assert loaded["mqtt"] == {
        "HEARTBEAT_TIMEOUT": 30,
        "MAX_CONSECUTIVE_MISSES": 3,
        "DEFAULT_QOS": 0,
        "RECONNECT_DELAY": 5,
        "MAX_RECONNECT_DELAY": 300,
        "SENSOR_DATA_RETENTION": 3,
        "RECONCILE_INTERVAL": 5,
        "MAX_PAYLOAD_BYTES": 1048576,
        "QUEUE_MAX_BYTES": 64 * 1024 * 1024,
        "CLIENT_QUEUE_MESSAGES": 100,
        "INGEST_WRITERS": 1,
    }


def test_postgres_url_selects_postgresql(tmp_path: Path) -> None:
    result = _load(tmp_path, DEBUG="1", DATABASE_URL="postgres://u@db.example:5432/mon")
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["db"] == "django.db.backends.postgresql"
    assert loaded["mqtt"]["INGEST_WRITERS"] == 2  # PostgreSQL runs writers' transactions side by side


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DEBUG": "0", "SECRET_KEY": "<unset>"}, "SECRET_KEY must be set"),
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DEBUG": "1", "DATABASE_URL": "mysql://x/y"}, "DATABASE_URL is not a valid database URL"),
        ({"DEBUG": "1", "DATABASE_URL": "nonsense"}, "DATABASE_URL is not a valid database URL"),
        ({"DEBUG": "1", "TIME_ZONE": "Mars/Olympus"}, "TIME_ZONE is not a valid IANA time zone"),
        (
            {"DEBUG": "1", "MQTT_HEARTBEAT_TIMEOUT": "soon"},
            "MQTT_HEARTBEAT_TIMEOUT='soon' is not a whole number",
        ),
        ({"DEBUG": "1", "MQTT_DEFAULT_QOS": "3"}, "MQTT_DEFAULT_QOS=3 is too large"),
        ({"DEBUG": "1", "MQTT_SENSOR_DATA_RETENTION": "5"}, "MQTT_SENSOR_DATA_RETENTION=5 is too large"),
        (
            {"DEBUG": "1", "MQTT_RECONNECT_DELAY": "60", "MQTT_MAX_RECONNECT_DELAY": "30"},
            "MQTT_MAX_RECONNECT_DELAY=30 is below MQTT_RECONNECT_DELAY=60",
        ),
        ({"DEBUG": "1", "FIELD_ENCRYPTION_KEYS": "not-a-key"}, "FIELD_ENCRYPTION_KEYS is not a valid"),
        ({"DEBUG": "0", "SECRET_KEY": "x", "FIELD_ENCRYPTION_KEYS": "<unset>"}, "FIELD_ENCRYPTION_KEYS"),
        ({"DEBUG": "1", "LOG_LEVEL": "LOUD"}, "LOG_LEVEL is not a valid log level"),
        ({"DEBUG": "1", "MQTT_INGEST_WRITERS": "2"}, "MQTT_INGEST_WRITERS=2 needs PostgreSQL"),
        ({"DEBUG": "1", "MQTT_CLIENT_QUEUE_MESSAGES": "0"}, "MQTT_CLIENT_QUEUE_MESSAGES=0 is too small"),
        (
            {"DEBUG": "1", "DATABASE_URL": "postgres://u@db/x", "MQTT_INGEST_WRITERS": "0"},
            "MQTT_INGEST_WRITERS=0 is too small",
        ),
    ],
)
def test_bad_setting_fails_at_start_up_naming_the_variable(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    result = _load(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr


def test_production_settings_need_explicit_hosts_and_keys(tmp_path: Path) -> None:
    result = _load(
        tmp_path,
        DEBUG="0",
        SECRET_KEY="prod-secret",
        FIELD_ENCRYPTION_KEYS="hpdnnHBRvzbuDchnrkoSSfkaiNzqKhiIqPDfrFvM_4c=",
        ALLOWED_HOSTS="monitor.example.com, 10.0.0.5",
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["hosts"] == ["monitor.example.com", "10.0.0.5"]
    assert loaded["debug"] is False
