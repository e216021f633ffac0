"""Call recording on the wire: an account that records its calls has the legal notice played to the
caller first (whole, even when the secretary answers during it); the conversation's file holds both
voices, the caller's on the left and the secretary's on the right, measured in the file."""

from __future__ import annotations

import asyncio
import math
import struct
import wave
from pathlib import Path
from typing import Any

import pytest

from call_control_helpers import in_db, on_sip_phone, talking, until, with_control
from permanence.telephony.trial import ulaw
from sip_peers import TrunkCaller, speech_seconds, ulaw_samples

pytestmark = [pytest.mark.telephony, pytest.mark.django_db(transaction=True)]
NOTICE_SECONDS = 8.2  # telephony/audio/recording-notice.wav


def tone(seconds: float) -> bytes:
    """Her voice: a 440 Hz tone in μ-law, unlike the caller's sentence."""
    wave_at = (0.3 * 32767 * math.sin(2 * math.pi * 440 * n / 8000) for n in range(int(seconds * 8000)))
    return bytes(ulaw(int(sample)) for sample in wave_at)


def channels(path: Path) -> tuple[list[int], list[int]]:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 8000, 2)
        frames = wav.readframes(wav.getnframes())
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    return list(samples[0::2]), list(samples[1::2])


def loud_seconds(samples: list[int], threshold: float = 0.02) -> float:
    loud = 0
    for at in range(0, len(samples) - 800, 800):
        window = samples[at : at + 800]
        if math.sqrt(sum(s * s for s in window) / 800) / 32768 > threshold:
            loud += 1
    return loud / 10


def test_a_recorded_call_plays_the_notice_first_and_its_file_holds_both_voices(
    personas, alpha, layout, rtpengine, kamailio, speech, tmp_path: Path, settings
):
    from permanence.calls import services
    from permanence.calls.models import Call, CallRecording

    settings.MEDIA_ROOT = tmp_path / "media"
    alpha.record_calls = True
    alpha.save()
    secretary = on_sip_phone(personas)
    spoken = ulaw_samples(speech["ulaw"])

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        call, leg, voice, phone, desk = await talking(layout, caller, secretary, alpha, spoken, tmp_path,
                                                      her_voice=tone(1.0) + b"\xff" * 4000)  # fmt: skip
        try:
            # she answered at once, but the caller heard the notice whole before her
            heard_first = bytes(voice.received[: int(8000 * (NOTICE_SECONDS - 0.5))])
            assert speech_seconds(heard_first, tmp_path, "notice") >= 5
            assert await in_db(lambda: Call.objects.get(pk=call.pk).state) == "talking"
            await asyncio.sleep(NOTICE_SECONDS + 4)
            await in_db(services.end_call, call.pk, secretary)
            assert await asyncio.wait_for(leg.ended, 5) == "bye"
            await until(lambda: in_db(lambda: CallRecording.objects.filter(call=call).exists()))
        finally:
            phone.close()

    with_control(layout, scenario, bound=90)
    recording = CallRecording.objects.get()
    assert recording.account == alpha and recording.secretary == secretary
    path = Path(recording.audio.path)
    assert path.is_relative_to(settings.MEDIA_ROOT)
    left, right = channels(path)
    assert abs(len(left) / 8000 - recording.seconds) < 0.1 and recording.seconds >= 3
    assert loud_seconds(left) >= 2  # the caller's sentence
    assert loud_seconds(right) >= 2  # her tone
    # each on its own side: while she is silent (a pause of half a second after each tone), only him
    assert loud_seconds(right) < recording.seconds - 0.5
