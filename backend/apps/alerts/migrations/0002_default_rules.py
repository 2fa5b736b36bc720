"""Default rules, so a fresh install alerts out of the box: alerts are recorded and shown in the app;
they are notified once an operator adds a channel to a rule."""

from django.db import migrations

DEFAULT_RULES = [
    # (name, kind, severity, for_seconds)
    ("Connection down for over a minute", "connection_down", "critical", 60),
    ("Site heartbeat missing", "heartbeat_missing", "critical", 0),
    ("Sensor offline for over 5 minutes", "sensor_offline", "warning", 300),
    ("Sensor stale for over 10 minutes", "sensor_stale", "warning", 600),
    ("Flapping: 10 changes in 5 minutes", "flapping", "warning", 0),
]


def create_rules(apps, schema_editor):
    AlertRule = apps.get_model("alerts", "AlertRule")
    for name, kind, severity, for_seconds in DEFAULT_RULES:
        AlertRule.objects.get_or_create(
            name=name,
            defaults={
                "kind": kind,
                "severity": severity,
                "for_seconds": for_seconds,
                "flap_changes": 10,
                "flap_minutes": 5,
            },
        )


def remove_rules(apps, schema_editor):
    AlertRule = apps.get_model("alerts", "AlertRule")
    AlertRule.objects.filter(name__in=[rule[0] for rule in DEFAULT_RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]

    operations = [migrations.RunPython(create_rules, remove_rules)]
