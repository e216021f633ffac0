"""The rtpengine control client against a real rtpengine: offer and answer, media relayed, a prompt
played to one leg, media blocked, queries, errors."""

from __future__ import annotations

import socket
import struct
import time

import pytest

from permanence.telephony.ng import Client, NgError

pytestmark = pytest.mark.telephony


def sdp(port: int, session: str) -> str:
    return (
        "v=0\r\n"
        f"o=- {session} 1 IN IP4 127.0.0.1\r\n"
        "s=-\r\n"
        "c=IN IP4 127.0.0.1\r\n"
        "t=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=sendrecv\r\n"
    )


def media_port(text: str) -> int:
    return next(int(line.split()[1]) for line in text.splitlines() if line.startswith("m=audio"))


def rtp(sequence: int, payload: bytes = b"\xff" * 160) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, sequence, sequence * 160, 0x1234) + payload


def received(sock: socket.socket, seconds: float) -> list[bytes]:
    packets, deadline = [], time.monotonic() + seconds
    sock.settimeout(0.05)
    while time.monotonic() < deadline:
        try:
            packets.append(sock.recv(2048))
        except TimeoutError:
            continue
    return packets


@pytest.fixture
def legs():
    a, b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    yield a, b
    a.close()
    b.close()


def connect(ng: Client, a: socket.socket, b: socket.socket, call: str) -> tuple[int, int]:
    """A call set up through rtpengine only: A offers, B answers; returns rtpengine's ports for each."""
    to_b = ng.offer(sdp(a.getsockname()[1], "1"), call, "tag-a", replace=["origin", "session-connection"])
    to_a = ng.answer(sdp(b.getsockname()[1], "2"), call, "tag-a", "tag-b")
    return media_port(to_a), media_port(to_b)


def test_media_is_relayed_both_ways_and_counted(rtpengine, legs):
    a, b = legs
    for_a, for_b = connect(rtpengine, a, b, "call-relay")
    for seq in range(25):
        a.sendto(rtp(seq), ("127.0.0.1", for_a))  # A sends to rtpengine's port in the answer it got
        b.sendto(rtp(seq), ("127.0.0.1", for_b))
        time.sleep(0.005)
    assert len(received(b, 0.5)) == 25 and len(received(a, 0.2)) == 25
    query = rtpengine.query("call-relay")
    assert set(query["tags"]) == {"tag-a", "tag-b"}
    assert query["totals"]["RTP"]["packets"] == 50
    rtpengine.delete("call-relay")
    with pytest.raises(NgError, match="(?i)unknown call-id"):
        rtpengine.query("call-relay")


def test_a_prompt_is_played_to_one_leg_only(rtpengine, legs, speech):
    a, b = legs
    connect(rtpengine, a, b, "call-prompt")
    duration = rtpengine.play_media("call-prompt", "tag-a", str(speech["pcm"]))
    assert 2000 < duration < 10000  # the sentence, in milliseconds
    heard = received(a, 1.0)
    assert len(heard) > 30  # about 50 packets a second
    assert {packet[1] & 0x7F for packet in heard} == {0}  # PCMU
    assert any(set(packet[12:]) != {0xFF} for packet in heard)  # not silence
    assert received(b, 0.2) == []  # the other leg hears nothing of it
    rtpengine.stop_media("call-prompt", "tag-a")


def test_blocked_media_stops_one_direction(rtpengine, legs):
    a, b = legs
    for_a, for_b = connect(rtpengine, a, b, "call-block")
    rtpengine.block_media("call-block", "tag-a")  # what A says no longer reaches B
    for seq in range(10):
        a.sendto(rtp(seq), ("127.0.0.1", for_a))
        b.sendto(rtp(seq), ("127.0.0.1", for_b))
    assert received(b, 0.3) == [] and len(received(a, 0.3)) == 10
    rtpengine.unblock_media("call-block", "tag-a")
    for seq in range(10, 20):
        a.sendto(rtp(seq), ("127.0.0.1", for_a))
    assert len(received(b, 0.3)) == 10


def test_errors_are_said_in_words(rtpengine, layout):
    with pytest.raises(NgError, match="(?i)unknown call-id"):
        rtpengine.play_media("no-such-call", "x", "/nonexistent.wav")
    nobody = Client(f"127.0.0.1:{layout.ng.port + 5}", timeout=0.1, attempts=2)
    with pytest.raises(NgError):
        nobody.ping()


def test_addresses_are_read_or_refused():
    from permanence.telephony.ng import Address

    assert Address.parse("udp:127.0.0.1:22222") == Address("127.0.0.1", 22222)
    assert Address.parse("[::1]:22222") == Address("::1", 22222)
    with pytest.raises(ValueError, match="host:port"):
        Address.parse("localhost")
