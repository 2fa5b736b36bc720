from __future__ import annotations

import importlib

import pytest
from django.apps import apps

_defaults = importlib.import_module("apps.alerts.migrations.0002_default_rules")


@pytest.fixture(autouse=True)
def default_rules(db: None) -> None:
    """The rules a fresh install has (the data migration's); a transactional test elsewhere may have
    flushed them."""
    _defaults.create_rules(apps, None)
