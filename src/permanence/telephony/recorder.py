"""A caller's voice recorded by the call control itself: the voicemail.

rtpengine 10.5 in userspace writes recordings only as pcap; instead, the call control points the
caller's anchor at a UDP socket of its own (``Recorder``), which keeps the PCMU it receives and
writes it as a 16-bit WAV. It stops by itself after ``silence`` seconds of silence once the caller
has spoken, or at ``longest`` seconds; ``stop()`` ends it when the caller hangs up. No Django import.
"""

from __future__ import annotations

import asyncio
import math
import wave
from pathlib import Path
from typing import BinaryIO

FRAME = 160  # samples in 20 ms at 8 kHz


def linear(byte: int) -> int:
    """A G.711 μ-law byte as a 16-bit linear sample."""
    value = ~byte & 0xFF
    magnitude = (((value & 0x0F) << 3) + 0x84) << ((value & 0x70) >> 4)
    return 0x84 - magnitude if value & 0x80 else magnitude - 0x84


_LINEAR = [linear(b) for b in range(256)]


class Recorder(asyncio.DatagramProtocol):
    """Receives RTP (PCMU) and keeps the voice; ``done`` says why it stopped ("silence", "longest",
    "stopped")."""

    def __init__(self, *, longest: float = 120.0, silence: float = 5.0, threshold: float = 0.02) -> None:
        if longest <= 0 or silence <= 0:
            raise ValueError("a recording's longest length and its silence must be positive")
        self.longest, self.silence, self.threshold = longest, silence, threshold
        self.samples: list[int] = []
        self.spoke = False
        self.quiet_frames = 0
        self.transport: asyncio.DatagramTransport | None = None
        self.done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    @property
    def seconds(self) -> float:
        return len(self.samples) / 8000

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.done.done() or len(data) <= 12 or data[1] & 0x7F != 0:
            return  # PCMU only: DTMF events, comfort noise and RTCP aside
        offset = 12 + 4 * (data[0] & 0x0F)
        frame = [_LINEAR[b] for b in data[offset:]]
        self.samples.extend(frame)
        loud = bool(frame) and math.sqrt(sum(s * s for s in frame) / len(frame)) / 32768 > self.threshold
        if loud:
            self.spoke, self.quiet_frames = True, 0
        elif self.spoke:
            self.quiet_frames += 1
        if self.spoke and self.quiet_frames * FRAME / 8000 >= self.silence:
            self._end("silence")
        elif self.seconds >= self.longest:
            self._end("longest")

    def stop(self) -> None:
        self._end("stopped")

    def _end(self, reason: str) -> None:
        if not self.done.done():
            self.done.set_result(reason)
        if self.transport is not None:
            self.transport.close()

    def write(self, path: Path | BinaryIO, trim_silence: bool = True) -> float:
        """The recording as a WAV file (8 kHz, mono, 16-bit), to a path or an open binary file; the
        trailing silence that ended it cut off. Returns its length in seconds."""
        samples = self.samples
        if trim_silence and self.quiet_frames:
            samples = samples[: max(0, len(samples) - self.quiet_frames * FRAME)]
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(path) if isinstance(path, Path) else path, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(b"".join(s.to_bytes(2, "little", signed=True) for s in samples))
        return len(samples) / 8000
