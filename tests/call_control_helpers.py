"""The call control in a test: run in a fresh event loop against the test's Kamailio and rtpengine,
with the test's database work going through its one database thread."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import fresh_loop
from sip_peers import TrunkCaller

SILENCE = b"\xff" * 8000  # one second of μ-law silence


def with_control(layout: Any, scenario: Callable[[Any, TrunkCaller], Awaitable[None]],
                 bound: float = 60, **options: Any) -> None:  # fmt: skip
    from permanence.telephony.control import CallControl
    from permanence.telephony.ng import Client

    async def main() -> None:
        control = CallControl(
            local=(layout.control.host, layout.control.port), proxy=(layout.sip.host, layout.sip.port),
            rtpengine=Client(layout.ng), media_address="127.0.0.1", domain="127.0.0.1", poll=0.1, **options,
        )  # fmt: skip
        stop = asyncio.Event()
        CONTROL.append(control)
        running = asyncio.ensure_future(control.run(stop))
        caller = await TrunkCaller((layout.sip.host, layout.sip.port)).start()
        try:
            while control.agent.transport is None:
                assert not running.done(), running.exception()
                await asyncio.sleep(0.01)
            await asyncio.wait_for(scenario(control, caller), bound)
        finally:
            stop.set()
            await running
            caller.close()
            CONTROL.remove(control)

    fresh_loop.run(main())


CONTROL: list[Any] = []  # the call control running: the test's database work goes through its thread


async def in_db(function: Callable[..., Any], *args: Any) -> Any:
    """Database work from the test, in the call control's database thread (SQLite's in-memory test
    database takes one writer at a time)."""
    return await CONTROL[-1].db(function, *args)


async def until(condition: Callable[[], Awaitable[bool]], bound: float = 10) -> None:
    async def loop() -> None:
        while not await condition():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(loop(), bound)


def events(call_id: int) -> list[str]:
    from permanence.calls.models import CallEvent

    return list(CallEvent.objects.filter(call_id=call_id).order_by("pk").values_list("kind", flat=True))


def phone_of(layout: Any, secretary: Any) -> Any:
    from permanence.telephony import credentials
    from sip_peers import DeskPhone

    edge = (layout.sip.host, layout.sip.port)
    return DeskPhone(edge, credentials.sip_user(secretary.pk), layout.sip_domain)


async def registered(layout: Any, phone: Any) -> None:
    import time

    from permanence.telephony import credentials

    username, password = credentials.ephemeral(layout.secret, phone.user, time.time())
    assert await phone.register(username, password) == 200


async def talking(layout: Any, caller: TrunkCaller, secretary: Any, alpha: Any, spoken: bytes, tmp_path: Path,
                  her_voice: bytes | None = None) -> tuple[Any, Any, Any, Any, Any]:  # fmt: skip
    """A trunk call answered on the secretary's SIP phone; (call, caller leg, caller's voice, her phone's
    leg, her phone's voice), both voices talking."""
    from permanence.calls.models import Call

    phone = phone_of(layout, secretary)
    await registered(layout, phone)
    leg, voice = await caller.call("0145000001")
    assert (await leg.answered).status == 200
    voice.aim(leg.remote_sdp)
    voice.speak(spoken)
    while not phone.calls:
        await asyncio.sleep(0.05)
    desk = await phone.answer(phone.calls[0], spoken if her_voice is None else her_voice)
    call = await in_db(lambda: Call.objects.get(account=alpha))
    await until(lambda: in_db(lambda: Call.objects.filter(pk=call.pk, state="talking").exists()))
    caller.peers.append(desk)  # closed with the caller
    return call, leg, voice, phone, desk


def on_sip_phone(personas: Any) -> Any:
    from permanence.calls import services
    from permanence.calls.models import Desk, Phone

    secretary = personas["secretary"]
    services.set_status(secretary, "ready")
    Desk.objects.filter(secretary=secretary).update(phone=Phone.SIP)
    return secretary
