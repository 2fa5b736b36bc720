"""The operator dashboard, mounted at /dashboard/ (config/urls.py)."""

from django.urls import path, re_path

from apps.mqtt.views import dashboard

app_name = "dashboard"

urlpatterns = [
    path("", dashboard.index, name="index"),
    path("state/", dashboard.state, name="state"),
    # Unknown actions do not match: 404, like unknown connections.
    re_path(
        r"^connections/(?P<pk>[0-9]{1,18})/(?P<action>start|stop|restart)/$",
        dashboard.control,
        name="control",
    ),
]
