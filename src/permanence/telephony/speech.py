"""Spoken prompts: a text said by a local text-to-speech (Debian's espeak-ng), kept as a WAV file that
rtpengine plays (8 kHz, mono, 16-bit, as the recordings shipped in ``audio/``).

The file's name is a digest of the engine, the voice, the rate and the text: the same text is said
once and kept (the cache), a changed text gets a new file. No Django import; the caller chooses the
folder (``MEDIA_ROOT/prompts``).
"""

from __future__ import annotations

import array
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

ENGINE = "espeak-ng"
LONGEST_TEXT = 2000  # characters: a prompt, not a book
RATE = 8000


class SpeechError(Exception):
    """The text cannot be said: no engine installed, an empty or too long text, the engine failed."""


def available() -> bool:
    return shutil.which(ENGINE) is not None


def spoken(text: str, folder: Path, *, voice: str = "fr", words_per_minute: int = 150) -> Path:
    """The WAV file saying ``text`` (made now, or found in ``folder`` if said before)."""
    text = " ".join(text.split())
    if not text:
        raise SpeechError("nothing to say: the text is empty")
    if len(text) > LONGEST_TEXT:
        raise SpeechError(f"the text is longer than {LONGEST_TEXT} characters")
    key = hashlib.sha256(f"{ENGINE}\0{voice}\0{words_per_minute}\0{text}".encode()).hexdigest()[:32]
    path = folder / f"{key}.wav"
    if path.exists():
        return path
    if not available():
        raise SpeechError(f"{ENGINE} is not installed: the text cannot be said")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        raw = Path(work) / "said.wav"
        try:
            subprocess.run([ENGINE, "-v", voice, "-s", str(words_per_minute), "-w", str(raw), "--", text],
                           check=True, capture_output=True, timeout=60)  # fmt: skip
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise SpeechError(f"{ENGINE} failed: {exc}") from None
        samples, rate = _read(raw)
        part = Path(work) / "prompt.wav"
        _write(part, _resample(samples, rate, RATE))
        os.replace(part, path)  # whole or not at all: a concurrent call finds a complete file
    return path


def seconds(path: Path) -> float:
    with wave.open(str(path)) as wav:
        return float(wav.getnframes() / wav.getframerate())


def _read(path: Path) -> tuple[array.array[int], int]:
    with wave.open(str(path)) as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise SpeechError(f"{ENGINE} wrote an unexpected format")
        samples = array.array("h", wav.readframes(wav.getnframes()))
        if sys.byteorder == "big":  # WAV samples are little-endian
            samples.byteswap()
        return samples, wav.getframerate()


def _resample(samples: array.array[int], rate: int, to: int) -> array.array[int]:
    """Linear interpolation after a short moving average (enough against aliasing for a voice on a
    telephone line)."""
    if rate == to or not samples:
        return samples
    smooth = array.array("h", samples)
    if rate > to:
        for i in range(1, len(samples) - 1):
            smooth[i] = (samples[i - 1] + 2 * samples[i] + samples[i + 1]) // 4
    out = array.array("h")
    step = rate / to
    last = len(smooth) - 1
    for n in range(int(len(smooth) / step)):
        at = n * step
        i = int(at)
        frac = at - i
        j = min(i + 1, last)
        out.append(int(smooth[i] * (1 - frac) + smooth[j] * frac))
    return out


def _write(path: Path, samples: array.array[int]) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        if sys.byteorder == "big":
            samples = array.array("h", samples)
            samples.byteswap()
        out.writeframes(samples.tobytes())
