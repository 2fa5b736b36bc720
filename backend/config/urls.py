from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "Datalogger monitoring"
admin.site.site_title = "Datalogger monitoring"
admin.site.index_title = "Sites, connections and sensors"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
