from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "apps.analytics"
    label = "analytics"
    verbose_name = "Uptime analytics"

    def ready(self) -> None:
        from apps.analytics import signals  # noqa: F401  (connects the maintenance receivers)
