"""Live supervision's bridge over real UDP sockets: three parties (caller, secretary, supervisor), each
hears what its mode allows; the mix is the sum of the voices."""

from __future__ import annotations

import asyncio
import math
import struct

import fresh_loop
from permanence.telephony.bridge import Bridge, mix
from permanence.telephony.recorder import linear
from permanence.telephony.trial import ulaw

TONE = bytes(ulaw(int(0.3 * 32767 * math.sin(2 * math.pi * 440 * n / 8000))) for n in range(160))
QUIET = b"\xff" * 160


def loud(frames: list[bytes]) -> float:
    samples = [linear(b) for frame in frames for b in frame]
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples))) / 32768


class Peer(asyncio.DatagramProtocol):
    """An anchor's peer side, as the bridge sees it: sends a voice, keeps what it receives."""

    def __init__(self) -> None:
        self.got: list[bytes] = []
        self.voice = QUIET
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport):  # type: ignore[no-untyped-def]
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[no-untyped-def]
        self.got.append(data[12:])


def test_each_party_hears_what_the_mode_allows():
    async def main() -> dict[str, dict[str, float]]:
        loop = asyncio.get_running_loop()
        peers, bridge = {}, Bridge("listen")
        for name in ("caller", "secretary", "supervisor"):
            _, peer = await loop.create_datagram_endpoint(Peer, local_addr=("127.0.0.1", 0))
            leg = await bridge.add(name, "127.0.0.1", peer.transport.get_extra_info("sockname"))
            peers[name] = (peer, leg)
        bridge.start()
        heard: dict[str, dict[str, float]] = {}

        async def phase(label: str, speaking: str) -> None:
            for name, (peer, _leg) in peers.items():
                peer.voice = TONE if name == speaking else QUIET
                peer.got.clear()
            for seq in range(25):  # half a second of 20 ms frames, as a phone sends them
                for peer, leg in peers.values():
                    header = struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 5)
                    peer.transport.sendto(header + peer.voice, leg.transport.get_extra_info("sockname"))
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)
            heard[label] = {name: loud(peer.got[5:]) for name, (peer, _leg) in peers.items()}

        await phase("listen: the supervisor speaks", "supervisor")
        await phase("listen: the caller speaks", "caller")
        bridge.set_mode("whisper")
        await phase("whisper: the supervisor speaks", "supervisor")
        bridge.set_mode("barge")
        await phase("barge: the supervisor speaks", "supervisor")
        await bridge.stop()
        for peer, _leg in peers.values():
            peer.transport.close()
        return heard

    heard = fresh_loop.run(main())
    listen = heard["listen: the supervisor speaks"]
    assert listen["caller"] < 0.01 and listen["secretary"] < 0.01  # a silent monitor: nobody hears him
    caller = heard["listen: the caller speaks"]
    assert caller["secretary"] > 0.1 and caller["supervisor"] > 0.1 and caller["caller"] < 0.01
    whisper = heard["whisper: the supervisor speaks"]
    assert whisper["secretary"] > 0.1 and whisper["caller"] < 0.01  # to the secretary only
    barge = heard["barge: the supervisor speaks"]
    assert barge["secretary"] > 0.1 and barge["caller"] > 0.1 and barge["supervisor"] < 0.01


def test_voices_are_summed_and_clipped():
    assert mix([]) == QUIET and mix([TONE]) == TONE
    both = mix([TONE, TONE])
    assert 1.8 < loud([both]) / loud([TONE]) < 2.1
    loudest = bytes([0x80]) * 160  # the highest positive sample
    assert mix([loudest, loudest]) == bytes([ulaw(32767)]) * 160
