"""Read-side queries of the monitoring data, each limited to what a user may see.

Plain functions returning querysets (callers add filters, ordering and pagination); every one starts
from ``sites_visible_to(user)``, so nothing here can show a site the user may not see. Query counts
are fixed: related rows come through ``select_related``, annotations or prefetches, never per row.
The sensor counts at the end are the one definition of a site's counts (total / online / stale /
offline) for every reader: the API, the operations view and the worker's liveness sweep.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Prefetch, Q, QuerySet

from apps.mqtt.models import (
    READING_RING_SIZE,
    ConnectionLog,
    MqttConnection,
    SensorData,
    SensorDevice,
    SystemInfo,
)
from apps.mqtt.sensor_shape import sensor_counts
from apps.sites.models import Site
from apps.sites.selectors import sites_visible_to

User = AbstractBaseUser | AnonymousUser


def _visible_site_ids(user: User) -> QuerySet[Site, int]:
    """The visible sites' ids as a subquery (``sites_visible_to`` may be DISTINCT over a join)."""
    return sites_visible_to(user).values_list("pk", flat=True)


def sites_with_status(user: User) -> QuerySet[Site]:
    """Visible sites with their connection (or none) and customer joined, and their sensors counted
    by status in the same query: ``sensors_total``, ``sensors_online``, ``sensors_stale``,
    ``sensors_offline``."""
    return (
        Site.objects.filter(pk__in=_visible_site_ids(user))
        .select_related("customer", "mqtt_connection")
        .annotate(**sensor_count_annotations("sensors"))
        .order_by("name", "pk")
    )


def visible_sites(user: User) -> QuerySet[Site]:
    """Visible sites, plain (for lookups that only need to know the site exists for the user)."""
    return Site.objects.filter(pk__in=_visible_site_ids(user))


def latest_readings() -> QuerySet[SensorData]:
    """A sensor's last readings, newest first (at most the ring's size, even if a shrunk retention
    left older slots behind)."""
    return SensorData.objects.order_by("-timestamp", "-id")


def sensors_of_site(site: Site) -> QuerySet[SensorDevice]:
    """A site's sensors by name, each with ``latest`` = its last readings, newest first, fetched by
    one prefetch query for the whole page (the query count does not grow with the sensor count)."""
    return (
        SensorDevice.objects.filter(site=site)
        .prefetch_related(
            Prefetch("readings", queryset=latest_readings()[:READING_RING_SIZE], to_attr="latest")
        )
        .order_by("device_name", "pk")
    )


def system_info_of_site(site: Site) -> SystemInfo | None:
    return SystemInfo.objects.filter(site=site).first()


def connections_visible_to(user: User) -> QuerySet[MqttConnection]:
    """Connections of visible sites, with their site and subscribed topics."""
    return (
        MqttConnection.objects.filter(site__in=_visible_site_ids(user))
        .select_related("site")
        .prefetch_related("topics")
        .order_by("site__name", "pk")
    )


def logs_visible_to(user: User) -> QuerySet[ConnectionLog]:
    """Connection logs of visible sites, newest first, with connection, site and actor joined."""
    return (
        ConnectionLog.objects.filter(mqtt_connection__site__in=_visible_site_ids(user))
        .select_related("mqtt_connection__site", "actor")
        .order_by("-timestamp", "-id")
    )


# ---------------------------------------------------------------- sensor counts (one definition)


def sensor_count_annotations(sensors: str) -> dict[str, Count]:
    """Annotations counting the sensors reached by the ``sensors`` path, by status, in the query
    itself: ``sensors_total``, ``sensors_online``, ``sensors_stale``, ``sensors_offline``."""
    annotations = {"sensors_total": Count(sensors)}
    for status in SensorDevice.Status.values:
        annotations[f"sensors_{status}"] = Count(sensors, filter=Q(**{f"{sensors}__status": status}))
    return annotations


def annotated_sensor_counts(row: Any) -> dict[str, int]:
    """The counts of a row annotated by ``sensor_count_annotations``, in the clients' shape."""
    return {
        "total": row.sensors_total,
        **{s: getattr(row, f"sensors_{s}") for s in SensorDevice.Status.values},
    }


def sensor_counts_of_sites(site_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Each site's sensor counts in the clients' shape, in one grouped query."""
    counts_by_site = {site_id: sensor_counts(()) for site_id in site_ids}
    grouped = (
        SensorDevice.objects.filter(site_id__in=list(counts_by_site))
        .values_list("site_id", "status")
        .annotate(n=Count("id"))
        .order_by()  # the model's ordering would join the GROUP BY
    )
    for site_id, status, sensors in grouped:
        counts_by_site[site_id][status] += sensors
        counts_by_site[site_id]["total"] += sensors
    return counts_by_site
