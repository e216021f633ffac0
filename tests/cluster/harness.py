"""The cluster under load (issue 20): the harness of tests/cluster/test_cluster.py and bench/bench_cluster.py.

What it builds, all on 127.0.0.1:

- a fresh PostgreSQL database (``permanence_cluster_<pid>``: createdb, ``permanence migrate``, the demo
  accounts without their weeks of history, then ``setup`` below: the accounts open 24/7, bot
  secretaries trained on them, each signed in with a session made directly), a logical Redis database
  of its own (``REDIS_DB``, emptied first), and an SMTP sink (aiosmtpd) that keeps every e-mail;
- two web processes (``permanence serve``), two workers (``permanence worker``, tasks on RQ) and the
  cluster's dispatcher (``permanence dispatcher``; until that command exists, a third worker, whose
  dispatch loop does the work: see ``USE_DISPATCHER_COMMAND``);
- a trunk: a process that rings the demo accounts' numbers at a Poisson rate through the telephony
  adapter's entry point, ``calls.services.call_arrived``, and reports each call with its wall time;
- the bot secretaries, in one asyncio loop (a thread of this process): each keeps the desk's WebSocket
  open on its web process (half on each), says it is ready, takes the offers pushed to it, walks the
  call's scenario through the desk's pages as the desk page does (the simplest path that ends with a
  message to the client), finishes with the message and is ready again; when its socket closes it
  reconnects (to the other web process if its own is down, and back later) and polls ``/desk/poll``
  once it is back, and every 2 s while it is not (the desk page polls every 2 s, socket or not);
- SIGKILLs in the middle of the load: a web process, a worker and the dispatcher, each started again a
  few seconds later (same port, same command).

Then the calls stop, the queue drains, the workers deliver, and the invariants are read from the
database and the SMTP sink (``check``): no call lost or stranded, no secretary offered two calls at
once nor on two calls, every message delivered exactly once or on the operator's page of undelivered
messages, no server error. ``figures`` gives the throughput, the offer latencies, the handling times
and the recovery after each kill. Nothing here waits a fixed time for correctness: every wait polls a
condition within a bound.

Run as a script, this file is the Django side (``DJANGO_SETTINGS_MODULE`` set): ``harness.py setup
--bots N`` prepares the database and prints what the bots need, ``harness.py trunk ...`` rings.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email
import email.policy
import hashlib
import json
import math
import os
import random
import secrets
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # run as a script: tests/ is not on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from waiting import wait_for  # noqa: E402  (tests/waiting.py)

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_DB = 13  # a logical database of its own, emptied at the start of each run
YEAR_SECONDS = 365 * 24 * 3600
SEED_003_CALLS_PER_YEAR = 10_000_000  # seed 003's operator: 10 million calls a year, 0.317 calls/s
AVERAGE_RATE = SEED_003_CALLS_PER_YEAR / YEAR_SECONDS
DEFAULT_RATE = 3.2  # ten times that average
DEMO_ACCOUNTS = ("cabinet-durand", "cabinet-medical-tilleuls", "plomberie-girard")
FINAL_STATES = ("done", "abandoned", "diverted", "not_served")
PENDING_DELIVERIES = ("queued", "sending", "failed")  # "failed": will be retried
# The cluster's dispatcher: `permanence dispatcher`, with the web nodes waking it (DISPATCH=dispatcher), as
# soon as the project has the command (None: look for it); before it existed, a third `permanence worker`
# stood in for it (its dispatch loop) with the nodes dispatching inline. True/False forces one or the other.
USE_DISPATCHER_COMMAND: bool | None = None
KILLS = ((0.30, "web"), (0.45, "worker"), (0.60, "dispatcher"))  # share of the load period, process
RESTART_AFTER = 3.0  # seconds between a SIGKILL and the start of the same command again
READY_BOUND = 60.0  # seconds for a process to become ready
POLL_SECONDS = 2.0  # the desk page polls /desk/poll this often; a bot does while its socket is down


# ---------------------------------------------------------------------------------------------------
# What the harness needs, and small helpers


def unavailable() -> str | None:
    """Why the cluster cannot run here (PostgreSQL or Redis not answering on 127.0.0.1), else None."""
    try:
        import psycopg

        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3):
            pass
    except Exception as exc:  # any failure: no server, no such role, refused
        return f"PostgreSQL does not answer on {PG_HOST}:{PG_PORT} as {PG_USER}: {exc}".strip()
    try:
        import redis

        redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"Redis does not answer on 127.0.0.1:6379: {exc}"
    for tool in ("createdb", "dropdb"):
        if not any((Path(d) / tool).exists() for d in os.environ.get("PATH", "").split(os.pathsep)):
            return f"{tool} (PostgreSQL's client tools) is not on the PATH"
    return None


def dispatcher_command_exists() -> bool:
    """``permanence dispatcher`` is a management command of some app of the project."""
    return any(SRC.glob("permanence/*/management/commands/dispatcher.py"))


def use_dispatcher_command() -> bool:
    return dispatcher_command_exists() if USE_DISPATCHER_COMMAND is None else USE_DISPATCHER_COMMAND


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a live process has used (Linux /proc), 0 when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


TEMPLATE_PREFIX = "permanence_cluster_template_"


def source_digest() -> str:
    """A digest of the project's code, migrations and data files: what a template database depends on."""
    digest = hashlib.sha256()
    for path in sorted((SRC / "permanence").rglob("*")):
        if path.suffix in (".py", ".yaml", ".json") and "__pycache__" not in path.parts and path.is_file():
            digest.update(str(path.relative_to(SRC)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _dropdb(name: str) -> None:
    subprocess.run(
        ["dropdb", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "--force", "--if-exists", name],
        capture_output=True,
        timeout=60,
    )


def permanence_command() -> list[str]:
    script = Path(sys.executable).parent / "permanence"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from permanence.cli import main; main()"]


def pg_ports_of(pid: int) -> int:
    """How many established TCP connections to PostgreSQL's port the process holds (Linux /proc), or
    -1 when that cannot be read."""
    try:
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        found = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError), open(table) as rows:
                next(rows)
                for row in rows:
                    parts = row.split()
                    remote_port = int(parts[2].rsplit(":", 1)[1], 16)
                    if parts[3] == "01" and remote_port == PG_PORT and parts[9] in inodes:
                        found += 1
        return found
    except OSError:
        return -1


# ---------------------------------------------------------------------------------------------------
# The SMTP sink


class Sink:
    """A real SMTP server (aiosmtpd) on a free port: every e-mail received, with its delivery keys."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        parsed = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        keys = [k.strip() for k in (parsed.get("X-Permanence-Delivery") or "").split(",") if k.strip()]
        body = parsed.get_body(("plain",))  # type: ignore[attr-defined]
        text = body.get_content() if body is not None else ""
        if not keys:  # not one of the project's deliveries: told apart by what it says
            keys = [
                "?" + hashlib.sha256(f"{parsed['Subject']}|{envelope.rcpt_tos}|{text}".encode()).hexdigest()
            ]
        with self._lock:
            self.received.append(
                {
                    "at": time.time(),
                    "keys": keys,
                    "message_id": parsed.get("Message-ID", ""),
                    "to": list(envelope.rcpt_tos),
                    "subject": str(parsed.get("Subject", "")),
                }
            )
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(key for mail in self.received for key in mail["keys"])


# ---------------------------------------------------------------------------------------------------
# The processes


class Proc:
    """One process of the cluster: started, SIGKILLed, started again with the same command."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], logs: Path, ready: Callable[[Proc], bool]
    ) -> None:
        self.name, self.argv, self.env, self.logs, self._ready = name, argv, env, logs, ready
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.cpu_of_the_dead = 0.0  # CPU seconds of the instances killed

    def cpu(self) -> float:
        """CPU seconds of every instance so far (the killed ones read just before their SIGKILL)."""
        return self.cpu_of_the_dead + (cpu_seconds(self.pid) if self.alive() else 0.0)

    @property
    def pid(self) -> int:
        return self.popen.pid if self.popen else -1

    def start(self) -> None:
        self.starts += 1
        log = open(self.logs / f"{self.name}.log", "ab")  # noqa: SIM115 - the child keeps it
        log.write(f"\n==== start {self.starts}: {' '.join(self.argv)}\n".encode())
        log.flush()
        self.popen = subprocess.Popen(
            self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def ready(self) -> bool:
        return self.alive() and self._ready(self)

    def wait_ready(self, bound: float = READY_BOUND) -> float:
        """Seconds it took to be ready; raises if it died or did not get ready within ``bound``."""
        started = time.monotonic()
        if not wait_for(lambda: self.ready() or not self.alive(), bound, 0.05) or not self.alive():
            raise RuntimeError(f"{self.name} did not become ready: see {self.logs / (self.name + '.log')}")
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL, as a crash: its process group (one process: the command runs in-process)."""
        if self.popen is not None and self.popen.poll() is None:
            self.cpu_of_the_dead += cpu_seconds(self.popen.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self, bound: float = 10.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(bound)
        except subprocess.TimeoutExpired:
            self.kill()


def http_ready(port: int) -> Callable[[Proc], bool]:
    def ready(_proc: Proc) -> bool:
        import http.client

        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/login/")
            status = connection.getresponse().status
            connection.close()
            return status < 500
        except OSError:
            return False

    return ready


def connected_ready(rq_url: str | None) -> Callable[[Proc], bool]:
    """A worker or the dispatcher is ready once it holds a connection to PostgreSQL (its loops' lock
    connection, or its LISTEN) and, on RQ, once its RQ worker is registered in Redis with its pid."""

    def ready(proc: Proc) -> bool:
        ports = pg_ports_of(proc.pid)
        if ports == 0:
            return False
        if rq_url is None:
            return True
        import redis

        connection = redis.Redis.from_url(rq_url)
        for key in connection.smembers("rq:workers"):
            if connection.hget(key, "pid") == str(proc.pid).encode():
                return True
        return False

    return ready


# ---------------------------------------------------------------------------------------------------
# HTTP and WebSocket clients on asyncio streams (no client library in the test dependencies)


class Unsent(ConnectionError):
    """The request never reached the server (connection refused): safe to send elsewhere."""


class Uncertain(ConnectionError):
    """The connection broke after the request was sent: it may or may not have been applied."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    cookies: dict[str, str]
    body: bytes

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], dict[str, str]]:
    status_line = (await reader.readline()).decode("latin-1")
    if not status_line:
        raise asyncio.IncompleteReadError(b"", None)
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    while True:
        line = (await reader.readline()).decode("latin-1")
        if line in ("\r\n", "\n", ""):
            break
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "set-cookie":
            pair = value.split(";", 1)[0]
            key, _, content = pair.partition("=")
            cookies[key.strip()] = content.strip().strip('"')
        headers[name] = value
    return status, headers, cookies


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    if "chunked" in headers.get("transfer-encoding", "").lower():
        out = bytearray()
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                return bytes(out)
            out += await reader.readexactly(size)
            await reader.readline()
    return await reader.read()


async def http(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str],
    form: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Response:
    body = urllib.parse.urlencode(form or {}).encode() if method == "POST" else b""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    except (OSError, TimeoutError) as exc:
        raise Unsent(f"{method} {path} on :{port}: {exc}") from None
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if method == "POST":
            lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()

        async def read() -> Response:
            status, head, cookies = await _read_head(reader)
            return Response(status, head, cookies, await _read_body(reader, head))

        return await asyncio.wait_for(read(), timeout)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
        raise Uncertain(f"{method} {path} on :{port}: {type(exc).__name__} {exc}") from None
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


class SocketClosed(ConnectionError):
    pass


class DeskSocket:
    """The desk's WebSocket (RFC 6455, text frames): opened with the session cookie; answers pings."""

    def __init__(self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.port, self.reader, self.writer = port, reader, writer

    @classmethod
    async def open(cls, port: int, cookie: str, timeout: float = 60.0) -> DeskSocket:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        except (OSError, TimeoutError) as exc:
            raise Unsent(str(exc)) from None
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /ws/desk/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n"
            f"Cookie: {cookie}\r\n\r\n"
        )
        try:
            writer.write(request.encode("latin-1"))
            await writer.drain()
            status, _headers, _cookies = await asyncio.wait_for(_read_head(reader), timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            writer.close()
            raise Uncertain(f"WebSocket handshake on :{port}: {type(exc).__name__} {exc}") from None
        if status != 101:
            writer.close()
            raise Uncertain(f"WebSocket refused on :{port}: HTTP {status}")
        return cls(port, reader, writer)

    async def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        size = len(payload)
        head = bytes([0x80 | opcode])
        if size < 126:
            head += bytes([0x80 | size])
        elif size < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", size)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", size)
        self.writer.write(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        await self.writer.drain()

    async def receive(self) -> Any:
        """The next text frame's JSON; raises SocketClosed when the connection ends."""
        message = bytearray()
        try:
            while True:
                first, second = await self.reader.readexactly(2)
                opcode, size = first & 0x0F, second & 0x7F
                if size == 126:
                    size = struct.unpack("!H", await self.reader.readexactly(2))[0]
                elif size == 127:
                    size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
                mask = await self.reader.readexactly(4) if second & 0x80 else None
                payload = await self.reader.readexactly(size)
                if mask:
                    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                if opcode == 0x9:  # ping
                    await self._send(0xA, payload)
                elif opcode == 0x8:  # close
                    with contextlib.suppress(Exception):
                        await self._send(0x8, payload[:2])
                    raise SocketClosed(f"closed by the server: {payload[:2].hex()}")
                elif opcode in (0x1, 0x0, 0x2):
                    message += payload
                    if first & 0x80:
                        return json.loads(message.decode())
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise SocketClosed(f"{type(exc).__name__} {exc}") from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class Page(HTMLParser):
    """What a bot reads on the call page: the forms (inputs, text areas, selects, named buttons), and
    whether the scenario has reached its outcome."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, Any]] = {}
        self.outcome = False
        self.errors: list[str] = []
        self._form: str | None = None
        self._textarea: str | None = None
        self._select: str | None = None
        self._error = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if a.get("data-testid") == "outcome":
            self.outcome = True
        if "error" in a.get("class", "").split() or a.get("data-testid", "").startswith("error"):
            self._error = True
        if tag == "form":
            self._form = a.get("id") or a.get("action", "")
            self.forms[self._form] = {"inputs": [], "textareas": {}, "selects": {}, "buttons": []}
            return
        if self._form is None:
            return
        form = self.forms[self._form]
        if tag == "input":
            form["inputs"].append(a)
        elif tag == "textarea":
            self._textarea = a.get("name", "")
            form["textareas"][self._textarea] = ""
        elif tag == "select":
            self._select = a.get("name", "")
            form["selects"][self._select] = {"disabled": "disabled" in a, "options": []}
        elif tag == "option" and self._select is not None:
            form["selects"][self._select]["options"].append(a.get("value", ""))
        elif tag == "button" and a.get("name") and not a.get("form"):
            form["buttons"].append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and self._form is not None:
            self.forms[self._form]["textareas"][self._textarea] += data
        if self._error and data.strip():
            self.errors.append(data.strip())
            self._error = False


# The answers a bot gives, by field name: the simplest path of each demo scenario to a message for the
# client (legal: a supplier asking for nobody in the directory; medical: another reason, no doctor;
# trades: a quote).
ANSWERS = {
    "need": "quote",
    "caller_type": "supplier",
    "reason": "other",
    "domain": "other",
    "name": "Jean Robot",
    "patient": "Jean Robot",
    "phone": "0612345678",
    "postcode": "69001",
    "address": "1 rue des Essais",
    "subject": "Merci de rappeler M. Robot au sujet de son dossier.",
    "birth_date": "01/01/1980",
    "file_number": "",
    "urgent": "non",
    "email": "jean.robot@example.fr",
}
AVOIDED_OPTIONS = {"emergency", "cold_caller", "job_seeker", "client", "prospect", "appointment", "cancel"}
RESULTS = ("not_verified", "declined", "no_slot", "refused", "no_answer", "busy")  # buttons, in this order


def answer(step: dict[str, Any]) -> dict[str, str]:
    """The form a bot posts for the current step of the scenario."""
    results = [value for name, value in step["buttons"] if name == "result"]
    if results:
        return {"result": next((r for r in RESULTS if r in results), results[0])}
    names = {i.get("name") for i in step["inputs"]} | set(step["selects"])
    if "person" in names:  # a directory lookup: nobody (the scenario takes a message)
        return {"person": ""}
    form: dict[str, str] = {}
    radios: dict[str, list[str]] = defaultdict(list)
    for field_input in step["inputs"]:
        name, kind = field_input.get("name", ""), field_input.get("type", "text")
        if not name or name == "csrfmiddlewaretoken" or kind in ("hidden", "submit", "checkbox"):
            continue
        if kind == "radio":
            radios[name].append(field_input.get("value", ""))
        else:
            form[name] = ANSWERS.get(name, "Robot")
    for name, options in radios.items():
        wanted = ANSWERS.get(name)
        if wanted in options:
            form[name] = wanted
        else:
            fine = [o for o in options if o not in AVOIDED_OPTIONS]
            form[name] = "other" if "other" in fine else (fine or options)[0]
    for name in step["textareas"]:
        form[name] = ANSWERS.get(name, "Message du robot.")
    return form


# ---------------------------------------------------------------------------------------------------
# The bot secretaries


@dataclass
class Record:
    """What the bots saw, for the checks and the figures (appended from the bots' thread)."""

    offers: list[tuple[float, int, int, str]] = field(default_factory=list)  # at, bot, call, via
    accepted: list[tuple[float, int, int]] = field(default_factory=list)  # at, bot, call
    # accepted at (NaN: taken up again after a lost answer), finished at, bot, call, forced to an end
    finished: list[tuple[float, float, int, int, bool]] = field(default_factory=list)
    sockets: list[tuple[float, int, int, str]] = field(default_factory=list)  # at, bot, port, event
    server_errors: list[tuple[float, int, str, int, str]] = field(default_factory=list)
    problems: list[tuple[float, int, str]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    lags: list[float] = field(default_factory=list)  # the bots' loop: seconds late, every 0.1 s


class Bot:
    def __init__(self, crew: Crew, index: int, user_id: int, session_key: str, home: int, other: int) -> None:
        self.crew, self.index, self.user_id = crew, index, user_id
        self.home, self.other = home, other
        self.csrf = secrets.token_hex(16)  # 32 characters: Django takes the secret itself in the header
        self.cookies = {"sessionid": session_key, "csrftoken": self.csrf}
        self.inbox: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.connected = asyncio.Event()
        self.socket: DeskSocket | None = None
        self.reading: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.rng = random.Random(crew.seed * 1000 + index)
        self.handled: set[int] = set()

    # -- plumbing

    def cookie(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    async def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Response:
        """Its own web process first, the other when its own refuses the connection; a request whose
        answer is lost raises Uncertain (the caller resynchronises, as the desk page would)."""
        record = self.crew.record
        deadline = time.monotonic() + 120
        while True:
            for port in (self.home, self.other):
                headers = {
                    "Cookie": self.cookie(),
                    "X-CSRFToken": self.csrf,
                    "Referer": f"http://127.0.0.1:{port}/desk/",
                }
                try:
                    response = await http(port, method, path, headers, form)
                except Unsent:
                    record.counts["connection refused"] += 1
                    continue
                except Uncertain as exc:
                    record.counts["answer lost"] += 1
                    if method == "GET":
                        continue
                    raise exc from None
                for name in ("sessionid", "csrftoken"):
                    if response.cookies.get(name):
                        self.cookies[name] = response.cookies[name]
                        if name == "csrftoken":
                            self.csrf = response.cookies[name]
                record.counts[f"HTTP {response.status}"] += 1
                if response.status >= 500:
                    snippet = response.body[:300].decode("utf-8", "replace")
                    record.server_errors.append(
                        (time.time(), self.index, f"{method} {path}", response.status, snippet)
                    )
                    raise Uncertain(f"{method} {path}: HTTP {response.status}")
                return response
            if self.crew.stopping.is_set() or time.monotonic() > deadline:
                raise Uncertain(f"{method} {path}: no web process answers")
            await asyncio.sleep(0.2)

    async def keep_socket(self) -> None:
        """The desk's WebSocket: on its own web process; on the other while its own is down, back home
        as soon as it answers again. After every reconnection, one poll (an offer made meanwhile)."""
        record = self.crew.record
        first = True
        retry = 0.5  # as the desk page: again after 1 s, 2 s, 4 s, then every 8 s
        while not self.crew.stopping.is_set():
            opened = None
            for port in (self.home, self.other):  # the other node only when its own refuses the connection
                try:
                    opened = await DeskSocket.open(port, self.cookie())
                    break
                except Unsent:
                    continue
                except ConnectionError:
                    break
            if opened is None:
                retry = min(retry * 2, 8.0)
                await asyncio.sleep(retry)
                continue
            retry = 0.5
            self.socket = opened
            record.sockets.append((time.time(), self.index, opened.port, "open"))
            self.connected.set()
            if not first:
                record.counts["socket reconnected"] += 1
                self.inbox.put_nowait(("resync",))
            first = False
            self.reading = asyncio.ensure_future(self.read(opened))
            try:
                await self._watch(opened)
            finally:
                self.reading.cancel()
            if not self.crew.stopping.is_set():
                record.sockets.append((time.time(), self.index, self.socket.port, "closed"))
            self.connected.clear()

    async def _watch(self, opened: DeskSocket) -> None:
        """Until the socket closes; away from home, back home as soon as home answers (new socket first)."""
        record = self.crew.record
        while not self.reading.done():
            await asyncio.wait([self.reading], timeout=5.0)
            if self.reading.done() or opened.port == self.home or self.crew.stopping.is_set():
                continue
            try:  # home listens again? (a bare connection first: nothing asked of a node still starting)
                _reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.home), 2)
                writer.close()
                back = await DeskSocket.open(self.home, self.cookie())
            except (OSError, TimeoutError, ConnectionError):
                continue
            self.socket = back
            record.sockets.append((time.time(), self.index, back.port, "home again"))
            opened.close()
            self.reading.cancel()
            with contextlib.suppress(BaseException):
                await self.reading
            opened = back
            self.reading = asyncio.ensure_future(self.read(back))
            self.inbox.put_nowait(("resync",))

    async def read(self, sock: DeskSocket) -> None:
        try:
            while True:
                frame = await sock.receive()
                kind = frame.get("type") if isinstance(frame, dict) else None
                if kind == "offer":
                    self.crew.record.offers.append((time.time(), self.index, int(frame["call"]), "socket"))
                    self.inbox.put_nowait(("offer", int(frame["call"])))
                elif kind == "status":
                    self.inbox.put_nowait(("status", frame.get("status")))
        except SocketClosed:
            pass
        finally:
            sock.close()

    # -- the desk

    async def set_ready(self) -> None:
        response = await self.request("POST", "/desk/status", {"status": "ready"})
        if response.status != 302:
            self.crew.record.problems.append(
                (time.time(), self.index, f"status ready: HTTP {response.status}")
            )

    async def work(self) -> None:
        record = self.crew.record
        try:
            await asyncio.wait_for(self.connected.wait(), 60)
            await self.set_ready()
        except (TimeoutError, ConnectionError) as exc:
            record.problems.append((time.time(), self.index, f"could not start: {exc}"))
            return
        self.crew.ready_bots += 1
        polled = time.monotonic()
        while not self.crew.stopping.is_set():
            try:
                item = await asyncio.wait_for(self.inbox.get(), timeout=0.5)
            except TimeoutError:
                if self.connected.is_set() or time.monotonic() - polled < POLL_SECONDS:
                    continue
                item = ("resync",)  # no socket: the desk page's poll is what brings the offers
            if item[0] == "resync":
                polled = time.monotonic()
            try:
                if item[0] == "offer":
                    await self.take(item[1])
                elif item[0] == "resync":
                    await self.resync()
                elif item[0] == "status" and item[1] == "paused":
                    record.counts["paused by a rule"] += 1
                    await self.set_ready()
            except ConnectionError:
                await self.settle()
            except Exception as exc:  # a bot's own bug: said, and the bot goes on
                record.problems.append((time.time(), self.index, f"{type(exc).__name__}: {exc}"))
                await self.settle()

    async def settle(self) -> None:
        """After an answer lost: look again until the desk's state is known."""
        for _ in range(20):
            if self.crew.stopping.is_set():
                return
            try:
                await self.resync()
                return
            except ConnectionError:
                await asyncio.sleep(0.5)

    async def resync(self) -> None:
        """``/desk/poll``, as the desk page does: back to a call in progress, or take the offer shown."""
        for _ in range(3):
            data = json.loads((await self.request("GET", "/desk/poll")).body)
            if data.get("call"):
                await self.walk(int(data["call"]))
            elif data.get("offer"):
                call = int(data["offer"]["call"])
                self.crew.record.offers.append((time.time(), self.index, call, "poll"))
                await self.take(call)
            else:
                if data.get("status") != "ready":
                    await self.set_ready()
                return

    async def take(self, call: int) -> None:
        record = self.crew.record
        if call in self.handled:
            return
        started = time.time()
        try:
            response = await self.request("POST", f"/desk/calls/{call}/accept")
        except Uncertain:
            await self.settle()
            return
        if response.status == 302 and response.location.rstrip("/").endswith(f"/desk/calls/{call}"):
            record.accepted.append((started, self.index, call))
            await self.walk(call, started)
        else:  # the offer went elsewhere meanwhile (lapsed, taken back): nothing to do
            record.counts["offer gone when accepted"] += 1

    async def walk(self, call: int, accepted_at: float | None = None) -> None:
        """The call's scenario step by step, as the desk page posts it, then the message."""
        record = self.crew.record
        tries: Counter[str] = Counter()
        for _ in range(40):
            response = await self.request("GET", f"/desk/calls/{call}/")
            if response.status != 200:
                record.problems.append((time.time(), self.index, f"call {call} page: HTTP {response.status}"))
                return
            page = Page(response.body.decode("utf-8", "replace"))
            step = page.forms.get("step-form")
            finish = page.forms.get("finish-form")
            if finish is None:
                record.problems.append((time.time(), self.index, f"call {call}: no finish form"))
                return
            signature = json.dumps(step, sort_keys=True) if step else ""
            if tries[signature] >= 3:  # the same page three times: end now, and say why
                record.problems.append((time.time(), self.index, f"call {call}: refused: {page.errors[:3]}"))
                if await self.finish(call, finish, accepted_at, forced=True):
                    return
                continue
            tries[signature] += 1
            if step is None or page.outcome:
                if await self.finish(call, finish, accepted_at, forced=False):
                    return
                continue  # refused: the page again, with what it says
            await asyncio.sleep(self.rng.uniform(*self.crew.think))
            try:
                await self.request("POST", f"/desk/calls/{call}/", answer(step))
            except Uncertain:
                continue  # look at the page again: applied or not
        record.problems.append((time.time(), self.index, f"call {call}: too many steps"))

    async def finish(
        self, call: int, form: dict[str, Any], accepted_at: float | None, *, forced: bool
    ) -> bool:
        """Send the message and end the call; False if the desk refused (the call is still hers)."""
        record = self.crew.record
        values = {i.get("name", ""): i.get("value", "") for i in form["inputs"] if i.get("name")}
        post = {
            "recipients": values.get("recipients", ""),
            "subject": values.get("subject", "") or "Appel",
            "body": form["textareas"].get("body", "").strip() or "Message du robot.",
            "send": "1",
        }
        if forced:
            post["force"] = "1"
        await asyncio.sleep(self.rng.uniform(*self.crew.think))
        for _ in range(5):
            try:
                response = await self.request("POST", f"/desk/calls/{call}/finish", post)
            except Uncertain:
                # the desk's poll says whether it went through: the call is no longer hers if it did
                data = json.loads((await self.request("GET", "/desk/poll")).body)
                if data.get("call") == call:
                    continue
                response = None
            if response is not None and not (response.status == 302 and response.location.endswith("/desk/")):
                problem = Page(response.body.decode("utf-8", "replace")).errors[:3]
                record.problems.append(
                    (time.time(), self.index, f"call {call} finish: HTTP {response.status} {problem}")
                )
                return False
            self.handled.add(call)
            record.finished.append((accepted_at or math.nan, time.time(), self.index, call, forced))
            return True
        return False


class Crew:
    """The bot secretaries, in one asyncio loop on a thread of their own."""

    def __init__(
        self, bots: list[dict[str, Any]], ports: list[int], think: tuple[float, float], seed: int
    ) -> None:
        self.spec, self.ports, self.think, self.seed = bots, ports, think, seed
        self.record = Record()
        self.ready_bots = 0
        self.stopping = threading.Event()
        self.bots: list[Bot] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bots", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()
            self._done.set()

    async def _main(self) -> None:
        for index, bot in enumerate(self.spec):
            home = self.ports[index % len(self.ports)]
            other = self.ports[(index + 1) % len(self.ports)]
            self.bots.append(Bot(self, index, bot["id"], bot["session"], home, other))
        tasks = [asyncio.ensure_future(b.keep_socket()) for b in self.bots]
        tasks.append(asyncio.ensure_future(self._lag()))
        tasks += [asyncio.ensure_future(b.work()) for b in self.bots]
        while not self.stopping.is_set():
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)  # a request under way ends
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for bot in self.bots:
            if bot.socket is not None:
                bot.socket.close()

    async def _lag(self) -> None:
        """How late this loop runs what is due (the bots' own slowness, told apart from the cluster's)."""
        while True:
            due = time.monotonic() + 0.1
            await asyncio.sleep(0.1)
            self.record.lags.append(time.monotonic() - due)

    def connected(self) -> int:
        return sum(1 for b in self.bots if b.connected.is_set())

    def stop(self) -> None:
        self.stopping.set()
        self._done.wait(30)


# ---------------------------------------------------------------------------------------------------
# The cluster


@dataclass
class Config:
    duration: float = 60.0  # seconds of calls
    rate: float = DEFAULT_RATE  # calls per second (Poisson)
    bots: int = 200
    webs: int = 2
    workers: int = 2
    tasks_backend: str = "rq"  # "rq" (scale-out) or "db"
    kills: bool = True
    think: tuple[float, float] = (0.2, 0.8)  # seconds a bot takes before each answer and the message
    seed: int = 20
    drain_bound: float = 240.0  # seconds for the queue to empty once the calls stop
    delivery_bound: float = 240.0  # seconds for the workers to deliver the messages
    logs: Path | None = None  # where the processes' logs go (a temporary folder if None)
    keep_database: bool = False  # leave the database for a look afterwards (dropped at the next run)
    say: Callable[[str], None] = print


@dataclass
class Kill:
    what: str
    process: str
    at: float  # wall time of the SIGKILL
    restarted_at: float = math.nan
    ready_at: float = math.nan


@dataclass
class Outcome:
    """Everything a run leaves: the raw data (database rows, sink, bots' record) and the timeline."""

    config: Config
    dispatcher: str
    tasks_backend: str
    load_start: float = 0.0
    load_end: float = 0.0
    arrivals: dict[int, float] = field(default_factory=dict)  # call id -> wall time of its arrival
    trunk_errors: list[str] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    drained: bool = False
    drained_at: float = math.nan
    delivered: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    delivery_events: list[dict[str, Any]] = field(default_factory=list)
    max_wait: dict[int, int] = field(default_factory=dict)  # account id -> max_wait_seconds
    sink: Counter[str] = field(default_factory=Counter)
    mail_times: list[float] = field(default_factory=list)
    unknown_mail: list[dict[str, Any]] = field(default_factory=list)
    record: Record = field(default_factory=Record)
    bots: int = 0
    bot_users: list[int] = field(default_factory=list)  # the bots' user ids, by index
    logs: Path | None = None
    setup_seconds: float = 0.0
    total_seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by role, from the load to the drain


class Cluster:
    """``with Cluster(config) as cluster: outcome = cluster.run()`` — everything is torn down after."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.say = config.say
        self.dbname = f"permanence_cluster_{os.getpid()}"
        self.database_url = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.dbname}"
        self.redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
        self.logs = config.logs or Path(tempfile.mkdtemp(prefix="permanence-cluster-"))
        self.logs.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.logs / "data"
        self.sink = Sink()
        self.procs: dict[str, Proc] = {}
        self.trunk: subprocess.Popen[str] | None = None
        self.ringing = 0.0  # when the trunk's first call may ring (wall time): the load's start
        self.crew: Crew | None = None
        self.created = False
        self.dispatcher = use_dispatcher_command()
        self.outcome = Outcome(
            config,
            "permanence dispatcher" if self.dispatcher else "a third permanence worker",
            config.tasks_backend,
            logs=self.logs,
        )

    # -- environment

    def env(self) -> dict[str, str]:
        keep = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_", "REDIS_", "EMAIL_", "TASKS_", "DISPATCH", "MESSAGING_"))
        }
        env = {
            **keep,
            "DJANGO_SETTINGS_MODULE": "permanence.settings",
            "PYTHONPATH": os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]),
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": self.database_url,
            "DATABASE_POOL_MAX": "8",
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": "permanence-cluster-test-not-secret",
            "PERMANENCE_DATA_DIR": str(self.data_dir),
            "SECURE_COOKIES": "0",
            "SECOND_FACTOR_REQUIRED": "0",
            "LOG_LEVEL": "WARNING",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.sink.port),
            "TASKS_BACKEND": self.config.tasks_backend,
            # a killed worker's deliveries are taken over within seconds, not minutes (docs/messaging.md)
            "MESSAGING_SWEEP_GRACE_SECONDS": "10",
            "MESSAGING_LEASE_SECONDS": "20",
            "SITE_URL": "http://127.0.0.1",
        }
        if self.dispatcher:
            env["DISPATCH"] = "dispatcher"
        return env

    def run_command(self, argv: list[str], what: str, bound: float = 300, database: str | None = None) -> str:
        env = self.env()
        if database is not None:
            env["DATABASE_URL"] = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"
        done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=bound)
        if done.returncode:
            raise RuntimeError(
                f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done.stdout

    def sql(self, query: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.database_url, autocommit=True, row_factory=dict_row) as connection:
            return list(connection.execute(query, args).fetchall())

    # -- life cycle

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.crew is not None:
            self.crew.stop()
        if self.trunk is not None and self.trunk.poll() is None:
            self.trunk.kill()
            self.trunk.wait(10)
        for proc in self.procs.values():
            proc.stop()
        self.sink.stop()
        if self.created and not self.config.keep_database:
            _dropdb(self.dbname)
            self.created = False
        with contextlib.suppress(Exception):
            import redis

            redis.Redis.from_url(self.redis_url).flushdb()

    def template(self) -> str:
        """The database every run starts from: ``permanence migrate`` and the demo accounts without their
        history, made once for this version of the source (its name carries a digest of the code, the
        migrations and the demo data) and copied for each run: a fresh database in a second, not in a
        minute of migrations. Templates of other versions are dropped when a new one is made."""
        import psycopg

        name = f"{TEMPLATE_PREFIX}{source_digest()}"
        admin = {"host": PG_HOST, "port": PG_PORT, "user": PG_USER, "dbname": "postgres", "autocommit": True}
        with psycopg.connect(**admin) as connection:
            if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return name
        building = f"permanence_cluster_building_{os.getpid()}"
        _dropdb(building)
        subprocess.run(
            ["createdb", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, building],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.say(
            f"database template {name}: permanence migrate, load_demo --no-history (once for this source)"
        )
        try:
            self.run_command(
                [*permanence_command(), "migrate", "--no-input"], "permanence migrate", database=building
            )
            self.run_command(
                [*permanence_command(), "load_demo", "--no-history"],
                "permanence load_demo",
                database=building,
            )
            with psycopg.connect(**admin) as connection:
                connection.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
        except psycopg.errors.DuplicateDatabase:  # made meanwhile by another run: that one will do
            pass
        finally:
            _dropdb(building)
        with psycopg.connect(**admin) as connection:
            stale = [
                r[0]
                for r in connection.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
                    (TEMPLATE_PREFIX + "%", name),
                )
            ]
        for other in stale:
            subprocess.run(
                ["dropdb", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "--if-exists", other],
                capture_output=True,
                timeout=60,
            )  # one in use by another run stays
        return name

    def prepare(self) -> dict[str, Any]:
        started = time.monotonic()
        _dropdb(self.dbname)
        template = self.template()
        subprocess.run(
            ["createdb", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-T", template, self.dbname],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.created = True
        import redis

        redis.Redis.from_url(self.redis_url).flushdb()
        self.sink.start()
        self.say(
            f"database {self.dbname} (a copy of {template}), {self.config.bots} bots (logs: {self.logs})"
        )
        out = self.run_command(
            [sys.executable, __file__, "setup", "--bots", str(self.config.bots)], "the setup"
        )
        world: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        self.outcome.max_wait = {int(k): v for k, v in world["max_wait"].items()}
        self.outcome.setup_seconds = time.monotonic() - started
        return world

    def start_processes(self) -> list[int]:
        env = self.env()
        # a web node runs a request per thread (Django under ASGI) and the desks' sockets: a wider pool,
        # and a longer wait for a connection under load rather than an error (docs/deployment.md, sizing)
        web_env = {**env, "DATABASE_POOL_MAX": "20", "DATABASE_POOL_TIMEOUT": "30"}
        command = permanence_command()
        rq = self.redis_url if self.config.tasks_backend == "rq" else None
        ports = [free_port() for _ in range(self.config.webs)]
        for i, port in enumerate(ports):
            self.procs[f"web{i + 1}"] = Proc(
                f"web{i + 1}",
                [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
                web_env,
                self.logs,
                http_ready(port),
            )
        worker = [*command, "worker", "--sweep-every", "5"]
        for i in range(self.config.workers):
            self.procs[f"worker{i + 1}"] = Proc(f"worker{i + 1}", worker, env, self.logs, connected_ready(rq))
        if self.dispatcher:
            self.procs["dispatcher"] = Proc(
                "dispatcher", [*command, "dispatcher"], env, self.logs, connected_ready(None)
            )
        else:  # a third worker, whose dispatch loop does the dispatcher's work (USE_DISPATCHER_COMMAND)
            self.procs["dispatcher"] = Proc("dispatcher", worker, env, self.logs, connected_ready(rq))
        for proc in self.procs.values():
            proc.start()
        for proc in self.procs.values():
            proc.wait_ready()
        return ports

    def start_trunk(self, world: dict[str, Any]) -> None:
        argv = [
            sys.executable,
            __file__,
            "trunk",
            "--rate",
            str(self.config.rate),
            "--duration",
            str(self.config.duration),
            "--seed",
            str(self.config.seed),
            "--numbers",
            ",".join(world["numbers"]),
        ]
        log = open(self.logs / "trunk.log", "ab")  # noqa: SIM115 - the child keeps it
        self.trunk = subprocess.Popen(
            argv, env=self.env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True
        )
        log.close()

        def read() -> None:
            assert self.trunk is not None and self.trunk.stdout is not None
            for line in self.trunk.stdout:
                with contextlib.suppress(ValueError):
                    said = json.loads(line)
                    if "call" in said:
                        self.outcome.arrivals[int(said["call"])] = float(said["at"])
                    elif "ringing" in said:
                        self.ringing = float(said["ringing"])
                    elif "error" in said:
                        self.outcome.trunk_errors.append(said["error"])
                    elif "cpu" in said:
                        self.outcome.cpu["trunk"] = float(said["cpu"])

        threading.Thread(target=read, name="trunk-reader", daemon=True).start()

    def kill_later(self, share: float, what: str) -> threading.Thread:
        proc = self.procs["web1" if what == "web" else "worker1" if what == "worker" else "dispatcher"]
        kill = Kill(what, proc.name, math.nan)
        self.outcome.kills.append(kill)

        def run() -> None:
            when = self.outcome.load_start + share * self.config.duration
            while time.time() < when:
                time.sleep(min(0.05, max(0.0, when - time.time())))
            kill.at = time.time()
            proc.kill()
            self.say(f"  {time.time() - self.outcome.load_start:5.1f} s: SIGKILL {proc.name}")
            time.sleep(RESTART_AFTER)
            kill.restarted_at = time.time()
            proc.start()
            proc.wait_ready()
            kill.ready_at = time.time()
            self.say(f"  {time.time() - self.outcome.load_start:5.1f} s: {proc.name} ready again")

        thread = threading.Thread(target=run, name=f"kill-{what}", daemon=True)
        thread.start()
        return thread

    def cpu_snapshot(self) -> dict[str, float]:
        """CPU seconds used so far, by role: the cluster's processes, the backends of PostgreSQL serving
        this database (those alive now), and this process (the bots, the SMTP sink, the harness)."""
        roles: dict[str, float] = defaultdict(float)
        for name, proc in self.procs.items():
            roles[name.rstrip("0123456789")] += proc.cpu()
        pids = self.sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (self.dbname,)
        )
        for row in pids:
            roles["postgresql"] += cpu_seconds(row["pid"])
        roles["bots (this process)"] = time.process_time()
        return dict(roles)

    def unfinished(self) -> int:
        rows = self.sql(
            "SELECT count(*) AS n FROM calls_call WHERE NOT training AND state <> ALL(%s)",
            (list(FINAL_STATES),),
        )
        return int(rows[0]["n"])

    def pending_deliveries(self) -> int:
        rows = self.sql(
            "SELECT count(*) AS n FROM messaging_delivery WHERE status = ANY(%s)", (list(PENDING_DELIVERIES),)
        )
        sent = self.sql(
            "SELECT key FROM messaging_delivery WHERE status IN ('sent', 'delivered', 'acknowledged')"
        )
        received = self.sink.counts()
        return int(rows[0]["n"]) + sum(1 for r in sent if received[str(r["key"])] == 0)

    def run(self) -> Outcome:
        begun = time.monotonic()
        out = self.outcome
        world = self.prepare()
        self.say(
            f"setup done in {out.setup_seconds:.0f} s; starting {self.config.webs} web processes, "
            f"{self.config.workers} workers and the dispatcher ({out.dispatcher}; tasks: {out.tasks_backend})"
        )
        ports = self.start_processes()
        self.crew = Crew(world["bots"], ports, self.config.think, self.config.seed)
        out.record, out.bots = self.crew.record, len(world["bots"])
        out.bot_users = [bot["id"] for bot in world["bots"]]
        self.crew.start()
        if not wait_for(lambda: self.crew.ready_bots + len(self.crew.record.problems) >= out.bots, 120):
            raise RuntimeError(f"only {self.crew.ready_bots} of {out.bots} bots got ready")
        self.say(
            f"{self.crew.ready_bots} bots ready; "
            f"{self.config.duration:.0f} s of calls at {self.config.rate:g}/s"
        )
        before = self.cpu_snapshot()
        self.start_trunk(world)
        if not wait_for(lambda: self.ringing or self.trunk.poll() is not None, READY_BOUND):
            raise RuntimeError(f"the trunk did not start: see {self.logs / 'trunk.log'}")
        out.load_start = self.ringing or time.time()
        killers = [self.kill_later(share, what) for share, what in KILLS] if self.config.kills else []
        assert self.trunk is not None
        self.trunk.wait(self.config.duration + 120)
        out.load_end = time.time()
        for killer in killers:
            killer.join(READY_BOUND + 30)
        self.say(f"calls stopped: {len(out.arrivals)} rang; draining the queue")
        out.drained = wait_for(lambda: self.unfinished() == 0, self.config.drain_bound, 0.5)
        out.drained_at = time.time()
        after = self.cpu_snapshot()
        for role in after:
            out.cpu[role] = after[role] - before.get(role, 0.0)
        self.crew.stop()
        self.say("bots stopped; waiting for the deliveries")
        out.delivered = wait_for(lambda: self.pending_deliveries() == 0, self.config.delivery_bound, 0.5)
        self.collect()
        out.total_seconds = time.monotonic() - begun
        return out

    def collect(self) -> None:
        out = self.outcome
        out.calls = self.sql(
            "SELECT id, state, account_id, training, arrived_at, answered_at, ended_at, "
            "secretary_id, offered_to_id FROM calls_call ORDER BY id"
        )
        out.events = self.sql(
            "SELECT id, call_id, seq, kind, at, secretary_id, detail FROM calls_callevent ORDER BY id"
        )
        out.messages = self.sql("SELECT id, call_id, status, author_id FROM messaging_message ORDER BY id")
        out.deliveries = self.sql(
            "SELECT id, message_id, channel, address, status, key::text AS key, attempts, "
            "last_error FROM messaging_delivery ORDER BY id"
        )
        out.delivery_events = self.sql(
            "SELECT delivery_id, at, status, detail FROM messaging_deliveryevent ORDER BY id"
        )
        out.sink = self.sink.counts()
        out.mail_times = sorted(m["at"] for m in self.sink.received)
        record = out.record
        dump = {
            "load_start": out.load_start,
            "arrivals": out.arrivals,
            "offers": record.offers,
            "accepted": record.accepted,
            "finished": record.finished,
            "sockets": record.sockets,
            "problems": record.problems,
            "server_errors": record.server_errors,
            "counts": record.counts,
        }
        (self.logs / "bots.json").write_text(json.dumps(dump))
        out.unknown_mail = [m for m in self.sink.received if any(k.startswith("?") for k in m["keys"])]


# ---------------------------------------------------------------------------------------------------
# The invariants


def check(out: Outcome, *, all_handled: bool = True) -> list[str]:
    """Every broken invariant, in a sentence with its evidence; an empty list when all hold.

    ``all_handled``: every call must end handled (bots are plentiful); else a call may also end diverted
    or abandoned, when its events explain it (it waited its account's maximum, its caller hung up)."""
    sys.path.insert(0, str(SRC))
    from permanence.calls import lifecycle

    problems: list[str] = []
    calls = {c["id"]: c for c in out.calls if not c["training"]}
    events: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for e in out.events:
        events[e["call_id"]].append(e)

    # 1. every call rung is there, over, in the state its events add up to; "handled" for all of them
    missing = sorted(set(out.arrivals) - set(calls))
    if missing:
        problems.append(f"{len(missing)} calls rung by the trunk are not in the database: {missing[:10]}")
    for error in out.trunk_errors[:5]:
        problems.append(f"the trunk could not ring: {error}")
    for call_id, call in calls.items():
        trail = sorted(events[call_id], key=lambda e: e["seq"])
        summary = lifecycle.Summary()
        try:
            for e in trail:
                lifecycle.apply(
                    summary,
                    lifecycle.Event(lifecycle.Kind(e["kind"]), e["at"], e["secretary_id"], e["detail"]),
                )
        except lifecycle.LifecycleError as exc:
            problems.append(f"call {call_id}: its events do not add up ({exc}): {_kinds(trail)}")
            continue
        if str(summary.state) != call["state"]:
            problems.append(
                f"call {call_id}: state {call['state']} but its events give {summary.state}: {_kinds(trail)}"
            )
        if call["state"] not in FINAL_STATES:
            problems.append(
                f"call {call_id} stranded in {call['state']} (offered to {call['offered_to_id']}, "
                f"secretary {call['secretary_id']}): {_kinds(trail)}"
            )
        elif call["state"] == "diverted":
            diverted = next(e for e in trail if e["kind"] == "diverted")
            waited = diverted["detail"].get("waited")
            limit = out.max_wait.get(call["account_id"], 120)
            if waited is None or waited < limit - 1:
                problems.append(
                    f"call {call_id} diverted after {waited} s, before its maximum wait of {limit} s: "
                    f"{_kinds(trail)}"
                )
            elif all_handled:
                problems.append(
                    f"call {call_id} diverted after waiting its maximum ({waited} s) although "
                    f"{out.bots} bots were at the desk: {_kinds(trail)}"
                )
        elif call["state"] == "abandoned":
            if not any(e["kind"] == "caller_hung_up" for e in trail) or all_handled:
                problems.append(
                    f"call {call_id} abandoned (the trunk's callers never hang up): {_kinds(trail)}"
                )
        elif call["state"] != "done":
            problems.append(f"call {call_id} ended {call['state']}, not handled: {_kinds(trail)}")

    # 2. a secretary is never offered two calls at once, nor offered one while on another, nor on two:
    # her offers and calls, in the order the database gave their events' ids (an offer is made under
    # her desk's lock after the previous call's closing event was committed), never overlap
    spans: dict[int, list[tuple[int, float, int, str]]] = defaultdict(list)
    for call_id, trail in events.items():
        trail = sorted(trail, key=lambda e: e["seq"])
        for i, e in enumerate(trail):
            if e["kind"] != "offered" or e["secretary_id"] is None:
                continue
            end: float = math.inf
            answered = False
            for later in trail[i + 1 :]:
                if later["kind"] == "answered" and not answered:
                    answered = True
                    continue
                if not answered and later["kind"] in ("offer_expired", "offer_declined", "caller_hung_up"):
                    end = later["id"]
                    break
                if answered and later["kind"] in ("wrapped_up", "line_lost"):
                    end = later["id"]
                    break
            spans[e["secretary_id"]].append((e["id"], end, call_id, "call" if answered else "offer"))
    for secretary, rows in spans.items():
        rows.sort()
        for (start, end, call_id, what), (next_start, _, next_call, _) in zip(rows, rows[1:], strict=False):
            if next_start < end:
                problems.append(
                    f"secretary {secretary} was offered call {next_call} (event {next_start}) while her "
                    f"{what} of call {call_id} (events {start}-{end}) was not over: "
                    f"{_kinds(events[call_id])} / {_kinds(events[next_call])}"
                )

    # 3. every call handled has its message; every message is delivered exactly once, or is on the
    # operator's page of undelivered messages (its message failed, the delivery dead)
    by_call = Counter(m["call_id"] for m in out.messages)
    for call_id, call in calls.items():
        if call["state"] == "done" and by_call[call_id] != 1:
            problems.append(f"call {call_id} handled with {by_call[call_id]} messages (the bot sent one)")
    message_status = {m["id"]: m["status"] for m in out.messages}
    kills = [k.at for k in out.kills if k.process.startswith("worker") or k.process == "dispatcher"]
    explained_duplicates = 0
    for d in out.deliveries:
        received = out.sink.get(d["key"], 0) if d["channel"] in ("email", "digest") else None
        if d["status"] in ("sent", "delivered", "acknowledged"):
            if received == 1 or received is None:
                continue
            if received == 0:
                problems.append(
                    f"delivery {d['id']} ({d['channel']} to {d['address']}) says {d['status']} "
                    "but the SMTP server never got it"
                )
                continue
            trail = [e for e in out.delivery_events if e["delivery_id"] == d["id"]]
            if received == 2 and _killed_while_sending(trail, kills):
                explained_duplicates += 1  # at least once: a worker killed mid-send (docs/messaging.md)
                continue
            problems.append(
                f"delivery {d['id']} to {d['address']} received {received} times: "
                f"{[(e['status'], e['detail']) for e in trail]}"
            )
        elif d["status"] == "dead":
            if message_status.get(d["message_id"]) != "failed":
                problems.append(
                    f"delivery {d['id']} dead but its message {d['message_id']} is "
                    f"{message_status.get(d['message_id'])}: not on the undelivered page"
                )
            else:
                problems.append(
                    f"delivery {d['id']} to {d['address']} failed for good (it is on the undelivered "
                    f"page): {d['last_error']}"
                )
        else:
            problems.append(
                f"delivery {d['id']} to {d['address']} still {d['status']} after the workers' "
                f"deadline ({d['attempts']} attempts, {d['last_error']!r}): neither delivered nor on "
                "the undelivered page"
            )
    keys = {d["key"] for d in out.deliveries}
    strays = [k for k in out.sink if k not in keys]
    if strays:
        problems.append(f"{len(strays)} e-mails received that are no delivery of the database: {strays[:5]}")
    if explained_duplicates > len(kills):
        problems.append(
            f"{explained_duplicates} duplicate e-mails for {len(kills)} worker kills (at most one each)"
        )

    # 4. every process killed came back; no server error
    for kill in out.kills:
        if math.isnan(kill.ready_at):
            problems.append(f"{kill.process}, killed, did not become ready again (see its log in {out.logs})")
    for at, bot, what, status, snippet in out.record.server_errors[:10]:
        problems.append(
            f"HTTP {status} on {what} (bot {bot}, {at - out.load_start:.1f} s into the load): {snippet!r}"
        )
    if len(out.record.server_errors) > 10:
        problems.append(f"... {len(out.record.server_errors)} server errors in all")
    return problems


def _killed_while_sending(trail: list[dict[str, Any]], kills: list[float]) -> bool:
    """Two attempts, the first one "sending" without a result and started before a worker's SIGKILL."""
    sendings = [e for e in trail if e["status"] == "sending"]
    if len(sendings) < 2:
        return False
    first = sendings[0]["at"].timestamp()
    results_between = [
        e
        for e in trail
        if e["status"] in ("sent", "failed", "dead")
        and first <= e["at"].timestamp() < sendings[1]["at"].timestamp()
    ]
    return not results_between and any(first <= k for k in kills)


def _kinds(trail: list[dict[str, Any]]) -> str:
    return " → ".join(
        f"{e['kind']}#{e['id']}" + (f"(s{e['secretary_id']})" if e["secretary_id"] else "")
        for e in sorted(trail, key=lambda e: e["seq"])
    )


# ---------------------------------------------------------------------------------------------------
# The figures


def figures(out: Outcome) -> dict[str, Any]:
    calls = [c for c in out.calls if not c["training"]]
    done = [c for c in calls if c["state"] == "done"]
    wrapped = sorted(e["at"].timestamp() for e in out.events if e["kind"] == "wrapped_up")
    first_offer: dict[int, tuple[float, str]] = {}
    for at, _bot, call, via in sorted(out.record.offers):
        first_offer.setdefault(call, (at, via))
    latencies = [
        first_offer[c][0] - at
        for c, at in out.arrivals.items()
        if c in first_offer and first_offer[c][1] == "socket"
    ]
    offered_at: dict[int, float] = {}
    for e in out.events:
        if e["kind"] == "offered":
            offered_at.setdefault(e["call_id"], e["at"].timestamp())
    to_offer = [offered_at[c] - at for c, at in out.arrivals.items() if c in offered_at]
    # every offer made, and the frame that told its bot (none: the push was lost, or her socket was down)
    seen: dict[tuple[int, int], list[tuple[float, str]]] = defaultdict(list)
    for at, bot, call, via in out.record.offers:
        if bot < len(out.bot_users):
            seen[(out.bot_users[bot], call)].append((at, via))
    to_frame, unseen, by_poll = [], 0, 0
    for e in out.events:
        if e["kind"] != "offered":
            continue
        made = e["at"].timestamp()
        told = sorted(x for x in seen.get((e["secretary_id"], e["call_id"]), []) if x[0] >= made - 1)
        if not told:
            unseen += 1
        elif told[0][1] == "socket":
            to_frame.append(told[0][0] - made)
        else:
            by_poll += 1
    handling = [end - start for start, end, *_ in out.record.finished if not math.isnan(start)]
    # sustained: calls finished per second while calls were being finished (from the first wrap-up to the
    # last): the arrival rate when the cluster keeps up, its ceiling when the calls pile up
    span = out.load_end - out.load_start
    sustained = (len(wrapped) - 1) / (wrapped[-1] - wrapped[0]) if len(wrapped) > 2 else math.nan
    during = sum(1 for t in wrapped if t <= out.load_end) / span if span > 0 else math.nan
    kills = []
    offers_made = sorted(e["at"].timestamp() for e in out.events if e["kind"] == "offered")
    for kill in out.kills:
        row: dict[str, Any] = {
            "process": kill.process,
            "what": kill.what,
            "at": kill.at - out.load_start,
            "restarted after": kill.restarted_at - kill.at,
            "ready after": kill.ready_at - kill.at,
        }
        if kill.what == "web":  # its bots: their sockets closed, open again (on the other node), offers again
            cut = {
                b
                for at, b, _port, event in out.record.sockets
                if event == "closed" and kill.at <= at <= kill.at + 5
            }
            back: dict[int, float] = {}
            for at, bot, _port, event in out.record.sockets:
                if bot in cut and at > kill.at and event in ("open", "home again"):
                    back.setdefault(bot, at)
            offered = [at for at, bot, _call, _via in out.record.offers if bot in cut and at > kill.at]
            row.update(
                {
                    "bots cut off": len(cut),
                    "sockets back after": max(back.values()) - kill.at
                    if cut and len(back) == len(cut)
                    else math.nan,
                    "first offer to them after": min(offered) - kill.at if offered else math.nan,
                }
            )
        elif kill.what == "worker":  # the other worker goes on sending
            mails = [at for at in out.mail_times if at > kill.at]
            row["first e-mail after"] = min(mails) - kill.at if mails else math.nan
        else:  # another process takes the dispatch lock and offers again
            made = [at for at in offers_made if at > kill.at]
            frames = [at for at, *_ in out.record.offers if at > kill.at]
            row["first offer made after"] = min(made) - kill.at if made else math.nan
            row["first offer frame after"] = min(frames) - kill.at if frames else math.nan
        kills.append(row)
    offers_per_call = Counter(e["call_id"] for e in out.events if e["kind"] == "offered")
    return {
        "calls": len(calls),
        "rung": len(out.arrivals),
        "states": dict(Counter(c["state"] for c in calls)),
        "load seconds": span,
        "drain seconds": out.drained_at - out.load_end,
        "sustained throughput": sustained,
        "throughput during the calls": during,
        "offered rate": len(out.arrivals) / span if span > 0 else math.nan,
        "offer latency p50": percentile(latencies, 0.5) if latencies else math.nan,
        "offer latency p99": percentile(latencies, 0.99) if latencies else math.nan,
        "offer latency max": max(latencies) if latencies else math.nan,
        "arrival to offer made p50": percentile(to_offer, 0.5) if to_offer else math.nan,
        "arrival to offer made p99": percentile(to_offer, 0.99) if to_offer else math.nan,
        "offer made to frame p50": percentile(to_frame, 0.5) if to_frame else math.nan,
        "offer made to frame p99": percentile(to_frame, 0.99) if to_frame else math.nan,
        "offers never told": unseen,
        "offers told by the poll": by_poll,
        "cpu per call": {role: seconds / len(done) for role, seconds in out.cpu.items()} if done else {},
        "offers seen by socket": sum(1 for v in first_offer.values() if v[1] == "socket"),
        "offers seen by poll first": sum(1 for v in first_offer.values() if v[1] == "poll"),
        "offers per call": statistics.mean(offers_per_call.values()) if offers_per_call else math.nan,
        "offers expired": sum(1 for e in out.events if e["kind"] == "offer_expired"),
        "accept to finish p50": percentile(handling, 0.5) if handling else math.nan,
        "accept to finish p99": percentile(handling, 0.99) if handling else math.nan,
        "forced finishes": sum(1 for *_, forced in out.record.finished if forced),
        "messages": len(out.messages),
        "deliveries": dict(Counter(d["status"] for d in out.deliveries)),
        "e-mails received": sum(out.sink.values()),
        "kills": kills,
        "bot counts": dict(out.record.counts),
        "bots' loop lag p99": percentile(out.record.lags, 0.99) if out.record.lags else math.nan,
        "bots' loop lag max": max(out.record.lags) if out.record.lags else math.nan,
        "bot problems": len(out.record.problems),
        "server errors": len(out.record.server_errors),
    }


def report(out: Outcome, numbers: dict[str, Any]) -> str:
    def s(value: float) -> str:
        return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f} s"

    def ms(value: float) -> str:
        return "—" if math.isnan(value) else f"{value * 1000:.0f} ms"

    lines = [
        f"cluster: {out.config.webs} web processes, {out.config.workers} workers + {out.dispatcher}, "
        "tasks on "
        f"{out.tasks_backend}, {out.bots} bots, {out.config.rate:g} calls/s for {out.config.duration:.0f} s",
        f"calls: {numbers['calls']} ({numbers['rung']} rung by the trunk): {numbers['states']}",
        f"throughput: {numbers['sustained throughput']:.2f} calls/s sustained (calls finished per second, "
        f"first to last); {numbers['throughput during the calls']:.2f} calls/s finished while "
        f"{numbers['offered rate']:.2f} calls/s rang; every call over {s(numbers['drain seconds'])} "
        "after the last one rang",
        f"offer latency (arrival → offer frame on the bot's socket): p50 {ms(numbers['offer latency p50'])}, "
        f"p99 {ms(numbers['offer latency p99'])}, max {ms(numbers['offer latency max'])}; "
        f"{numbers['offers seen by poll first']} offers first seen by the poll after a reconnection; "
        f"{numbers['offers per call']:.2f} offers per call, {numbers['offers expired']} expired",
        f"  of which arrival → offer made (the dispatch): p50 {ms(numbers['arrival to offer made p50'])}, "
        f"p99 {ms(numbers['arrival to offer made p99'])}; each offer made → its frame (the push): p50 "
        f"{ms(numbers['offer made to frame p50'])}, p99 {ms(numbers['offer made to frame p99'])}; "
        f"{numbers['offers told by the poll']} offers told by the poll, "
        f"{numbers['offers never told']} never told "
        "(socket down, or the push lost)",
        f"accept → finish: p50 {s(numbers['accept to finish p50'])}, "
        f"p99 {s(numbers['accept to finish p99'])} "
        f"(bots think {out.config.think[0]:g}-{out.config.think[1]:g} s per step); "
        f"forced: {numbers['forced finishes']}",
        f"messages: {numbers['messages']}, deliveries {numbers['deliveries']}, "
        f"e-mails received {numbers['e-mails received']}",
    ]
    for k in numbers["kills"]:
        if k["what"] == "web":
            extra = (
                f"{k['bots cut off']} bots cut off: all with a socket again after "
                f"{s(k['sockets back after'])}, "
                f"the first offer to one of them after {s(k['first offer to them after'])}"
            )
        elif k["what"] == "worker":
            extra = f"the first e-mail after the kill: {s(k['first e-mail after'])}"
        else:
            extra = (
                f"the first offer made after the kill: {s(k['first offer made after'])}, "
                f"on a bot's socket {s(k['first offer frame after'])}"
            )
        lines.append(
            f"kill {k['process']} at {k['at']:.1f} s: started again after {s(k['restarted after'])}, "
            f"ready {s(k['ready after'])} after the kill; {extra}"
        )
    if numbers["cpu per call"]:
        per_call = ", ".join(
            f"{role} {seconds * 1000:.0f} ms" for role, seconds in numbers["cpu per call"].items()
        )
        lines.append(
            f"CPU per call handled (load and drain): {per_call}; total "
            f"{sum(numbers['cpu per call'].values()):.2f} s on {os.cpu_count()} CPUs"
        )
    lag_p99, lag_max = numbers["bots' loop lag p99"], numbers["bots' loop lag max"]
    lines.append(f"the bots' own loop: late p99 {ms(lag_p99)}, max {ms(lag_max)}")
    lines.append(
        f"bots: {numbers['bot counts']}; problems {numbers['bot problems']}, "
        f"server errors {numbers['server errors']}"
    )
    for at, bot, problem in out.record.problems[:8]:
        lines.append(f"  bot {bot} at {at - out.load_start:.1f} s: {problem[:200]}")
    return "\n".join(lines)


def run(config: Config, *, all_handled: bool = True) -> tuple[Outcome, dict[str, Any], list[str]]:
    """One whole run: the outcome, its figures and the invariants broken."""
    with Cluster(config) as cluster:
        outcome = cluster.run()
    return outcome, figures(outcome), check(outcome, all_handled=all_handled)


# ---------------------------------------------------------------------------------------------------
# The Django side, run as a script with DJANGO_SETTINGS_MODULE set


def setup(bots: int) -> dict[str, Any]:
    """The demo accounts open round the clock (CI runs at any hour: no closed account, no holiday), every
    message sent at once (no daily digest), and ``bots`` secretaries trained on them, signed in."""
    from datetime import time as clock

    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from permanence.accounts.management.commands.load_demo import _weekly
    from permanence.accounts.models import Account
    from permanence.messaging.models import DeliveryPreference
    from permanence.users.models import Role, Training, User

    with transaction.atomic():
        accounts = list(Account.objects.filter(slug__in=DEMO_ACCOUNTS))
        for account in accounts:
            _weekly(account, {day: [(clock(0), clock(0))] for day in range(7)})
            account.hours_exceptions.all().delete()
            account.closed_on_holidays = False
            account.save()
        DeliveryPreference.objects.update(digest=False)
        password = make_password(None)
        users = User.objects.bulk_create(
            User(
                username=f"bot{i:03d}",
                role=Role.SECRETARY,
                first_name="Bot",
                last_name=f"{i:03d}",
                password=password,
            )
            for i in range(bots)
        )
        Training.objects.bulk_create(Training(secretary=u, account=a) for u in users for a in accounts)
    now = timezone.now()
    for account in accounts:
        if not account.opening_status(now).is_open or account.status != "active":
            raise SystemExit(f"{account.slug} is not open now: the calls would be turned away")
    from factories import session_key_for

    out = [{"id": user.pk, "session": session_key_for(user)} for user in users]
    numbers = [
        n
        for a in accounts
        for n in a.numbers.filter(released_at__isnull=True).values_list("number", flat=True)
    ]
    return {"bots": out, "numbers": numbers, "max_wait": {a.pk: a.max_wait_seconds for a in accounts}}


def trunk(rate: float, duration: float, seed: int, numbers: list[str]) -> None:
    """Calls at a Poisson rate on the numbers, through the telephony adapter's entry point; one JSON line
    per call on stdout with the wall time of its arrival."""
    from permanence.calls import services

    rng = random.Random(seed)
    start = time.monotonic()
    print(json.dumps({"ringing": time.time()}), flush=True)
    due = 0.0
    while True:
        due += rng.expovariate(rate)
        if due > duration:
            print(json.dumps({"cpu": time.process_time()}), flush=True)
            return
        time.sleep(max(0.0, start + due - time.monotonic()))
        caller = "+3375" + "".join(rng.choice("0123456789") for _ in range(7))  # nobody's contact
        at = time.time()
        try:
            call = services.call_arrived(rng.choice(numbers), caller)
        except Exception as exc:  # told to the harness, which fails the run with it
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
            continue
        print(json.dumps({"call": call.pk, "at": at}), flush=True)


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup").add_argument("--bots", type=int, default=200)
    ringing = sub.add_parser("trunk")
    ringing.add_argument("--rate", type=float, default=DEFAULT_RATE)
    ringing.add_argument("--duration", type=float, default=60.0)
    ringing.add_argument("--seed", type=int, default=20)
    ringing.add_argument("--numbers", required=True)
    args = parser.parse_args(argv)
    import django

    django.setup()
    if args.command == "setup":
        print(json.dumps(setup(args.bots)))
    else:
        trunk(args.rate, args.duration, args.seed, args.numbers.split(","))


if __name__ == "__main__":
    main(sys.argv[1:])
