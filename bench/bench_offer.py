"""The desk, end to end: a call's arrival to the offer frame on the chosen secretary's WebSocket.

The real server (``permanence serve``, Daphne, on a free 127.0.0.1 port, with the Redis channel layer as a
cluster's web node has), 200 secretaries signed in (sessions made directly) with their desk's WebSocket
open on it and ready; calls arrive one after another through the telephony adapter's entry point,
``calls.services.call_arrived``, called in this process as the telephony process calls it (a thread of
its own, ``DISPATCH=inline``: the offer is made on the arrival's commit); each is timed from the call to
``call_arrived`` to the offer frame read on the socket of the secretary it was offered to, then answered,
ended and wrapped up so that she is ready again (not timed).

Peers, measured in the same run on the same socket, right after each offer:

- ping: the desk's own ``ping`` frame and its ``pong`` (the socket and the server, no database);
- push: a frame pushed to her desk group from this process (``services.notify``: the channel layer's
  hop, Redis then the server, with no call and no database), the offer's last leg alone.

Aim (issue 21): p99 under 150 ms with 200 secretaries connected, on a quiet machine.

SQLite in a temporary file by default; PostgreSQL (or any database) with DATABASE_URL, used as given
(migrated; this run's accounts, numbers and secretaries are named after it). Skipped when Redis does not
answer on 127.0.0.1:6379. Run: make bench, or
PYTHONPATH=src .venv/bin/python bench/bench_offer.py [--secretaries 200] [--calls 300].
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import multiprocessing
import os
import pstats
import queue
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests" / "cluster"), str(ROOT / "tests")]

import harness  # noqa: E402  (tests/cluster/harness.py: the server process, the WebSocket client)

AIM_MS = 150.0
LOST_SECONDS = 10.0  # an offer frame not read by then is counted lost (the layer drops a message after 60 s)
POLL_SECONDS = 30.0  # a desk page, its socket open on Redis, polls this often (desk/views.py)
REDIS_DBS = (9, 8, 7, 6, 5, 4, 3, 2, 1)  # a logical database that nothing else uses (never 11, 12, 13)


def free_redis_db() -> int | None:
    """The first empty one of ``REDIS_DBS`` (Redis not answering: None)."""
    import redis

    for db in REDIS_DBS:
        try:
            if redis.Redis(host="127.0.0.1", port=6379, db=db, socket_connect_timeout=3).dbsize() == 0:
                return db
        except Exception:  # no server, refused
            return None
    return None


def environment(folder: Path, redis_db: int) -> dict[str, str]:
    run = os.environ.get("DATABASE_URL") or f"sqlite:///{folder / 'bench.sqlite3'}"
    return {
        "DJANGO_SETTINGS_MODULE": "permanence.settings",
        "DATABASE_URL": run,
        "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "DISPATCH": "inline",
        "SECRET_KEY": "permanence-bench-offer-not-secret",
        "PERMANENCE_DATA_DIR": str(folder),
        "SECURE_COOKIES": "0",
        "SECOND_FACTOR_REQUIRED": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def world(
    tag: str, secretaries: int, accounts: int, trained_on: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """``accounts`` accounts open round the clock, each with a number; ``secretaries`` secretaries, each
    trained on ``trained_on`` of them (the same share of every account), signed in."""
    from datetime import time as clock

    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from permanence.accounts.models import Account, PhoneNumber, WeeklyHours
    from permanence.users.models import Role, Training, User

    rng = random.Random(21)
    numbers = [f"+3314599{i:04d}" for i in range(accounts)]
    with transaction.atomic():
        PhoneNumber.objects.filter(number__in=numbers, released_at__isnull=True).update(
            released_at=timezone.now()
        )
        made = Account.objects.bulk_create(
            Account(slug=f"{tag}-{i}", name=f"Bench {tag} {i}", greeting="Bonjour", closed_on_holidays=False)
            for i in range(accounts)
        )
        midnight = clock(0)  # opens at midnight and closes at midnight: the whole day
        WeeklyHours.objects.bulk_create(
            WeeklyHours(account=a, weekday=day, opens=midnight, closes=midnight)
            for a in made
            for day in range(7)
        )
        PhoneNumber.objects.bulk_create(
            PhoneNumber(account=a, number=n) for a, n in zip(made, numbers, strict=True)
        )
        password = make_password(None)
        users = User.objects.bulk_create(
            User(
                username=f"{tag}-s{i}",
                role=Role.SECRETARY,
                first_name="Bench",
                last_name=str(i),
                password=password,
            )
            for i in range(secretaries)
        )
        Training.objects.bulk_create(
            Training(secretary=u, account=a)
            for u in users
            for a in rng.sample(made, min(trained_on, accounts))
        )
    now = timezone.now()
    closed = [a.slug for a in made if not a.opening_status(now).is_open]
    if closed:
        raise SystemExit(f"bench_offer: accounts closed now ({closed[0]}...): the calls would be turned away")
    from factories import session_key_for

    out = [{"id": user.pk, "session": session_key_for(user), "user": user} for user in users]
    return out, numbers


class Inbox:
    """What the sockets read, by what the bench waits for: offers by call, pongs and pushes by token."""

    def __init__(self) -> None:
        self.futures: dict[tuple[str, Any], asyncio.Future[tuple[float, int]]] = {}

    def future(self, key: tuple[str, Any]) -> asyncio.Future[tuple[float, int]]:
        if key not in self.futures:
            self.futures[key] = asyncio.get_running_loop().create_future()
        return self.futures[key]

    async def read(self, socket: harness.DeskSocket, user_id: int) -> None:
        with contextlib.suppress(harness.SocketClosed):
            while True:
                frame = await socket.receive()
                at = time.perf_counter()
                kind = frame.get("type")
                key = ("offer", frame.get("call")) if kind == "offer" else (kind, frame.get("sent"))
                if kind in ("offer", "pong", "bench"):
                    future = self.future(key)
                    if not future.done():
                        future.set_result((at, user_id))

    async def wait(self, key: tuple[str, Any], bound: float = 10.0) -> tuple[float, int]:
        try:
            return await asyncio.wait_for(asyncio.shield(self.future(key)), bound)
        finally:
            self.futures.pop(key, None)


class Pages:
    """What the open desk pages do beside their sockets: GET /desk/poll every 2 s each; in a process of its
    own, so that the bench's loop, which reads the sockets, is not the one slowed down by the polls."""

    def __init__(self, port: int, sessions: list[str], every: float) -> None:
        self.port, self.sessions, self.every = port, sessions, every
        self.process: multiprocessing.Process | None = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.stopping, self.results = context.Event(), context.Queue()
        self.process = context.Process(
            target=poll_pages, args=(self.port, self.sessions, self.every, self.stopping, self.results)
        )
        self.process.start()

    def stop(self) -> tuple[list[float], int]:
        """Their latencies (seconds) and how many failed."""
        if self.process is None:
            return [], 0
        self.stopping.set()
        try:
            latencies, failed = self.results.get(timeout=60)
        except queue.Empty:
            latencies, failed = [], -1
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
        return latencies, failed


def poll_pages(port: int, sessions: list[str], every: float, stopping: Any, results: Any) -> None:
    latencies: list[float] = []
    failed = 0

    async def page(session: str) -> None:
        nonlocal failed
        headers = {"Cookie": f"sessionid={session}"}
        await asyncio.sleep(random.random() * every)
        while not stopping.is_set():
            sent = time.perf_counter()
            try:
                ok = (await harness.http(port, "GET", "/desk/poll", headers)).status == 200
            except ConnectionError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - sent)
            failed += not ok
            await asyncio.sleep(max(0.0, every - (time.perf_counter() - sent)))

    async def main() -> None:
        tasks = [asyncio.create_task(page(s)) for s in sessions]
        while not stopping.is_set():
            await asyncio.sleep(0.2)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    results.put((latencies, failed))


def ms(values: list[float], share: float) -> float:
    return harness.percentile(values, share) * 1000


def line(name: str, values: list[float]) -> str:
    return (
        f"{name}: p50 {ms(values, 0.5):6.1f} ms  p95 {ms(values, 0.95):6.1f} ms  "
        f"p99 {ms(values, 0.99):6.1f} ms  max {max(values) * 1000:6.1f} ms  (n={len(values)})"
    )


async def run(args: argparse.Namespace, port: int, people: list[dict[str, Any]], numbers: list[str]) -> int:
    from django.db import close_old_connections, connection
    from django.test.utils import CaptureQueriesContext

    from permanence.calls import services
    from permanence.calls.models import Call

    inbox = Inbox()
    started = time.perf_counter()
    sockets: dict[int, harness.DeskSocket] = {}
    opening = asyncio.Semaphore(20)

    async def open_one(person: dict[str, Any]) -> None:
        async with opening:
            sockets[person["id"]] = await harness.DeskSocket.open(port, f"sessionid={person['session']}")

    await asyncio.gather(*(open_one(p) for p in people))
    readers = [asyncio.create_task(inbox.read(s, uid)) for uid, s in sockets.items()]
    print(f"{len(sockets)} desk sockets open in {time.perf_counter() - started:.1f} s")
    users = {p["id"]: p["user"] for p in people}

    def db(function: Any, *a: Any) -> Any:
        close_old_connections()
        try:
            return function(*a)
        finally:
            close_old_connections()

    for person in people:
        await asyncio.to_thread(db, services.set_status, person["user"], "ready")
    pages = Pages(port, [p["session"] for p in people], args.poll_every)
    if args.poll_every:  # once they are all ready (setting 200 desks ready is not what is timed)
        pages.start()
        await asyncio.sleep(args.poll_every)

    profile = cProfile.Profile() if args.profile else None

    def arrive(number: str, caller: str) -> tuple[int, int, float]:
        cpu = time.thread_time()
        with CaptureQueriesContext(connection) as queries:
            if profile is not None:
                profile.enable()
            try:
                call = services.call_arrived(number, caller)
            finally:
                if profile is not None:
                    profile.disable()
        return call.pk, len(queries), time.thread_time() - cpu

    def offered(call_id: int) -> int | None:
        return Call.objects.filter(pk=call_id).values_list("offered_to_id", flat=True).get()

    def finish(call_id: int, secretary_id: int) -> None:
        user = users[secretary_id]
        services.accept(call_id, user)
        services.end_call(call_id, user)
        services.wrap_up(call_id, user, "message")

    rng = random.Random(3)
    offers, arrivals, cpus, pings, pushes, queries = [], [], [], [], [], []
    wrong = 0
    lost: list[int] = []
    try:
        for n in range(args.warmup + args.calls):
            caller = "+3375" + "".join(rng.choice("0123456789") for _ in range(7))
            t0 = time.perf_counter()
            call_id, counted, cpu = await asyncio.to_thread(db, arrive, rng.choice(numbers), caller)
            returned = time.perf_counter()
            try:
                at, reader = await inbox.wait(("offer", call_id), LOST_SECONDS)
            except TimeoutError:
                at = reader = None
            offered_to = await asyncio.to_thread(db, offered, call_id)
            if at is None:  # no frame: the call is still hers, in the database (her page's poll shows it)
                lost.append(call_id)
                if offered_to:
                    await asyncio.to_thread(db, finish, call_id, offered_to)
                continue
            assert offered_to is not None
            wrong += reader != offered_to
            socket = sockets[offered_to]
            t1 = time.perf_counter()
            await socket._send(0x1, f'{{"type": "ping", "sent": {n}}}'.encode())
            pong, _ = await inbox.wait(("pong", n))
            t2 = time.perf_counter()
            await asyncio.to_thread(db, services.notify, offered_to, {"type": "bench", "sent": n})
            pushed, _ = await inbox.wait(("bench", n))
            if n >= args.warmup:
                offers.append(at - t0)
                arrivals.append(returned - t0)
                cpus.append(cpu)
                pings.append(pong - t1)
                pushes.append(pushed - t2)
                queries.append(counted)
            await asyncio.to_thread(db, finish, call_id, offered_to)
            await asyncio.sleep(args.gap)
    finally:
        polls, failed_polls = pages.stop()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for socket in sockets.values():
            socket.close()

    if not offers:
        print(f"no offer frame read: {len(lost)} offers lost")
        return 1
    p99, ping99, push99 = ms(offers, 0.99), ms(pings, 0.99), ms(pushes, 0.99)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    pages = f"their pages polling every {args.poll_every:g} s" if args.poll_every else "no polling"
    print(f"offer latency, {len(sockets)} desk sockets open ({pages}), {len(offers)} calls, {args.database}:")
    print("  " + line("arrival -> offer frame      ", offers))
    print("  " + line("  of which call_arrived     ", arrivals))
    print("  " + line("  its CPU (this thread)     ", cpus))
    print("  " + line("peer: ping -> pong          ", pings))
    print("  " + line("peer: push -> frame (Redis) ", pushes))
    if polls:
        print("  " + line("their pages' /desk/poll     ", polls) + f", {failed_polls} failed")
    print(
        f"  queries per arrival (arrival, dispatch to {len(sockets)} ready desks, offer): "
        f"min {min(queries)}, max {max(queries)}"
    )
    print(
        f"  ratio p99 offer / p99 ping {p99 / ping99:.1f}x, offer / push {p99 / push99:.1f}x; "
        f"aim p99 < {AIM_MS:g} ms: {'met' if p99 < AIM_MS else 'NOT met'} ({p99:.1f} ms); "
        f"load average {load} on {os.cpu_count()} CPUs"
    )
    if profile is not None:
        print("where call_arrived spends its time (cProfile, every call, warm-up included):")
        profile.dump_stats(args.profile)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
        print(f"(the whole profile: {args.profile}, python -m pstats {args.profile})")
    if lost:
        print(f"  {len(lost)} offers with no frame within {LOST_SECONDS:g} s (the calls {lost[:10]}...)")
    if wrong:
        print(f"  {wrong} offers read on another secretary's socket than the one offered")
        return 1
    return 1 if lost else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--secretaries", type=int, default=200, help="desk sockets open (default 200)")
    parser.add_argument("--calls", type=int, default=300, help="calls timed (default 300)")
    parser.add_argument("--warmup", type=int, default=10, help="calls first, not timed (default 10)")
    parser.add_argument("--accounts", type=int, default=50, help="accounts (default 50)")
    parser.add_argument("--trained-on", type=int, default=10, help="accounts per secretary (default 10)")
    parser.add_argument(
        "--poll-every",
        type=float,
        default=POLL_SECONDS,
        metavar="SECONDS",
        help=f"each page polls /desk/poll this often (default {POLL_SECONDS:g}: a page, socket on Redis)",
    )
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between calls (default 0.02)")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="profile call_arrived: print where it spends its time, "
        "and write the whole profile to FILE (pstats)",
    )
    args = parser.parse_args()
    if (
        min(args.secretaries, args.calls, args.accounts, args.trained_on) < 1
        or args.warmup < 0
        or args.gap < 0
    ):
        parser.error("the counts must be positive, the warm-up and the gap not negative")
    redis_db = free_redis_db()
    if redis_db is None:
        print("skipped: no empty Redis database answers on 127.0.0.1:6379 (the layer of several processes)")
        return 0
    folder = Path(tempfile.mkdtemp(prefix="permanence-bench-offer-"))
    env = environment(folder, redis_db)
    os.environ.update(env)
    args.database = env["DATABASE_URL"].split(":", 1)[0]
    import django

    django.setup()
    from io import StringIO

    from django.core.management import call_command

    call_command("migrate", verbosity=0, stdout=StringIO())
    tag = f"offer{os.getpid()}"
    people, numbers = world(tag, args.secretaries, args.accounts, args.trained_on)
    from django.db import connections

    connections.close_all()
    port = harness.free_port()
    server = harness.Proc(
        "web",
        [*harness.permanence_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        {**os.environ, **env, "PYTHONPATH": str(ROOT / "src")},
        folder,
        harness.http_ready(port),
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped (timeout, kill): stop the server too
    server.start()
    code = 1
    try:
        server.wait_ready()
        code = asyncio.run(run(args, port, people, numbers))
        return code
    finally:
        server.stop()
        import redis

        redis.Redis(host="127.0.0.1", port=6379, db=redis_db).flushdb()  # this run's groups and channels
        if code == 0:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"the server's log: {folder / 'web.log'}")


if __name__ == "__main__":
    sys.exit(main())
