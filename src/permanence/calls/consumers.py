"""The desk's WebSocket: call offers and call updates pushed to the secretary's page."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.db import close_old_connections

from permanence.calls.services import desk_group
from permanence.policy import Perm, has_perm
from permanence.portal.access import session_passes_second_factor


def _passes(user: Any, session: Any) -> bool:
    close_old_connections()
    try:
        return session_passes_second_factor(user, session)
    finally:
        close_old_connections()


class DeskConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """One per open desk page. Sends what ``services.notify`` puts in the secretary's group."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not has_perm(user, Perm.USE_DESK):
            await self.close(code=4403)
            return
        passes = sync_to_async(_passes, thread_sensitive=False)  # side by side with the other sockets' checks
        if not await passes(user, self.scope.get("session")):
            await self.close(code=4401)  # signed in, but the second factor is still to pass
            return
        self.group = desk_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' own, without its ``close_old_connections`` before each message: that runs in the
        thread every Django view of the process runs in, so that an offer frame (and a pong) waited behind
        the pages' requests (200 desk pages polling every 2 s: seconds under load). Nothing here uses the
        database on that thread: ``connect`` checks the second factor in a thread of the pool, closing
        its own connections."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "sent": content.get("sent")})

    async def desk_event(self, event: dict[str, Any]) -> None:
        await self.send_json(event["payload"])
