"""The voice menu on the wire: SIPp calls Alpha from the trunk's address and presses a key (RFC 4733,
the DTMF pcaps shipped with SIPp); the call control says the menu (espeak-ng), reads the key and the call
reaches the queue with its motive and priority, which the desk shows; a wrong key then silence follow
the menu's rules; an information option ends the call itself."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest

from call_control_helpers import events, in_db, until, with_control
from sip_peers import TrunkCaller, free_udp_port

pytestmark = [pytest.mark.telephony, pytest.mark.django_db(transaction=True)]
PCAPS = Path("/usr/share/sip-tester")

MENU = """\
language: permanence-ivr/1
start: accueil
timeout: 2
retries: 1
menus:
  accueil:
    say: "Rendez-vous, tapez 1. Urgence, tapez 2. Horaires, tapez 3."
    options:
      1: {queue: Rendez-vous}
      2: {queue: Urgence, priority: urgent}
      3: {goto: horaires}
    no_key: {queue: Sans choix}
  horaires:
    say: "Ouvert de 9 heures à 18 heures."
    options:
      0: {goto: accueil}
    no_key: {end: "Au revoir."}
"""


@pytest.fixture
def menu(alpha: Any) -> Any:
    from permanence.telephony import speech

    if not speech.available() or not (PCAPS / "dtmf_2833_1.pcap").exists():
        pytest.skip("espeak-ng or SIPp's DTMF recordings are not installed: skipped")
    alpha.ivr_source = MENU
    alpha.full_clean()
    alpha.save()
    return alpha


async def sipp(layout: Any, folder: Path, key: str, *, after_ms: int, stay_ms: int, hang_up: bool) -> Any:
    name = "ivr_dial.xml" if hang_up else "ivr_listen.xml"
    text = (Path(__file__).parent / "sipp" / name).read_text()
    text = text.replace("KEYS_PCAP", str(PCAPS / f"dtmf_2833_{key}.pcap"))
    text = text.replace("KEY_AFTER_MS", str(after_ms)).replace("STAY_MS", str(stay_ms))
    (folder / name).write_text(text)
    return await asyncio.create_subprocess_exec(
        "sipp", "-sf", str(folder / name), "-i", "127.0.0.2", "-p", str(free_udp_port("127.0.0.2")),
        "-mi", "127.0.0.2", "-mp", str(free_udp_port("127.0.0.2")), "-s", "0145000001", "-m", "1",
        "-nostdin", "-timeout", "60s", f"{layout.sip.host}:{layout.sip.port}", cwd=folder,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


async def finished(process: Any) -> None:
    _, errors = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, errors.decode()[-2000:]


def queued_detail(call_id: int) -> dict[str, Any]:
    from permanence.calls.models import CallEvent

    return dict(CallEvent.objects.get(call_id=call_id, kind="queued").detail)


def test_a_key_pressed_in_the_menu_reaches_the_desk_as_the_calls_motive_and_priority(
    menu, personas, layout, rtpengine, kamailio, tmp_path: Path
):
    from django.test import Client

    from permanence.calls import services
    from permanence.calls.models import Call

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        process = await sipp(layout, tmp_path, "2", after_ms=1500, stay_ms=3000, hang_up=True)
        await until(lambda: in_db(lambda: Call.objects.filter(account=menu).exists()), 20)
        await finished(process)  # it hung up while queued
        await until(lambda: in_db(lambda: Call.objects.filter(account=menu, state="abandoned").exists()))

    with_control(layout, scenario)
    call = Call.objects.get(account=menu)
    assert call.motive == "Urgence" and call.urgent
    assert events(call.pk) == ["arrived", "queued", "caller_hung_up"]
    assert queued_detail(call.pk)["keys"] == "2" and queued_detail(call.pk)["motive"] == "Urgence"
    # the desk shows the choice, and the scenario can take it as a known answer (call.motive)
    assert services.load_router([call], call.arrived_at).calls[call.pk].priority == 1  # before ordinary calls
    secretary = personas["secretary"]
    Call.objects.filter(pk=call.pk).update(state="talking", secretary=secretary)
    client = Client()
    client.force_login(secretary)
    page = client.get(f"/desk/calls/{call.pk}/").content.decode()
    assert 'data-testid="voice-menu"' in page and "Urgence" in page


def test_a_wrong_key_then_silence_follow_the_menus_rules(menu, layout, rtpengine, kamailio, tmp_path: Path):
    from permanence.calls.models import Call

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        # 7 is no option: the menu is said again; then nothing: after the retries, "no_key" (Sans choix)
        process = await sipp(layout, tmp_path, "7", after_ms=1500, stay_ms=20000, hang_up=True)
        await until(lambda: in_db(lambda: Call.objects.filter(account=menu).exists()), 40)
        await finished(process)

    with_control(layout, scenario, bound=90)
    call = Call.objects.get(account=menu)
    assert call.motive == "Sans choix" and not call.urgent
    assert queued_detail(call.pk)["keys"] == "7"


def test_an_information_option_says_its_text_and_ends_the_call_itself(
    menu, layout, rtpengine, kamailio, tmp_path: Path
):
    from permanence.calls.models import Call, CallEvent

    async def scenario(control: Any, caller: TrunkCaller) -> None:
        # 3: the hours; then nothing: "Au revoir." and the call control hangs up (SIPp waits for its BYE)
        process = await sipp(layout, tmp_path, "3", after_ms=1500, stay_ms=100, hang_up=False)
        await finished(process)

    with_control(layout, scenario, bound=90)
    call = Call.objects.get(account=menu)
    assert call.state == "not_served" and events(call.pk)[:2] == ["arrived", "not_served"]
    detail = CallEvent.objects.get(call=call, kind="not_served").detail
    assert detail["action"] == "self_service" and detail["reason"] == "voice_menu" and detail["keys"] == "3"
