from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models

from apps.sites.validators import validate_time_zone, validate_topic_level


class Customer(models.Model):
    """An organisation that owns sites. Its members see its sites; staff see every site."""

    name = models.CharField(max_length=200, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="customers",
        blank=True,
        help_text="Users who may see this customer's sites.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Site(models.Model):
    """A monitored location with one datalogger; its code is the datalogger's MQTT topic prefix."""

    name = models.CharField(max_length=200)
    code = models.CharField(
        max_length=100,
        unique=True,
        validators=[validate_topic_level],
        help_text="Topic prefix of the site's datalogger: one MQTT topic level, e.g. SITE042.",
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        related_name="sites",
        null=True,
        blank=True,
        help_text="Owner of the site. Sites without a customer are visible to staff only.",
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="Zone of the datalogger's clock, used for timestamps sent without a zone.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["customer", "name"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def zoneinfo(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class MaintenanceWindow(models.Model):
    """Planned work at a site: alerts are silenced and the time is left out of uptime."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="maintenance_windows")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(
        max_length=200, blank=True, help_text="What is being done, e.g. a firmware upgrade."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["site", "ends_at"], name="maintenance_by_site_end")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="maintenance_ends_after_start",
                violation_error_message="A maintenance window must end after it starts.",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.site.code} maintenance {self.starts_at:%Y-%m-%d %H:%M} to {self.ends_at:%Y-%m-%d %H:%M}"
        )

    def covers(self, moment: dt.datetime) -> bool:
        return self.starts_at <= moment < self.ends_at

    @property
    def duration(self) -> dt.timedelta:
        return self.ends_at - self.starts_at
