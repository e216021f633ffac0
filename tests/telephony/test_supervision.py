"""Live supervision on the wire: a secretary talks with a caller on her SIP phone; a supervisor starts
listening from the live view's service: his SIP phone is called, he hears both (audio measured), and
nobody hears him; whispering, only the secretary hears him; barging in, the caller too; stopped, the
caller and the secretary talk directly again. Every use is audited and shown to the secretary."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import pytest

from call_control_helpers import (
    SILENCE,
    in_db,
    on_sip_phone,
    phone_of,
    registered,
    talking,
    until,
    with_control,
)
from permanence.telephony.trial import ulaw
from sip_peers import TrunkCaller, speech_seconds, ulaw_samples

pytestmark = [pytest.mark.telephony, pytest.mark.django_db(transaction=True)]


def tone(hz: float, seconds: float = 1.0) -> bytes:
    wave_at = (0.3 * 32767 * math.sin(2 * math.pi * hz * n / 8000) for n in range(int(8000 * seconds)))
    return bytes(ulaw(int(sample)) for sample in wave_at)


async def heard(peers: dict[str, Any], folder: Path, label: str) -> dict[str, float]:
    """Seconds of sound each one hears over 3 s, after a second for the change to settle."""
    await asyncio.sleep(1)
    for peer in peers.values():
        peer.received.clear()
    await asyncio.sleep(3)
    return {name: speech_seconds(bytes(p.received), folder, f"{label}-{name}") for name, p in peers.items()}


def say(peer: Any, voice: bytes) -> None:
    peer.hush()
    peer.speak(voice)


def test_a_supervisor_listens_silently_whispers_to_the_secretary_barges_in_then_leaves(
    personas, alpha, layout, rtpengine, kamailio, speech, tmp_path: Path
):
    from django.test import Client

    from permanence.audit.models import AuditEvent
    from permanence.calls import monitoring
    from permanence.calls.models import Desk, Phone, Supervision

    secretary = on_sip_phone(personas)
    boss = personas["admin"]
    Desk.objects.update_or_create(secretary=boss, defaults={"phone": Phone.SIP})
    spoken = ulaw_samples(speech["ulaw"])
    results: dict[str, dict[str, float]] = {}

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        call, leg, voice, phone, desk = await talking(layout, caller, secretary, alpha, spoken, tmp_path,
                                                      her_voice=tone(440))  # fmt: skip
        his_phone = phone_of(layout, boss)
        try:
            await registered(layout, his_phone)
            await in_db(monitoring.start, call.pk, boss, "listen")
            while not his_phone.calls:  # the call control calls his phone
                await asyncio.sleep(0.05)
            ring = his_phone.calls[0]
            assert ring.invite.get("x-permanence-supervision") == "listen"
            him = await his_phone.answer(ring, tone(1000))  # he speaks (a tone) all along
            connected = Supervision.objects.filter(connected_at__isnull=False)
            await until(lambda: in_db(connected.exists))
            peers = {"caller": voice, "secretary": desk, "supervisor": him}
            results["listen"] = await heard(peers, tmp_path, "listen")
            say(voice, SILENCE)
            say(desk, SILENCE)
            results["listen, both silent"] = await heard(peers, tmp_path, "quiet")
            await in_db(monitoring.start, call.pk, boss, "whisper")
            results["whisper"] = await heard(peers, tmp_path, "whisper")
            await in_db(monitoring.start, call.pk, boss, "barge")
            results["barge"] = await heard(peers, tmp_path, "barge")
            pk = await in_db(lambda: Supervision.objects.get().pk)
            await in_db(monitoring.stop, pk, boss)
            assert await asyncio.wait_for(ring.ended, 5) == "bye"  # his phone is released
            say(desk, tone(440))
            say(voice, spoken)
            results["after"] = await heard({"caller": voice, "secretary": desk}, tmp_path, "after")
            await leg.hang_up()
        finally:
            his_phone.close()
            phone.close()

    with_control(layout, scenario, bound=120)
    listen, quiet = results["listen"], results["listen, both silent"]
    assert listen["supervisor"] >= 2.5  # he hears the call
    assert quiet["secretary"] == 0 and quiet["caller"] == 0  # a silent monitor: nobody hears him
    assert quiet["supervisor"] == 0  # (and both were silent)
    whisper = results["whisper"]
    assert whisper["secretary"] >= 2.5 and whisper["caller"] == 0  # to the secretary only
    barge = results["barge"]
    assert barge["secretary"] >= 2.5 and barge["caller"] >= 2.5  # everyone
    after = results["after"]
    assert after["caller"] >= 2.5 and after["secretary"] >= 1.5  # joined directly again

    row = Supervision.objects.get()
    assert [m for m, _at in row.modes] == ["listen", "whisper", "barge"] and row.ended_at and row.connected_at
    trail = AuditEvent.objects.filter(object_type="calls.supervision", actor=boss)
    assert trail.filter(action="create").count() == 1 and trail.filter(action="update").count() >= 3
    page = Client()
    page.force_login(secretary)
    shown = page.get(f"/desk/calls/{row.call_id}/").content.decode()
    assert 'data-testid="supervised"' in shown and "chuchotement" in shown
