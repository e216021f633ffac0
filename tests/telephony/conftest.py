"""Real telephony peers run by the tests: rtpengine and Kamailio from the project's configuration
templates, SIPp, espeak-ng and sox, all on 127.0.0.0/8. Skipped, with the reason, when Debian's
packages are absent (`.ci/run` installs them as root)."""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from waiting import wait_for

TOOLS = {"kamailio": "kamailio", "rtpengine": "rtpengine-daemon", "sipp": "sip-tester",
         "espeak-ng": "espeak-ng", "sox": "sox"}  # fmt: skip


def missing_tools() -> list[str]:
    return [package for tool, package in TOOLS.items() if shutil.which(tool) is None]


@pytest.fixture(scope="session")
def telephony_tools() -> None:
    missing = missing_tools()
    if missing:
        pytest.skip(f"telephony tools are not installed (apt-get install {' '.join(missing)}): skipped")


# Below Linux's ephemeral range (32768-60999 by default): a port picked there may be taken by any
# process's next outgoing connection or datagram between the pick and the daemon's bind (seen: Kamailio
# "Address already in use"); ports here are only ever bound on purpose.
PICKED = (20000, 32000)


def free_port(kind: int = socket.SOCK_DGRAM, pair: bool = False) -> int:
    """A port free for UDP and TCP (and the next one too, with ``pair``)."""
    del kind  # both kinds are checked
    for _ in range(500):
        port = random.randrange(*PICKED)
        wanted = [port, port + 1] if pair else [port]
        if all(_free(p) for p in wanted):
            return port
    raise RuntimeError("no free port")


def _free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def rtp_range() -> tuple[int, int]:
    """A block of 200 ports nobody uses now (RTP and RTCP pairs)."""
    for _ in range(100):
        low = free_port() // 2 * 2
        if low + 200 < 65535 and all(_free(p) for p in range(low, low + 200, 17)):
            return low, low + 199
    raise RuntimeError("no free port range")


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def start(command: list[str], log: Path) -> Daemon:
    handle = log.open("wb")
    process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    handle.close()
    return Daemon(process, log)


@pytest.fixture
def layout(telephony_tools: None, tmp_path: Path) -> Any:
    """Where everything listens in this test: free ports on 127.0.0.1."""
    from permanence.telephony.config import Layout
    from permanence.telephony.ng import Address

    low, high = rtp_range()
    return Layout(
        sip=Address("127.0.0.1", free_port()),
        ws=Address("127.0.0.1", free_port(socket.SOCK_STREAM)),
        control=Address("127.0.0.1", free_port()),
        ng=Address("127.0.0.1", free_port(pair=True)),
        rtp_min=low,
        rtp_max=high,
        trunk=("127.0.0.2",),
        log_level=3,
        secret=secrets.token_urlsafe(24),  # the phones' ephemeral credentials (credentials.ephemeral)
        domain="127.0.0.1",
        gateway=f"sip:127.0.0.1:{free_port()}",  # the carrier's gateway: transfers go there
    )


@pytest.fixture
def rtpengine(layout: Any, tmp_path: Path) -> Iterator[Any]:
    from permanence.telephony import config
    from permanence.telephony.ng import Client, NgError

    paths = config.write(layout, tmp_path / "telephony")
    daemon = start(["rtpengine", f"--config-file={paths['rtpengine.conf']}", "--no-fallback"],
                   tmp_path / "rtpengine.log")  # fmt: skip
    pinger = Client(layout.ng, timeout=0.3, attempts=1)  # is it up yet?
    # the tests' commands: playing a file decodes it first, which takes more than 0.3 s on a busy machine
    client = Client(layout.ng, timeout=3.0, attempts=1)

    def answers() -> bool:
        if daemon.process.poll() is not None:
            raise AssertionError("rtpengine stopped:\n" + daemon.text())
        try:
            return pinger.ping()
        except NgError:
            return False

    assert wait_for(answers, 20), "rtpengine did not answer ng pings in 20 s"
    client.daemon = daemon  # type: ignore[attr-defined]

    def restart() -> None:
        """Stop it (its calls are lost) and start it again on the same ports."""
        nonlocal daemon
        daemon.stop()
        daemon = start(["rtpengine", f"--config-file={paths['rtpengine.conf']}", "--no-fallback"],
                       tmp_path / "rtpengine-again.log")  # fmt: skip
        client.daemon = daemon  # type: ignore[attr-defined]
        assert wait_for(answers, 20), "rtpengine did not answer ng pings in 20 s after its restart"

    client.restart = restart  # type: ignore[attr-defined]
    yield client
    daemon.stop()


@pytest.fixture
def kamailio(layout: Any, tmp_path: Path) -> Iterator[Daemon]:
    from permanence.telephony import config

    paths = config.write(layout, tmp_path / "telephony")
    config.check_kamailio(paths["kamailio.cfg"])
    command = ["kamailio", "-DD", "-E", "-f", str(paths["kamailio.cfg"]), "-m", "64", "-M", "8",
               "-Y", str(tmp_path / "telephony" / "run")]  # fmt: skip
    daemon = start(command, tmp_path / "kamailio.log")

    def listening(daemon: Daemon = daemon) -> bool:
        if daemon.process.poll() is not None:
            raise AssertionError("kamailio stopped:\n" + daemon.text())
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            return probe.connect_ex((layout.sip.host, layout.sip.port)) == 0

    assert wait_for(listening, 20), "kamailio did not listen in 20 s"
    running = [daemon]

    def restart() -> None:
        """Stop it (its registrations are lost: they live in memory) and start it again."""
        running[-1].stop()
        running.append(start(command, tmp_path / "kamailio-again.log"))
        assert wait_for(lambda: listening(running[-1]), 20), "kamailio did not listen again in 20 s"

    daemon.restart = restart  # type: ignore[attr-defined]
    yield daemon
    running[-1].stop()


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real audio: a sentence spoken by espeak-ng, as SIPp (mu-law) and rtpengine (16-bit PCM) read it."""
    if missing_tools():
        pytest.skip("telephony tools are not installed: skipped")
    folder = tmp_path_factory.mktemp("speech")
    spoken = folder / "spoken.wav"
    subprocess.run(["espeak-ng", "-v", "fr", "-w", str(spoken),
                    "Bonjour, vous êtes bien chez Permanence. Ne quittez pas."], check=True)  # fmt: skip
    ulaw, pcm = folder / "caller_pcmu.wav", folder / "prompt_8k.wav"
    subprocess.run(["sox", str(spoken), "-r", "8000", "-c", "1", "-e", "u-law", str(ulaw)], check=True)
    pcm16 = ["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"]
    subprocess.run(["sox", str(spoken), *pcm16, str(pcm)], check=True)
    return {"spoken": spoken, "ulaw": ulaw, "pcm": pcm}


@pytest.fixture(scope="module", autouse=True)
def _flush_may_purge_audit() -> Iterator[None]:
    """Transactional tests end with a flush, which deletes audit rows (a supervision writes some): on
    SQLite the append-only trigger lets it through only while a purge is allowed; module-scoped, so
    that it outlives each test's flush."""
    from permanence.audit import models

    models._purge_allowed = True
    yield
    models._purge_allowed = False
