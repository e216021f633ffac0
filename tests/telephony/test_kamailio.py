"""Kamailio from the project's configuration: the trunk's calls reach the call control, anyone else's
are refused; registrations are not open yet. SIPp plays the trunk (127.0.0.2, the configured
address), an intruder (127.0.0.3) and the call control (a SIPp answering on its address)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.telephony
SIPP = Path(__file__).resolve().parent / "sipp"


def sipp(cwd: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """SIPp run to its end in ``cwd`` (where it writes its traces)."""
    return subprocess.run(["sipp", *args, "-nostdin", "-timeout", f"{int(timeout)}s"], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout + 10)  # fmt: skip


def scenario(tmp_path: Path, name: str, audio: Path | None = None) -> str:
    text = (SIPP / name).read_text()
    if audio is not None:
        text = text.replace("AUDIO_FILE", str(audio))
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_config_checks_and_names_every_setting(layout, tmp_path):
    from permanence.telephony import config

    paths = config.write(layout, tmp_path / "cfg")
    text = paths["kamailio.cfg"].read_text()
    assert f'$du = "sip:{layout.control.host}:{layout.control.port}"' in text
    assert 'if ($si == "127.0.0.2") return 1;' in text
    config.check_kamailio(paths["kamailio.cfg"])  # raises with Kamailio's words if it refuses
    rtp = paths["rtpengine.conf"].read_text()
    assert f"listen-ng = 127.0.0.1:{layout.ng.port}" in rtp and "table = -1" in rtp


def test_a_trunk_call_reaches_the_call_control_and_an_intruders_is_refused(
    kamailio, layout, tmp_path, speech
):
    control = subprocess.Popen(
        ["sipp", "-sf", scenario(tmp_path, "uas.xml"), "-i", layout.control.host,
         "-p", str(layout.control.port), "-m", "1", "-nostdin", "-timeout", "30s", "-trace_err"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        edge = f"{layout.sip.host}:{layout.sip.port}"
        caller = scenario(tmp_path, "uac.xml", speech["ulaw"])
        call = sipp(tmp_path, "-sf", caller, "-i", "127.0.0.2", "-p", "0", "-mi", "127.0.0.2",
                    "-s", "0145000101", "-m", "1", "-d", "1000", edge)  # fmt: skip
        assert call.returncode == 0, call.stdout[-2000:] + call.stderr[-2000:] + kamailio.text()[-3000:]
        assert control.wait(20) == 0, control.stderr.read() if control.stderr else ""
    finally:
        if control.poll() is None:
            control.kill()
            control.wait()
    refused = sipp(tmp_path, "-sf", scenario(tmp_path, "refused.xml"), "-i", "127.0.0.3", "-p", "0",
                   "-s", "0145000101", "-m", "1", edge)  # fmt: skip
    assert refused.returncode == 0, refused.stdout[-2000:] + refused.stderr[-2000:]
    assert "INVITE refused: 127.0.0.3 is not a trunk address" in kamailio.text()
