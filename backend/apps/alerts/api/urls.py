"""The alerts API's routes, included in /api/ by apps/mqtt/api/urls.py."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.alerts.api import views

router = SimpleRouter(use_regex_path=False)
router.register("alerts", views.AlertViewSet, basename="alert")

urlpatterns = [
    path(
        "sites/<int:site_id>/maintenance/", views.SiteMaintenanceListView.as_view(), name="site-maintenance"
    ),
    path(
        "sites/<int:site_id>/maintenance/<int:window_id>/",
        views.SiteMaintenanceDetailView.as_view(),
        name="site-maintenance-detail",
    ),
    *router.urls,
]
