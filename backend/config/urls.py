from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from apps.mqtt.views import ops

admin.site.site_header = "Datalogger monitoring"
admin.site.site_title = "Datalogger monitoring"
admin.site.index_title = "Sites, connections and sensors"

urlpatterns = [
    path("admin/", admin.site.urls),
    # The staff dashboard became the app's operations view.
    re_path(r"^dashboard/", RedirectView.as_view(url="/ops/", permanent=False)),
    path("api/", include("apps.mqtt.api.urls")),
    path("metrics", ops.metrics, name="metrics"),
    path("healthz", ops.healthz, name="healthz"),
    path("", include("apps.web.urls")),
]
