"""How often the desk page asks /desk/poll: every 2 s without a socket, or when the socket cannot bring an
offer made by another process (the channel layer in the web process's memory); every 30 s with a socket
on a shared layer (Redis), where the socket brings every offer."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client, override_settings

REDIS_LAYER = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": []}}}


def _intervals(personas: Any) -> tuple[int, int]:
    client = Client()
    client.force_login(personas["secretary"])
    page = client.get("/desk/")
    assert page.status_code == 200
    found = re.search(r"pollWithout = (\d+), pollWith = (\d+)", page.content.decode())
    assert found, "the desk page says how often it polls"
    return int(found[1]), int(found[2])


def test_in_memory_layer_the_page_keeps_polling_every_two_seconds(personas: Any) -> None:
    assert _intervals(personas) == (2000, 2000)


def test_shared_layer_the_socket_brings_the_offers_and_the_poll_is_a_safety_net(personas: Any) -> None:
    with override_settings(CHANNEL_LAYERS=REDIS_LAYER):
        assert _intervals(personas) == (2000, 30000)
