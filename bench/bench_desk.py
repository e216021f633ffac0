"""The desk: latency from a call's arrival to the offer frame on the secretary's WebSocket.

200 secretaries are connected (Channels' WebSocket consumer, in-memory layer,
SQLite in a temporary file); each call is created, dispatched to the idle-longest
trained secretary and timed until her socket receives the offer. Aim (issue 4):
p99 under 150 ms. Run: make bench.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

SECRETARIES = 200
CALLS = 300


def setup() -> None:
    folder = Path(tempfile.mkdtemp(prefix="permanence-bench-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "permanence.settings")
    os.environ.setdefault("PERMANENCE_DATA_DIR", str(folder))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


async def main() -> None:
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from permanence.accounts.models import Account, PhoneNumber
    from permanence.asgi import application
    from permanence.calls import services
    from permanence.users.models import Role, Training, User

    settings.ALLOWED_HOSTS = ["localhost"]

    def world() -> list[tuple[User, str]]:
        account = Account.objects.create(slug="bench", name="Bench", greeting="Bench, bonjour")
        PhoneNumber.objects.create(account=account, number="+33145009999")
        people = []
        for i in range(SECRETARIES):
            user = User.objects.create(username=f"s{i}", role=Role.SECRETARY)
            Training.objects.create(secretary=user, account=account)
            session = SessionStore()
            session[SESSION_KEY] = str(user.pk)
            session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.save()
            people.append((user, session.session_key))
        return people

    people = await sync_to_async(world)()
    sockets = {}
    for user, key in people:
        communicator = WebsocketCommunicator(
            application,
            "/ws/desk/",
            headers=[
                (b"cookie", f"sessionid={key}".encode()),
                (b"origin", b"http://localhost"),
                (b"host", b"localhost"),
            ],
        )
        connected, _ = await communicator.connect()
        assert connected
        sockets[user.pk] = communicator
    for user, _ in people:
        await sync_to_async(services.set_status)(user, "ready")
    users = {u.pk: u for u, _ in people}

    def arrive_and_dispatch() -> tuple[object, int]:
        call = services.call_arrived("+33145009999", "+33611111111")
        [(_, secretary_id)] = services.dispatch()
        return call, secretary_id

    def finish(call: object, secretary_id: int) -> None:
        user = users[secretary_id]
        services.accept(call, user)
        services.end_call(call, user)
        services.wrap_up(call, user, "message")

    latencies = []
    for _ in range(CALLS):
        started = time.perf_counter()
        call, secretary_id = await sync_to_async(arrive_and_dispatch)()
        frame = await sockets[secretary_id].receive_json_from(timeout=5)
        latencies.append(time.perf_counter() - started)
        assert frame["type"] == "offer"
        await sync_to_async(finish)(call, secretary_id)
    for communicator in sockets.values():
        await communicator.disconnect()
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(
        f"offer latency, {SECRETARIES} secretaries connected, {CALLS} calls: "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1] * 1000:.1f} ms  (aim: p99 < 150 ms)"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    setup()
    asyncio.run(main())
