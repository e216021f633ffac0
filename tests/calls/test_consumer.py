"""The desk's WebSocket: only desk roles connect; an offer reaches the offered secretary's socket."""


import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections

import fresh_loop
from factories import session_key_for
from permanence.asgi import application
from permanence.calls import services

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(user, device=None):
    key = await sync_to_async(session_key_for)(user, device)
    communicator = WebsocketCommunicator(
        application,
        "/ws/desk/",
        headers=[
            (b"cookie", f"sessionid={key}".encode()),
            (b"origin", b"http://localhost"),
            (b"host", b"localhost"),
        ],
    )
    connected, code = await communicator.connect()
    return communicator, connected, code


def test_offer_reaches_the_secretary_socket_and_clients_are_refused(personas, alpha, settings):
    settings.ALLOWED_HOSTS = ["localhost"]

    async def scenario():
        secretary, connected, _ = await connect(personas["secretary"])
        assert connected
        client, connected, code = await connect(personas["client_admin"])
        assert not connected
        await sync_to_async(services.set_status)(personas["secretary"], "ready")
        call = await sync_to_async(services.call_arrived)("01 45 00 00 01", "0611111111")
        await sync_to_async(services.dispatch)()
        frame = await secretary.receive_json_from(timeout=3)
        assert frame == {"type": "status", "status": "ready", "reason": "", "call": None}  # in order
        frame = await secretary.receive_json_from(timeout=3)
        assert frame["type"] == "offer" and frame["call"] == call.pk and frame["account"] == "Cabinet Alpha"
        assert frame["caller"] == "06 11 11 11 11"
        await secretary.send_json_to({"type": "ping", "sent": 1})
        assert (await secretary.receive_json_from(timeout=3)) == {"type": "pong", "sent": 1}
        await secretary.disconnect()
        await sync_to_async(connections.close_all)()  # the executor thread's connection

    fresh_loop.run(scenario(), bound=60)


def test_a_second_factor_still_to_pass_keeps_the_socket_closed(personas, alpha, settings):
    """Signed in with the password only: the pages send her to the code, and the socket, which would
    push caller numbers, refuses her too, until the session holds her verified device."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.ALLOWED_HOSTS = ["localhost"]
    settings.SECOND_FACTOR_REQUIRED = True
    secretary, admin = personas["secretary"], personas["admin"]
    device = TOTPDevice.objects.create(user=secretary, name="phone", confirmed=True)
    someone_elses = TOTPDevice.objects.create(user=personas["assistant"], name="phone", confirmed=True)

    async def scenario():
        for user, passed in ((secretary, None), (secretary, someone_elses), (admin, None)):
            socket, connected, code = await connect(user, passed)
            assert (connected, code) == (False, 4401), user
        socket, connected, _ = await connect(secretary, device)
        assert connected
        await socket.disconnect()
        await sync_to_async(connections.close_all)()

    fresh_loop.run(scenario(), bound=60)
