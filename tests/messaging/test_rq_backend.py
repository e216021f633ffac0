"""The Redis/RQ task backend (TASKS_BACKEND=rq): the same outbox, sent by `permanence worker` running
RQ workers, with a worker killed by SIGKILL and an SMTP server answering 4xx for a while.

The killed worker leaves nothing behind: no process (RQ's ``--with-scheduler`` forks a scheduler that
a SIGKILL would orphan, still holding RQ's scheduler lock; the worker's rq-scheduler loop does that
work in-process instead), and the next worker releases the scheduled retries at once.

Needs Redis on 127.0.0.1:6379 (CI has it); skipped with a notice where it is not running.
"""

from __future__ import annotations

import collections
import email
import fcntl
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from messaging.conftest import Inbox, free_port
from permanence.messaging import retry
from waiting import wait_for

MESSAGES = 200
# a database of its own, emptied before and after; the SQLite and PostgreSQL runs of the suite each have
# theirs, since .ci/run runs them side by side
REDIS = f"redis://127.0.0.1:6379/{11 if os.environ.get('DATABASE_URL', '').startswith('postgres') else 12}"
FACTOR = 4  # time limits: the measured work times this
STARTUP = 60.0  # seconds a worker may take to start and send (a safety cap, not a timing)
LEASE, GRACE, RETRY_BASE = 2.0, 3.0, 0.5
BIN = Path(sys.executable).parent
SETUP = """
import django
django.setup()
from django.db import transaction
from permanence.accounts.models import Account
from permanence.messaging import outbox
account = Account.objects.create(slug="rq", name="RQ test", greeting="Bonjour")
for i in range({n}):
    with transaction.atomic():
        outbox.queue_message(account, subject=f"Message {{i}}", body=f"Corps {{i}}",
                             recipients=[f"r{{i}}@example.fr"])
"""


SWEEP = 0.5
SWEEP_SCRIPT = """
import json, time
import django
django.setup()
from datetime import timedelta
import django_rq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from permanence.accounts.models import Account
from permanence.messaging import outbox

account = Account.objects.create(slug="sweep", name="Sweep", greeting="Bonjour")
ids = []
for i in range(5):
    with transaction.atomic():
        message = outbox.queue_message(account, subject="S", body="B", recipients=[f"s{i}@example.fr"])
    ids.append(message.deliveries.get().pk)
redis, queue = django_rq.get_connection("default"), django_rq.get_queue("default")
job = {i: redis.get(f"permanence:task:permanence.messaging.tasks.deliver:{i}").decode() for i in ids}
waiting, taken, lost, started, stranded = ids
redis.lrem(queue.key, 1, job[taken])  # taken from the queue by a worker killed before it started it
redis.rpush(queue.key + ":intermediate", job[taken])
redis.lrem(queue.key, 1, job[lost])  # Redis lost it
redis.delete("rq:job:" + job[lost])
redis.lrem(queue.key, 1, job[started])  # started by a worker killed since
redis.hset("rq:job:" + job[started], "status", "started")
redis.lrem(queue.key, 1, job[stranded])  # held, and no scheduler released it
redis.hset("rq:job:" + job[stranded], "status", "scheduled")
redis.zadd("rq:scheduled:default", {job[stranded]: int(time.time()) - 60})
later = timezone.now() + timedelta(seconds=settings.MESSAGING_SWEEP_GRACE_SECONDS + 1)
first = outbox.sweep(later)
again = outbox.sweep(later + timedelta(seconds=settings.MESSAGING_SWEEP_GRACE_SECONDS + 1))
now_job = {i: redis.get(f"permanence:task:permanence.messaging.tasks.deliver:{i}").decode() for i in ids}
requeued = [i for i in ids if now_job[i] != job[i]]
seen = {"first": first, "again": again, "requeued": requeued, "ids": ids, "queue": redis.llen(queue.key)}
print(json.dumps(seen))
"""


def redis_running() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


pytestmark = [
    pytest.mark.skipif(
        not redis_running(), reason="Redis is not running on 127.0.0.1:6379: RQ backend test skipped"
    ),
    pytest.mark.skipif(
        os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="runs on its own SQLite file; the PostgreSQL run covers the rest of the suite",
    ),
]


@pytest.fixture
def redis_database() -> Iterator[None]:
    """The Redis database is shared by every checkout on this machine: one run of this test at a time
    (another developer's run would flush it under this one)."""
    with open(Path(tempfile.gettempdir()) / "permanence-test-rq-redis-12.lock", "ab") as lock:
        deadline = time.monotonic() + 600
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail("another run of this test held Redis database 12 for 10 minutes")
                time.sleep(0.2)
        yield


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS).flushdb()


def children(pid: int) -> set[int]:
    """Every descendant process of ``pid`` (read from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def latest_held(store) -> float:
    """When the last held retry is due (0 when none is held)."""
    last = store.zrange("rq:scheduled:default", -1, -1, withscores=True)
    return float(last[0][1]) if last else 0.0


def environment(
    tmp_path: Path, smtp_port: int, retry_base: float, lease: float = LEASE, grace: float = GRACE
) -> dict[str, str]:
    """A database of the test's own, RQ on its Redis database; migrated."""
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'rq.sqlite3'}",
        "PERMANENCE_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "permanence.settings",
        "TASKS_BACKEND": "rq",
        "REDIS_URL": REDIS,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "MESSAGING_RETRY_BASE_SECONDS": str(retry_base),
        "MESSAGING_LEASE_SECONDS": str(lease),
        "MESSAGING_SWEEP_GRACE_SECONDS": str(grace),
    }
    subprocess.run([BIN / "permanence", "migrate", "--no-input"], env=env, check=True, capture_output=True)
    return env


def outcomes(store) -> collections.Counter[str]:
    """What the finished jobs returned ("sent", "failed", "not_due"...)."""
    from rq.job import Job
    from rq.registry import FinishedJobRegistry

    return collections.Counter(
        Job.fetch(job_id, connection=store).return_value()
        for job_id in FinishedJobRegistry("default", connection=store).get_job_ids()
    )


def test_rq_backend_sends_everything_through_a_kill_and_4xx(tmp_path, redis_database):
    import redis

    flush_redis()
    store = redis.Redis.from_url(REDIS)
    port = free_port()
    env = environment(tmp_path, port, RETRY_BASE)
    inbox = Inbox()
    inbox.reply = "451 4.3.0 try again later"  # the first attempts fail: their retries are scheduled
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    log = (tmp_path / "worker.log").open("wb")

    launched_workers: list[subprocess.Popen[bytes]] = []

    def worker() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [BIN / "permanence", "worker", "--sweep-every", str(SWEEP)], env=env, stdout=log, stderr=log
        )
        launched_workers.append(process)
        return process

    def arrived() -> set[str]:
        return {e.rcpt_tos[0] for e in inbox.envelopes}

    try:
        # queued with the RQ backend: the tasks go to Redis when each transaction commits
        subprocess.run(
            [sys.executable, "-c", SETUP.format(n=MESSAGES)], env=env, check=True, capture_output=True
        )
        assert store.llen("rq:queue:default") == MESSAGES
        process, launched = worker(), time.monotonic()
        assert wait_for(lambda: inbox.attempts >= 10, STARTUP), "the worker never sent anything"
        startup = time.monotonic() - launched
        assert wait_for(lambda: store.zcard("rq:scheduled:default") > 0, STARTUP)  # retries held
        inbox.reply = None
        since = time.monotonic()
        assert wait_for(lambda: len(inbox.envelopes) >= MESSAGES // 3, STARTUP)
        rate = len(inbox.envelopes) / (time.monotonic() - since)
        inbox.reply = "451 4.3.0 try again later"  # more retries held when the worker dies
        # killed while a retry is held until a moment still to come: only the next worker can release it
        assert wait_for(lambda: latest_held(store) > time.time() + 0.3, STARTUP, step=0.01)
        descendants = children(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait()
        inbox.reply = None
        # nothing of the killed worker lives on, and it holds no RQ scheduler lock
        assert not [pid for pid in descendants if alive(pid)], "the killed worker left a process behind"
        assert not store.keys("rq:scheduler-lock:*")
        held = store.zcard("rq:scheduled:default")
        assert held > 0  # retries that the next worker must release
        process, relaunched = worker(), time.monotonic()
        remaining = MESSAGES - len(arrived())
        # with what the settings add: the killed delivery's lease, the grace before the sweep looks,
        # its period, and the longest backoff before a dead letter
        delays = LEASE + GRACE + 2 * SWEEP + RETRY_BASE * 2 ** (retry.MAX_ATTEMPTS - 2) * 1.2
        bound = FACTOR * (startup + remaining / rate) + delays
        assert wait_for(lambda: len(arrived()) == MESSAGES, bound, step=0.2), (
            f"{MESSAGES - len(arrived())} messages missing after {bound:.0f} s ({rate:.0f}/s measured)\n"
            + (tmp_path / "worker.log").read_text()[-3000:]
        )
        took = time.monotonic() - relaunched
        assert store.zcard("rq:scheduled:default") == 0  # every held retry was released
        # (that none is released early is the next test's: here a sweep may rightly queue a spare job
        # for a send slower than the short lease, which then finds its delivery not due)
        assert outcomes(store)["sent"] > 0
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        for leftover in launched_workers:  # a failed assertion must not leave a worker running
            if leftover.poll() is None:
                leftover.kill()
                leftover.wait()
        controller.stop()
        log.close()
        flush_redis()
    received = collections.Counter(
        email.message_from_bytes(e.original_content, policy=policy.default)["X-Permanence-Delivery"]
        for e in inbox.envelopes
    )
    duplicates = sum(count - 1 for count in received.values())
    print(
        f"RQ backend: {MESSAGES} messages, {len(inbox.envelopes)} e-mails, {duplicates} duplicate(s);"
        f" {rate:.0f}/s measured, {held} retries held at the kill, the rest after it in {took:.1f} s"
        f" (limit {bound:.0f} s)"
    )
    assert duplicates <= 1  # at most the one being sent when the worker was killed


def test_a_retry_held_on_rq_is_released_on_time_not_early(tmp_path, redis_database):
    """RQ keeps a scheduled time in whole seconds, cut down: a retry due at 12.7 s was released at 12 s,
    found its delivery not yet due and ended, leaving it to the sweep (a grace later). Held times are
    rounded up instead; with an empty queue each retry now runs when due, once."""
    import redis

    flush_redis()
    store = redis.Redis.from_url(REDIS)
    port, retry_base, count = free_port(), 2.0, 20  # retries spread over 1.6-2.4 s: most fall mid-second
    # a lease and a grace longer than the test: no sweep may queue a spare job (a send slowed by a busy
    # machine beyond a short lease would rightly get one, and that job would find its delivery not due)
    env = environment(tmp_path, port, retry_base, lease=120.0, grace=120.0)
    inbox = Inbox()
    inbox.reply = "451 4.3.0 try again later"
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    process = None
    try:
        subprocess.run(
            [sys.executable, "-c", SETUP.format(n=count)], env=env, check=True, capture_output=True
        )
        process = subprocess.Popen(
            [BIN / "permanence", "worker", "--sweep-every", str(SWEEP)], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        assert wait_for(lambda: inbox.attempts >= count, STARTUP), "the worker never sent anything"
        failed_by = time.monotonic()
        inbox.reply = None
        # each retry is due within 2.4 s of its failure; the scheduler loop looks every second
        bound = retry_base * 1.2 + 1.0 + 1.0
        assert wait_for(lambda: len(inbox.envelopes) == count, FACTOR * bound), len(inbox.envelopes)
        took = time.monotonic() - failed_by
        assert wait_for(lambda: outcomes(store)["sent"] == count, FACTOR * bound)  # the last one recorded
        done = outcomes(store)
    finally:
        if process is not None:
            process.kill()
            process.wait()
        controller.stop()
        flush_redis()
    print(f"RQ retries: {count} held, all sent {took:.1f} s after the failures; jobs: {dict(done)}")
    assert done == {"failed": count, "sent": count}  # no job released early to find nothing due


def test_the_sweep_on_rq_queues_again_only_the_jobs_really_lost(tmp_path, redis_database):
    """A job still in the queue waits; one a killed worker took from the queue (RQ's intermediate list),
    one Redis lost, one started by a killed worker, one held that no scheduler released: lost."""
    import json

    flush_redis()
    try:
        env = environment(tmp_path, free_port(), RETRY_BASE)
        out = subprocess.run(
            [sys.executable, "-c", SWEEP_SCRIPT], env=env, check=True, capture_output=True, text=True
        ).stdout
    finally:
        flush_redis()
    seen = json.loads(out.strip().splitlines()[-1])
    waiting, *lost = seen["ids"]
    assert seen["first"] == 4 and sorted(seen["requeued"]) == sorted(lost)
    assert seen["again"] == 0  # their new jobs wait in the queue: nothing more
    assert seen["queue"] == 5  # the one that waited, and the four new ones
