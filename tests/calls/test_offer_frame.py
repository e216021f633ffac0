"""The offer frame's cost does not grow with the desks connected: an arrival offers its call in the same
number of queries whether one secretary is ready or twenty-one, and the desk's socket forwards the frame
without a query (bench/bench_offer.py times it through the real server with 200 desks open)."""

import asyncio
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connection, connections
from django.db.backends import utils
from django.test.utils import CaptureQueriesContext

import fresh_loop
from factories import make_user, session_key_for
from permanence.asgi import application
from permanence.calls import desk_events, services
from permanence.calls.models import Call
from permanence.users.models import Role, Training, User


def arrival_queries(django_capture_on_commit_callbacks, pushed):
    """The queries of one arrival, its dispatch and offer included; the call is then finished."""
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        call = services.call_arrived("01 45 00 00 01", "0622222222")
    call.refresh_from_db()
    assert call.offered_to_id is not None, "the call was not offered"
    offers = [(user, payload) for user, payload in pushed if payload["type"] == "offer"]
    assert offers[-1] == (call.offered_to_id, services.offer_payload(call))
    secretary = call.offered_to
    with django_capture_on_commit_callbacks(execute=True):
        services.accept(call, secretary)
        services.end_call(call, secretary)
        services.wrap_up(call, secretary, "message")
    return len(queries)


@pytest.mark.django_db
def test_an_arrival_offers_in_the_same_queries_whatever_the_ready_desks(
    personas, alpha, monkeypatch, django_capture_on_commit_callbacks
):
    pushed = []
    monkeypatch.setattr(services, "notify", lambda user, payload: pushed.append((user, payload)))
    with django_capture_on_commit_callbacks(execute=True):
        services.set_status(personas["secretary"], "ready")
    arrival_queries(django_capture_on_commit_callbacks, pushed)  # first use: caches, content types
    alone = arrival_queries(django_capture_on_commit_callbacks, pushed)
    for i in range(20):
        other = make_user(f"ready{i}", Role.SECRETARY)
        Training.objects.create(secretary=other, account=alpha)
        with django_capture_on_commit_callbacks(execute=True):
            services.set_status(other, "ready")
    crowded = arrival_queries(django_capture_on_commit_callbacks, pushed)
    assert crowded == alone
    assert Call.objects.filter(state="offered").count() == 0  # each offer was answered, none left over


class Counted:
    """Every query of every thread (the sockets' database work runs in the pool's threads)."""

    def __init__(self):
        self.count = 0
        self._execute = utils.CursorWrapper.execute

    def __enter__(self):
        counted, execute = self, self._execute

        def counting(cursor, sql, params=None):
            counted.count += 1
            return execute(cursor, sql, params)

        self._patch = mock.patch.object(utils.CursorWrapper, "execute", counting)
        self._patch.start()
        return self

    def __exit__(self, *exc):
        self._patch.stop()


@pytest.mark.django_db(transaction=True)
def test_the_desk_sockets_forward_an_offer_without_a_query(personas, alpha, settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    people = [personas["secretary"], *(make_user(f"desk{i}", Role.SECRETARY) for i in range(4))]
    keys = [session_key_for(user) for user in people]

    async def scenario():
        sockets = []
        for key in keys:
            socket = WebsocketCommunicator(
                application,
                "/ws/desk/",
                headers=[(b"cookie", f"sessionid={key}".encode()), (b"origin", b"http://localhost"),
                         (b"host", b"localhost")],
            )
            connected, _ = await socket.connect()
            assert connected
            sockets.append(socket)
        layer = get_channel_layer()
        with Counted() as counted:
            for i, user in enumerate(people):
                offer = desk_events.OfferMade(user.pk, 100 + i, "Cabinet Alpha", "alpha", "", False, None)
                message = {"type": "desk.event", "payload": offer.payload()}
                await layer.group_send(services.desk_group(user.pk), message)
            frames = [await socket.receive_json_from(timeout=5) for socket in sockets]
        assert [frame["call"] for frame in frames] == [100 + i for i in range(len(people))]
        assert counted.count == 0
        with Counted() as probe:  # the counter does see a query made in the pool's threads
            await sync_to_async(lambda: list(User.objects.all()[:1]), thread_sensitive=False)()
        assert probe.count == 1
        for socket in sockets:
            await socket.disconnect()
        await sync_to_async(connections.close_all)()

    fresh_loop.run(scenario(), bound=60)


@pytest.mark.django_db(transaction=True)
def test_an_offer_frame_does_not_wait_for_the_thread_of_the_pages(personas, alpha, settings):
    """Django's views run in one thread of the process (the pages' polls: 100 a second with 200 desks
    open); the socket's frames do not queue behind them."""
    import threading

    settings.ALLOWED_HOSTS = ["localhost"]
    secretary = personas["secretary"]
    key = session_key_for(secretary)

    async def scenario():
        socket = WebsocketCommunicator(
            application,
            "/ws/desk/",
            headers=[(b"cookie", f"sessionid={key}".encode()), (b"origin", b"http://localhost"),
                     (b"host", b"localhost")],
        )
        connected, _ = await socket.connect()
        assert connected
        busy, started = threading.Event(), threading.Event()

        def a_page():  # a view that holds the thread of the views until released
            started.set()
            busy.wait(30)

        page = asyncio.ensure_future(sync_to_async(a_page)())  # thread_sensitive: the views' thread
        while not started.is_set():
            await asyncio.sleep(0.01)
        try:
            offer = desk_events.OfferMade(secretary.pk, 7, "Cabinet Alpha", "alpha", "", False, None)
            await get_channel_layer().group_send(
                services.desk_group(secretary.pk), {"type": "desk.event", "payload": offer.payload()}
            )
            assert (await socket.receive_json_from(timeout=5))["call"] == 7
            await socket.send_json_to({"type": "ping", "sent": 1})
            assert (await socket.receive_json_from(timeout=5)) == {"type": "pong", "sent": 1}
        finally:
            busy.set()
            await page
        await socket.disconnect()
        await sync_to_async(connections.close_all)()

    fresh_loop.run(scenario(), bound=60)
