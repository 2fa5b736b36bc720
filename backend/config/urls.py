from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from apps.mqtt.views import ops

admin.site.site_header = "Datalogger monitoring"
admin.site.site_title = "Datalogger monitoring"
admin.site.index_title = "Sites, connections and sensors"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("dashboard/", include("apps.mqtt.urls")),
    path("api/", include("apps.mqtt.api.urls")),
    path("metrics", ops.metrics, name="metrics"),
    path("healthz", ops.healthz, name="healthz"),
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
]
