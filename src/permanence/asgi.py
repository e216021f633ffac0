"""ASGI entry point: HTTP through Django, WebSockets (the desk) through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "permanence.settings")

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.urls import path  # noqa: E402

django_asgi_app = get_asgi_application()

from permanence.calls.consumers import DeskConsumer  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter([
        path("ws/desk/", DeskConsumer.as_asgi()),
    ]))),
})
