"""Voicemail on the wire: a caller through the project's Kamailio reaches the call control after hours
(or waits the account's maximum), hears the voicemail prompt and its beep, speaks; the recording stored
with the call holds the caller's sentence (length and level measured with sox), and the voicemail is on
the desk of the secretaries trained on the account from the reopening."""

from __future__ import annotations

import asyncio
import subprocess
import wave
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from call_control_helpers import SILENCE, events, in_db, until, with_control
from sip_peers import TrunkCaller, speech_seconds, ulaw_samples

pytestmark = [pytest.mark.telephony, pytest.mark.django_db(transaction=True)]


def sox_stat(path: Path) -> tuple[float, float]:
    """(seconds, RMS amplitude 0..1) of a WAV file, as sox reads it."""
    import re

    stat = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True, check=True).stderr
    seconds = float(re.search(r"Length \(seconds\):\s+([\d.]+)", stat).group(1))  # type: ignore[union-attr]
    rms = float(re.search(r"RMS\s+amplitude:\s+([\d.]+)", stat).group(1))  # type: ignore[union-attr]
    return seconds, rms


def loud_seconds(path: Path, threshold: float = 0.02) -> float:
    """Seconds of a 16-bit WAV file louder than ``threshold`` (RMS per 100 ms window)."""
    import array
    import math

    with wave.open(str(path)) as wav:
        samples = array.array("h", wav.readframes(wav.getnframes()))
    loud = 0
    for at in range(0, len(samples) - 800, 800):
        window = samples[at : at + 800]
        if math.sqrt(sum(s * s for s in window) / 800) / 32768 > threshold:
            loud += 1
    return loud / 10


async def heard_the_beep(voice: Any) -> None:
    """The prompt and its beep received: rtpengine sends nothing after them (the caller's media go to
    the recorder); the last half second heard is the beep, a loud steady tone."""
    import math

    from permanence.telephony.recorder import linear

    heard = -1
    while len(voice.received) < 8000 or len(voice.received) != heard:
        heard = len(voice.received)
        await asyncio.sleep(0.4)
    beep = [linear(b) for b in bytes(voice.received[-3200:-400])]
    assert math.sqrt(sum(s * s for s in beep) / len(beep)) / 32768 > 0.1, "no beep at the end of the prompt"


async def leave_a_voicemail(caller: TrunkCaller, spoken: bytes, folder: Path) -> tuple[Any, float]:
    """Call Alpha, wait for the beep, say the sentence once, then stay silent (a phone keeps sending
    RTP while nobody speaks); the call control hangs up after the silence. The caller's line, and the
    seconds of prompt heard before the beep."""
    leg, voice = await caller.call("0145000001")
    assert (await leg.answered).status == 200
    voice.aim(leg.remote_sdp)
    await heard_the_beep(voice)
    assert speech_seconds(bytes(voice.received), folder, "vm-prompt") >= 4  # spoken, not silence
    prompt = len(voice.received) / 8000 - 0.5  # the beep: half a second
    voice.received.clear()
    voice.speak(spoken + SILENCE * 8, repeat=False)
    assert await asyncio.wait_for(leg.ended, 30) == "bye"
    return voice, prompt


def test_after_hours_the_caller_leaves_a_voicemail_that_holds_the_sentence_and_shows_at_reopening(
    alpha, beta, personas, layout, rtpengine, kamailio, speech, tmp_path: Path, settings
):
    from django.utils import timezone

    from permanence.accounts.models import WeeklyHours
    from permanence.calls import voicemail
    from permanence.calls.models import Call, Voicemail
    from permanence.telephony import speech as tts

    settings.MEDIA_ROOT = tmp_path / "media"
    zone = alpha.tz
    tomorrow = timezone.now().astimezone(zone).date() + timedelta(days=1)
    alpha.weekly_hours.all().delete()  # closed now; open all tomorrow
    WeeklyHours.objects.create(account=alpha, weekday=tomorrow.weekday(), opens=time(0), closes=time(0))
    alpha.after_hours = "voicemail"
    alpha.save()
    spoken = ulaw_samples(speech["ulaw"])
    said = speech_seconds(spoken, tmp_path, "said")

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        voice, prompt = await leave_a_voicemail(caller, spoken, tmp_path)
        assert speech_seconds(bytes(voice.received), tmp_path, "thanked") >= 1.5  # "message enregistré"
        # what the caller heard first: the account's closed text, said (its next opening in it)
        said = list((settings.MEDIA_ROOT / "prompts").glob("*.wav"))
        assert len(said) == 1 and abs(tts.seconds(said[0]) - prompt) < 0.6, (said, prompt)

    with_control(layout, scenario, voicemail_silence=2.0)
    call = Call.objects.get(account=alpha)
    assert call.state == "not_served" and events(call.pk)[:2] == ["arrived", "not_served"]
    left = Voicemail.objects.get(call=call)
    path = Path(left.audio.path)
    assert path.is_relative_to(settings.MEDIA_ROOT) and path.suffix == ".wav"
    seconds, level = sox_stat(path)
    assert abs(seconds - left.seconds) < 0.1 and left.ended == "silence"
    assert said - 0.5 <= loud_seconds(path) <= said + 0.5, (loud_seconds(path), said)  # the sentence, whole
    assert level > 0.02 and seconds < said + 2.5  # the trailing silence cut off
    # at reopening (tomorrow 00:00 in Paris), on the desk of the secretaries trained on Alpha only
    reopening = datetime.combine(tomorrow, time(0), tzinfo=zone)
    assert left.shown_from == reopening and left.due_at == reopening + timedelta(minutes=120)
    assert not voicemail.pending(personas["secretary"], timezone.now()).exists()
    assert list(voicemail.pending(personas["secretary"], reopening)) == [left]
    assert not voicemail.pending(personas["secretary_beta"], reopening).exists()


def test_a_caller_who_waited_the_maximum_leaves_a_voicemail_and_a_hang_up_ends_the_recording(
    alpha, layout, rtpengine, kamailio, speech, tmp_path: Path, settings
):
    from django.utils import timezone

    from permanence.calls import services
    from permanence.calls.models import Call, Voicemail

    settings.MEDIA_ROOT = tmp_path / "media"
    assert alpha.fallback == "voicemail"
    spoken = ulaw_samples(speech["ulaw"])

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        leg, voice = await caller.call("0145000001")
        assert (await leg.answered).status == 200
        voice.aim(leg.remote_sdp)
        await asyncio.sleep(1)
        later = timezone.now() + timedelta(seconds=alpha.max_wait_seconds + 1)
        await in_db(services.tick, later)  # the worker's tick, past the maximum wait
        voice.received.clear()
        await heard_the_beep(voice)
        voice.speak(spoken, repeat=True)  # speaks on, then hangs up in the middle of a sentence
        await asyncio.sleep(4)
        await leg.hang_up()
        await until(lambda: in_db(lambda: Voicemail.objects.filter(call__account=alpha).exists()))

    with_control(layout, scenario)
    call = Call.objects.get(account=alpha)
    assert call.state == "diverted"
    left = Voicemail.objects.get(call=call)
    assert left.ended == "hangup" and 3 <= left.seconds <= 5.5, left.seconds
    assert loud_seconds(Path(left.audio.path)) >= 2
    assert left.shown_from == left.recorded_at  # the account is open: on the desk at once


def test_a_caller_who_says_nothing_after_the_beep_leaves_no_voicemail_and_is_released(
    alpha, layout, rtpengine, kamailio, tmp_path: Path, settings
):
    from permanence.calls.models import Call, Voicemail

    settings.MEDIA_ROOT = tmp_path / "media"
    alpha.weekly_hours.all().delete()
    alpha.after_hours = "voicemail"
    alpha.save()

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        leg, voice = await caller.call("0145000001")
        assert (await leg.answered).status == 200
        voice.aim(leg.remote_sdp)
        await heard_the_beep(voice)
        voice.speak(SILENCE * 30, repeat=False)  # a line that stays silent
        loop = asyncio.get_running_loop()
        beep = loop.time()
        assert await asyncio.wait_for(leg.ended, 10) == "bye"
        assert loop.time() - beep < 2 * 2.0 + 1.5  # twice the silence, no longer

    with_control(layout, scenario, voicemail_silence=2.0)
    assert not Voicemail.objects.exists() and Call.objects.get(account=alpha).state == "not_served"
