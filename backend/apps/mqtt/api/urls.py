"""/api/ routes, listed at /api/ itself; the OpenAPI schema at /api/schema/, Swagger UI at /api/docs/,
ReDoc at /api/redoc/."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from apps.alerts.api import urls as alerts_urls
from apps.mqtt.api import session, views

app_name = "api"

router = SimpleRouter(use_regex_path=False)
router.register("sites", views.SiteViewSet, basename="site")
router.register("connections", views.ConnectionViewSet, basename="connection")
router.register("logs", views.ConnectionLogViewSet, basename="log")

urlpatterns = [
    path("", session.ApiRootView.as_view(), name="root"),
    path("me/", session.MeView.as_view(), name="me"),
    path("ops/", session.OpsStateView.as_view(), name="ops"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("sites/<int:site_id>/sensors/", views.SiteSensorListView.as_view(), name="site-sensors"),
    path("sites/<int:site_id>/system-info/", views.SiteSystemInfoView.as_view(), name="site-system-info"),
    path("", include("apps.analytics.urls")),  # availability, downtime, reports (issue 12)
    *alerts_urls.urlpatterns,
    *router.urls,
]
