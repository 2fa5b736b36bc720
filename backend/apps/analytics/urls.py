"""The analytics routes, included under /api/ (apps/mqtt/api/urls.py) in its namespace."""

from __future__ import annotations

from django.urls import path

from apps.analytics import api

urlpatterns = [
    path("sites/<int:site_id>/availability/", api.SiteAvailabilityView.as_view(), name="site-availability"),
    path(
        "sites/<int:site_id>/sensors/availability/",
        api.SiteSensorsAvailabilityView.as_view(),
        name="site-sensors-availability",
    ),
    path("sites/<int:site_id>/downtime/", api.SiteDowntimeView.as_view(), name="site-downtime"),
]
urlpatterns += [
    path("reports/uptime.csv", api.UptimeReportView.as_view(), name="report-uptime"),
    path("reports/downtime.csv", api.DowntimeReportView.as_view(), name="report-downtime"),
    path("reports/logs.csv", api.LogReportView.as_view(), name="report-logs"),
    path("reports/readings.csv", api.ReadingReportView.as_view(), name="report-readings"),
]
