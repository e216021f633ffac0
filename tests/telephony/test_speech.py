"""Spoken prompts (``telephony.speech``): a text said by espeak-ng as an 8 kHz WAV, kept and found
again for the same text, made anew when the text changes; bad input refused with a sentence."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import pytest

from permanence.telephony import speech

pytestmark = pytest.mark.skipif(not speech.available(), reason="espeak-ng is not installed: skipped")


def loudness(path: Path) -> float:
    import array

    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        samples = array.array("h", wav.readframes(wav.getnframes()))
    return math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768


def test_a_text_is_said_once_kept_and_said_again_when_it_changes(tmp_path: Path):
    text = "Cabinet Alpha, bonjour. Nous sommes fermés, nous rouvrons lundi à neuf heures."
    first = speech.spoken(text, tmp_path)
    assert first.parent == tmp_path and 4 < speech.seconds(first) < 9 and loudness(first) > 0.02
    made = first.stat().st_mtime_ns
    spaced = "  Cabinet Alpha, bonjour.\nNous sommes fermés, nous rouvrons lundi à neuf heures. "
    again = speech.spoken(spaced, tmp_path)
    assert again == first and again.stat().st_mtime_ns == made  # the same words: the same file, not redone
    changed = speech.spoken(text.replace("lundi", "mardi"), tmp_path)
    assert changed != first and changed.exists() and first.exists()
    short = speech.spoken("Bonjour.", tmp_path)
    assert speech.seconds(short) < speech.seconds(first) / 3


def test_bad_texts_are_refused_with_a_sentence(tmp_path: Path):
    with pytest.raises(speech.SpeechError, match="empty"):
        speech.spoken(" \n ", tmp_path)
    with pytest.raises(speech.SpeechError, match="longer"):
        speech.spoken("a" * (speech.LONGEST_TEXT + 1), tmp_path)
    said = speech.spoken("-v en --help", tmp_path)  # a text that looks like options is said, not obeyed
    assert speech.seconds(said) > 0.5 and not list(tmp_path.glob("*.tmp"))


def test_without_the_engine_nothing_is_said_and_it_says_why(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(speech, "ENGINE", "espeak-ng-not-installed")
    with pytest.raises(speech.SpeechError, match="not installed"):
        speech.spoken("Bonjour", tmp_path)
