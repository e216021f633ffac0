"""Workers killed with SIGKILL, an SMTP server that is down then refuses: no message is lost.

1,000 messages are queued in a database file; `permanence worker` processes are
killed at random moments three times and restarted, the SMTP server is stopped
for a while, then answers 4xx (retried); at first it answered 5xx (dead
letters, which the operator sends again); finally every message has reached it, and
duplicates are bounded: at most one per kill (the delivery being sent when the
worker died), as docs/messaging.md says.
"""

from __future__ import annotations

import collections
import email
import os
import random
import signal
import subprocess
import sys
import time
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from messaging.conftest import Inbox, free_port

MESSAGES = 1000
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
COUNT_DEAD = """
import django
django.setup()
from permanence.messaging.models import Delivery
print(Delivery.objects.filter(status="dead").count())
"""


def dead_letters(env: dict[str, str]) -> int:
    out = subprocess.run([sys.executable, "-c", COUNT_DEAD], env=env, capture_output=True, text=True).stdout
    return int(out.strip() or 0)


def keys(inbox: Inbox) -> collections.Counter[str]:
    return collections.Counter(
        email.message_from_bytes(e.original_content, policy=policy.default)["X-Permanence-Delivery"]
        for e in inbox.envelopes
    )


@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="runs on its own SQLite file; the PostgreSQL run covers the rest of the suite",
)
def test_killed_workers_and_a_failing_server_lose_nothing(tmp_path):
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'crash.sqlite3'}",
        "PERMANENCE_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "permanence.settings",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "MESSAGING_RETRY_BASE_SECONDS": "0.2",
        "MESSAGING_LEASE_SECONDS": "2",
        "MESSAGING_SWEEP_GRACE_SECONDS": "3",
    }
    subprocess.run([BIN / "permanence", "migrate", "--no-input"], env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", SETUP.format(n=MESSAGES)], env=env, check=True, capture_output=True)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    rng = random.Random(11)

    def worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [BIN / "permanence", "worker", "--sweep-every", "0.5"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    kills = 0
    try:
        for round_ in range(3):
            if round_ == 0:  # the server first refuses for good: dead letters
                inbox.reply = "554 5.7.1 Rejected"
            process = worker()
            if round_ == 0:
                refused_until = time.monotonic() + 30
                while inbox.attempts < 20 and time.monotonic() < refused_until:
                    time.sleep(0.02)
                inbox.reply = None
            time.sleep(rng.uniform(1.0, 3.0))
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            kills += 1
        controller.stop()  # the server is down for a while...
        process = worker()
        time.sleep(1.5)
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        inbox.reply = "451 4.3.0 Busy, try later"  # ...then answers "try later"
        time.sleep(1.0)
        inbox.reply = None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and len(keys(inbox)) + dead_letters(env) < MESSAGES:
            time.sleep(0.5)
        dead = dead_letters(env)
        assert dead > 0, "the 5xx answers made no dead letter"
        subprocess.run([sys.executable, "-c", RETRY_DEAD], env=env, check=True)  # the operator's "send again"
        while len(keys(inbox)) < MESSAGES and time.monotonic() < deadline:
            time.sleep(0.5)
        process.terminate()
        process.wait(timeout=20)
    finally:
        controller.stop()
    received = keys(inbox)
    assert len(received) == MESSAGES, f"{MESSAGES - len(received)} messages never arrived"
    duplicates = sum(count - 1 for count in received.values())
    dup_keys = [k for k, c in received.items() if c > 1]
    report = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import django; django.setup()\n"
                "from permanence.messaging.models import Delivery\n"
                f"for d in Delivery.objects.filter(key__in={dup_keys!r}):\n"
                "    print(d.attempts, list(d.events.values_list('status', 'at', 'detail')))\n"
            ),
        ],
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    print(
        f"\n{MESSAGES} messages, {kills} kills, {dead} dead letters sent again:"
        f" all arrived, {duplicates} duplicates"
    )
    assert duplicates <= kills, f"{duplicates} duplicates for {kills} kills\n{report}"
