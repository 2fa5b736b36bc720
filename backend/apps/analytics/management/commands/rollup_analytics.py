"""Roll up the closed hours of uptime, re-roll hours of maintenance planned after the fact, and prune
raw rows and roll-ups past their retention (apps/analytics/services.py). The MQTT worker runs the
same job periodically; this command is for cron, a catch-up or a check."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from apps.analytics.services import run_rollups


class Command(BaseCommand):
    help = "Roll up uptime of closed hours and prune raw rows past ANALYTICS_RAW_RETENTION_DAYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--max-hours",
            type=int,
            default=24 * 40,
            help="Hours rolled up at most in this run (a first run catches up from the oldest row).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = run_rollups(now=timezone.now(), max_hours=options["max_hours"])
        pruned = ", ".join(f"{name} {count}" for name, count in report.pruned.items()) or "nothing"
        self.stdout.write(
            f"Rolled up {report.hours} hour(s), re-rolled {report.rerolled_hours} for changed maintenance; "
            f"pruned: {pruned}."
        )
