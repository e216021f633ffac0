"""The call control's own media work in Python, per second of call: live supervision's bridge (three
voices mixed every 20 ms), a recording (one voice decoded), the voice menu's key reader, and a prompt
said by espeak-ng (first time, then from the cache). The peer, where Python has one: the standard
library's C ``audioop`` (Python 3.11 and 3.12) doing the same μ-law mix. The machine is shared: read the
ratio, not the absolute times.

    PYTHONPATH=src python bench/bench_voice.py
"""

from __future__ import annotations

import math
import tempfile
import time
import warnings
from pathlib import Path

from permanence.telephony import speech
from permanence.telephony.bridge import FRAME, HEARS, mix
from permanence.telephony.recorder import Recorder, linear
from permanence.telephony.trial import ulaw

SECONDS = 20  # of call simulated per measure
VOICES = [bytes(ulaw(int(0.3 * 32767 * math.sin(2 * math.pi * hz * n / 8000))) for n in range(FRAME))
          for hz in (440, 660, 1000)]  # fmt: skip


def bridge_second() -> float:
    """CPU seconds to mix one second of a supervised call (barge: each leg hears the two others)."""
    legs = ("caller", "secretary", "supervisor")
    frames = dict(zip(legs, VOICES, strict=True))
    start = time.process_time()
    for _ in range(50 * SECONDS):
        for name in legs:
            mix([frames[s] for s in HEARS["barge"][name]])
    return (time.process_time() - start) / SECONDS


def audioop_second() -> float | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import audioop  # type: ignore[import-not-found]
    except ImportError:
        return None
    legs = ("caller", "secretary", "supervisor")
    frames = dict(zip(legs, VOICES, strict=True))
    start = time.process_time()
    for _ in range(50 * SECONDS):
        for name in legs:
            a, b = (audioop.ulaw2lin(frames[s], 2) for s in HEARS["barge"][name])
            audioop.lin2ulaw(audioop.add(a, b, 2), 2)
    return (time.process_time() - start) / SECONDS


def recorder_second() -> float:
    """CPU seconds to keep one second of a caller's voice (decode, level, silence detection)."""

    class Loopless(Recorder):
        def __init__(self) -> None:  # no event loop: only the per-packet work is measured
            self.longest, self.silence, self.threshold, self.clock = 1e9, 1e9, 0.02, None
            self.samples, self.spoke, self.quiet_frames, self.transport = [], False, 0, None

            class Done:
                @staticmethod
                def done() -> bool:
                    return False

            self.done = Done()  # type: ignore[assignment]

    recorder = Loopless()
    packet = b"\x80\x00" + b"\x00" * 10 + VOICES[0]
    start = time.process_time()
    for _ in range(50 * SECONDS):
        recorder.datagram_received(packet, ("127.0.0.1", 1))
    return (time.process_time() - start) / SECONDS


def main() -> None:
    assert linear(0xFF) == 0
    bridge = bridge_second()
    peer = audioop_second()
    print(f"bridge (3 voices, barge): {bridge * 1000:.1f} ms CPU per second of call "
          f"-> about {int(1 / bridge)} supervised calls per core")  # fmt: skip
    if peer is not None:
        print(f"  peer, audioop in C: {peer * 1000:.2f} ms per second of call; ratio {bridge / peer:.0f}x")
    else:
        print("  peer: audioop is not in this Python (removed in 3.13): no ratio")
    recorder = recorder_second()
    print(f"recorder (one voice): {recorder * 1000:.1f} ms CPU per second of call "
          f"-> about {int(1 / recorder)} recorded voices per core")  # fmt: skip
    if speech.available():
        with tempfile.TemporaryDirectory() as folder:
            text = "Pour prendre rendez-vous, tapez 1. Pour une urgence, tapez 2. Pour nos horaires, tapez 3."
            start = time.perf_counter()
            said = speech.spoken(text, Path(folder))
            first = time.perf_counter() - start
            start = time.perf_counter()
            speech.spoken(text, Path(folder))
            cached = time.perf_counter() - start
            length = speech.seconds(said)
            print(f"prompt said by espeak-ng ({length:.1f} s of speech): first {first * 1000:.0f} ms, "
                  f"then from the cache {cached * 1000:.2f} ms")  # fmt: skip
    else:
        print("espeak-ng is not installed: prompts not measured")


if __name__ == "__main__":
    main()
