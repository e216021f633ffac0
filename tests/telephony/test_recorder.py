"""The call control's recorder (the voicemail's first piece): RTP in over a real UDP socket, a WAV out,
stopped by silence once the caller spoke, by the longest length, or by a hang-up."""

from __future__ import annotations

import asyncio
import math
import socket
import struct
import wave
from pathlib import Path

import pytest

import fresh_loop
from permanence.telephony.recorder import Recorder, linear
from permanence.telephony.trial import ulaw


def tone(seconds: float, amplitude: float = 0.4) -> bytes:
    return bytes(ulaw(int(amplitude * 32767 * math.sin(2 * math.pi * 440 * n / 8000)))
                 for n in range(int(seconds * 8000)))  # fmt: skip


SILENCE_BYTES = b"\xff"


async def record(samples: bytes, **options: float) -> tuple[Recorder, str]:
    loop = asyncio.get_running_loop()
    local = ("127.0.0.1", 0)
    _, recorder = await loop.create_datagram_endpoint(lambda: Recorder(**options), local_addr=local)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for seq, at in enumerate(range(0, len(samples) - 159, 160)):
            header = struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 7)
            sender.sendto(header + samples[at : at + 160], ("127.0.0.1", recorder.port))
            if seq % 50 == 0:
                await asyncio.sleep(0.01)  # let the loop read: the socket's buffer is finite
            if recorder.done.done():
                break
        dtmf = struct.pack("!BBHII", 0x80, 101, 999, 0, 7) + b"\x05\x0a\x00\xa0"  # an RFC 4733 event: ignored
        sender.sendto(dtmf, ("127.0.0.1", recorder.port))
        await asyncio.sleep(0.2)
    if not recorder.done.done():
        recorder.stop()
    return recorder, await recorder.done


def test_mu_law_decodes_as_g711_does():
    assert [linear(b) for b in (0xFF, 0x7F, 0x80, 0x00, 0xCE, 0x4E)] == [0, 0, 32124, -32124, 988, -988]
    assert all(abs(linear(ulaw(s)) - s) <= max(16, abs(s) // 16) for s in range(-32000, 32000, 97))


def test_a_message_then_silence_stops_by_itself_and_is_written_without_the_silence(tmp_path: Path):
    recorder, why = fresh_loop.run(record(tone(2) + SILENCE_BYTES * 8000 * 3, silence=1.5))
    assert why == "silence"
    seconds = recorder.write(tmp_path / "message.wav")
    assert 1.9 <= seconds <= 2.2
    with wave.open(str(tmp_path / "message.wav")) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        frames = wav.readframes(wav.getnframes())
    loudest = max(abs(s) for (s,) in struct.iter_unpack("<h", frames))
    assert loudest > 10000  # the tone, not silence


def test_silence_before_speaking_does_not_stop_it_the_longest_length_does():
    recorder, why = fresh_loop.run(record(SILENCE_BYTES * 8000 * 2 + tone(3), silence=1.0, longest=4.0))
    assert why == "longest" and 3.9 <= recorder.seconds <= 4.1


def test_a_hang_up_stops_it_and_bad_settings_are_refused():
    recorder, why = fresh_loop.run(record(tone(1), silence=5))
    assert why == "stopped" and 0.9 <= recorder.seconds <= 1.05

    async def bad() -> None:
        Recorder(longest=0)

    with pytest.raises(ValueError, match="positive"):
        fresh_loop.run(bad())


def test_two_voices_recorded_together_line_up_in_one_stereo_file(tmp_path: Path):
    """The caller speaks first, the secretary answers after a pause: each on its channel, in time."""
    from permanence.telephony.recorder import write_conversation

    async def main() -> tuple[Recorder, Recorder]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        recorders = []
        for _ in range(2):
            _, made = await loop.create_datagram_endpoint(
                lambda: Recorder(longest=60, silence=60, clock=lambda: loop.time() - start),
                local_addr=("127.0.0.1", 0),
            )
            recorders.append(made)
        caller, secretary = recorders

        async def speak(recorder: Recorder, samples: bytes) -> None:  # in real time, as a phone sends
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                for seq, at in enumerate(range(0, len(samples) - 159, 160)):
                    header = struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 9)
                    sender.sendto(header + samples[at : at + 160], ("127.0.0.1", recorder.port))
                    await asyncio.sleep(max(0.0, start + (seq + 1) * 0.02 - loop.time() + offset))

        offset = 0.0
        await speak(caller, tone(1.0))  # 0 to 1 s; then the caller's phone sends nothing (blocked)
        offset = 1.5
        await asyncio.sleep(max(0.0, start + 1.5 - loop.time()))
        await speak(secretary, tone(1.0))  # 1.5 to 2.5 s
        await asyncio.sleep(0.1)
        return caller, secretary

    caller, secretary = fresh_loop.run(main())
    seconds = write_conversation(tmp_path / "call.wav", caller, secretary)
    assert 2.4 <= seconds <= 2.7
    with wave.open(str(tmp_path / "call.wav")) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 2, 2)
        frames = wav.readframes(wav.getnframes())
    pairs = struct.unpack(f"<{len(frames) // 2}h", frames)
    left, right = pairs[0::2], pairs[1::2]

    def loud(channel: tuple[int, ...], first: float, last: float) -> bool:
        window = channel[int(first * 8000) : int(last * 8000)]
        return math.sqrt(sum(s * s for s in window) / len(window)) / 32768 > 0.1

    assert loud(left, 0.1, 0.9) and not loud(right, 0.1, 0.9)  # the caller, alone
    assert loud(right, 1.6, 2.4) and not loud(left, 1.6, 2.4)  # the secretary, in her place in time
    assert not loud(right, 1.0, 1.4) and not loud(left, 1.1, 1.4)  # the pause kept


def test_keys_pressed_are_read_once_each_in_order_and_voice_is_ignored():
    from permanence.telephony.recorder import Keys

    def event(key: int, stamp: int, seq: int, end: bool) -> bytes:
        header = struct.pack("!BBHII", 0x80, 101, seq, stamp, 7)
        return header + bytes([key, 0x80 | 10 if end else 10]) + (800).to_bytes(2, "big")

    async def main() -> list[str | None]:
        loop = asyncio.get_running_loop()
        _, keys = await loop.create_datagram_endpoint(Keys, local_addr=("127.0.0.1", 0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            seq = 0
            for key, stamp in ((2, 1000), (11, 9000), (10, 17000)):  # 2, then #, then *
                for end in (False, False, True, True, True):  # updates, then the three end packets
                    seq += 1
                    sender.sendto(event(key, stamp, seq, end), ("127.0.0.1", keys.port))
                voice = struct.pack("!BBHII", 0x80, 0, seq, stamp, 7) + b"\xff" * 160
                sender.sendto(voice, ("127.0.0.1", keys.port))
        got = [await keys.next(1.0) for _ in range(3)]
        got.append(await keys.next(0.2))  # nothing more
        keys.close()
        return got

    assert fresh_loop.run(main()) == ["2", "#", "*", None]
