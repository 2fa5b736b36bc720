from django.urls import path

from apps.mqtt.realtime.consumers import SiteConsumer, StatusConsumer

websocket_urlpatterns = [
    path("ws/mqtt/status/", StatusConsumer.as_asgi()),
    path("ws/mqtt/site/<int:site_id>/", SiteConsumer.as_asgi()),
]
