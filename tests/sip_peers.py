"""Test peers on real sockets: a trunk caller (a SIP user agent on the trunk's address, 127.0.0.2)
sending real speech over RTP and recording what it hears, and the measure of a recording with sox."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from permanence.telephony import sip


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def ulaw_samples(wav: Path) -> bytes:
    """The μ-law samples of a WAV file written by sox (the data chunk)."""
    data = wav.read_bytes()
    at = data.find(b"data")
    (size,) = struct.unpack("<I", data[at + 4 : at + 8])
    return data[at + 8 : at + 8 + size]


class RtpPeer(asyncio.DatagramProtocol):
    """Sends μ-law audio as RTP (PCMU, 20 ms) to where the SDP says, records the PCMU it receives."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.received = bytearray()
        self.packets = 0
        self.remote: tuple[str, int] | None = None
        self._sender: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) > 12 and data[1] & 0x7F == 0:  # PCMU only (DTMF events and RTCP aside)
            self.packets += 1
            self.received += data[12 + 4 * (data[0] & 0x0F) :]

    def aim(self, sdp: str) -> None:
        host = re.search(r"c=IN IP4 (\S+)", sdp)
        port = re.search(r"m=audio (\d+)", sdp)
        assert host and port, f"no address in the SDP:\n{sdp}"
        self.remote = (host.group(1), int(port.group(1)))

    def speak(self, samples: bytes, repeat: bool = True) -> None:
        self._sender = asyncio.ensure_future(self._send(samples, repeat))

    async def _send(self, samples: bytes, repeat: bool) -> None:
        seq, ts, ssrc = 1, 0, 0x5EC0
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            for at in range(0, len(samples) - 160, 160):
                if self.transport is not None and self.remote is not None:
                    header = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
                    self.transport.sendto(header + samples[at : at + 160], self.remote)
                seq, ts = seq + 1, ts + 160
                await asyncio.sleep(max(0.0, start + seq * 0.02 - loop.time()))
            if not repeat:
                return

    def hush(self) -> None:
        if self._sender is not None:
            self._sender.cancel()

    def close(self) -> None:
        self.hush()
        if self.transport is not None:
            self.transport.close()


@dataclass
class TrunkCaller:
    """A caller behind the carrier's trunk: a SIP user agent on ``host`` calling through Kamailio."""

    edge: tuple[str, int]
    host: str = "127.0.0.2"
    agent: sip.Agent | None = None
    peers: list[RtpPeer] = field(default_factory=list)

    async def start(self) -> TrunkCaller:
        local = (self.host, free_udp_port(self.host))
        self.agent = sip.Agent(local, self.edge, lambda leg: leg.reject(486, "Busy"))
        await self.agent.start()
        return self

    async def call(self, number: str, caller: str = "+33611111111") -> tuple[sip.ClientLeg, RtpPeer]:
        assert self.agent is not None
        loop = asyncio.get_running_loop()
        _, peer = await loop.create_datagram_endpoint(RtpPeer, local_addr=(self.host, 0))
        port = peer.transport.get_extra_info("sockname")[1]  # type: ignore[union-attr]
        sdp = (f"v=0\r\no=carrier 1 1 IN IP4 {self.host}\r\ns=-\r\nc=IN IP4 {self.host}\r\nt=0 0\r\n"
               f"m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
               "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n")  # fmt: skip
        leg = sip.ClientLeg(self.agent, f"sip:{number}@{self.edge[0]}:{self.edge[1]}", sdp,
                            f"sip:{caller}@carrier.invalid").start()  # fmt: skip
        leg.on_offer = lambda offer: peer.aim(offer)  # a re-INVITE: send the media where it says
        self.peers.append(peer)
        return leg, peer

    def close(self) -> None:
        for peer in self.peers:
            peer.close()
        if self.agent is not None:
            self.agent.close()


def measure(ulaw: bytes, folder: Path, name: str) -> tuple[float, float]:
    """(seconds, RMS amplitude 0..1) of μ-law audio, as sox reads it (silence counts in the length)."""
    raw = folder / f"{name}.ul"
    raw.write_bytes(bytes(ulaw))
    wav = folder / f"{name}.wav"
    subprocess.run(["sox", "-t", "ul", "-r", "8000", "-c", "1", str(raw), str(wav)], check=True)
    stat = subprocess.run(["sox", str(wav), "-n", "stat"], capture_output=True, text=True, check=True).stderr
    seconds = float(re.search(r"Length \(seconds\):\s+([\d.]+)", stat).group(1))  # type: ignore[union-attr]
    rms = float(re.search(r"RMS\s+amplitude:\s+([\d.]+)", stat).group(1))  # type: ignore[union-attr]
    return seconds, rms


def speech_seconds(ulaw: bytes, folder: Path, name: str, threshold: float = 0.02) -> float:
    """How many seconds of ``ulaw`` are louder than ``threshold`` (RMS per 100 ms window)."""
    import array
    import math

    wav = folder / f"{name}-s16.raw"
    raw = folder / f"{name}.ul"
    raw.write_bytes(bytes(ulaw))
    subprocess.run(["sox", "-t", "ul", "-r", "8000", "-c", "1", str(raw), "-t", "raw", "-e", "signed-integer",
                    "-b", "16", str(wav)], check=True)  # fmt: skip
    samples = array.array("h", wav.read_bytes())
    loud = 0
    for at in range(0, len(samples) - 800, 800):
        window = samples[at : at + 800]
        rms = math.sqrt(sum(s * s for s in window) / len(window)) / 32768
        loud += rms > threshold
    return loud / 10


def digest(challenge: str, method: str, uri: str, username: str, password: str) -> str:
    """The Authorization header answering a WWW-Authenticate challenge (RFC 2617, MD5, qop auth)."""
    import hashlib
    import secrets

    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge.split(" ", 1)[1]))
    realm, nonce = fields["realm"], fields["nonce"]

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP digest is MD5 by definition

    ha1, ha2 = md5(f"{username}:{realm}:{password}"), md5(f"{method}:{uri}")
    header = f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}", algorithm=MD5'
    if "auth" in fields.get("qop", "").split(","):
        cnonce, nc = secrets.token_hex(8), "00000001"
        response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        header += f', qop=auth, nc={nc}, cnonce="{cnonce}"'
    else:
        response = md5(f"{ha1}:{nonce}:{ha2}")
    if "opaque" in fields:
        header += f', opaque="{fields["opaque"]}"'
    return header + f', response="{response}"'


class DeskPhone:
    """A secretary's SIP phone: registers sip:<user>@<domain> with its ephemeral credentials through
    Kamailio, rings on each INVITE, answers with its own RTP peer when told to."""

    def __init__(self, edge: tuple[str, int], user: str, domain: str, host: str = "127.0.0.1") -> None:
        self.edge, self.user, self.domain, self.host = edge, user, domain, host
        self.agent: sip.Agent | None = None
        self.calls: list[sip.ServerLeg] = []
        self.peers: list[RtpPeer] = []

    async def register(self, username: str, password: str) -> int:
        """REGISTER, answering the challenge; the final status (200 registered)."""
        if self.agent is None:
            self.agent = sip.Agent((self.host, free_udp_port(self.host)), self.edge, self.calls.append)
            await self.agent.start()
        aor, call_id = f"sip:{self.user}@{self.domain}", sip.token(8)

        def request(cseq: int, authorization: str = "") -> sip.Request:
            assert self.agent is not None
            headers = [("via", self.agent.via(sip.token(8))), ("max-forwards", "70"),
                       ("from", f"<{aor}>;tag={call_id[:6]}"), ("to", f"<{aor}>"), ("call-id", call_id),
                       ("cseq", f"{cseq} REGISTER"),
                       ("contact", f"<sip:{self.user}@{self.agent.local[0]}:{self.agent.local[1]}>"),
                       ("expires", "300")]  # fmt: skip
            if authorization:
                headers.append(("authorization", authorization))
            return sip.Request(headers, "", "REGISTER", f"sip:{self.domain}")

        first = await self.agent.request(request(1))
        if first.status != 401:
            return first.status
        challenge = first.get("www-authenticate")
        answer = digest(challenge, "REGISTER", f"sip:{self.domain}", username, password)
        return (await self.agent.request(request(2, answer))).status

    async def answer(self, leg: sip.ServerLeg, samples: bytes) -> RtpPeer:
        """Pick up: answer with an RTP peer that says ``samples`` and records what it hears."""
        loop = asyncio.get_running_loop()
        _, peer = await loop.create_datagram_endpoint(RtpPeer, local_addr=(self.host, 0))
        port = peer.transport.get_extra_info("sockname")[1]  # type: ignore[union-attr]
        peer.aim(leg.remote_sdp)
        sdp = (f"v=0\r\no=phone 1 1 IN IP4 {self.host}\r\ns=-\r\nc=IN IP4 {self.host}\r\nt=0 0\r\n"
               f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
               "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n")  # fmt: skip
        self.peers.append(peer)
        peer.speak(samples)
        leg.on_offer = lambda offer: peer.aim(offer)  # a re-INVITE: send the media where it says
        asyncio.ensure_future(leg.answer(sdp))
        return peer

    def close(self) -> None:
        for peer in self.peers:
            peer.close()
        if self.agent is not None:
            self.agent.close()


class Gateway:
    """The carrier's gateway, as the call control's outbound legs reach it through Kamailio: each INVITE
    is kept in ``calls``; the test answers (with an RTP peer) or refuses it."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.agent: sip.Agent | None = None
        self.calls: list[sip.ServerLeg] = []
        self.phone = DeskPhone(address, "gateway", "carrier", host=address[0])

    async def start(self, edge: tuple[str, int]) -> Gateway:
        self.agent = sip.Agent(self.address, edge, self.calls.append)
        await self.agent.start()
        return self

    async def answer(self, leg: sip.ServerLeg, samples: bytes) -> RtpPeer:
        return await self.phone.answer(leg, samples)

    def close(self) -> None:
        self.phone.close()
        if self.agent is not None:
            self.agent.close()
