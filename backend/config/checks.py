"""System checks of this project's own production settings (`manage.py check --deploy`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

W001 = Warning(
    "METRICS_TOKEN is not set: /metrics answers signed-in staff only, so Prometheus cannot scrape it.",
    hint="Set METRICS_TOKEN to a long random value (`make secret-key` makes one) and give it to the "
    "scraper as 'Authorization: Bearer <token>'.",
    id="dlmon.W001",
)


@register(Tags.security, deploy=True)
def metrics_token_set(
    *, app_configs: Sequence[AppConfig] | None, databases: Sequence[str] | None, **kwargs: Any
) -> list[CheckMessage]:
    if settings.DEBUG or settings.METRICS_TOKEN:
        return []
    return [W001]
