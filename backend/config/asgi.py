"""ASGI entry point: HTTP (Django), WebSockets (Channels, session-authenticated, origin-checked) and
the lifespan that runs the MQTT worker in single-process mode. Sockets are accepted from the page's
own origin only (scheme, host and port; apps/mqtt/realtime/origin.py)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()  # sets Django up before the imports below

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from apps.mqtt.realtime.origin import SameOriginValidator  # noqa: E402
from apps.mqtt.realtime.routing import websocket_urlpatterns  # noqa: E402
from apps.mqtt.worker.lifespan import WorkerLifespan  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        "lifespan": WorkerLifespan(),
    }
)
