"""The call control in a test: run in a fresh event loop against the test's Kamailio and rtpengine,
with the test's database work going through its one database thread."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
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
