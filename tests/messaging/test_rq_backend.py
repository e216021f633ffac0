"""The Redis/RQ task backend (TASKS_BACKEND=rq): the same outbox, sent by `permanence worker` running
RQ workers, with a worker killed by SIGKILL and an SMTP server answering 4xx for a while.

Needs Redis on 127.0.0.1:6379 (CI has it); skipped with a notice where it is not running.
"""

from __future__ import annotations

import collections
import email
import os
import signal
import socket
import subprocess
import sys
import time
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from messaging.conftest import Inbox, free_port

MESSAGES = 200
REDIS = "redis://127.0.0.1:6379/13"  # a database of its own, emptied before and after
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


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS).flushdb()


def test_rq_backend_sends_everything_through_a_kill_and_4xx(tmp_path):
    flush_redis()
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'rq.sqlite3'}",
        "PERMANENCE_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "permanence.settings",
        "TASKS_BACKEND": "rq",
        "REDIS_URL": REDIS,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "MESSAGING_RETRY_BASE_SECONDS": "0.5",
        "MESSAGING_LEASE_SECONDS": "2",
        "MESSAGING_SWEEP_GRACE_SECONDS": "3",
    }
    subprocess.run([BIN / "permanence", "migrate", "--no-input"], env=env, check=True, capture_output=True)
    inbox = Inbox()
    inbox.reply = "451 4.3.0 try again later"  # the first attempts fail: RQ's scheduler runs the retries
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    log = (tmp_path / "worker.log").open("wb")

    def worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [BIN / "permanence", "worker", "--sweep-every", "0.5"], env=env, stdout=log, stderr=log
        )

    try:
        # queued with the RQ backend: the tasks go to Redis when each transaction commits
        subprocess.run(
            [sys.executable, "-c", SETUP.format(n=MESSAGES)], env=env, check=True, capture_output=True
        )
        import redis

        assert redis.Redis.from_url(REDIS).llen("rq:queue:default") == MESSAGES
        process = worker()
        time.sleep(4)
        inbox.reply = None
        deadline = time.monotonic() + 20
        while len(inbox.envelopes) < MESSAGES // 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        process = worker()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            arrived = {e.rcpt_tos[0] for e in inbox.envelopes}
            if len(arrived) == MESSAGES:
                break
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        controller.stop()
        log.close()
        flush_redis()
    received = collections.Counter(
        email.message_from_bytes(e.original_content, policy=policy.default)["X-Permanence-Delivery"]
        for e in inbox.envelopes
    )
    recipients = {e.rcpt_tos[0] for e in inbox.envelopes}
    assert recipients == {f"r{i}@example.fr" for i in range(MESSAGES)}, (tmp_path / "worker.log").read_text()[
        -3000:
    ]
    duplicates = sum(count - 1 for count in received.values())
    print(f"RQ backend: {MESSAGES} messages, {len(inbox.envelopes)} e-mails, {duplicates} duplicate(s)")
    assert duplicates <= 1  # at most the one being sent when the worker was killed
