"""Live supervision's bridge: the caller, the secretary and a supervisor, mixed by the call control.

rtpengine 10.5 copies a leg's media to another (``subscribe``) but does not mix two sources into one
leg, which whispering and barging in need. So while a call is supervised, each of the three legs'
anchors sends its endpoint's voice to a socket of this bridge (rtpengine learns the bridge as their peer
as soon as it sends to them: ``media-handover``), and every 20 ms the bridge sends each leg the mix of
what that leg may hear in the current mode:

- ``listen``: the supervisor hears both; the caller and the secretary hear each other only;
- ``whisper``: the secretary hears the caller and the supervisor; the caller hears the secretary only;
- ``barge``: everyone hears the two others.

A few frames are buffered per leg (the latest kept); a leg with nothing to say sends silence. No
Django import.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from collections import deque

from permanence.telephony.recorder import FRAME, linear
from permanence.telephony.trial import ulaw

MODES = ("listen", "whisper", "barge")
CALLER, SECRETARY, SUPERVISOR = "caller", "secretary", "supervisor"
HEARS: dict[str, dict[str, tuple[str, ...]]] = {
    "listen": {CALLER: (SECRETARY,), SECRETARY: (CALLER,), SUPERVISOR: (CALLER, SECRETARY)},
    "whisper": {CALLER: (SECRETARY,), SECRETARY: (CALLER, SUPERVISOR), SUPERVISOR: (CALLER, SECRETARY)},
    "barge": {
        CALLER: (SECRETARY, SUPERVISOR), SECRETARY: (CALLER, SUPERVISOR), SUPERVISOR: (CALLER, SECRETARY),
    },
}
BUFFERED = 4  # frames kept per leg: at most 80 ms late
_LINEAR = [linear(b) for b in range(256)]
_ULAW = bytes(ulaw(s) for s in range(-32768, 32768))  # indexed by sample + 32768
SILENCE = b"\xff" * FRAME


class Leg(asyncio.DatagramProtocol):
    """One party: what its anchor sends (its endpoint's voice), and where the bridge sends its mix."""

    def __init__(self, name: str, remote: tuple[str, int]) -> None:
        self.name, self.remote = name, remote
        self.frames: deque[bytes] = deque(maxlen=BUFFERED)
        self.transport: asyncio.DatagramTransport | None = None
        self.seq, self.stamp, self.ssrc = 0, 0, int.from_bytes(os.urandom(4), "big")
        self.received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) <= 12 or data[1] & 0x7F != 0:
            return  # PCMU only (rtpengine transcodes everything to it inside)
        payload = data[12 + 4 * (data[0] & 0x0F) :]
        if len(payload) == FRAME:
            self.frames.append(payload)
            self.received += 1

    def send(self, payload: bytes) -> None:
        if self.transport is None:
            return
        header = struct.pack("!BBHII", 0x80, 0, self.seq & 0xFFFF, self.stamp & 0xFFFFFFFF, self.ssrc)
        self.transport.sendto(header + payload, self.remote)
        self.seq, self.stamp = self.seq + 1, self.stamp + FRAME


def mix(frames: list[bytes]) -> bytes:
    """μ-law frames summed (clipped) into one."""
    if not frames:
        return SILENCE
    if len(frames) == 1:
        return frames[0]
    total = [0] * FRAME
    for frame in frames:
        for i, byte in enumerate(frame):
            total[i] += _LINEAR[byte]
    return bytes(_ULAW[max(-32768, min(32767, s)) + 32768] for s in total)


class Bridge:
    def __init__(self, mode: str = "listen") -> None:
        if mode not in MODES:
            raise ValueError(f"unknown supervision mode {mode!r}")
        self.mode = mode
        self.legs: dict[str, Leg] = {}
        self._ticker: asyncio.Task[None] | None = None

    async def add(self, name: str, host: str, remote: tuple[str, int]) -> Leg:
        """A party, with a socket of its own on ``host``, sending to ``remote`` (its anchor's peer side)."""
        loop = asyncio.get_running_loop()
        _transport, leg = await loop.create_datagram_endpoint(lambda: Leg(name, remote), local_addr=(host, 0))
        self.legs[name] = leg
        return leg

    def start(self) -> None:
        self._ticker = asyncio.ensure_future(self._tick())

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown supervision mode {mode!r}")
        self.mode = mode

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        start, n = loop.time(), 0
        while True:
            heard = {name: leg.frames.popleft() if leg.frames else None for name, leg in self.legs.items()}
            for name, leg in self.legs.items():
                sources = HEARS[self.mode].get(name, ())
                leg.send(mix([f for s in sources if (f := heard.get(s)) is not None]))
            n += 1
            await asyncio.sleep(max(0.0, start + n * FRAME / 8000 - loop.time()))

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for leg in self.legs.values():
            if leg.transport is not None:
                leg.transport.close()
        self.legs.clear()
