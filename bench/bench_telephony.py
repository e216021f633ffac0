"""Real telephony under load, through the whole path on this machine: SIPp callers on the carrier's
trunk address (127.0.0.2) send real speech (espeak-ng, PCMU) through the project's Kamailio to
Permanence's call control (``permanence telephony run``), which answers with rtpengine's media, plays
the waiting message then music, and rings the secretaries' SIP phones (one SIPp registered for all of
them through Kamailio, with the ephemeral credentials). Everything is set up here on free ports of
127.0.0.x, from the project's templates, on a throwaway SQLite database (or BENCH_DATABASE_URL: a
scratch database only, since the call control closes at its start the open calls of other runs):

1. arrivals: calls at a few rates, nobody ready (they wait in queue with music, the caller hangs up
   after 2 s): calls set up per second achieved, failures, INVITE -> 200 OK and INVITE -> call
   recorded, CPU per call of the call control, Kamailio and rtpengine;
2. desk: N secretaries ready with SIP phones: INVITE -> offer (CallEvent "offered") -> her phone
   rings -> answered; a "desk robot" in this process wraps each call up as the desk page would;
3. held: 50, 100, 200 calls waiting together with music: CPU per call, and the media counted by
   rtpengine (packets from the callers, and the music to them);
4. the peer: the same load against a bare answering machine on the same wire (the same SIP agent and
   media code, no database, no call logic), and the research note's figures of SIPp -> Kamailio ->
   rtpengine alone, labelled as such.

Then the sizing arithmetic for the seeds' operators from the measured figures. Times are printed,
never asserted: the machine is shared and noisy (the SIPp generators run on it too). About 5 minutes;
--quick about one. Needs Debian's kamailio, kamailio-autheph-modules, rtpengine-daemon, sip-tester,
espeak-ng and sox (skipped, saying so, without them). The SIPp scenarios are in bench/sipp/.
Run: make bench, or PYTHONPATH=src .venv/bin/python bench/bench_telephony.py [--quick] [--keep]
[--rates 5,10,20,30,40] [--held 50,100,200] [--secretaries 50].
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "sipp"
BIN = Path(sys.executable).parent
TOOLS = {
    "kamailio": "kamailio",
    "rtpengine": "rtpengine-daemon",
    "sipp": "sip-tester",
    "espeak-ng": "espeak-ng",
    "sox": "sox",
}
TRUNK, PHONES = "127.0.0.2", "127.0.0.4"  # the carrier's signalling address; the secretaries' phones
# the account's number: in the range ARCEP keeps for fiction (01 99 00 xx xx), another one if taken
NUMBER = "+33199000{:03d}"
TICK = os.sysconf("SC_CLK_TCK")
SPEECH = "Bonjour, je voudrais parler au docteur Martin, c'est au sujet de mon rendez-vous de jeudi."

# The research note /work/shared/research/telephony-recipe.md, section 4 (SIPp -> Kamailio -> rtpengine,
# no call control, rtpengine driven by Kamailio; same kind of 2-vCPU machine): NOT measured by this run.
# (concurrent calls, rtpengine % of a core); (target cps, achieved, failed calls)
NOTE_MEDIA = [(50, 12), (100, 24), (200, 42), (400, 69), (700, 114)]
NOTE_CPS = [(100, 94, 0), (400, 374, 0), (800, 272, 1491)]


# -- processes, ports, CPU ---------------------------------------------------------------------------
def _bindable(host: str, port: int, kinds: Iterable[int] = (socket.SOCK_DGRAM, socket.SOCK_STREAM)) -> bool:
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                return False
    return True


def free_port(host: str = "127.0.0.1", pair: bool = False) -> int:
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((host, 0))
            port = int(probe.getsockname()[1])
        if port + 1 < 65535 and all(_bindable(host, p) for p in ([port, port + 1] if pair else [port])):
            return port
    raise RuntimeError("no free port")


def free_block(host: str, size: int, taken: list[tuple[int, int]]) -> int:
    """The first port of ``size`` free UDP ports on ``host``, below Linux's ephemeral range (32768)."""
    for low in range(16000, 32768 - size, 500):
        if any(low < b and a < low + size for a, b in taken):
            continue
        if all(_bindable(host, p, (socket.SOCK_DGRAM,)) for p in range(low, low + size)):
            taken.append((low, low + size))
            return low
    raise RuntimeError(f"no block of {size} free ports on {host}")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # fields from the 3rd on: state, ppid, pgrp, session...


def session_pids(sid: int) -> list[int]:
    """The processes of a session (a daemon started with start_new_session: Kamailio's children)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat(int(name))
            if fields is not None and int(fields[3]) == sid:
                found.append(int(name))
    return found


def machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all CPUs (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(values[:8])
    return (total - values[3] - values[4]) / TICK, total / TICK


def cpu_seconds(pids: Iterable[int]) -> float:
    """utime + stime of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
    return total / TICK


@dataclass
class Daemon:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def pids(self) -> list[int]:
        return session_pids(self.process.pid) if self.process.poll() is None else []

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def start(
    name: str, command: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Daemon:
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )
    return Daemon(name, process, log)


def wait_for(condition: Callable[[], bool], seconds: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {seconds:.0f} s")
        time.sleep(step)


# -- statistics --------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"{pct(values, 50) * 1000:6.0f} / {pct(values, 99) * 1000:6.0f}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 and not math.isnan(a) and not math.isnan(b) else "n/a"


# -- the bench's world ---------------------------------------------------------------------------------
@dataclass
class Run:
    """One SIPp caller run: what SIPp says, its per-call times, and the CPU it cost each process."""

    label: str
    rate: float
    calls: int
    hold: float
    ok: int = 0
    failed: int = 0
    invites: dict[str, float] = field(default_factory=dict)  # Call-ID -> wall-clock time of the INVITE
    answered: dict[str, float] = field(default_factory=dict)  # Call-ID -> 200 OK received
    cpu: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds during the run
    wall: float = 0.0
    machine: float = math.nan  # the whole machine's busy share over the run, all CPUs
    events: dict[str, dict[str, float]] = field(default_factory=dict)  # Call-ID -> kind -> time
    rings: dict[str, float] = field(default_factory=dict)  # Call-ID -> her phone rang
    media: dict[str, float] = field(default_factory=dict)  # rtpengine's counts (held phase)
    window_cpu: dict[str, float] = field(default_factory=dict)  # process -> cores used (held phase)
    first_pk: int = 0  # the calls of this run are after it
    by_pk: dict[int, str] = field(default_factory=dict)  # call pk -> SIP Call-ID
    states: dict[str, int] = field(default_factory=dict)  # the calls' states at the end

    @property
    def achieved(self) -> float:
        """Calls answered per second, from the first 200 OK to the last."""
        times = sorted(self.answered.values())
        if len(times) < 2 or times[-1] <= times[0]:
            return math.nan
        return (len(times) - 1) / (times[-1] - times[0])

    def setup(self, end: str) -> list[float]:
        """INVITE -> ``end`` ("200": the 200 OK at the caller; "ring": her phone; else an event kind), s."""
        out = []
        for call_id, sent in self.invites.items():
            if end == "200":
                at = self.answered.get(call_id)
            elif end == "ring":
                at = self.rings.get(call_id)
            else:
                at = self.events.get(call_id, {}).get(end)
            if at is not None:
                out.append(at - sent)
        return out

    def per_call_ms(self, name: str) -> float:
        return self.cpu.get(name, math.nan) / max(1, self.ok) * 1000


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.folder = Path(tempfile.mkdtemp(prefix="permanence-bench-telephony-"))
        self.daemons: dict[str, Daemon] = {}
        self.taken: list[tuple[int, int]] = []
        self.secret = secrets.token_hex(24)
        self.sip_port, self.control_port = free_port(), free_port()
        self.ws_port, self.ng_port = free_port(), free_port(pair=True)
        self.rtp_low = free_block("127.0.0.1", 6000, self.taken)
        self.caller_media = free_block(TRUNK, 1600, self.taken)
        self.phone_media = free_block(PHONES, 800, self.taken)
        self.phone_port = free_port(PHONES)
        database = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{self.folder / 'bench.sqlite3'}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "permanence.settings",
            "PERMANENCE_DATA_DIR": str(self.folder / "data"),
            "DATABASE_URL": database,
            "TELEPHONY": "sip",
            "TELEPHONY_SIP_ADDRESS": f"127.0.0.1:{self.sip_port}",
            "TELEPHONY_WS_ADDRESS": f"127.0.0.1:{self.ws_port}",
            "TELEPHONY_CONTROL_ADDRESS": f"127.0.0.1:{self.control_port}",
            "TELEPHONY_RTPENGINE": f"127.0.0.1:{self.ng_port}",
            "TELEPHONY_MEDIA_ADDRESS": "127.0.0.1",
            "TELEPHONY_RTP_PORTS": f"{self.rtp_low}-{self.rtp_low + 5999}",
            "TELEPHONY_TRUNK_ADDRESSES": TRUNK,
            "TELEPHONY_SIP_SECRET": self.secret,
            "TELEPHONY_SIP_DOMAIN": "127.0.0.1",
            "TELEPHONY_TRUNK_GATEWAY": f"sip:127.0.0.1:{free_port()}",
        }
        os.environ.update(
            {
                k: v
                for k, v in self.env.items()
                if k.startswith(("DJANGO", "PERMANENCE", "DATABASE", "TELEPHONY"))
            }
        )
        self.runs = 0
        self.account: Any = None
        self.secretaries: list[Any] = []
        self.audio = self.folder / "caller_pcmu.wav"
        self.ng: Any = None

    # -- set-up ----------------------------------------------------------------------------------
    def database(self) -> None:
        import django

        django.setup()
        from django.contrib.auth.hashers import make_password
        from django.core.management import call_command
        from django.db import connection

        from permanence.accounts.models import Account, PhoneNumber, WeeklyHours
        from permanence.calls.models import Desk, Phone
        from permanence.users.models import Role, Training, User

        began = time.perf_counter()
        call_command("migrate", verbosity=0)
        slug = f"bench-telephony-{secrets.token_hex(3)}"
        account = Account.objects.create(
            slug=slug,
            name="Bench telephony",
            greeting="Bench, bonjour",
            closed_on_holidays=False,
            max_wait_seconds=900,
        )
        for day in range(7):  # open round the clock (00:00-00:00), holidays included
            WeeklyHours.objects.create(account=account, weekday=day, opens="00:00", closes="00:00")
        taken = set(
            PhoneNumber.objects.filter(number__startswith=NUMBER[:9]).values_list("number", flat=True)
        )
        number = next(NUMBER.format(i) for i in range(1000) if NUMBER.format(i) not in taken)
        PhoneNumber.objects.create(account=account, number=number, label="Standard")
        self.called = "0" + number[3:]  # as the carrier presents it: national format
        password = make_password(None)  # unusable: nobody signs in
        for i in range(self.args.secretaries):
            user = User.objects.create(username=f"{slug}-s{i:03d}", role=Role.SECRETARY, password=password)
            Training.objects.create(secretary=user, account=account)
            Desk.objects.update_or_create(secretary=user, defaults={"phone": Phone.SIP, "status": "offline"})
            self.secretaries.append(user)
        self.account = account
        given = "BENCH_DATABASE_URL" if "BENCH_DATABASE_URL" in os.environ else "a new SQLite file"
        print(
            f"database: {connection.vendor} ({given}), migrated and filled in "
            f"{time.perf_counter() - began:.1f}"
            f" s: one account (number {self.called}), {len(self.secretaries)} secretaries with SIP phones"
        )

    def telephony(self) -> None:
        from permanence.telephony import config
        from permanence.telephony.ng import Client, NgError

        layout = config.Layout.from_settings()
        paths = config.write(layout, self.folder / "telephony")
        config.check_kamailio(paths["kamailio.cfg"])
        rtpengine = start(
            "rtpengine",
            ["rtpengine", f"--config-file={paths['rtpengine.conf']}", "--no-fallback"],
            self.folder / "rtpengine.log",
        )
        self.daemons["rtpengine"] = rtpengine
        self.ng = Client(layout.ng, timeout=1.0, attempts=2)

        def pong() -> bool:
            if rtpengine.process.poll() is not None:
                raise RuntimeError("rtpengine stopped:\n" + rtpengine.tail())
            try:
                return bool(self.ng.ping())
            except NgError:
                return False

        wait_for(pong, 20, "rtpengine answering ng pings")
        run = self.folder / "telephony" / "run"
        kamailio = start(
            "kamailio",
            f"kamailio -DD -E -f {paths['kamailio.cfg']} -m 128 -M 16 -Y {run}".split(),
            self.folder / "kamailio.log",
        )
        self.daemons["kamailio"] = kamailio

        def listening() -> bool:
            if kamailio.process.poll() is not None:
                raise RuntimeError("kamailio stopped:\n" + kamailio.tail())
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                return probe.connect_ex(("127.0.0.1", self.sip_port)) == 0

        wait_for(listening, 20, "kamailio listening")
        spoken = self.folder / "spoken.wav"
        subprocess.run(["espeak-ng", "-v", "fr", "-w", str(spoken), SPEECH], check=True, capture_output=True)
        subprocess.run(
            ["sox", str(spoken), "-r", "8000", "-c", "1", "-e", "u-law", str(self.audio)], check=True
        )
        print(
            f"rtpengine {self._version(['rtpengine', '--version'])} (userspace, ng 127.0.0.1:{self.ng_port}, "
            f"RTP {self.rtp_low}-{self.rtp_low + 5999}), Kamailio {self._version(['kamailio', '-v'])} "
            f"(127.0.0.1:{self.sip_port}, trunk {TRUNK}), {os.cpu_count()} CPUs; callers speak "
            f"{self._seconds(self.audio):.1f} s of espeak-ng speech, PCMU, looped"
        )

    @staticmethod
    def _version(command: list[str]) -> str:
        done = subprocess.run(command, capture_output=True, text=True)
        words = (done.stdout + done.stderr).split()
        return next((w.strip(",") for w in words if w[:1].isdigit()), "?")

    @staticmethod
    def _seconds(wav: Path) -> float:
        return (wav.stat().st_size - 44) / 8000

    def control(self) -> None:
        """``permanence telephony run``: the call control, as in production, in its own process."""
        self._serve("control", [str(BIN / "permanence"), "telephony", "run"])

    def bare(self) -> None:
        """The peer: the same SIP agent and media code, answering with the waiting message then music,
        with no database and no call logic (this file, --bare-peer)."""
        self._serve(
            "bare",
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--bare-peer",
                f"127.0.0.1:{self.control_port}",
                f"127.0.0.1:{self.sip_port}",
                f"127.0.0.1:{self.ng_port}",
            ],
        )

    def _serve(self, name: str, command: list[str]) -> None:
        for other in ("control", "bare"):
            if other in self.daemons:
                self.daemons.pop(other).stop()
        daemon = start(name, command, self.folder / f"{name}.log", env=self.env)
        self.daemons[name] = daemon

        def bound() -> bool:
            if daemon.process.poll() is not None:
                raise RuntimeError(f"{name} stopped:\n{daemon.tail()}")
            return not _bindable("127.0.0.1", self.control_port, (socket.SOCK_DGRAM,))

        wait_for(bound, 30, f"the {name} on 127.0.0.1:{self.control_port}")
        time.sleep(0.5)

    def register_phones(self) -> None:
        from permanence.telephony import credentials

        lines = ["SEQUENTIAL"]
        for user in self.secretaries:
            sip_user = credentials.sip_user(user.pk)
            username, password = credentials.ephemeral(self.secret, sip_user, time.time())
            lines.append(f"{sip_user};{username};{password}")
        folder = self._run_folder("register")
        (folder / "phones.csv").write_text("\n".join(lines) + "\n")
        scenario = self._scenario(
            "register.xml", folder, DOMAIN="127.0.0.1", PHONE_HOST=PHONES, PHONE_PORT=str(self.phone_port)
        )
        done = subprocess.run(
            [
                *f"sipp -sf {scenario} -i {PHONES} -p {free_port(PHONES)} -inf phones.csv".split(),
                *["-au", "[field1]", "-ap", "[field2]"],  # the username and password of each line
                *f"-m {len(self.secretaries)} -r 50 127.0.0.1:{self.sip_port} -trace_err -nostdin".split(),
                *["-timeout", "30s"],
            ],
            cwd=folder,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"the phones' registrations failed (SIPp {done.returncode}):\n"
                f"{_errors(folder)}{done.stdout[-1500:]}"
            )

    # -- SIPp ------------------------------------------------------------------------------------
    def _run_folder(self, name: str) -> Path:
        self.runs += 1
        folder = self.folder / f"{self.runs:02d}-{name}"
        folder.mkdir()
        return folder

    @staticmethod
    def _scenario(name: str, folder: Path, **words: str) -> Path:
        text = (SCENARIOS / name).read_text()
        for word, value in words.items():
            text = text.replace(word, value)
        path = folder / name
        path.write_text(text)
        return path

    def processes(self) -> dict[str, list[int]]:
        return {name: daemon.pids() for name, daemon in self.daemons.items()}

    def cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(pids) for name, pids in self.processes().items()}

    def call(
        self,
        label: str,
        rate: float,
        calls: int,
        hold: float,
        during: Callable[[Run, subprocess.Popen[bytes]], None] | None = None,
    ) -> Run:
        """SIPp callers on the trunk: ``calls`` calls at ``rate`` per second, each hung up ``hold`` s
        after its answer; the CPU of every process over the run (until the calls are released)."""
        from permanence.calls.models import Call

        run = Run(label, rate, calls, hold)
        folder = self._run_folder(label.replace(" ", "-"))
        scenario = self._scenario("caller.xml", folder, AUDIO_FILE=str(self.audio))
        first_pk = Call.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        limit = calls / rate + hold + 60
        command = (
            f"sipp -sf {scenario} -i {TRUNK} -p {free_port(TRUNK)} -mi {TRUNK} -mp {self.caller_media} "
            f"-s {self.called} 127.0.0.1:{self.sip_port} -r {rate:g} -rp 1000 -m {calls} "
            f"-d {int(hold * 1000)} -l 5000 -trace_logs -trace_stat -fd 1 -trace_err -nostdin "
            f"-timeout {int(limit)}s"
        ).split()
        run.first_pk = first_pk
        before, began, whole = self.cpu(), time.monotonic(), machine()
        children, heard = _children_cpu(), udp_drops(PHONES)
        sipp = start("sipp", command, folder / "sipp.out", cwd=folder)
        self.daemons["sipp"] = sipp
        reached = [0]  # what reached the callers' socket (it lives as long as this SIPp): its highest count

        def sample() -> None:
            while sipp.process.poll() is None:
                reached[0] = max(reached[0], udp_drops(TRUNK))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, name="callers-media", daemon=True)
        sampler.start()
        try:
            if during is not None:
                during(run, sipp.process)
            sipp.process.wait(limit + 10)
        finally:
            sipp.stop()
            del self.daemons["sipp"]
            sampler.join(5)
        sipp_cpu = _children_cpu() - children  # SIPp, waited for: our children's CPU
        time.sleep(1.0)  # the last BYEs are handled and the media released
        after, ended = self.cpu(), machine()
        run.wall = time.monotonic() - began
        run.machine = (ended[0] - whole[0]) / max(1e-9, ended[1] - whole[1])
        run.media["to_callers"] = reached[0]
        run.media["to_phones"] = udp_drops(PHONES) - heard
        run.cpu = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after if name != "sipp"}
        run.cpu["sipp"] = sipp_cpu
        self._read_sipp(run, folder)
        self._read_database(run, first_pk)
        return run

    @staticmethod
    def _read_sipp(run: Run, folder: Path) -> None:
        for log in folder.glob("caller_*_logs.log"):
            for line in log.read_text(errors="replace").splitlines():
                parts = line.split()
                if len(parts) == 4 and parts[0] in ("INVITE", "ANSWERED"):
                    at = float(parts[2]) + float(parts[3]) / 1e6
                    (run.invites if parts[0] == "INVITE" else run.answered)[parts[1]] = at
        stats = sorted(folder.glob("caller_*_.csv"))
        if stats:
            rows = [line.split(";") for line in stats[0].read_text().splitlines() if line.strip()]
            header, last = rows[0], rows[-1]
            value = dict(zip(header, last, strict=False))
            run.ok = int(value.get("SuccessfulCall(C)", 0) or 0)
            run.failed = int(value.get("FailedCall(C)", 0) or 0)

    def _read_database(self, run: Run, first_pk: int) -> None:
        from permanence.calls.models import Call, CallEvent

        calls = dict(
            Call.objects.filter(pk__gt=first_pk, account=self.account).values_list("pk", "external_id")
        )
        by_pk = {pk: external.split(":", 2)[-1] for pk, external in calls.items()}
        for call_id, kind, at in CallEvent.objects.filter(call_id__in=list(by_pk)).values_list(
            "call_id", "kind", "at"
        ):
            run.events.setdefault(by_pk[call_id], {}).setdefault(kind, at.timestamp())
        run.by_pk = by_pk
        run.states = _count(Call.objects.filter(pk__in=list(by_pk)).values_list("state", flat=True))

    # -- rtpengine's view of the media -------------------------------------------------------------
    def media_snapshot(self) -> dict[str, int]:
        """For each rtpengine session: the RTP packets received from its endpoint (the caller) so far."""
        from permanence.telephony.ng import NgError

        snapshot: dict[str, int] = {}
        try:
            ids = self.ng.request("list", limit=100000).get("calls", [])
        except NgError:
            return snapshot
        for call_id in ids:
            try:
                reply = self.ng.query(str(call_id))
            except NgError:
                continue
            snapshot[str(call_id)] = _endpoint_packets(reply)
        return snapshot

    def close(self) -> None:
        for name in ("sipp", "phones", "control", "bare", "kamailio", "rtpengine"):
            if name in self.daemons:
                self.daemons.pop(name).stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if self.args.keep:
            print(f"kept: {self.folder}")
        else:
            shutil.rmtree(self.folder, ignore_errors=True)


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _errors(folder: Path) -> str:
    return "".join(p.read_text(errors="replace")[-1500:] for p in folder.glob("*_errors.log"))


def _endpoint_packets(reply: dict[str, Any]) -> int:
    """RTP packets rtpengine received from the leg's endpoint (the side tagged "e" of our anchors)."""
    for media in (reply.get("tags") or {}).get("e", {}).get("medias", []) or []:
        for stream in media.get("streams", [])[:1]:
            return int((stream.get("stats") or {}).get("packets", 0) or 0)
    return 0


def udp_drops(host: str) -> int:
    """Datagrams dropped by the sockets of ``host``: SIPp never reads the RTP it receives (rtp_stream
    mode), so once its socket's buffer is full every packet sent to the callers (or the phones) is
    counted here: what reached them."""
    prefix = socket.inet_aton(host)[::-1].hex().upper() + ":"
    total = 0
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) > 12 and fields[1].startswith(prefix):
            total += int(fields[-1])
    return total


# -- the phases ----------------------------------------------------------------------------------------
def arrivals(bench: Bench, rates: list[float], seconds: float, label: str = "queue") -> list[Run]:
    runs = []
    for rate in rates:
        calls = max(4, int(rate * seconds))
        runs.append(bench.call(f"{label} {rate:g}cps", rate, calls, 2.0))
    return runs


def desk(bench: Bench, rates: list[float], seconds: float) -> list[Run]:
    from django.db import connection

    from permanence.calls import services
    from permanence.calls.models import Call, Desk

    bench.register_phones()
    folder = bench._run_folder("phones")
    scenario = bench._scenario("desk_phone.xml", folder, AUDIO_FILE=str(bench.audio), RING_MS="300")
    phones = start(
        "phones",
        f"sipp -sf {scenario} -i {PHONES} -p {bench.phone_port} -mi {PHONES} -mp {bench.phone_media} "
        "-trace_logs -trace_err -nostdin".split(),
        folder / "sipp.out",
        cwd=folder,
    )
    bench.daemons["phones"] = phones
    wait_for(lambda: not _bindable(PHONES, bench.phone_port, (socket.SOCK_DGRAM,)), 10, "the phones' SIPp")
    # calls a previous phase left open (none, unless one failed) would ring her phone: closed first
    for pk in (
        Call.objects.filter(account=bench.account)
        .exclude(state__in=["done", "abandoned", "diverted", "not_served"])
        .values_list("pk", flat=True)
    ):
        with contextlib.suppress(services.CallError):
            services.caller_hung_up(pk)
    users = {user.pk: user for user in bench.secretaries}
    for user in bench.secretaries:
        services.set_status(user, "ready")
    stop = threading.Event()
    wrapped = [0]

    def robot() -> None:  # the desk pages: each finished call wrapped up at once, the secretary ready again
        try:
            while not stop.wait(0.1):
                for pk, sid in Call.objects.filter(account=bench.account, state="wrap_up").values_list(
                    "pk", "secretary_id"
                ):
                    with contextlib.suppress(services.CallError):
                        services.wrap_up(pk, users[sid], "bench")
                        wrapped[0] += 1
        finally:
            connection.close()

    thread = threading.Thread(target=robot, name="desk-robot", daemon=True)
    thread.start()
    runs = []
    try:
        for rate in rates:
            calls = max(4, int(rate * seconds))
            run = bench.call(f"desk {rate:g}cps", rate, calls, 3.0)
            time.sleep(0.5)
            runs.append(run)
    finally:
        stop.set()
        thread.join(10)
        phones.process.send_signal(signal.SIGUSR1)  # SIPp: stop gracefully (its logs are written)
        time.sleep(1)
        phones.stop()
        del bench.daemons["phones"]
        Desk.objects.filter(secretary__in=bench.secretaries).update(status="offline")
    rings: dict[int, float] = {}
    for log in folder.glob("desk_phone_*_logs.log"):
        for line in log.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[0] == "RING" and parts[1].isdigit():
                rings.setdefault(int(parts[1]), float(parts[2]) + float(parts[3]) / 1e6)
    for run in runs:
        for pk, call_id in run.by_pk.items():
            if pk in rings:
                run.rings[call_id] = rings[pk]
    print(
        f"desk: {len(bench.secretaries)} phones registered through Kamailio; {wrapped[0]} calls wrapped "
        f"up by the desk robot"
    )
    return runs


def held(bench: Bench, levels: list[int], window: float, label: str = "held") -> list[Run]:
    """``level`` calls waiting together with music: CPU over ``window`` seconds once all wait."""
    from permanence.calls.models import Call

    ramp_rate = 25.0
    runs = []
    for level in levels:
        ramp = level / ramp_rate
        hold = ramp + 6 + window + 4  # all waiting, the waiting message (4 s), the window, a margin

        def during(run: Run, process: subprocess.Popen[bytes], level: int = level) -> None:
            deadline = time.monotonic() + level / ramp_rate + 20

            def together() -> int:
                if bench.daemons.get("control") is not None:
                    queued = Call.objects.filter(pk__gt=run.first_pk, account=bench.account, state="queued")
                    return int(queued.count())
                return len(bench.media_snapshot())

            while time.monotonic() < deadline and process.poll() is None and together() < level:
                time.sleep(0.5)
            time.sleep(5)  # the waiting message (4 s), then the music
            first, before, heard = bench.media_snapshot(), bench.cpu(), udp_drops(TRUNK)
            began = time.monotonic()
            time.sleep(window)
            after, reached, last = bench.cpu(), udp_drops(TRUNK), bench.media_snapshot()
            spent = time.monotonic() - began
            run.window_cpu = {k: (after[k] - before.get(k, 0.0)) / spent for k in after}
            common = [k for k in last if k in first]
            run.media = {
                "sessions": len(last),
                "flowing": sum(1 for k in common if last[k] > first[k]),
                "pps_in": sum(last[k] - first[k] for k in common) / spent,
                "pps_out": (reached - heard) / spent,
            }

        runs.append(bench.call(f"{label} {level}", ramp_rate, level, hold, during))
    return runs


# -- the bare peer (a subprocess) ------------------------------------------------------------------------
def bare_peer(local: str, proxy: str, ng: str) -> None:
    """Answer every call with rtpengine's media, the waiting message then music, until the caller hangs
    up: the call control's wire work without its database and call logic."""
    from permanence.telephony import sip
    from permanence.telephony.media import Media, MediaError
    from permanence.telephony.ng import Client

    def split(text: str) -> tuple[str, int]:
        host, _, port = text.rpartition(":")
        return host, int(port)

    media = Media(Client(ng), "127.0.0.1")
    tasks: set[asyncio.Task[None]] = set()

    async def call(leg: sip.ServerLeg) -> None:
        try:
            anchor = await asyncio.to_thread(media.answer_incoming, f"bare-{leg.call_id}", leg.remote_sdp)
        except MediaError:
            leg.reject(503, "Service Unavailable")
            return
        if await leg.answer(anchor.endpoint_sdp):
            try:
                duration = await asyncio.to_thread(media.play, anchor, "waiting")
                try:
                    await asyncio.wait_for(asyncio.shield(leg.ended), duration)
                except TimeoutError:
                    await asyncio.to_thread(media.play, anchor, "music", repeat=10000)
            except MediaError:
                pass
        await leg.ended
        await asyncio.to_thread(media.release, anchor)

    def on_invite(leg: sip.ServerLeg) -> None:
        task = asyncio.ensure_future(call(leg))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def main() -> None:
        agent = sip.Agent(split(local), split(proxy), on_invite)
        await agent.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        agent.close()

    asyncio.run(main())


# -- printing --------------------------------------------------------------------------------------------
def table(title: str, header: list[str], rows: list[list[str]], notes: Iterable[str] = ()) -> None:
    if title:
        print(f"\n{title}")
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(header)]
    print("  " + " | ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    print("  " + "-+-".join("-" * w for w in widths))
    for row in rows:
        print("  " + " | ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    for note in notes:
        print(f"  {note}")


def states(run: Run) -> str:
    return ", ".join(f"{n} {state}" for state, n in sorted(run.states.items())) or "-"


def server(run: Run) -> str:
    return "control" if "control" in run.cpu else "bare"


def print_arrivals(title: str, runs: list[Run]) -> None:
    who = "call control" if runs and server(runs[0]) == "control" else "bare peer"
    rows = []
    for run in runs:
        name = server(run)
        sending = run.calls / run.rate + run.hold
        rows.append(
            [
                f"{run.rate:g}",
                str(run.calls),
                str(run.ok),
                str(run.failed),
                f"{run.achieved:.1f}",
                ms(run.setup("200")),
                ms(run.setup("arrived")) if name == "control" else "-",
                f"{run.per_call_ms(name):.1f}",
                f"{run.per_call_ms('kamailio'):.1f}",
                f"{run.per_call_ms('rtpengine'):.1f}",
                f"{run.per_call_ms('sipp'):.1f}",
                f"{run.cpu.get(name, 0) / sending * 100:.0f} %",
                f"{run.machine * 100:.0f} %",
                states(run),
            ]
        )
    table(
        title,
        [
            "cps",
            "calls",
            "ok",
            "failed",
            "achieved cps",
            "INVITE->200 OK p50/p99 ms",
            "INVITE->recorded p50/p99 ms",
            f"CPU ms/call: {who}",
            "Kamailio",
            "rtpengine",
            "SIPp",
            f"{who} busy",
            "machine busy",
            "calls in the database",
        ],
        rows,
        [
            "achieved: calls answered a second, first 200 OK to last; recorded: the call's 'arrived' event "
            "(the database's clock); CPU per call includes its 2 s of waiting with music; busy: its CPU over "
            "the sending time, in % of one core; machine: all its CPUs over the run, SIPp and anything else "
            "running on it included"
        ],
    )


def print_desk(runs: list[Run], secretaries: int) -> None:
    rows = []
    for run in runs:
        answered = sum(1 for events in run.events.values() if "answered" in events)
        rows.append(
            [
                f"{run.rate:g}",
                str(run.calls),
                str(run.ok),
                str(run.failed),
                str(answered),
                ms(run.setup("offered")),
                ms(run.setup("ring")),
                ms(run.setup("answered")),
                f"{run.per_call_ms('control'):.1f}",
                f"{run.per_call_ms('kamailio'):.1f}",
                f"{run.per_call_ms('rtpengine'):.1f}",
                f"{run.media.get('to_phones', 0) / max(1, answered):.0f} / "
                f"{run.media.get('to_callers', 0) / max(1, run.ok):.0f}",
                states(run),
            ]
        )
    table(
        f"2. {secretaries} secretaries ready, their SIP phones registered through Kamailio: each call "
        "offered "
        "at once, her phone rings, she picks up after 0.3 s, the caller hangs up 3 s after the answer",
        [
            "cps",
            "calls",
            "ok",
            "failed",
            "answered by her",
            "INVITE->offered p50/p99 ms",
            "INVITE->her phone rings",
            "INVITE->answered",
            "CPU ms/call: call control",
            "Kamailio",
            "rtpengine",
            "RTP packets/call to her phone / caller",
            "calls in the database",
        ],
        rows,
        [
            "offered: the event's time, which is the arrival's when offered at once; her phone rings: "
            "the INVITE at her phone (the call control follows the database every 0.2 s); answered: the "
            "'answered' event, after her 0.3 s. RTP: what reached the SIPp ends (speech, music, 50 a second)"
        ],
    )


def print_held(title: str, runs: list[Run]) -> None:
    rows = []
    for run in runs:
        cpu, level = run.window_cpu, max(1, run.calls)
        name = "control" if "control" in cpu else "bare"

        def share(process: str, cpu: dict[str, float] = cpu, level: int = level) -> str:
            total = cpu.get(process, math.nan) * 100
            return f"{total / level:.3f} ({total:.0f} %)"

        media = run.media
        rows.append(
            [
                str(run.calls),
                str(int(media.get("sessions", 0))),
                str(int(media.get("flowing", 0))),
                f"{media.get('pps_in', 0):.0f} / {50 * run.calls}",
                f"{media.get('pps_out', 0):.0f} / {50 * run.calls}",
                share(name),
                share("kamailio"),
                share("rtpengine"),
                share("sipp"),
                str(run.failed),
                ms(run.setup("200")),
            ]
        )
    who = "call control" if runs and "control" in runs[0].window_cpu else "bare peer"
    table(
        title,
        [
            "calls waiting",
            "rtpengine sessions",
            "receiving caller RTP",
            "RTP/s from callers / expected",
            "RTP/s to callers / expected",
            f"% core per call (all): {who}",
            "Kamailio",
            "rtpengine",
            "SIPp",
            "failed",
            "INVITE->200 OK p50/p99 ms",
        ],
        rows,
        [
            "over a window once all the calls wait (after the waiting message): rtpengine's own counts of "
            "the callers' RTP; what reached the callers' socket (the music); CPU in % of one core"
        ],
    )


def print_peer(queue: list[Run], peer: list[Run], together: list[Run], peer_held: list[Run]) -> None:
    print_arrivals(
        "4. The peer: a bare answering machine on the same wire (the same SIP agent and rtpengine "
        "commands, the waiting message then music; no database, no call logic)",
        peer,
    )
    if peer_held:
        print_held("   The peer with calls waiting together", peer_held)
    print("  Call control against the peer:")
    for run in peer:
        mine = next((r for r in queue if r.rate == run.rate), None)
        if mine is not None:
            print(
                f"    at {run.rate:g} cps: CPU per call "
                f"{ratio(mine.per_call_ms('control'), run.per_call_ms('bare'))}"
                f" ({mine.per_call_ms('control'):.1f} ms / {run.per_call_ms('bare'):.1f} ms); INVITE->200 OK "
                f"p50 {ratio(pct(mine.setup('200'), 50), pct(run.setup('200'), 50))}, p99 "
                f"{ratio(pct(mine.setup('200'), 99), pct(run.setup('200'), 99))}; rtpengine's CPU per call "
                f"{ratio(mine.per_call_ms('rtpengine'), run.per_call_ms('rtpengine'))}"
            )
    for run in peer_held:
        mine = next((r for r in together if r.calls == run.calls), None)
        if mine is not None:
            a, b = mine.window_cpu, run.window_cpu
            print(
                f"    {run.calls} calls waiting: call control {a.get('control', math.nan) * 100:.1f} % of "
                "a core "
                f"against {b.get('bare', math.nan) * 100:.1f} % (it reads their state from the database five "
                "times a second); rtpengine "
                f"{ratio(a.get('rtpengine', math.nan), b.get('rtpengine', math.nan))}"
            )
    print(
        "  From the research note (shared/research/telephony-recipe.md, section 4: SIPp -> Kamailio -> "
        "rtpengine, "
        "Kamailio driving rtpengine, no call control, both legs SIPp; NOT measured by this run):"
    )
    print(
        "    media, rtpengine % of a core: "
        + ", ".join(f"{n} calls {c} %" for n, c in NOTE_MEDIA)
        + " (100 RTP packets/s per call into rtpengine, about 0.17-0.24 % of a core per call)"
    )
    print(
        "    signalling, 1 s calls without RTP: "
        + ", ".join(f"{t} cps -> {a} achieved ({f} failed)" for t, a, f in NOTE_CPS)
        + "; rtpengine, not Kamailio, saturated first"
    )


# -- the arithmetic ----------------------------------------------------------------------------------------
DAYS, BUSY_SHARE, MEAN_CALL, PEAK, HEADROOM = 250, 0.10, 180.0, 3.0, 0.5
VOLUMES = (800_000, 10_000_000, 8_000_000, 100_000_000)


def sizing(queue: list[Run], at_desk: list[Run], together: list[Run]) -> None:
    clean = [
        r for r in queue if r.failed == 0 and r.achieved >= 0.9 * r.rate and pct(r.setup("200"), 99) < 1.0
    ]
    capacity = max((r.rate for r in clean), default=math.nan)
    at_least = bool(clean) and capacity == max(r.rate for r in queue)
    setup = {
        name: median([r.per_call_ms(name) for r in at_desk or queue])
        for name in ("control", "kamailio", "rtpengine")
    }
    biggest = max(together, key=lambda r: r.calls) if together else None
    held_cost = {
        name: biggest.window_cpu.get(name, math.nan) / biggest.calls if biggest else math.nan
        for name in ("control", "kamailio", "rtpengine")
    }
    print("\n5. Sizing for the seeds' operators, from the figures above")
    print(
        f"  Assumptions: {DAYS} working days a year; {BUSY_SHARE:.0%} of a day's calls in its busiest hour; "
        f"a call lasts {MEAN_CALL / 60:.0f} min on average, waiting included; the busiest second carries "
        f"{PEAK:g}x the busy hour's mean rate; each process planned at {HEADROOM:.0%} of what was measured "
        "(a call-control process is one Python event loop: one core at most)."
    )
    print(
        f"  Measured here: the call control set up {'at least ' if at_least else ''}{capacity:g} calls/s "
        "cleanly (no failure, p99 INVITE->200 OK under 1 s); per call with a secretary's leg (phase 2): "
        f"call control {setup['control']:.1f} ms of CPU, Kamailio {setup['kamailio']:.1f} ms, rtpengine "
        f"{setup['rtpengine']:.1f} ms; per call waiting ({biggest.calls if biggest else 0} together): call "
        f"control {held_cost['control'] * 100:.3f} %, rtpengine {held_cost['rtpengine'] * 100:.3f} % of a "
        "core (a talking call has two rtpengine anchors: counted twice for every call)."
    )
    rows = []
    for yearly in VOLUMES:
        daily = yearly / DAYS
        busy = daily * BUSY_SHARE
        mean_cps = busy / 3600
        peak = mean_cps * PEAK
        erlangs = busy * MEAN_CALL / 3600
        control = peak * setup["control"] / 1000 + erlangs * held_cost["control"]
        by_rate = peak / (capacity * HEADROOM) if not math.isnan(capacity) else 0.0
        media = erlangs * 2 * held_cost["rtpengine"] + peak * setup["rtpengine"] / 1000
        edge = peak * setup["kamailio"] / 1000
        rows.append(
            [
                f"{yearly:,}",
                f"{daily:,.0f}",
                f"{busy:,.0f}",
                f"{mean_cps:.2f}",
                f"{peak:.2f}",
                f"{erlangs:,.0f}",
                f"{max(1, math.ceil(max(control / HEADROOM, by_rate)))} ({control:.2f} core)",
                f"{max(1, math.ceil(media / (2 * HEADROOM)))} ({media:.2f} core)",
                f"{max(1, math.ceil(edge / (2 * HEADROOM)))} ({edge:.3f} core)",
            ]
        )
    table(
        "",
        [
            "calls/year",
            "calls/day",
            "busy-hour calls",
            "mean cps",
            "peak cps",
            "Erlangs (concurrent)",
            "call-control processes",
            "rtpengine 2-core nodes",
            "Kamailio 2-core nodes",
        ],
        rows,
        [
            f"calls/day = calls/year / {DAYS}; busy hour = {BUSY_SHARE:.0%} of a day; mean cps = busy hour / "
            f"3600; peak = {PEAK:g} x mean; Erlangs = busy-hour calls x {MEAN_CALL:.0f} s / 3600",
            "call control: peak cps x CPU per call + Erlangs x CPU per waiting call, and peak cps against "
            "the clean "
            f"rate, at {HEADROOM:.0%}; rtpengine: Erlangs x 2 anchors x CPU per waiting call + peak cps x "
            "CPU per "
            f"call set up, on 2-core nodes at {HEADROOM:.0%}; Kamailio: peak cps x CPU per call. Add one "
            "spare "
            "of each for a failure.",
        ],
    )


def median(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return pct(kept, 50) if kept else math.nan


# -- main --------------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="about a minute: fewer rates, levels and calls")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, SIPp traces)")
    parser.add_argument(
        "--rates", help="phase 1's calls per second, comma-separated (5,10,20,30,40; quick 5,20)"
    )
    parser.add_argument(
        "--held", help="phase 3's calls waiting together, comma-separated (50,100,200; quick 50)"
    )
    parser.add_argument(
        "--secretaries", type=int, default=0, help="secretaries ready in phase 2 (50; quick 20)"
    )
    parser.add_argument("--bare-peer", nargs=3, metavar=("LOCAL", "PROXY", "NG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_peer:
        bare_peer(*args.bare_peer)
        return 0
    missing = [package for tool, package in TOOLS.items() if shutil.which(tool) is None]
    if missing:
        print(f"telephony bench skipped: not installed (apt-get install {' '.join(missing)})")
        return 0
    quick = args.quick
    args.secretaries = args.secretaries or (20 if quick else 50)
    rates = (
        [float(r) for r in args.rates.split(",")]
        if args.rates
        else [5.0, 20.0]
        if quick
        else [5.0, 10.0, 20.0, 30.0, 40.0]
    )
    levels = [int(n) for n in args.held.split(",")] if args.held else [50] if quick else [50, 100, 200]
    desk_rates = [5.0] if quick else [2.0, 5.0, 10.0]
    seconds, window = (4.0, 4.0) if quick else (10.0, 8.0)
    began = time.monotonic()
    bench = Bench(args)
    try:
        bench.database()
        bench.telephony()
        bench.control()
        bench.call("warm-up", 4, 2, 0.5)  # the call control's first calls import and connect
        queue = arrivals(bench, rates, seconds)
        at_desk = desk(bench, desk_rates, seconds)
        together = held(bench, levels, window)
        bench.bare()
        bench.call("bare warm-up", 4, 2, 0.5)
        peer_queue = arrivals(bench, [20.0] if quick else [20.0, 40.0], seconds, "bare")
        peer_held = [] if quick else held(bench, [min(levels[-1], 100)], window, "bare held")
    finally:
        bench.close()
    print_arrivals(
        "1. Arrivals, nobody ready: each call answered by the call control, the waiting message then "
        "music, the caller hangs up 2 s after the answer",
        queue,
    )
    print_desk(at_desk, args.secretaries)
    print_held(
        "3. Calls waiting together with music (the call control), 25 new calls a second until all wait",
        together,
    )
    print_peer(queue, peer_queue, together, peer_held)
    sizing(queue, at_desk, together)
    print(
        f"\n(the bench took {time.monotonic() - began:.0f} s on {os.cpu_count()} CPUs shared by every "
        "process)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
