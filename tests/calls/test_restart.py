"""The web process that holds the simulated callers' lines is killed (SIGKILL) while calls wait: when it
starts again, no call stays "queued" for good. Real processes on a database file of their own."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from messaging.conftest import free_port
from waiting import wait_for

BIN = Path(sys.executable).parent
SETUP = """
import django
django.setup()
from datetime import time
from permanence.accounts.models import Account, PhoneNumber, WeeklyHours
account = Account.objects.create(slug="nuit", name="Permanence de nuit", greeting="Bonjour",
                                 closed_on_holidays=False, default_recipients="accueil@nuit.example")
for day in range(7):
    WeeklyHours.objects.create(account=account, weekday=day, opens=time(0), closes=time(0))
PhoneNumber.objects.create(account=account, number="+33145009999")
"""


def states(db: Path) -> dict[str, int]:
    with sqlite3.connect(db, timeout=20) as connection:
        rows = connection.execute("SELECT state, COUNT(*) FROM calls_call GROUP BY state").fetchall()
    return dict(rows)


def answers(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="runs on its own SQLite file (the processes share it); the logic is the same on PostgreSQL",
)
def test_a_killed_web_process_leaves_no_call_waiting_for_good(tmp_path):
    db = tmp_path / "restart.sqlite3"
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{db}",
        "PERMANENCE_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "permanence.settings",
    }
    subprocess.run([BIN / "permanence", "migrate", "--no-input"], env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", SETUP], env=env, check=True, capture_output=True)
    port = free_port()

    def serve() -> subprocess.Popen[bytes]:
        # a call a second on average; no secretary: they all wait (the simulated patience: 90 s mean)
        return subprocess.Popen(
            [BIN / "permanence", "serve", "--port", str(port), "--simulate", "3600"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    first = serve()
    try:
        assert wait_for(lambda: states(db).get("queued", 0) >= 5, 60, step=0.2), "five calls never waited"
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    stranded = states(db).get("queued", 0)
    assert stranded >= 5  # the callers' lines died with the process; the database still says "queued"
    with sqlite3.connect(db) as connection:
        old = [row[0] for row in connection.execute("SELECT id FROM calls_call")]
    second = serve()
    try:
        assert wait_for(lambda: answers(port), 60, step=0.2), "the restarted server never answered"
        with sqlite3.connect(db, timeout=20) as connection:
            left = connection.execute(
                f"SELECT id, state FROM calls_call WHERE id IN ({','.join(map(str, old))})"
            ).fetchall()
    finally:
        second.terminate()
        second.wait(timeout=20)
    assert {state for _id, state in left} <= {"abandoned", "diverted", "done"}, left
    assert sum(1 for _id, state in left if state == "abandoned") >= stranded
