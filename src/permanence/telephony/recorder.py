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
from collections.abc import Callable
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

    def __init__(self, *, longest: float = 120.0, silence: float = 5.0, threshold: float = 0.02,
                 clock: Callable[[], float] | None = None) -> None:  # fmt: skip
        """``clock``: seconds since a common start; given, each packet's samples are placed at their
        arrival time (the gaps kept as silence), so that two recorders started together line up (the
        two voices of a conversation)."""
        if longest <= 0 or silence <= 0:
            raise ValueError("a recording's longest length and its silence must be positive")
        self.longest, self.silence, self.threshold, self.clock = longest, silence, threshold, clock
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
        if self.clock is not None:  # a gap (nothing sent, or media blocked): silence in its place
            due = int(self.clock() * 8000) - len(frame)
            if due - len(self.samples) > 2 * FRAME:
                self.samples.extend([0] * (due - len(self.samples)))
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


def write_conversation(path: Path | BinaryIO, left: Recorder, right: Recorder) -> float:
    """Two recorders started together as one stereo WAV (8 kHz, 16-bit): the caller on the left, the
    secretary on the right. Returns its length in seconds."""
    length = max(len(left.samples), len(right.samples))
    a = left.samples + [0] * (length - len(left.samples))
    b = right.samples + [0] * (length - len(right.samples))
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path) if isinstance(path, Path) else path, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"".join(x.to_bytes(2, "little", signed=True) + y.to_bytes(2, "little", signed=True)
                                 for x, y in zip(a, b, strict=True)))  # fmt: skip
    return length / 8000


DTMF_PAYLOAD = 101  # telephone-event, as ``media.peer_sdp`` offers it
_EVENTS = "0123456789*#"


class Keys(asyncio.DatagramProtocol):
    """The keys a caller presses (RFC 4733 telephone-events, payload 101), in order. Each event is sent
    several times (its updates, its three end packets) under one RTP timestamp: counted once."""

    def __init__(self) -> None:
        self.pressed: asyncio.Queue[str] = asyncio.Queue()
        self.seen: set[int] = set()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 16 or data[1] & 0x7F != DTMF_PAYLOAD:
            return  # voice, comfort noise, RTCP
        offset = 12 + 4 * (data[0] & 0x0F)
        if len(data) < offset + 4 or data[offset] >= len(_EVENTS):
            return  # flash and tones other than the keys
        stamp = int.from_bytes(data[4:8], "big")
        if stamp in self.seen:
            return
        self.seen.add(stamp)
        self.pressed.put_nowait(_EVENTS[data[offset]])

    async def next(self, timeout: float) -> str | None:
        """The next key pressed within ``timeout`` seconds (one pressed before counts), else None."""
        try:
            return await asyncio.wait_for(self.pressed.get(), timeout)
        except TimeoutError:
            return None

    def forget(self) -> None:
        """Keys pressed so far are dropped (typed ahead of a new menu)."""
        while not self.pressed.empty():
            self.pressed.get_nowait()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
