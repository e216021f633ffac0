"""A trial call, as if from the carrier: ``permanence telephony call 0145000001``.

On one machine with no carrier (``make telephony``), it plays the trunk: a SIP user agent on the
trunk's loopback address (127.0.0.2 by default) calls a number through Kamailio, speaks one of the
recordings shipped with Permanence in a loop, and reports what happens (answered, heard, hung up).
The secretary's desk phone rings as for any call. No Django import.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from permanence.telephony import sip

AUDIO = Path(__file__).resolve().parent / "audio"


def ulaw(sample: int) -> int:
    """A 16-bit linear sample as a G.711 μ-law byte (the reference algorithm, on 14 bits)."""
    value, mask = sample >> 2, 0xFF
    if value < 0:
        value, mask = -value, 0x7F
    value = min(value, 8159) + 33
    segment = next((i for i, end in enumerate(_SEGMENTS) if value <= end), 8)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


_SEGMENTS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)


def speech(path: Path = AUDIO / "waiting.wav") -> bytes:
    """A shipped recording (8 kHz mono 16-bit) as μ-law samples."""
    with wave.open(str(path), "rb") as source:
        if (source.getframerate(), source.getnchannels(), source.getsampwidth()) != (8000, 1, 2):
            raise ValueError(f"{path.name}: 8 kHz mono 16-bit WAV expected")
        frames = source.readframes(source.getnframes())
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    return bytes(ulaw(s) for s in samples)


class Voice(asyncio.DatagramProtocol):
    """RTP (PCMU, 20 ms) to the address the answer gives; counts and measures what comes back."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.remote: tuple[str, int] | None = None
        self.packets = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) > 12 and data[1] & 0x7F == 0:
            self.packets += 1

    def aim(self, sdp: str) -> None:
        host, port = re.search(r"c=IN IP4 (\S+)", sdp), re.search(r"m=audio (\d+)", sdp)
        if host and port:
            self.remote = (host.group(1), int(port.group(1)))

    async def speak(self, samples: bytes) -> None:
        loop, seq = asyncio.get_running_loop(), 0
        start = loop.time()
        while True:
            for at in range(0, len(samples) - 160, 160):
                if self.transport is not None and self.remote is not None:
                    header = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, 0x7E1A1)
                    self.transport.sendto(header + samples[at : at + 160], self.remote)
                seq += 1
                await asyncio.sleep(max(0.0, start + seq * 0.02 - loop.time()))


@dataclass
class Trial:
    number: str
    edge: tuple[str, int]
    host: str = "127.0.0.2"
    caller: str = "+33600000000"
    say: Callable[[str], None] = print
    events: list[str] = field(default_factory=list)

    def tell(self, text: str) -> None:
        self.events.append(text)
        self.say(text)

    async def run(self, seconds: float | None = None) -> int:
        """Call, talk, hang up after ``seconds`` (None: when the other side does); 0 if answered."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((self.host, 0))
            port = int(probe.getsockname()[1])
        agent = sip.Agent((self.host, port), self.edge, lambda leg: leg.reject(486, "Busy Here"))
        await agent.start()
        loop = asyncio.get_running_loop()
        _, voice = await loop.create_datagram_endpoint(Voice, local_addr=(self.host, 0))
        media = voice.transport.get_extra_info("sockname")[1]  # type: ignore[union-attr]
        sdp = (f"v=0\r\no=trial 1 1 IN IP4 {self.host}\r\ns=-\r\nc=IN IP4 {self.host}\r\nt=0 0\r\n"
               f"m=audio {media} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
               "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n")  # fmt: skip
        leg = sip.ClientLeg(agent, f"sip:{self.number}@{self.edge[0]}:{self.edge[1]}", sdp,
                            f"sip:{self.caller}@carrier.invalid").start()  # fmt: skip
        leg.on_offer = lambda offer: voice.aim(offer)
        speaking: asyncio.Task[None] | None = None
        try:
            self.tell(f"calling {self.number} through {self.edge[0]}:{self.edge[1]} from {self.host}")
            response = await leg.answered
            if response.status >= 300:
                self.tell(f"refused: {response.status} {response.reason}")
                return 1
            self.tell("answered: speaking (the waiting message, in a loop)")
            voice.aim(leg.remote_sdp)
            speaking = asyncio.ensure_future(voice.speak(speech()))
            started = loop.time()
            try:
                reason = await asyncio.wait_for(asyncio.shield(leg.ended), seconds)
                self.tell(f"the other side hung up ({reason})")
            except TimeoutError:
                await leg.hang_up()
                self.tell("hung up")
            self.tell(f"heard {voice.packets * 0.02:.1f} s of audio in {loop.time() - started:.1f} s")
            return 0
        finally:
            if speaking is not None:
                speaking.cancel()
            if voice.transport is not None:
                voice.transport.close()
            agent.close()
