"""Hourly roll-ups kept for ANALYTICS_HOURLY_RETENTION_DAYS, daily ones for the roll-up retention:
windows inside the hourly retention stay exact to the hour, older ones are exact to the day and say
so; the setting is validated at start-up."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.analytics.availability import site_availability
from apps.analytics.models import UptimeRollup
from apps.analytics.selectors import Window
from apps.analytics.services import run_rollups
from apps.analytics.tests.conftest import NOW
from apps.analytics.tests.test_rollups import close, figures, history
from apps.mqtt.models import MqttConnection

BACKEND = Path(__file__).resolve().parents[3]
# With 31 days of hourly roll-ups at NOW (2025-06-15 12:00), hourly rows are kept from 2025-05-15.
HOURLY_FROM = dt.datetime(2025, 5, 15, tzinfo=dt.UTC)
OLD_DAYS = Window(start=HOURLY_FROM - dt.timedelta(days=2), end=HOURLY_FROM, bucket="day", now=NOW)


def uptimes(body: dict[str, Any]) -> dict[str, Any]:
    """The figures that do not depend on how much unknown time was counted as excluded."""
    return {
        "connection": body["connection"]["uptime_percentage"],
        "heartbeat": body["heartbeat"]["uptime_percentage"],
        "sensors": body["sensors"]["uptime_percentage"],
        "down": [body["connection"]["down_seconds"], body["heartbeat"]["down_seconds"]],
        "buckets": [
            (b["connection_uptime"], b["heartbeat_uptime"], b["sensors_uptime"]) for b in body["buckets"]
        ],
    }


@pytest.fixture
def pruned_history(monitored_site: MqttConnection, settings: Any) -> dict[str, Any]:
    """33 days of history, its figures from the raw rows, then rolled up and pruned with 2 days of
    raw rows and 31 days of hourly roll-ups."""
    history(monitored_site)
    raw: dict[str, Any] = {
        "hours": figures(monitored_site, "hour"),
        "old_days": uptimes(site_availability(site=monitored_site.site, window=OLD_DAYS)),
    }
    settings.ANALYTICS_RAW_RETENTION_DAYS = 2
    settings.ANALYTICS_HOURLY_RETENTION_DAYS = 31
    raw["report"] = run_rollups(now=NOW, max_hours=24 * 40)
    return raw


@pytest.mark.django_db
def test_hourly_rollups_older_than_the_hourly_retention_are_pruned_and_daily_ones_kept(
    monitored_site: MqttConnection, pruned_history: dict[str, Any]
) -> None:
    hourly = UptimeRollup.objects.filter(period="hour")
    daily = UptimeRollup.objects.filter(period="day")

    assert pruned_history["report"].pruned["hourly_rollups"] > 0
    assert not hourly.filter(start__lt=HOURLY_FROM).exists()
    assert hourly.filter(start=HOURLY_FROM).exists()
    assert set(daily.filter(start__lt=HOURLY_FROM).values_list("start", flat=True)) == {
        HOURLY_FROM - dt.timedelta(days=2),
        HOURLY_FROM - dt.timedelta(days=1),
    }


@pytest.mark.django_db
def test_a_30_day_window_inside_the_hourly_retention_stays_exact_to_the_hour(
    monitored_site: MqttConnection,
    pruned_history: dict[str, Any],
    customer_client: APIClient,
    frozen_now: Any,
) -> None:
    body = customer_client.get(f"/api/sites/{monitored_site.site_id}/availability/?window=30d").json()

    assert close(figures(monitored_site, "hour"), pruned_history["hours"])
    assert (body["resolution"], body["start"]) == ("hour", "2025-05-16T12:00:00Z")


@pytest.mark.django_db
def test_a_window_older_than_the_hourly_retention_is_exact_to_the_day_and_says_so(
    monitored_site: MqttConnection,
    pruned_history: dict[str, Any],
    customer_client: APIClient,
    frozen_now: Any,
) -> None:
    body = customer_client.get(
        f"/api/sites/{monitored_site.site_id}/availability/"
        "?start=2025-05-13T10:00:00Z&end=2025-05-14T15:00:00Z&bucket=hour"
    ).json()

    assert (body["resolution"], body["bucket"]) == ("day", "day")
    assert (body["start"], body["end"]) == ("2025-05-13T00:00:00Z", "2025-05-15T00:00:00Z")
    assert close(uptimes(body), pruned_history["old_days"])
    assert pruned_history["old_days"]["sensors"] not in (None, 0.0, 100.0)


def _settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "ANALYTICS_", "DATABASE"))}
    clean.update(DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", **env)
    probe = "import config.settings as s; print(s.ANALYTICS_HOURLY_RETENTION_DAYS)"
    return subprocess.run(
        [sys.executable, "-c", probe], cwd=BACKEND, env=clean, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("env", "hourly"),
    [
        ({}, 90),
        ({"ANALYTICS_ROLLUP_RETENTION_DAYS": "60"}, 60),
        ({"ANALYTICS_HOURLY_RETENTION_DAYS": "35"}, 35),
    ],
)
def test_hourly_retention_defaults_to_90_days_or_the_rollup_retention_if_shorter(
    tmp_path: Path, env: dict[str, str], hourly: int
) -> None:
    result = _settings(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == hourly


@pytest.mark.parametrize(
    "env",
    [
        {"ANALYTICS_HOURLY_RETENTION_DAYS": "500"},  # above the roll-up retention (400)
        {"ANALYTICS_HOURLY_RETENTION_DAYS": "20"},  # below the raw retention (35)
    ],
)
def test_an_hourly_retention_outside_raw_and_rollup_retention_fails_naming_it(
    tmp_path: Path, env: dict[str, str]
) -> None:
    result = _settings(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert (
        f"ANALYTICS_HOURLY_RETENTION_DAYS={env['ANALYTICS_HOURLY_RETENTION_DAYS']} must be between"
        in result.stderr
    )
