"""The worker's periodic loops (permanence.loops): they survive any exception, each runs once per cluster.

Leader locks are tested with real processes killed by SIGKILL: a file lock (SQLite, one machine) always;
PostgreSQL's advisory locks when the suite runs on PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from permanence import loops
from waiting import wait_for

BIN = Path(sys.executable).parent
POLL = 0.01  # seconds between two looks at what a loop did
STARTUP = 60.0  # seconds a fresh Python process may take to import Django (a safety cap, not a timing)


def turns_possible(every: float, window: float) -> int:
    """The most turns a loop failing every time can make in ``window`` seconds, by its backoff."""
    turns, spent = 1, 0.0
    while spent + loops.backoff(every, turns) <= window:
        spent += loops.backoff(every, turns)
        turns += 1
    return turns


def test_backoff_doubles_per_failure_and_is_capped():
    assert loops.backoff(1.0, 0) == 1.0
    assert [loops.backoff(1.0, n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert loops.backoff(1.0, 40) == loops.MAX_BACKOFF
    assert loops.backoff(300.0, 5) == 300.0  # a long period is never cut short
    with pytest.raises(ValueError):
        loops.Loop("bad", 0, [])


def test_a_step_that_raises_once_keeps_its_loop_and_the_others_alive(tmp_path, caplog):
    every = 0.02
    runs = {"sweep": 0, "after": 0, "other": 0}

    def sweep():
        runs["sweep"] += 1
        if runs["sweep"] == 1:
            raise RuntimeError("the database went away")

    def after():
        runs["after"] += 1

    def other():
        runs["other"] += 1

    runner = loops.Runner(
        [
            loops.Loop("outbox", every, [("sweep", sweep), ("after", after)]),
            loops.Loop("dispatch", every, [("dispatch", other)]),
        ],
        loops.FileLeadership(tmp_path, "t-"),
    )
    with caplog.at_level(logging.WARNING, logger="permanence.loops"):
        runner.start()
        try:
            assert wait_for(lambda: runs["sweep"] >= 5 and runs["other"] >= 5, bound=500 * every, step=POLL)
        finally:
            runner.stop()
    failed = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in failed] == ["loop outbox: step sweep failed"]
    assert failed[0].exc_info[0] is RuntimeError
    stats = runner.stats["outbox"]
    assert stats.failures == 1 and stats.turns >= 5 and stats.last_success is not None
    assert runs["after"] == runs["sweep"]  # the turn that failed still ran its other step
    assert runner.stats["dispatch"].failures == 0


def test_a_step_that_always_raises_backs_off_without_spinning_or_stopping_the_others(tmp_path, caplog):
    every, window = 0.02, 1.5
    runs = {"broken": 0, "other": 0}

    def broken():
        runs["broken"] += 1
        raise ValueError("bug")

    def other():
        runs["other"] += 1

    runner = loops.Runner(
        [loops.Loop("rollups", every, [("calls", broken)]), loops.Loop("dispatch", every, [("go", other)])],
        loops.FileLeadership(tmp_path, "t-"),
    )
    with caplog.at_level(logging.ERROR, logger="permanence.loops"):
        started = time.monotonic()
        runner.start()
        time.sleep(window)  # the behaviour over a span of time is what is measured
        runs_then, elapsed = dict(runs), time.monotonic() - started
        runner.stop()
    assert 3 <= runs_then["broken"] <= turns_possible(every, elapsed) + 1
    assert runs_then["other"] >= runs_then["broken"] * 3  # the other loop kept its own pace
    assert runner.stats["rollups"].in_a_row == runner.stats["rollups"].failures == runs["broken"]
    assert sum(r.getMessage() == "loop rollups: step calls failed" for r in caplog.records) == runs["broken"]


def test_a_leadership_that_fails_is_logged_and_retried(tmp_path, caplog):
    class Flaky(loops.FileLeadership):
        calls = 0

        def hold(self, name):
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise OSError("no space left on device")
            return super().hold(name)

    runs = []
    loop = loops.Loop("outbox", 0.02, [("sweep", lambda: runs.append(1))])
    runner = loops.Runner([loop], Flaky(tmp_path, "t-"))
    with caplog.at_level(logging.ERROR, logger="permanence.loops"):
        runner.start()
        try:
            assert wait_for(lambda: len(runs) >= 2, bound=10.0, step=POLL)
        finally:
            runner.stop()
    assert "loop outbox: could not ask for its leader lock" in [r.getMessage() for r in caplog.records]


def test_file_leadership_excludes_another_holder_until_released(tmp_path):
    first, second = loops.FileLeadership(tmp_path, "x-"), loops.FileLeadership(tmp_path, "x-")
    assert first.hold("outbox") and first.hold("outbox")  # staying the leader
    assert not second.hold("outbox")
    assert second.hold("dispatch")  # one lock per loop
    first.close()
    assert second.hold("outbox")
    second.close()


LEADER = """
import os, sys, time
import django
django.setup()
from permanence import loops
trace, name, every = sys.argv[1], sys.argv[2], float(sys.argv[3])

def body():
    with open(trace, "a") as out:
        out.write(f"{os.getpid()}\\n")

runner = loops.Runner([loops.Loop(name, every, [("trace", body)])], loops.leadership()).start()
with open(trace + ".started", "a") as out:
    out.write(f"{os.getpid()}\\n")
time.sleep(3600)
"""


def lines(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def run_two_workers_and_kill_the_leader(tmp_path: Path, env: dict[str, str]) -> None:
    """Two processes run the same loop: one runs its body; killed, the other takes over within a bound
    derived from the period (it asks for the lock every period)."""
    every = 0.25
    trace, name = tmp_path / "trace", f"test-{uuid.uuid4().hex[:8]}"
    env = os.environ | env | {"DJANGO_SETTINGS_MODULE": "permanence.settings"}

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", LEADER, str(trace), name, str(every)], env=env)

    first = start()
    second = None
    try:
        led = wait_for(lambda: first.pid in lines(trace), bound=STARTUP, step=POLL)
        assert led, "the first worker never led"
        second = start()
        assert wait_for(lambda: second.pid in lines(Path(f"{trace}.started")), bound=STARTUP, step=POLL)
        mark = len(lines(trace))
        # 8 more turns
        assert wait_for(lambda: len(lines(trace)) >= mark + 8, bound=8 * every * 20, step=POLL)
        assert set(lines(trace)) == {first.pid}, "the body ran in both workers"
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed = time.monotonic()
        bound = 4 * every
        assert wait_for(lambda: second.pid in lines(trace), bound=bound * 10, step=POLL), "nobody took over"
        took = time.monotonic() - killed
        assert took <= bound, f"the other worker took over after {took:.2f} s (bound {bound:.2f} s)"
        after = lines(trace)[lines(trace).index(second.pid):]
        assert set(after) == {second.pid}
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


def test_a_loop_runs_in_one_worker_and_another_takes_over_when_it_is_killed_sqlite(tmp_path):
    database = tmp_path / "shared.sqlite3"
    run_two_workers_and_kill_the_leader(
        tmp_path, {"DATABASE_URL": f"sqlite:///{database}", "PERMANENCE_DATA_DIR": str(tmp_path)}
    )
    assert list(tmp_path.glob(".shared.sqlite3.loop-test-*.lock")), "the lock file sits beside the database"


def postgres_url() -> str:
    settings = connection.settings_dict
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_loop_runs_in_one_worker_and_another_takes_over_when_it_is_killed_postgres(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL advisory locks: run the suite with DATABASE_URL=postgres://...")
    run_two_workers_and_kill_the_leader(
        tmp_path, {"DATABASE_URL": postgres_url(), "PERMANENCE_DATA_DIR": str(tmp_path)}
    )


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_leadership_two_sessions_and_a_session_that_dies():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL advisory locks: run the suite with DATABASE_URL=postgres://...")
    name = f"test-{uuid.uuid4().hex[:8]}"
    first, second = loops.PostgresLeadership(), loops.PostgresLeadership()
    try:
        assert first.hold(name) and first.hold(name)
        assert not second.hold(name)
        with first._connection.cursor() as cursor:  # the leader's session ends (its process killed...)
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert wait_for(lambda: second.hold(name), bound=10.0, step=0.05)
        assert not first.hold(name)  # it sees its session gone, reconnects, and does not lead
    finally:
        first.close()
        second.close()


@pytest.mark.django_db(transaction=True)
def test_a_rollup_backlog_never_delays_an_escalation(alpha, tmp_path, monkeypatch):
    """The rollups take minutes (blocked here until released): urgent messages still escalate."""
    from permanence.messaging import outbox
    from permanence.messaging.management.commands import worker
    from permanence.messaging.models import EscalationPolicy, Message
    from permanence.reporting import rollups

    release = threading.Event()
    monkeypatch.setattr(rollups, "sweep", lambda: release.wait(600))
    EscalationPolicy.objects.create(account=alpha, delay_minutes=15, steps=["boss@alpha.example"])
    with transaction.atomic():
        message = outbox.queue_message(
            alpha, subject="Fuite", body="B", recipients=["anne@alpha.example"], urgent=True,
            now=timezone.now() - timedelta(minutes=16),
        )
    options = {"sweep_every": 30.0, "escalation_every": 0.05, "rollups_every": 0.05,
               "calendars_every": 60.0, "dispatch_every": 1.0, "retention_every": 600.0}
    chosen = [loop for loop in worker.worker_loops(options) if loop.name in ("rollups", "escalation")]
    runner = loops.Runner(chosen, loops.FileLeadership(tmp_path, "t-")).start()
    try:
        # in-memory counters only: SQLite's shared in-memory test database locks whole tables
        assert wait_for(lambda: runner.stats["escalation"].turns >= 2, bound=60.0, step=POLL)
        assert runner.stats["rollups"].turns == 0  # still inside its first, endless turn
    finally:
        release.set()
        runner.stop()
    message.refresh_from_db()
    assert message.escalation_level == 1
    assert Message.objects.get(parent=message).deliveries.get().address == "boss@alpha.example"


def test_the_worker_refuses_a_period_that_is_not_a_positive_number_of_seconds():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="'soon' is not a number of seconds"):
        call_command("worker", "--sweep-every", "soon")
    for bad in ("0", "-1", "nan", "1e9"):
        with pytest.raises(CommandError, match="above 0, at most 86400"):
            call_command("worker", "--dispatch-every", bad)


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_lock_sessions_stay_outside_the_pool():
    """The leader locks' session is the process's own (named, with keepalives), not a pool slot: a pooled
    one would keep a slot for good and leak one at each reconnection, until no request could get any."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's pool: run the suite with DATABASE_URL=postgres://...")
    lead = loops.PostgresLeadership()
    try:
        for _ in range(3 * settings.DATABASE_POOL_MAX + 1):
            assert lead.hold("outside-the-pool")
            assert lead._connection.execute("SHOW application_name").fetchone() == ("permanence loops",)
            assert getattr(lead._connection, "_pool", None) is None
            lead._drop()
        with connection.cursor() as cursor:  # the pool still serves
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
    finally:
        lead.close()
