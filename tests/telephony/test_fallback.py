"""When the call control cannot take a call (down, stuck, answering 503), Kamailio forwards it itself
through the carrier's gateway to the account's fallback number, or answers 480: never dead air.

The table of fallback numbers first (from the database, every spelling of a number, written for
db_text); then on the wire: a caller on the trunk's address (127.0.0.2) calls through the project's
Kamailio, the carrier's gateway (a SIP peer) answers the forwarded call, and both ends talk (real
speech, measured). Kamailio never touches the media: they flow straight between the two ends."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

import fresh_loop
from permanence.telephony import fallback
from permanence.telephony.fallback import Fallback

pytestmark = pytest.mark.django_db

ON_CALL = "+33611112222"  # Alpha's on-call number in these tests
ELSEWHERE = "+33622223333"  # the service's own fallback (TELEPHONY_FALLBACK_NUMBER)


# -- the table -------------------------------------------------------------------------------------


def test_each_number_in_service_falls_back_to_its_accounts_on_call_number_or_the_setting(
    alpha, beta, settings
):
    from permanence.accounts.models import PhoneNumber

    alpha.on_call_number = "06 11 11 22 22"  # as an operator may have typed it
    alpha.save(update_fields=["on_call_number"])
    old = PhoneNumber.objects.create(account=alpha, number="+33145000009", label="Ancien")
    PhoneNumber.objects.filter(pk=old.pk).update(released_at=old.assigned_at)  # no longer Alpha's
    settings.TELEPHONY_FALLBACK_NUMBER = ""
    assert fallback.rows() == [
        Fallback("+33145000001", ON_CALL, "alpha"),
        Fallback("+33478000002", "", "beta"),
    ]
    settings.TELEPHONY_FALLBACK_NUMBER = "06 22 22 33 33"
    assert fallback.rows()[1] == Fallback("+33478000002", ELSEWHERE, "beta")


def test_a_fallback_setting_that_is_no_number_is_refused(db, settings):
    settings.TELEPHONY_FALLBACK_NUMBER = "the boss"
    with pytest.raises(fallback.FallbackError, match="TELEPHONY_FALLBACK_NUMBER='the boss'.*E.164"):
        fallback.rows()


@pytest.mark.parametrize(
    ("number", "spelled"),
    [
        ("+33145000001", ["+33145000001", "33145000001", "0033145000001", "0145000001"]),
        ("+262262123456", ["+262262123456", "262262123456", "00262262123456", "0262123456"]),  # Réunion
        ("+442079460000", ["+442079460000", "442079460000", "00442079460000"]),  # not dialled as 020...
    ],
)
def test_a_number_is_found_however_the_carrier_spells_it(number, spelled):
    assert fallback.spellings(number, "FR") == spelled


def test_the_table_is_db_text_with_a_row_per_spelling_and_none_without_fallback(tmp_path):
    path = fallback.write(tmp_path, [Fallback("+33145000001", ON_CALL, "alpha"),
                                     Fallback("+33478000002", "", "beta")], "FR")  # fmt: skip
    assert path.read_text().splitlines() == [
        fallback.COLUMNS,
        f"1:+33145000001:0:0:{ON_CALL}:0",
        f"2:33145000001:0:0:{ON_CALL}:0",
        f"3:0033145000001:0:0:{ON_CALL}:0",
        f"4:0145000001:0:0:{ON_CALL}:0",
    ]
    assert not list(tmp_path.glob(".*"))  # written aside, then moved in place


def test_a_table_rewritten_within_the_same_second_still_looks_newer(tmp_path):
    # db_text reads a table again only when its modification time, in seconds, went forward
    first = fallback.write(tmp_path, [], "FR").stat().st_mtime_ns // 10**9
    second = fallback.write(tmp_path, [Fallback("+33145000001", ON_CALL, "alpha")], "FR")
    assert second.stat().st_mtime_ns // 10**9 > first


def test_the_configuration_keeps_the_table_and_the_command_writes_it(alpha, settings, tmp_path):
    from permanence.telephony import config

    settings.TELEPHONY_SIP_SECRET = "a-long-enough-test-secret"
    config.write(config.Layout(), tmp_path)  # no table yet: an empty one, for Kamailio to start
    assert (tmp_path / "fallback").read_text() == fallback.COLUMNS + "\n"
    alpha.on_call_number = ON_CALL
    alpha.save(update_fields=["on_call_number"])
    out = io.StringIO()
    call_command("telephony", "config", "--out", str(tmp_path), stdout=out)
    assert f"1:+33145000001:0:0:{ON_CALL}:0" in (tmp_path / "fallback").read_text()
    assert "1 of 1 numbers have a fallback number" in out.getvalue()
    text = (tmp_path / "kamailio.cfg").read_text()
    assert f'modparam("htable", "db_url", "text://{tmp_path.absolute()}")' in text
    config.write(config.Layout(), tmp_path)  # the configuration again: the table stays
    assert ON_CALL in (tmp_path / "fallback").read_text()


def test_the_command_says_which_numbers_have_no_fallback(alpha, beta, settings, tmp_path):
    settings.TELEPHONY_SIP_SECRET = "a-long-enough-test-secret"
    out = io.StringIO()
    call_command("telephony", "config", "--out", str(tmp_path), stdout=out)
    assert "0 of 2 numbers have a fallback number" in out.getvalue()
    assert "+33145000001, +33478000002" in out.getvalue()
    settings.TELEPHONY_FALLBACK_NUMBER = "not a number"
    with pytest.raises(CommandError, match="TELEPHONY_FALLBACK_NUMBER"):
        call_command("telephony", "config", "--out", str(tmp_path))


def test_reload_says_when_kamailio_is_not_running(alpha, tmp_path):
    if not __import__("shutil").which("kamcmd"):
        pytest.skip("kamcmd is not installed (apt-get install kamailio)")
    with pytest.raises(CommandError, match="Kamailio is not running: no control socket"):
        call_command("telephony", "reload", "--out", str(tmp_path))
    assert (tmp_path / "fallback").exists()  # written all the same: Kamailio loads it when it starts


# -- on the wire -----------------------------------------------------------------------------------


@pytest.fixture
def table(alpha, beta, tmp_path):
    """Alpha's calls fall back to its on-call number; Beta has none (nor does the service)."""
    alpha.on_call_number = ON_CALL
    alpha.save(update_fields=["on_call_number"])
    fallback.write(tmp_path / "telephony", fallback.rows(), "FR")


@pytest.fixture
def kamailio(table, kamailio):
    """Kamailio started with the table written (the conftest's: in tmp_path/telephony)."""
    return kamailio


@dataclass
class Forwarded:
    delay: float  # from the caller's INVITE to the answer it got
    uri: str  # the request URI the gateway received
    invite: Any  # the INVITE the gateway received
    heard_by_caller: bytes = b""
    heard_by_gateway: bytes = b""
    ends: list[str] = field(default_factory=list)  # how each side's leg ended


def gateway_address(layout: Any) -> tuple[str, int]:
    host, port = layout.gateway_hostport.rsplit(":", 1)
    return host, int(port)


async def forwarded(layout: Any, number: str, samples: bytes, talk: float = 0,
                    gateway_hangs_up: bool = False) -> Forwarded:  # fmt: skip
    """A trunk call to ``number`` that the gateway answers (saying ``samples``), ``talk`` seconds of
    conversation, then one side hangs up: what the caller and the gateway saw and heard."""
    from sip_peers import Gateway, TrunkCaller

    edge = (layout.sip.host, layout.sip.port)
    loop = asyncio.get_running_loop()
    gateway = await Gateway(gateway_address(layout)).start(edge)
    caller = await TrunkCaller(edge).start()
    try:
        started = loop.time()
        leg, voice = await caller.call(number)
        while not gateway.calls:
            assert loop.time() - started < 10, "the gateway got no call"
            await asyncio.sleep(0.02)
        incoming = gateway.calls[0]
        person = await gateway.answer(incoming, samples)
        answered = await asyncio.wait_for(leg.answered, 10)
        result = Forwarded(loop.time() - started, incoming.invite.uri, incoming.invite)
        assert answered.status == 200, answered.reason
        voice.aim(leg.remote_sdp)
        voice.speak(samples)
        await asyncio.sleep(talk)
        result.heard_by_caller, result.heard_by_gateway = bytes(voice.received), bytes(person.received)
        # the hang-up goes through Kamailio (record-routed) to the other side
        await (incoming if gateway_hangs_up else leg).hang_up()
        other = leg if gateway_hangs_up else incoming
        result.ends = [await asyncio.wait_for(other.ended, 5)]
        return result
    finally:
        caller.close()
        gateway.close()


class Swallower(asyncio.DatagramProtocol):
    """A call control that is stuck: it receives everything and never answers."""

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        pass


@pytest.mark.telephony
@pytest.mark.parametrize("control", ["down", "stuck", "503"])
def test_the_call_control_not_taking_a_call_forwards_it_to_the_on_call_number(
    layout, kamailio, speech, tmp_path: Path, control: str
):
    from permanence.telephony import sip
    from sip_peers import speech_seconds, ulaw_samples

    samples = ulaw_samples(speech["ulaw"])

    async def main() -> Forwarded:
        where = (layout.control.host, layout.control.port)
        stand_in: Any = None
        if control == "stuck":
            stand_in, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                Swallower, local_addr=where
            )
        elif control == "503":  # it answers 100 Trying, then cannot (rtpengine gone, say)
            stand_in = sip.Agent(where, (layout.sip.host, layout.sip.port),
                                 lambda leg: leg.reject(503, "Service Unavailable"))  # fmt: skip
            await stand_in.start()
        try:
            # the carrier presents the number nationally or in E.164: both are found
            number = "+33145000001" if control == "503" else "0145000001"
            return await forwarded(layout, number, samples, talk=4, gateway_hangs_up=control == "503")
        finally:
            if stand_in is not None:
                stand_in.close()

    call = fresh_loop.run(asyncio.wait_for(main(), 60))
    log = kamailio.text()
    assert call.uri == f"sip:{ON_CALL}@{layout.gateway_hostport}", call.uri
    assert "fallback=1" in call.invite.get("record-route")
    # within the 2 s Kamailio gives the call control for its first answer, or at once after a 503
    assert call.delay < (1.5 if control == "503" else 4.0), call.delay
    assert call.ends == ["bye"]
    assert speech_seconds(call.heard_by_caller, tmp_path, "caller-hears") >= 1.5, log[-3000:]
    assert speech_seconds(call.heard_by_gateway, tmp_path, "gateway-hears") >= 1.5
    status = "503" if control == "503" else "408"
    assert f"call control failed ({status}) for a call to " in log and f"forwarded to {ON_CALL}" in log


@pytest.mark.telephony
def test_a_number_without_fallback_gets_480_with_a_reason(layout, kamailio):
    from sip_peers import Gateway, TrunkCaller

    async def main() -> tuple[Any, float, int]:
        edge = (layout.sip.host, layout.sip.port)
        gateway = await Gateway(gateway_address(layout)).start(edge)
        caller = await TrunkCaller(edge).start()
        try:
            started = time.monotonic()
            leg, _ = await caller.call("0478000002")  # Beta's: no on-call number, no service fallback
            answer = await asyncio.wait_for(leg.answered, 10)
            return answer, time.monotonic() - started, len(gateway.calls)
        finally:
            caller.close()
            gateway.close()

    answer, delay, forwarded_calls = fresh_loop.run(main())
    assert answer.status == 480 and answer.reason == "Temporarily Unavailable"
    assert answer.get("reason") == 'SIP;cause=480;text="Answering service unavailable, no fallback number"'
    assert delay < 4.0 and forwarded_calls == 0


@pytest.mark.telephony
def test_the_reload_sends_the_next_call_to_the_new_number(alpha, layout, kamailio, speech, tmp_path):
    from sip_peers import ulaw_samples

    samples = ulaw_samples(speech["ulaw"])
    first = fresh_loop.run(forwarded(layout, "0145000001", samples))
    assert first.uri == f"sip:{ON_CALL}@{layout.gateway_hostport}"

    alpha.on_call_number = ELSEWHERE
    alpha.save(update_fields=["on_call_number"])
    before = os.stat(tmp_path / "telephony" / "fallback").st_mtime_ns
    out = io.StringIO()
    call_command("telephony", "reload", "--out", str(tmp_path / "telephony"), stdout=out)
    assert "Kamailio loaded the fallback numbers" in out.getvalue()
    assert os.stat(tmp_path / "telephony" / "fallback").st_mtime_ns > before

    second = fresh_loop.run(forwarded(layout, "0145000001", samples))
    assert second.uri == f"sip:{ELSEWHERE}@{layout.gateway_hostport}", kamailio.text()[-3000:]


@pytest.mark.telephony
def test_a_stranger_cannot_use_a_forwarded_calls_route(layout, kamailio, tmp_path):
    """An in-dialog request with the ";fallback=1" route of a forwarded call, from neither the trunk nor
    the gateway (127.0.0.3): refused, as any forged route is."""
    edge = (layout.sip.host, layout.sip.port)
    rr = f"<sip:{layout.sip.host}:{layout.sip.port};lr;ftag=abc;fallback=1>"
    request = (
        f"INVITE sip:+33699999999@{layout.gateway_hostport} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.3:5999;branch=z9hG4bKforged1;rport\r\n"
        f"Route: {rr}\r\nMax-Forwards: 70\r\nFrom: <sip:x@carrier.invalid>;tag=abc\r\n"
        "To: <sip:+33699999999@carrier.invalid>;tag=def\r\nCall-ID: forged-fallback\r\nCSeq: 2 INVITE\r\n"
        "Contact: <sip:x@127.0.0.3:5999>\r\nContent-Length: 0\r\n\r\n"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as intruder:
        intruder.bind(("127.0.0.3", 0))
        intruder.settimeout(5)
        intruder.sendto(request.encode(), edge)
        answer = intruder.recv(65536).decode()
    assert answer.startswith("SIP/2.0 403 "), answer
    assert "in-dialog INVITE refused: from 127.0.0.3:" in kamailio.text()
