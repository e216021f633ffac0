"""Kamailio from the project's configuration: the trunk's calls reach the call control, anyone else's
are refused; the secretaries' phones register with ephemeral credentials; the call control's own calls
reach a registered phone or the carrier's gateway, and nobody else's do. SIPp plays the trunk
(127.0.0.2, the configured address), an intruder (127.0.0.3), a desk phone (127.0.0.4), the carrier's
gateway and the call control (from its address and port)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import re
import secrets
import socket
import struct
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from permanence.telephony.credentials import ephemeral, sip_user

pytestmark = pytest.mark.telephony
SIPP = Path(__file__).resolve().parent / "sipp"
SECRET = "a-test-secret-of-the-edge-42"  # this module's own (production refuses an empty or short one)
PHONE = "127.0.0.4"  # where the desk phones are


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def layout(layout, request):
    """The conftest's layout, with the phones' secret and a carrier's gateway (changed by parametrize)."""
    changes = {
        "secret": SECRET,
        "gateway": f"sip:127.0.0.1:{free_udp_port()}",
        **getattr(request, "param", {}),
    }
    return dataclasses.replace(layout, **changes)


def sipp(cwd: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """SIPp run to its end in ``cwd`` (where it writes its traces)."""
    return subprocess.run(["sipp", *args, "-nostdin", "-timeout", f"{int(timeout)}s"], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout + 10)  # fmt: skip


def scenario(tmp_path: Path, name: str, audio: Path | None = None, **words: str) -> str:
    """The scenario file with its placeholders (AUDIO_FILE, and the upper-case ``words``) filled in."""
    text = (SIPP / name).read_text()
    if audio is not None:
        text = text.replace("AUDIO_FILE", str(audio))
    for word, value in words.items():
        text = text.replace(word, value)
    path = tmp_path / (name if not words else f"{Path(name).stem}-{'-'.join(words.values())}.xml")
    path.write_text(text)
    return str(path)


def edge(layout) -> str:
    return f"{layout.sip.host}:{layout.sip.port}"


def register(layout, tmp_path: Path, port: int, aor: str, credentials: tuple[str, str], final: str):
    """A SIPp desk phone on PHONE:port registers ``aor`` with ``credentials``, expecting ``final``."""
    username, password = credentials
    text = scenario(tmp_path, "register.xml", AOR_USER=aor, DOMAIN=layout.sip_domain, FINAL=final)
    return sipp(tmp_path, "-sf", text, "-i", PHONE, "-p", str(port), "-au", username, "-ap", password,
                "-m", "1", edge(layout))  # fmt: skip


def dial(layout, tmp_path: Path, number: str, name: str = "dial.xml", source: str = "control", **words: str):
    """A call to ``number`` from the call control's address and port (or from ``source``: an IP)."""
    where = ["-i", layout.control.host, "-p", str(layout.control.port)] if source == "control" else [
        "-i", source, "-p", str(free_udp_port(source))]  # fmt: skip
    return sipp(tmp_path, "-sf", scenario(tmp_path, name, **words), *where, "-s", number, "-m", "1",
                edge(layout))  # fmt: skip


def callee(tmp_path: Path, host: str, port: int) -> subprocess.Popen[str]:
    """A SIPp answering on host:port (a registered desk phone, or the carrier's gateway), then hanging up."""
    return subprocess.Popen(
        ["sipp", "-sf", scenario(tmp_path, "callee.xml"), "-i", host, "-p", str(port), "-m", "1",
         "-nostdin", "-timeout", "30s", "-trace_err"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip


def ended(process: subprocess.Popen[str], seconds: float = 20) -> int:
    try:
        return process.wait(seconds)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def said(done: subprocess.CompletedProcess[str], kamailio) -> str:
    return done.stdout[-2000:] + done.stderr[-2000:] + kamailio.text()[-3000:]


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
    assert "INVITE refused: 127.0.0.3 is not a trunk address (nor the call control)" in kamailio.text()


def test_a_secretary_registers_and_the_call_control_reaches_her_phone(kamailio, layout, tmp_path):
    port = free_udp_port(PHONE)
    done = register(layout, tmp_path, port, "desk-1", ephemeral(SECRET, sip_user(1), time.time()), "200")
    assert done.returncode == 0, said(done, kamailio)
    phone = callee(tmp_path, PHONE, port)  # the registered contact: PHONE:port
    try:
        call = dial(layout, tmp_path, "desk-1")  # answered by the phone, which then hangs up
        assert call.returncode == 0, said(call, kamailio)
    finally:
        assert ended(phone) == 0, phone.stderr.read() if phone.stderr else ""
    assert SECRET not in kamailio.text()  # nor in any log: only in kamailio.cfg


@pytest.mark.parametrize(
    ("case", "aor", "credentials"),
    [
        ("wrong password", "desk-1", ephemeral("not-the-secret-of-the-edge", "desk-1", time.time())),
        ("expired", "desk-1", ephemeral(SECRET, "desk-1", time.time() - 7200, ttl=3600)),
        ("another secretary's", "desk-1", ephemeral(SECRET, "desk-2", time.time())),
    ],
)
def test_a_registration_is_challenged_then_refused(kamailio, layout, tmp_path, case, aor, credentials):
    done = register(layout, tmp_path, free_udp_port(PHONE), aor, credentials, "403")
    assert done.returncode == 0, case + "\n" + said(done, kamailio)
    assert f"REGISTER refused for sip:{aor}@" in kamailio.text()


def test_the_call_control_gets_480_for_a_secretary_not_registered(kamailio, layout, tmp_path):
    done = dial(layout, tmp_path, "desk-9", "dial_refused.xml", STATUS="480")
    assert done.returncode == 0, said(done, kamailio)


def test_the_call_control_dials_a_number_through_the_carriers_gateway(kamailio, layout, tmp_path):
    host, port = layout.gateway_hostport.split(":")
    gateway = callee(tmp_path, host, int(port))
    try:
        call = dial(layout, tmp_path, "0612345678")
        assert call.returncode == 0, said(call, kamailio)
    finally:
        assert ended(gateway) == 0, gateway.stderr.read() if gateway.stderr else ""


@pytest.mark.parametrize("layout", [{"gateway": ""}], indirect=True)
def test_without_a_gateway_the_call_controls_outbound_calls_get_503(kamailio, layout, tmp_path):
    done = dial(layout, tmp_path, "0612345678", "dial_refused.xml", STATUS="503")
    assert done.returncode == 0, said(done, kamailio)


@pytest.mark.parametrize("number", ["desk-1", "0612345678"])
def test_nobody_but_the_call_control_calls_a_secretary_or_dials_out(kamailio, layout, tmp_path, number):
    port = free_udp_port(PHONE)
    done = register(layout, tmp_path, port, "desk-1", ephemeral(SECRET, "desk-1", time.time()), "200")
    assert done.returncode == 0, said(done, kamailio)
    for source in ("127.0.0.3", PHONE):  # an intruder; a registered phone (from another port)
        done = dial(layout, tmp_path, number, "dial_refused.xml", source=source, STATUS="403")
        assert done.returncode == 0, said(done, kamailio)
    # the call control's host, but not its port: not the call control
    done = dial(layout, tmp_path, number, "dial_refused.xml", source=layout.control.host, STATUS="403")
    assert done.returncode == 0, said(done, kamailio)


def test_a_forged_in_dialog_request_does_not_reach_the_gateway(kamailio, layout, tmp_path):
    forged = scenario(tmp_path, "forged.xml", GATEWAY=layout.gateway_hostport)
    done = sipp(tmp_path, "-sf", forged, "-i", "127.0.0.3", "-p", str(free_udp_port("127.0.0.3")),
                "-s", "0612345678", "-m", "1", edge(layout))  # fmt: skip
    assert done.returncode == 0, said(done, kamailio)
    assert "in-dialog INVITE refused: from 127.0.0.3:" in kamailio.text()


class WebSocketPhone:
    """A browser's softphone as Kamailio sees it: SIP over a plain ws:// WebSocket (RFC 7118), spoken
    through a raw socket (an HTTP upgrade, then masked text frames), with JsSIP's kind of Contact."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n"
            "Origin: http://127.0.0.1\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            assert chunk, f"Kamailio closed the WebSocket handshake: {head!r}"
            head += chunk
        head, _, self.buffer = head.partition(b"\r\n\r\n")
        accept = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
        assert head.startswith(b"HTTP/1.1 101") and accept.encode() in head, head
        self.host = f"{secrets.token_hex(6)}.invalid"  # as JsSIP says: no address of its own
        self.contact = f"<sip:{secrets.token_hex(4)}@{self.host};transport=ws>"

    def _exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            assert chunk, "Kamailio closed the WebSocket"
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def send(self, message: str) -> None:
        payload, mask = message.encode(), os.urandom(4)
        size = len(payload)
        header = bytes([0x81, 0x80 | size]) if size < 126 else bytes([0x81, 0xFE]) + struct.pack("!H", size)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def receive(self) -> SipMessage:
        while True:
            first, second = self._exactly(2)
            size = second & 0x7F
            if size == 126:
                size = struct.unpack("!H", self._exactly(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", self._exactly(8))[0]
            payload = self._exactly(size)  # frames from the server are not masked
            if first & 0x0F == 0x1:
                return SipMessage(payload.decode())
            assert first & 0x0F != 0x8, "Kamailio closed the WebSocket"

    def close(self) -> None:
        self.sock.close()


@dataclasses.dataclass
class SipMessage:
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\r\n", 1)[0]

    def headers(self, name: str) -> list[str]:
        lines = self.text.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
        fields = [line.split(":", 1) for line in lines]
        return [value.strip() for key, value in fields if key.strip().lower() == name.lower()]

    def header(self, name: str) -> str:
        found = self.headers(name)
        assert found, f"no {name} in:\n{self.text}"
        return found[0]


def digest(challenge: str, method: str, uri: str, username: str, password: str) -> str:
    """An Authorization header answering a WWW-Authenticate challenge (RFC 2617, MD5, qop=auth)."""
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    realm, nonce = fields["realm"], fields["nonce"]
    ha1 = hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()  # noqa: S324 (SIP digest)
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()  # noqa: S324
    cnonce, count = secrets.token_hex(8), "00000001"
    response = hashlib.md5(f"{ha1}:{nonce}:{count}:{cnonce}:auth:{ha2}".encode()).hexdigest()  # noqa: S324
    return (f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", algorithm=MD5, qop=auth, nc={count}, cnonce="{cnonce}"')  # fmt: skip


def test_a_browser_registers_over_websocket_and_its_calls_flow_both_ways(kamailio, layout, tmp_path):
    """The NAT handling of SIP over WebSocket: the REGISTER's source stored with its .invalid contact,
    the INVITE sent down the browser's connection, and the call control's ACK coming back to it through
    the ;alias= Kamailio put on the browser's answer; the browser's BYE reaches the call control."""
    phone = WebSocketPhone(layout.ws.host, layout.ws.port)
    aor = f"sip:desk-7@{layout.sip_domain}"
    username, password = ephemeral(SECRET, sip_user(7), time.time())
    call_id, instance = secrets.token_hex(8), f'"<urn:uuid:{uuid.uuid4()}>"'

    def register(cseq: int, authorization: str = "") -> SipMessage:
        phone.send(
            f"REGISTER sip:{layout.sip_domain} SIP/2.0\r\n"
            f"Via: SIP/2.0/WS {phone.host};branch=z9hG4bK{secrets.token_hex(6)}\r\n"
            f"Max-Forwards: 69\r\nTo: <{aor}>\r\nFrom: <{aor}>;tag={secrets.token_hex(4)}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
            + (f"Authorization: {authorization}\r\n" if authorization else "")
            + f"Contact: {phone.contact};+sip.ice;reg-id=1;+sip.instance={instance};expires=600\r\n"
            "Expires: 600\r\nAllow: INVITE,ACK,CANCEL,BYE,OPTIONS\r\nSupported: path,gruu,outbound\r\n"
            "User-Agent: JsSIP-like test\r\nContent-Length: 0\r\n\r\n"
        )
        return phone.receive()

    try:
        challenge = register(1)
        assert challenge.first_line == "SIP/2.0 401 Unauthorized", challenge.text
        authorization = digest(challenge.header("WWW-Authenticate"), "REGISTER", f"sip:{layout.sip_domain}",
                               username, password)  # fmt: skip
        registered = register(2, authorization)
        assert registered.first_line == "SIP/2.0 200 OK", registered.text + kamailio.text()[-3000:]

        control = subprocess.Popen(
            ["sipp", "-sf", scenario(tmp_path, "dial.xml"), "-i", layout.control.host,
             "-p", str(layout.control.port), "-s", "desk-7", "-m", "1", "-nostdin", "-timeout", "30s",
             "-trace_err", edge(layout)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        )  # fmt: skip
        try:
            invite = phone.receive()
            assert invite.first_line.startswith("INVITE "), invite.text
            routes = invite.headers("Record-Route")
            assert len(routes) == 2 and any("transport=ws" in r for r in routes), routes  # UDP <-> WS
            tag = secrets.token_hex(4)
            answer = "\r\n".join(f"Via: {via}" for via in invite.headers("Via"))
            sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" \
                  "m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"  # fmt: skip
            phone.send(
                f"SIP/2.0 200 OK\r\n{answer}\r\n"
                + "".join(f"Record-Route: {r}\r\n" for r in routes)
                + f"From: {invite.header('From')}\r\nTo: {invite.header('To')};tag={tag}\r\n"
                f"Call-ID: {invite.header('Call-ID')}\r\nCSeq: {invite.header('CSeq')}\r\n"
                f"Contact: {phone.contact}\r\nContent-Type: application/sdp\r\n"
                f"Content-Length: {len(sdp)}\r\n\r\n{sdp}"
            )
            ack = phone.receive()  # found its way back through the alias of the browser's Contact
            assert ack.first_line.startswith("ACK "), ack.text
            phone.send(
                f"BYE {invite.header('Contact').strip('<>')} SIP/2.0\r\n"
                f"Via: SIP/2.0/WS {phone.host};branch=z9hG4bK{secrets.token_hex(6)}\r\n"
                + "".join(f"Route: {r}\r\n" for r in routes)
                + f"Max-Forwards: 69\r\nFrom: {invite.header('To')};tag={tag}\r\n"
                f"To: {invite.header('From')}\r\nCall-ID: {invite.header('Call-ID')}\r\nCSeq: 1 BYE\r\n"
                "Content-Length: 0\r\n\r\n"
            )
            bye = phone.receive()
            assert bye.first_line == "SIP/2.0 200 OK" and "BYE" in bye.header("CSeq"), bye.text
        finally:
            code = ended(control)
            assert code == 0, (control.stderr.read() if control.stderr else "") + kamailio.text()[-3000:]
    finally:
        phone.close()
