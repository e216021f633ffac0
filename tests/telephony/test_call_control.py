"""The call control end to end on the wire: a caller on the trunk's address (127.0.0.2) calls through
the project's Kamailio; Permanence's call control (in this process's event loop, on the test database)
answers with rtpengine's media; what the caller hears is recorded and measured with sox; the call's
events are read from the database."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from call_control_helpers import (
    SILENCE,
    events,
    in_db,
    on_sip_phone,
    phone_of,
    registered,
    talking,
    until,
    with_control,
)
from sip_peers import TrunkCaller, measure, speech_seconds, ulaw_samples

pytestmark = [pytest.mark.telephony, pytest.mark.django_db(transaction=True)]


def test_a_caller_hears_the_waiting_message_then_hangs_up_abandoned_with_its_wait(
    alpha, layout, rtpengine, kamailio, speech, tmp_path: Path
):
    from permanence.calls.models import Call
    from permanence.telephony.ng import NgError

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        leg, peer = await caller.call("0145000001")  # Alpha's number, as the carrier presents it
        answered = await leg.answered
        assert answered.status == 200, answered.reason
        peer.aim(leg.remote_sdp)
        peer.speak(ulaw_samples(speech["ulaw"]))
        await asyncio.sleep(5)
        call = await in_db(lambda: Call.objects.get(account=alpha))
        assert call.state == "queued" and call.external_id.startswith(control.prefix)
        await leg.hang_up()
        await until(lambda: in_db(lambda: Call.objects.filter(pk=call.pk, state="abandoned").exists()))
        assert not control.lines  # its line and media are released

        async def anchor_gone() -> bool:
            try:
                rtpengine.query(f"{control.run_id}-{call.pk}-caller")
            except NgError:
                return True
            return False

        await until(anchor_gone, 5)
        heard, level = measure(peer.received, tmp_path, "caller-heard")
        assert heard >= 4.5 and level > 0.02, (heard, level)  # the waiting message, spoken
        assert speech_seconds(peer.received, tmp_path, "caller-speech") >= 1.5

    with_control(layout, scenario)
    call = Call.objects.get(account=alpha)
    assert events(call.pk) == ["arrived", "queued", "caller_hung_up"]
    assert call.ended_at is not None and (call.ended_at - call.arrived_at).total_seconds() >= 5


def test_a_closed_account_greets_the_caller_then_releases_the_line(alpha, layout, rtpengine, kamailio,
                                                                   tmp_path: Path):  # fmt: skip
    from permanence.accounts.models import AccountStatus
    from permanence.calls.models import Call

    alpha.status, alpha.after_hours = AccountStatus.SUSPENDED, "message"  # the greeting only, no voicemail
    alpha.save(update_fields=["status", "after_hours"])

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        leg, peer = await caller.call("+33145000001")
        assert (await leg.answered).status == 200
        peer.aim(leg.remote_sdp)
        assert await asyncio.wait_for(leg.ended, 15) == "bye"  # the call control hangs up after the greeting
        assert speech_seconds(peer.received, tmp_path, "closed") >= 3  # the closed greeting was heard

    with_control(layout, scenario)
    call = Call.objects.get(account=alpha)
    assert call.state == "not_served" and events(call.pk) == ["arrived", "not_served"]


def test_a_number_no_account_answers_is_refused(db, layout, rtpengine, kamailio):
    async def scenario(control: Any, caller: TrunkCaller) -> None:
        leg, _ = await caller.call("0999999999")
        assert (await leg.answered).status == 404

    with_control(layout, scenario)


def test_a_call_answered_on_a_sip_phone_talks_both_ways_is_held_with_music_and_released_by_the_desk(
    personas, alpha, layout, rtpengine, kamailio, speech, tmp_path: Path
):
    from permanence.calls import services
    from permanence.calls.models import Call, Desk, Phone

    secretary = personas["secretary"]
    services.set_status(secretary, "ready")
    Desk.objects.filter(secretary=secretary).update(phone=Phone.SIP)
    spoken = ulaw_samples(speech["ulaw"])

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        phone = phone_of(layout, secretary)
        try:
            await registered(layout, phone)
            leg, voice = await caller.call("0145000001")
            assert (await leg.answered).status == 200
            voice.aim(leg.remote_sdp)
            voice.speak(spoken)
            while not phone.calls:  # offered at once (she is ready): her phone rings
                await asyncio.sleep(0.05)
            ringing = phone.calls[0]
            call = await in_db(lambda: Call.objects.get(account=alpha))
            assert ringing.invite.get("x-permanence-call") == str(call.pk)
            assert call.state == "offered"
            await asyncio.sleep(1)
            voice.received.clear()
            desk = await phone.answer(ringing, SILENCE * 2 + spoken)  # she picks up, says nothing for 2 s
            await until(lambda: in_db(lambda: Call.objects.filter(pk=call.pk, state="talking").exists()))
            await asyncio.sleep(6)
            # the caller: the music stopped at once (quiet while she says nothing), then her words
            first = bytes(voice.received[: 8000 * 2 - 1600])
            assert speech_seconds(first, tmp_path, "after-answer") <= 0.3
            assert speech_seconds(bytes(voice.received), tmp_path, "caller-hears") >= 1.5
            assert speech_seconds(bytes(desk.received), tmp_path, "secretary-hears") >= 1.5  # and him

            await in_db(services.hold, call.pk, secretary)
            await asyncio.sleep(0.5)
            voice.received.clear()
            desk.received.clear()
            await asyncio.sleep(3)
            assert speech_seconds(bytes(desk.received), tmp_path, "held-secretary") == 0  # hears nothing
            assert speech_seconds(bytes(voice.received), tmp_path, "held-caller", 0.01) >= 2  # music

            await in_db(services.hold, call.pk, secretary)  # taken back
            await asyncio.sleep(0.5)
            desk.received.clear()
            await asyncio.sleep(3)
            assert speech_seconds(bytes(desk.received), tmp_path, "resumed") >= 1

            await in_db(services.end_call, call.pk, secretary)  # she ends the call at the desk
            assert await asyncio.wait_for(leg.ended, 5) == "bye"
            assert await asyncio.wait_for(ringing.ended, 5) == "bye"
        finally:
            phone.close()

    with_control(layout, scenario, bound=90)
    call = Call.objects.get(account=alpha)
    assert events(call.pk) == ["arrived", "queued", "offered", "answered", "on_hold", "resumed", "ended"]
    assert call.state == "wrap_up" and call.secretary == secretary


def test_a_caller_who_hangs_up_while_her_phone_rings_stops_the_ringing_and_is_abandoned(
    personas, alpha, layout, rtpengine, kamailio
):
    from permanence.calls import services
    from permanence.calls.models import Call, Desk, Phone

    secretary = personas["secretary"]
    services.set_status(secretary, "ready")
    Desk.objects.filter(secretary=secretary).update(phone=Phone.SIP)

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        phone = phone_of(layout, secretary)
        try:
            await registered(layout, phone)
            leg, _ = await caller.call("0145000001")
            assert (await leg.answered).status == 200
            while not phone.calls:
                await asyncio.sleep(0.05)
            phone.calls[0].ringing()
            await asyncio.sleep(1)
            await leg.hang_up()
            assert await asyncio.wait_for(phone.calls[0].ended, 5) == "cancelled"
        finally:
            phone.close()

    with_control(layout, scenario)
    call = Call.objects.get(account=alpha)
    assert call.state == "abandoned" and events(call.pk) == ["arrived", "queued", "offered", "caller_hung_up"]


def gateway_address(layout: Any) -> tuple[str, int]:
    host, port = layout.gateway.removeprefix("sip:").rsplit(":", 1)
    return host, int(port)


def test_an_announced_transfer_the_secretary_talks_first_then_connects_the_caller(
    personas, alpha, layout, rtpengine, kamailio, speech, tmp_path: Path
):
    from permanence.calls import services
    from permanence.calls.models import Call
    from sip_peers import Gateway

    secretary = on_sip_phone(personas)
    spoken = ulaw_samples(speech["ulaw"])

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        gateway = await Gateway(gateway_address(layout)).start((layout.sip.host, layout.sip.port))
        call, leg, voice, phone, desk = await talking(layout, caller, secretary, alpha, spoken, tmp_path)
        try:
            await in_db(services.request_transfer, call.pk, secretary, "anne-alphonse", "announced",
                        "+33145000011")  # Maître Alphonse's direct line, from Alpha's directory
            while not gateway.calls:
                await asyncio.sleep(0.05)
            ringing = gateway.calls[0]
            assert sip_user(ringing.invite.uri) == "+33145000011"
            assert ringing.invite.get("x-permanence-call") == str(call.pk)
            person = await gateway.answer(ringing, spoken)
            await asyncio.sleep(1)
            person.received.clear()
            desk.received.clear()
            await asyncio.sleep(3)
            # the secretary and the person hear each other; the caller waits, unheard
            assert speech_seconds(bytes(person.received), tmp_path, "person-hears-secretary") >= 1
            assert speech_seconds(bytes(desk.received), tmp_path, "secretary-hears-person") >= 1
            assert (await in_db(lambda: Call.objects.get(pk=call.pk))).state == "transferring"

            await in_db(services.transfer_result, call.pk, "accepted", secretary)  # she connects them
            assert await asyncio.wait_for(phone.calls[0].ended, 5) == "bye"  # her phone is free
            await asyncio.sleep(1)
            person.received.clear()
            voice.received.clear()
            await asyncio.sleep(3)
            assert speech_seconds(bytes(person.received), tmp_path, "person-hears-caller") >= 1
            assert speech_seconds(bytes(voice.received), tmp_path, "caller-hears-person") >= 1
            await ringing.hang_up()  # the person hangs up: the caller's line is released
            assert await asyncio.wait_for(leg.ended, 5) == "bye"
        finally:
            phone.close()
            gateway.close()

    with_control(layout, scenario, bound=90)
    call = Call.objects.get(account=alpha)
    assert events(call.pk)[-2:] == ["transfer_requested", "transfer_result"]
    assert call.summary().transfers[0]["result"] == "accepted" and call.state == "wrap_up"


def sip_user(uri: str) -> str:
    from permanence.telephony.sip import user_of

    return user_of(uri)


@pytest.mark.parametrize(("status", "result"), [(603, "refused"), (486, "busy")])
def test_a_transfer_the_person_refuses_comes_back_to_the_secretary(
    personas, alpha, layout, rtpengine, kamailio, speech, tmp_path: Path, status: int, result: str
):
    from permanence.calls import services
    from permanence.calls.models import Call
    from sip_peers import Gateway

    secretary = on_sip_phone(personas)
    spoken = ulaw_samples(speech["ulaw"])

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        gateway = await Gateway(gateway_address(layout)).start((layout.sip.host, layout.sip.port))
        call, leg, voice, phone, desk = await talking(layout, caller, secretary, alpha, spoken, tmp_path)
        try:
            await in_db(services.request_transfer, call.pk, secretary, "anne-alphonse", "blind",
                        "+33145000011")  # fmt: skip
            while not gateway.calls:
                await asyncio.sleep(0.05)
            gateway.calls[0].reject(status, "No")
            await until(lambda: in_db(lambda: Call.objects.filter(pk=call.pk, state="talking").exists()))
            await asyncio.sleep(1)
            desk.received.clear()
            voice.received.clear()
            await asyncio.sleep(3)
            assert speech_seconds(bytes(desk.received), tmp_path, "back-secretary") >= 1  # they talk again
            assert speech_seconds(bytes(voice.received), tmp_path, "back-caller") >= 1
            assert not phone.calls[0].is_over and not leg.is_over
        finally:
            phone.close()
            gateway.close()

    with_control(layout, scenario, bound=90)
    call = Call.objects.get(account=alpha)
    assert call.summary().transfers[0]["result"] == result and call.state == "talking"


def test_a_blind_transfer_connects_the_caller_when_the_person_answers(
    personas, alpha, layout, rtpengine, kamailio, speech, tmp_path: Path
):
    from permanence.calls import services
    from permanence.calls.models import Call
    from sip_peers import Gateway

    secretary = on_sip_phone(personas)
    spoken = ulaw_samples(speech["ulaw"])

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        gateway = await Gateway(gateway_address(layout)).start((layout.sip.host, layout.sip.port))
        call, leg, voice, phone, desk = await talking(layout, caller, secretary, alpha, spoken, tmp_path)
        try:
            await in_db(services.request_transfer, call.pk, secretary, "anne-alphonse", "blind",
                        "+33145000011")  # fmt: skip
            while not gateway.calls:
                await asyncio.sleep(0.05)
            person = await gateway.answer(gateway.calls[0], spoken)
            assert await asyncio.wait_for(phone.calls[0].ended, 5) == "bye"  # she is free at once
            await asyncio.sleep(1)
            person.received.clear()
            voice.received.clear()
            await asyncio.sleep(3)
            assert speech_seconds(bytes(person.received), tmp_path, "blind-person") >= 1
            assert speech_seconds(bytes(voice.received), tmp_path, "blind-caller") >= 1
            await leg.hang_up()  # the caller hangs up: the person's line is released
            assert await asyncio.wait_for(gateway.calls[0].ended, 5) == "bye"
        finally:
            phone.close()
            gateway.close()

    with_control(layout, scenario, bound=90)
    call = Call.objects.get(account=alpha)
    assert call.summary().transfers[0]["result"] == "accepted" and call.state == "wrap_up"


def test_a_transfer_to_a_number_outside_the_account_is_never_dialled(
    personas, alpha, layout, rtpengine, kamailio, speech, tmp_path: Path
):
    from permanence.calls import services
    from permanence.calls.models import Call
    from sip_peers import Gateway

    secretary = on_sip_phone(personas)
    spoken = ulaw_samples(speech["ulaw"])

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        gateway = await Gateway(gateway_address(layout)).start((layout.sip.host, layout.sip.port))
        call, *_ = await talking(layout, caller, secretary, alpha, spoken, tmp_path)
        try:
            await in_db(services.request_transfer, call.pk, secretary, "anne-alphonse", "blind",
                        "+882123456789")  # not in Alpha's directory  # fmt: skip
            await until(lambda: in_db(lambda: Call.objects.filter(pk=call.pk, state="talking").exists()))
            await asyncio.sleep(1)
            assert gateway.calls == []
        finally:
            gateway.close()

    with_control(layout, scenario, bound=60)
    assert Call.objects.get(account=alpha).summary().transfers[0]["result"] == "refused"


def test_a_phone_that_vanishes_mid_call_puts_the_caller_back_in_line_for_the_next_secretary(
    personas, alpha, layout, rtpengine, kamailio, speech, tmp_path: Path
):
    from factories import make_user
    from permanence.calls import services
    from permanence.calls.models import Call, Desk, Phone
    from permanence.users.models import Role, Training

    first = on_sip_phone(personas)
    second = make_user("second", Role.SECRETARY)
    Training.objects.create(secretary=second, account=alpha)
    spoken = ulaw_samples(speech["ulaw"])

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        call, leg, voice, phone, desk = await talking(layout, caller, first, alpha, spoken, tmp_path)
        other = phone_of(layout, second)
        try:
            await registered(layout, other)

            def second_ready() -> None:
                services.set_status(second, "ready")
                Desk.objects.filter(secretary=second).update(phone=Phone.SIP)

            await in_db(second_ready)
            desk.close()  # her browser is gone: no BYE, no more media
            offered = lambda: in_db(lambda: Call.objects.filter(pk=call.pk, offered_to=second).exists())  # noqa: E731
            await until(offered, 15)
            assert (await in_db(lambda: Desk.objects.get(secretary=first))).status == "paused"
            assert not leg.is_over  # the caller was never cut off
            while not other.calls:
                await asyncio.sleep(0.05)
            again = await other.answer(other.calls[0], spoken)
            await until(lambda: in_db(lambda: Call.objects.filter(pk=call.pk, state="talking").exists()))
            await asyncio.sleep(1)
            voice.received.clear()
            await asyncio.sleep(3)
            assert speech_seconds(bytes(again.received), tmp_path, "second-hears") >= 1
            assert speech_seconds(bytes(voice.received), tmp_path, "caller-hears-second") >= 1
        finally:
            phone.close()
            other.close()

    with_control(layout, scenario, bound=90, phone_silence=2.0)
    call = Call.objects.get(account=alpha)
    kinds = events(call.pk)
    assert kinds[-3:] == ["line_lost", "offered", "answered"]
    assert call.secretary == second


def test_out_of_hours_a_call_is_forwarded_to_the_on_call_number(alpha, layout, rtpengine, kamailio, speech,
                                                                 tmp_path: Path):  # fmt: skip
    from permanence.calls.models import Call
    from sip_peers import Gateway

    alpha.weekly_hours.all().delete()  # closed now, whatever the day and hour the suite runs
    alpha.after_hours, alpha.on_call_number = "forward", "+33698765432"
    alpha.save()
    spoken = ulaw_samples(speech["ulaw"])

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        gateway = await Gateway(gateway_address(layout)).start((layout.sip.host, layout.sip.port))
        try:
            leg, voice = await caller.call("0145000001")
            assert (await leg.answered).status == 200
            voice.aim(leg.remote_sdp)
            voice.speak(spoken)
            while not gateway.calls:
                await asyncio.sleep(0.05)
            assert sip_user(gateway.calls[0].invite.uri) == "+33698765432"
            on_call = await gateway.answer(gateway.calls[0], spoken)
            await asyncio.sleep(1)
            voice.received.clear()
            await asyncio.sleep(3)
            assert speech_seconds(bytes(on_call.received), tmp_path, "on-call-hears") >= 1
            assert speech_seconds(bytes(voice.received), tmp_path, "caller-hears-on-call") >= 1
            await gateway.calls[0].hang_up()
            assert await asyncio.wait_for(leg.ended, 5) == "bye"
        finally:
            gateway.close()

    with_control(layout, scenario)
    call = Call.objects.get(account=alpha)
    assert call.state == "not_served" and call.summary().turned_to == "forward"


def test_a_caller_who_waited_the_accounts_maximum_is_told_and_released(alpha, layout, rtpengine, kamailio,
                                                                        tmp_path: Path):  # fmt: skip
    from datetime import timedelta

    from django.utils import timezone

    from permanence.calls import services
    from permanence.calls.models import Call
    from permanence.messaging.models import CallbackTask

    alpha.fallback = "callback"
    alpha.save(update_fields=["fallback"])

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        leg, voice = await caller.call("0145000001")
        assert (await leg.answered).status == 200
        voice.aim(leg.remote_sdp)
        await asyncio.sleep(1)
        later = timezone.now() + timedelta(seconds=alpha.max_wait_seconds + 1)
        await in_db(services.tick, later)  # the worker's tick, past the maximum wait
        voice.received.clear()
        assert await asyncio.wait_for(leg.ended, 15) == "bye"
        assert speech_seconds(bytes(voice.received), tmp_path, "told") >= 2.5  # "nous vous rappellerons"

    with_control(layout, scenario)
    call = Call.objects.get(account=alpha)
    assert call.state == "diverted" and CallbackTask.objects.filter(call=call).exists()


def test_rtpengine_restarted_mid_call_the_legs_are_anchored_again_and_talk_again(
    personas, alpha, layout, rtpengine, kamailio, speech, tmp_path: Path
):
    from permanence.calls.models import Call

    secretary = on_sip_phone(personas)
    spoken = ulaw_samples(speech["ulaw"])

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        call, leg, voice, phone, desk = await talking(layout, caller, secretary, alpha, spoken, tmp_path)
        try:
            await asyncio.to_thread(rtpengine.restart)  # every call it relayed is forgotten
            await asyncio.sleep(4)  # checked every 2 s, then re-INVITEs to both sides
            voice.received.clear()
            desk.received.clear()
            await asyncio.sleep(3)
            assert speech_seconds(bytes(desk.received), tmp_path, "again-secretary") >= 1
            assert speech_seconds(bytes(voice.received), tmp_path, "again-caller") >= 1
            assert not leg.is_over and not phone.calls[0].is_over
            assert (await in_db(lambda: Call.objects.get(pk=call.pk))).state == "talking"
        finally:
            phone.close()

    with_control(layout, scenario, bound=90)


def test_kamailio_restarted_mid_call_the_call_goes_on_and_ends_properly(
    personas, alpha, layout, rtpengine, kamailio, speech, tmp_path: Path
):
    from permanence.calls.models import Call

    secretary = on_sip_phone(personas)
    spoken = ulaw_samples(speech["ulaw"])

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        call, leg, voice, phone, desk = await talking(layout, caller, secretary, alpha, spoken, tmp_path)
        try:
            await asyncio.to_thread(kamailio.restart)  # signalling only: the media never went through it
            voice.received.clear()
            await asyncio.sleep(2)
            assert speech_seconds(bytes(voice.received), tmp_path, "through-restart") >= 0.5
            await leg.hang_up()  # routed by the new Kamailio from the Record-Route: no state was needed
            assert await asyncio.wait_for(phone.calls[0].ended, 5) == "bye"
            await until(lambda: in_db(lambda: Call.objects.filter(pk=call.pk, state="wrap_up").exists()))
            await registered(layout, phone)  # her phone registers again (the registrations were in memory)
            second, _ = await caller.call("0145000001")
            assert (await second.answered).status == 200
        finally:
            phone.close()

    with_control(layout, scenario, bound=90)
    first = Call.objects.filter(account=alpha).order_by("pk").first()
    assert events(first.pk)[-1] == "caller_hung_up"


def test_an_accounts_own_waiting_message_is_played(alpha, layout, rtpengine, kamailio, tmp_path: Path,
                                                   settings):  # fmt: skip
    import subprocess

    from django.core.files import File

    settings.MEDIA_ROOT = tmp_path / "media"
    tone = tmp_path / "tone.wav"  # a waiting message anyone can recognise: a loud 440 Hz tone, 2 s
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(tone), "synth", "2", "sine", "440",
                    "gain", "-6"], check=True)  # fmt: skip
    with tone.open("rb") as handle:
        alpha.waiting_audio.save("bienvenue.wav", File(handle), save=True)
    heard: list[bytes] = []

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        leg, voice = await caller.call("0145000001")
        assert (await leg.answered).status == 200
        voice.aim(leg.remote_sdp)
        await asyncio.sleep(1.5)
        heard.append(bytes(voice.received))
        await leg.hang_up()

    with_control(layout, scenario)
    # the caller heard the tone (the first 1.2 s of what arrived), not the shipped message
    received = tmp_path / "received.ul"
    assert len(heard[0]) >= 9600, "less than 1.2 s of audio arrived"
    received.write_bytes(heard[0][:9600])
    stat = subprocess.run(["sox", "-t", "ul", "-r", "8000", "-c", "1", str(received), "-n", "stat"],
                          capture_output=True, text=True, check=True).stderr  # fmt: skip
    frequency = float(stat.split("Rough   frequency:")[1].split()[0])
    rms = float(stat.split("RMS     amplitude:")[1].split()[0])
    assert 400 <= frequency <= 480 and rms > 0.25, stat  # the shipped message: ~1045 Hz, RMS ~0.08


def test_a_trial_call_from_the_command_is_answered_and_hears_the_waiting_message(alpha, layout, rtpengine,
                                                                                 kamailio):  # fmt: skip
    from permanence.telephony.trial import Trial

    said: list[str] = []

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        trial = Trial("0145000001", (layout.sip.host, layout.sip.port), say=said.append)
        assert await trial.run(seconds=3) == 0, said  # a refusal says its status

    with_control(layout, scenario)
    assert said[1] == "answered: speaking (the waiting message, in a loop)" and said[2] == "hung up"
    heard = float(said[3].split()[1])
    assert heard >= 2.5, said  # the waiting message, then the music: audio all along


def test_an_offer_to_a_phone_that_cannot_ring_goes_elsewhere_at_once_and_pauses_her(
    personas, alpha, layout, rtpengine, kamailio
):
    from permanence.calls.models import Call, Desk

    secretary = on_sip_phone(personas)  # ready, but her phone never registered: Kamailio says 480

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        leg, _ = await caller.call("0145000001")
        assert (await leg.answered).status == 200
        await until(lambda: in_db(lambda: Desk.objects.filter(secretary=secretary, status="paused").exists()))
        assert not leg.is_over  # the caller waits on, with the music

    with_control(layout, scenario)
    call = Call.objects.get(account=alpha)
    assert call.state == "queued" and events(call.pk) == ["arrived", "queued", "offered", "offer_declined"]
    desk = Desk.objects.get(secretary=secretary)
    assert desk.reason == "téléphone injoignable"


def test_sipp_as_the_caller_through_the_call_control_is_heard_by_the_secretary_and_hangs_up(
    personas, alpha, layout, rtpengine, kamailio, speech, tmp_path: Path
):
    """An independent SIP implementation on the caller's side: SIPp (real speech, PCMU, from the trunk's
    address) calls Alpha; the secretary's SIP phone answers and hears it; SIPp hangs up, the events say so."""
    import subprocess

    from permanence.calls.models import Call

    secretary = on_sip_phone(personas)
    text = (Path(__file__).parent / "sipp" / "uac.xml").read_text().replace("AUDIO_FILE", str(speech["ulaw"]))
    (tmp_path / "caller.xml").write_text(text)

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        phone = phone_of(layout, secretary)
        try:
            await registered(layout, phone)
            sipp = await asyncio.create_subprocess_exec(
                "sipp", "-sf", str(tmp_path / "caller.xml"), "-i", "127.0.0.2", "-p", str(free_sip_port()),
                "-mi", "127.0.0.2", "-s", "0145000001", "-m", "1", "-d", "8000", "-nostdin",
                "-timeout", "40s",
                f"{layout.sip.host}:{layout.sip.port}", cwd=tmp_path,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            while not phone.calls:
                await asyncio.sleep(0.05)
            desk = await phone.answer(phone.calls[0], SILENCE)
            await asyncio.sleep(4)
            assert speech_seconds(bytes(desk.received), tmp_path, "hears-sipp") >= 1.5  # SIPp's speech
            _, errors = await asyncio.wait_for(sipp.communicate(), 30)
            assert sipp.returncode == 0, errors.decode()[-2000:]  # its BYE was answered
            assert await asyncio.wait_for(phone.calls[0].ended, 5) == "bye"
        finally:
            phone.close()

    with_control(layout, scenario, bound=60)
    call = Call.objects.get(account=alpha)
    assert events(call.pk) == ["arrived", "queued", "offered", "answered", "caller_hung_up"]
    assert call.caller == "+33612345678"  # SIPp's From, national format, identified as today


def free_sip_port() -> int:
    from sip_peers import free_udp_port

    return free_udp_port("127.0.0.2")


def test_a_transfer_nobody_answers_comes_back_as_unanswered(
    personas, alpha, layout, rtpengine, kamailio, speech, tmp_path: Path, monkeypatch
):
    from permanence.calls import services
    from permanence.calls.models import Call
    from permanence.telephony import control as call_control
    from sip_peers import Gateway

    monkeypatch.setattr(call_control, "NO_ANSWER_SECONDS", 2.0)
    secretary = on_sip_phone(personas)
    spoken = ulaw_samples(speech["ulaw"])

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        gateway = await Gateway(gateway_address(layout)).start((layout.sip.host, layout.sip.port))
        call, leg, voice, phone, desk = await talking(layout, caller, secretary, alpha, spoken, tmp_path)
        try:
            await in_db(services.request_transfer, call.pk, secretary, "anne-alphonse", "announced",
                        "+33145000011")  # fmt: skip
            while not gateway.calls:
                await asyncio.sleep(0.05)
            gateway.calls[0].ringing()  # it rings, nobody picks up
            await until(lambda: in_db(lambda: Call.objects.filter(pk=call.pk, state="talking").exists()))
            assert await asyncio.wait_for(gateway.calls[0].ended, 5) == "cancelled"
            await asyncio.sleep(1)
            desk.received.clear()
            await asyncio.sleep(2)
            assert speech_seconds(bytes(desk.received), tmp_path, "back-after-no-answer") >= 0.5
        finally:
            phone.close()
            gateway.close()

    with_control(layout, scenario, bound=60)
    assert Call.objects.get(account=alpha).summary().transfers[0]["result"] == "no_answer"
