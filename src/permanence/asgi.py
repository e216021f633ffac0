"""ASGI entry point: HTTP through Django, WebSockets (the desk) through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "permanence.settings")

from asgiref.sync import sync_to_async  # noqa: E402
from channels.auth import AuthMiddleware, get_user  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import CookieMiddleware, SessionMiddleware  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from django.urls import path  # noqa: E402

django_asgi_app = get_asgi_application()

from permanence.calls.consumers import DeskConsumer  # noqa: E402


def _user(scope):  # type: ignore[no-untyped-def]
    close_old_connections()
    try:
        return get_user.func(scope)
    finally:
        close_old_connections()


class DeskAuthMiddleware(AuthMiddleware):  # type: ignore[misc]
    """Channels' own, except that the user is read in a thread of the pool, not in the one thread that
    every socket's database work shares: a wave of desks connecting again (a web node restarted) is
    checked side by side, within the database pool, rather than one after another past the handshake's
    timeout."""

    async def resolve_scope(self, scope):  # type: ignore[no-untyped-def]
        scope["user"]._wrapped = await sync_to_async(_user, thread_sensitive=False)(scope)


def _stack(inner):  # type: ignore[no-untyped-def]
    return CookieMiddleware(SessionMiddleware(DeskAuthMiddleware(inner)))


application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": AllowedHostsOriginValidator(_stack(URLRouter([
        path("ws/desk/", DeskConsumer.as_asgi()),
    ]))),
})

from permanence.warmup import warm_up  # noqa: E402

warm_up()  # templates compiled, catalogues loaded, then the heap frozen out of the collector's reach
