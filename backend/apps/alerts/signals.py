"""A change to a rule, a channel or a rule's channels gives the evaluator's row a new rules version,
in the same transaction as the change: the evaluator, which keeps the rules between ticks, reloads
them on its next tick. Writes that send no signal (``QuerySet.update``, raw SQL) are picked up by
the evaluator's periodic reload instead (``RULES_MAX_AGE`` in evaluator.py)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from apps.alerts.models import AlertRule, EvaluatorState, NotificationChannel, new_rules_version


def bump_rules_version() -> None:
    EvaluatorState.objects.filter(pk=EvaluatorState.SINGLETON).update(rules_version=new_rules_version())


@receiver(post_save, sender=AlertRule)
@receiver(post_delete, sender=AlertRule)
@receiver(post_save, sender=NotificationChannel)
@receiver(post_delete, sender=NotificationChannel)
def _rules_or_channels_changed(**kwargs: Any) -> None:
    bump_rules_version()


@receiver(m2m_changed, sender=AlertRule.channels.through)
def _rule_channels_changed(action: str, **kwargs: Any) -> None:
    if action.startswith("post_"):
        bump_rules_version()
