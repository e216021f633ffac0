"""Workers killed with SIGKILL, an SMTP server that is down then refuses: no message is lost.

1,000 messages are queued in a database of the test's own (a SQLite file, or a PostgreSQL database
created and dropped by the test when the suite runs on PostgreSQL); `permanence worker` processes are
killed at random moments three times and restarted, the SMTP server is stopped for a while, then
answers 4xx (retried); at first it answered 5xx (dead letters, which the operator sends again);
finally every message has reached it, and duplicates are bounded: at most one per kill (the delivery
being sent when the worker died), as docs/messaging.md says.

The time limits come from the work: the send rate and the start-up time measured in the first rounds,
times a generous factor, plus the delays the settings impose (lease, grace, sweep, retry backoff).
"""

from __future__ import annotations

import collections
import email
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller

from messaging.conftest import Inbox, free_port
from permanence.messaging import retry
from waiting import wait_for

MESSAGES = 1000
FACTOR = 4  # time limits: the measured work times this
STARTUP = 60.0  # seconds a worker may take to start and send (a safety cap, not a timing)
LEASE, GRACE, SWEEP, RETRY_BASE = 2.0, 3.0, 0.5, 0.2
BIN = Path(sys.executable).parent
SETUP = """
import django
django.setup()
from django.db import transaction
from permanence.accounts.models import Account
from permanence.messaging import outbox
account = Account.objects.create(slug="crash", name="Crash test", greeting="Bonjour")
for i in range({n}):
    with transaction.atomic():
        outbox.queue_message(account, subject=f"Message {{i}}", body=f"Corps {{i}}",
                             recipients=[f"r{{i}}@example.fr"])
"""
RETRY_DEAD = """
import django
django.setup()
from permanence.messaging import outbox
from permanence.messaging.models import Delivery
for delivery in Delivery.objects.filter(status="dead"):
    outbox.retry_dead(delivery)
"""


@contextmanager
def database(tmp_path: Path) -> Iterator[str]:
    """A database for this test alone, on the engine the suite runs on."""
    suite = os.environ.get("DATABASE_URL", "")
    if not suite.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'crash.sqlite3'}"
        return
    import psycopg

    name = f"permanence_crash_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(urlsplit(suite)._replace(path="/postgres").geturl(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlsplit(suite)._replace(path=f"/{name}").geturl()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scalar(url: str, sql: str) -> Any:
    """One value read straight from the test's database (no Django start-up per look)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=20) as db:
            return db.execute(sql).fetchone()[0]
    import psycopg

    with psycopg.connect(url) as db:
        return db.execute(sql).fetchone()[0]


def dead_letters(url: str) -> int:
    return int(scalar(url, "SELECT count(*) FROM messaging_delivery WHERE status = 'dead'"))


def keys(inbox: Inbox) -> collections.Counter[str]:
    return collections.Counter(
        email.message_from_bytes(e.original_content, policy=policy.default)["X-Permanence-Delivery"]
        for e in inbox.envelopes
    )


def test_killed_workers_and_a_failing_server_lose_nothing(tmp_path):
    with database(tmp_path) as url:
        run(tmp_path, url)


def run(tmp_path: Path, url: str) -> None:
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": url,
        "PERMANENCE_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "permanence.settings",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "MESSAGING_RETRY_BASE_SECONDS": str(RETRY_BASE),
        "MESSAGING_LEASE_SECONDS": str(LEASE),
        "MESSAGING_SWEEP_GRACE_SECONDS": str(GRACE),
    }
    subprocess.run([BIN / "permanence", "migrate", "--no-input"], env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", SETUP.format(n=MESSAGES)], env=env, check=True, capture_output=True)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    rng = random.Random(11)
    log = (tmp_path / "worker.log").open("ab")

    launched_workers: list[subprocess.Popen[bytes]] = []

    def worker() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [BIN / "permanence", "worker", "--sweep-every", str(SWEEP)], env=env, stdout=log, stderr=log
        )
        launched_workers.append(process)
        return process

    kills, sent_while_measured, measured, startups = 0, 0, 0.0, []
    started = time.monotonic()
    try:
        for round_ in range(3):
            if round_ == 0:  # the server first refuses for good: dead letters
                inbox.reply = "554 5.7.1 Rejected"
            offered = inbox.attempts
            process, launched = worker(), time.monotonic()
            assert wait_for(lambda offered=offered: inbox.attempts > offered, STARTUP), "nothing sent"
            startups.append(time.monotonic() - launched)
            if round_ == 0:
                assert wait_for(lambda: inbox.attempts >= 20, STARTUP)
                inbox.reply = None
            before, since = len(inbox.envelopes), time.monotonic()
            time.sleep(rng.uniform(1.0, 3.0))  # the moment of the kill, at random
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            measured += time.monotonic() - since
            sent_while_measured += len(inbox.envelopes) - before
            kills += 1
        rate = sent_while_measured / measured
        assert rate > 0, "nothing was sent in the first rounds"
        controller.stop()  # the server is down for a while...
        process = worker()
        time.sleep(1.5)
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        inbox.reply = "451 4.3.0 Busy, try later"  # ...then answers "try later"
        time.sleep(1.0)
        inbox.reply = None
        # what the settings add to the work: a killed delivery's lease, the grace before the sweep
        # looks, its period, and the longest backoff a delivery can reach before it is a dead letter
        delays = LEASE + GRACE + 2 * SWEEP + RETRY_BASE * 2 ** (retry.MAX_ATTEMPTS - 2) * 1.2
        remaining = MESSAGES - len(keys(inbox))
        bound = FACTOR * (max(startups) + remaining / rate) + delays
        finishing = time.monotonic()
        assert wait_for(lambda: len(keys(inbox)) + dead_letters(url) >= MESSAGES, bound, step=0.25), (
            f"{MESSAGES - len(keys(inbox))} messages neither arrived nor are dead letters after {bound:.0f} s"
            f" ({rate:.0f} messages/s measured)"
        )
        finished = time.monotonic() - finishing
        dead = dead_letters(url)
        assert dead > 0, "the 5xx answers made no dead letter"
        subprocess.run([sys.executable, "-c", RETRY_DEAD], env=env, check=True)  # the operator's "send again"
        retried = time.monotonic()
        bound_again = FACTOR * dead / rate + delays
        assert wait_for(lambda: len(keys(inbox)) >= MESSAGES, bound_again, step=0.25), (
            f"{MESSAGES - len(keys(inbox))} messages sent again by hand never arrived in {bound_again:.0f} s"
        )
        finished_again = time.monotonic() - retried
        process.terminate()
        process.wait(timeout=STARTUP)
    finally:
        for leftover in launched_workers:  # a failed assertion must not leave a worker running
            if leftover.poll() is None:
                leftover.kill()
                leftover.wait()
        controller.stop()
        log.close()
    received = keys(inbox)
    assert len(received) == MESSAGES, f"{MESSAGES - len(received)} messages never arrived"
    duplicates = sum(count - 1 for count in received.values())
    tasks = int(scalar(url, "SELECT count(*) FROM django_tasks_database_dbtaskresult"))
    attempts = int(scalar(url, "SELECT count(*) FROM messaging_deliveryevent WHERE status = 'sending'"))
    print(
        f"\n{MESSAGES} messages, {kills} kills, {dead} dead letters sent again: all arrived,"
        f" {duplicates} duplicates; {rate:.0f} messages/s measured; the rest in {finished:.1f} s"
        f" (limit {bound:.0f} s), those sent again in {finished_again:.1f} s (limit {bound_again:.0f} s);"
        f" {tasks} tasks for {attempts} attempts; {time.monotonic() - started:.0f} s in all"
    )
    assert duplicates <= kills, f"{duplicates} duplicates for {kills} kills"
    # no pile of spare tasks: each task made an attempt, but for a few races with a killed worker
    assert tasks <= attempts + 2 * kills, f"{tasks} tasks for {attempts} attempts"
