"""Periodic background loops (`permanence worker`): each survives any exception and runs once per cluster.

A loop is a name, a period and its steps. Every worker process runs a thread per loop, but a turn
runs only where the loop's *leader lock* is held:

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) per loop name, taken on a
  connection of its own that the leader keeps open. PostgreSQL releases it when that session ends
  (the process killed, the machine gone), and another worker takes it at its next turn.
- SQLite (one machine): an exclusive ``flock`` on a file beside the database file, which the kernel
  releases when its process dies, however it dies.

A worker that is not the leader tries again each period, so a dead leader is replaced within about one
period of its loop. The leader lock spares duplicate work; it is not what keeps the data right: every
step is safe to run twice at once (row locks, idempotent writes), which is what happens for a moment
if a leader's lock connection breaks while its step is running.

A step that raises is logged with the loop's and the step's names; the other steps of the turn still
run, and the next turn comes after a backoff (the period doubled per failure in a row, at most
``MAX_BACKOFF`` seconds or the period if longer): a broken step never spins, never stops its loop,
and never delays the other loops, which have threads of their own.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from django.conf import settings
from django.db import close_old_connections, connections

log = logging.getLogger(__name__)

MAX_BACKOFF = 60.0  # seconds: the longest wait after failures in a row (or the period, if longer)


@dataclass(frozen=True)
class Loop:
    """``steps`` are (name, function) pairs run in order each turn."""

    name: str
    every: float
    steps: Sequence[tuple[str, Callable[[], Any]]]
    # Waits between turns (seconds, the runner's stop event); None: the period. A ``Wakeup`` ends the
    # wait as soon as another process asks for a turn.
    wait: Callable[[float, threading.Event], None] | None = None

    def __post_init__(self) -> None:
        if not self.every > 0:
            raise ValueError(f"loop {self.name!r}: the period must be a positive number of seconds")


def backoff(every: float, failures: int) -> float:
    """Seconds before the next turn after ``failures`` failed turns in a row (0: the period)."""
    if failures <= 0:
        return every
    return min(every * 2.0**failures, max(every, MAX_BACKOFF))


class Leadership(Protocol):
    def hold(self, name: str) -> bool:
        """Become, or stay, the leader of loop ``name``; never waits. True while this process leads."""

    def close(self) -> None:
        """Give up every lock held (the other workers take over at their next turn)."""


class FileLeadership:
    """One file per loop, locked with ``flock``: works across processes on one machine, released by the
    kernel when the process dies. Two instances in one process also exclude each other (each opens
    the file anew, and Linux ties the lock to the open file)."""

    def __init__(self, directory: Path, prefix: str) -> None:
        self.directory, self.prefix = directory, prefix
        self._files: dict[str, IO[bytes]] = {}
        self._mutex = threading.Lock()

    def path(self, name: str) -> Path:
        return self.directory / f"{self.prefix}{name}.lock"

    def hold(self, name: str) -> bool:
        with self._mutex:
            if name in self._files:
                return True
            self.directory.mkdir(parents=True, exist_ok=True)
            handle = open(self.path(name), "ab")  # noqa: SIM115 - kept open while leading
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return False
            self._files[name] = handle
            return True

    def close(self) -> None:
        with self._mutex:
            for handle in self._files.values():
                handle.close()  # closing the file releases its lock
            self._files.clear()


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock`` (advisory locks are per database)."""
    digest = hashlib.blake2b(f"permanence.loop.{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def own_connection(alias: str, name: str) -> Any:
    """A PostgreSQL session of its own, outside the process's pool (it is held for as long as the process
    lives: a pooled one would keep a slot, and leak it at each reconnection), in autocommit, with TCP
    keepalives so that a half-open socket is noticed within about half a minute."""
    wrapper = connections.create_connection(alias)
    params = wrapper.get_connection_params()
    params.update(application_name=name, keepalives=1, keepalives_idle=10, keepalives_interval=5,
                  keepalives_count=3)
    connection = wrapper.Database.connect(**params)
    connection.autocommit = True
    return connection


class PostgresLeadership:
    """Session-level advisory locks on one connection of its own (not Django's per-thread ones, which
    are closed and reopened between turns). While that session lives the locks are held; if it breaks,
    every lock is counted as lost and asked for again."""

    def __init__(self, alias: str = "default") -> None:
        self.alias = alias
        self._connection: Any = None
        self._held: set[str] = set()
        self._mutex = threading.Lock()

    def _connect(self) -> Any:
        return own_connection(self.alias, "permanence loops")

    def _alive(self) -> bool:
        try:
            with self._connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return True
        except Exception:  # any failure: the session, and with it every lock, may be gone
            log.warning("the loops' lock connection broke; asking for the locks again", exc_info=True)
            self._drop()
            return False

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # already broken
                self._connection.close()
        self._connection, self._held = None, set()

    def hold(self, name: str) -> bool:
        with self._mutex:
            if self._connection is not None and not self._alive():
                pass  # dropped: connect again below
            if name in self._held:
                return True
            if self._connection is None:
                self._connection = self._connect()
            with self._connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [advisory_key(name)])
                (got,) = cursor.fetchone()
            if got:
                self._held.add(name)
            return bool(got)

    def close(self) -> None:
        with self._mutex:
            self._drop()  # ending the session releases its advisory locks


def leadership(alias: str = "default") -> Leadership:
    """The leader locks that fit the database: advisory locks on PostgreSQL, else lock files beside the
    database file (in the data folder for an in-memory database)."""
    database = settings.DATABASES[alias]
    if database["ENGINE"] == "django.db.backends.postgresql":
        return PostgresLeadership(alias)
    name = str(database.get("NAME") or "")
    if name and name != ":memory:" and not name.startswith("file:"):
        path = Path(name).resolve()
        return FileLeadership(path.parent, f".{path.name}.loop-")
    return FileLeadership(Path(settings.DATA_DIR), ".memory.loop-")


class Wakeup:
    """A wait between turns that ends early when another process asks for a turn: a PostgreSQL
    ``NOTIFY`` on ``channel``, heard on a connection of its own that ``LISTEN``s (notifications that
    arrive during a turn are kept by the connection and end the next wait at once). Several asks
    during one wait make one turn. On SQLite, or while that connection is broken, the wait is the
    period alone."""

    def __init__(self, channel: str, alias: str = "default") -> None:
        self.channel, self.alias = channel, alias
        self._connection: Any = None
        self.woken = 0  # waits ended by a notification (for the tests)

    def _listen(self) -> Any:
        connection = own_connection(self.alias, f"permanence {self.channel}")
        connection.execute(f'LISTEN "{self.channel}"')
        return connection

    def __call__(self, seconds: float, stop: threading.Event) -> None:
        if settings.DATABASES[self.alias]["ENGINE"] != "django.db.backends.postgresql":
            stop.wait(seconds)
            return
        deadline = time.monotonic() + seconds
        try:
            if self._connection is None:
                self._connection = self._listen()
                return  # a turn now, listening: what was asked before the LISTEN is not missed
            while not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                for _notification in self._connection.notifies(timeout=min(left, 1.0), stop_after=1):
                    self.woken += 1
                    return
        except Exception:
            log.warning("the wake-up connection of %s broke; waiting the period", self.channel, exc_info=True)
            self.close()
            stop.wait(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
        self._connection = None


@dataclass
class Stats:
    """What a loop did so far in this process (for the logs and the tests)."""

    turns: int = 0  # turns run as the leader
    failures: int = 0  # turns where a step raised
    in_a_row: int = 0
    last_success: float | None = None  # time.monotonic()
    leading: bool = False


@dataclass
class Runner:
    """Runs each loop in a thread of its own until ``stop``."""

    loops: Sequence[Loop]
    leadership: Leadership
    stats: dict[str, Stats] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [loop.name for loop in self.loops]
        if len(set(names)) != len(names):
            raise ValueError(f"two loops share a name: {names}")
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(loop,), name=f"loop-{loop.name}", daemon=True)
            for loop in self.loops
        ]
        self.stats = {loop.name: Stats() for loop in self.loops}

    def start(self) -> Runner:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        self.leadership.close()

    def turn(self, loop: Loop) -> bool:
        """One turn: True if every step ran without an exception (or this process does not lead)."""
        stats = self.stats[loop.name]
        close_old_connections()
        try:
            try:
                stats.leading = self.leadership.hold(loop.name)
            except Exception:
                log.exception("loop %s: could not ask for its leader lock", loop.name)
                stats.leading = False
                return False
            if not stats.leading:
                return True
            ok = True
            for step, function in loop.steps:
                try:
                    function()
                except Exception:
                    ok = False
                    log.exception("loop %s: step %s failed", loop.name, step)
                    close_old_connections()  # a broken connection is not kept for the next step
            stats.turns += 1
            if ok:
                stats.last_success = time.monotonic()
            return ok
        finally:
            close_old_connections()

    def _run(self, loop: Loop) -> None:
        stats = self.stats[loop.name]
        try:
            while not self._stop.is_set():
                if self.turn(loop):
                    stats.in_a_row = 0
                else:
                    stats.failures += 1
                    stats.in_a_row += 1
                wait = backoff(loop.every, stats.in_a_row)
                if stats.in_a_row:
                    log.warning("loop %s: %d failed turn(s) in a row, next turn in %.1f s",
                                loop.name, stats.in_a_row, wait)
                if loop.wait is not None and not stats.in_a_row:
                    loop.wait(wait, self._stop)
                else:
                    self._stop.wait(wait)
        finally:
            connections.close_all()  # this thread's own connections
