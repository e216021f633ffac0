"""The call control (`permanence telephony run`): a back-to-back user agent behind Kamailio.

Kamailio hands it the trunk's calls; for each one it asks the call services what to do (the same
``services.call_arrived`` as the simulator: the account by the number called, its hours and state),
answers with rtpengine's SDP, plays the waiting message then music, and rings the phone of the
secretary the call is offered to. From then on it **follows the call's state in the database**: the
desk's pages (in any web process, on any node) and the worker's dispatch only change the call's
state as today; this process reconciles the wire with it a few times a second:

- offered to a secretary: her phone rings (her softphone in the desk page, or her SIP phone); the
  offer moves on or is withdrawn: the ringing stops (CANCEL);
- her phone answers: the media are joined, and the call is accepted for her if the desk has not
  done it already (a SIP phone's secretary answers with the handset);
- on hold: the caller hears music, neither hears the other; taken back: joined again;
- finished by the secretary (wrap-up): the caller's line is released (BYE).

What happens on the wire comes back as call events: the caller hanging up at any moment
(``services.caller_hung_up``: abandoned with its wait if not answered yet).

Django's ORM runs in threads (``asyncio.to_thread``); SIP and the timers in this process's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.db import close_old_connections

from permanence.calls import lifecycle, services
from permanence.calls import telephony as adapters
from permanence.calls.lifecycle import State
from permanence.calls.models import Call, Desk, Phone
from permanence.telephony import credentials, sip
from permanence.telephony.media import Anchor, Media, MediaError
from permanence.telephony.ng import Client

log = logging.getLogger(__name__)
NAME = "sip"  # the calls' external_id: "sip:<run>:<SIP Call-ID>"
T = TypeVar("T")
ON_THE_LINE = (State.TALKING, State.ON_HOLD, State.TRANSFERRING)


def _in_db(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        close_old_connections()


@dataclass
class Line:
    """One call in progress: the caller's leg and anchor, and the secretary's phone leg if any."""

    call: int
    account: str
    caller: sip.ServerLeg
    anchor: Anchor
    desk: sip.ClientLeg | None = None
    desk_user: int | None = None
    desk_anchor: Anchor | None = None
    desk_browser: bool = True
    joined: bool = False
    held: bool = False
    releasing: bool = False  # we end the caller's leg: its end is not the caller hanging up
    followed: bool = True  # its state in the database drives it (not a call turned away at arrival)


class CallControl:
    def __init__(self, *, local: tuple[str, int], proxy: tuple[str, int], rtpengine: Client,
                 media_address: str, domain: str, poll: float = 0.2) -> None:  # fmt: skip
        self.agent = sip.Agent(local, proxy, self._on_invite)
        self.media = Media(rtpengine, media_address)
        self.domain, self.poll = domain, poll
        self.run_id = uuid.uuid4().hex[:12]
        self.prefix = f"{NAME}:{self.run_id}"
        self.lines: dict[int, Line] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- plumbing --------------------------------------------------------------------------------
    async def db(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(_in_db, function, *args, **kwargs)

    async def rtp(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(function, *args, **kwargs)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("call control task failed", exc_info=task.exception())

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; the calls a previous run left open are closed first."""
        closed = await self.db(adapters.recover, NAME, self.prefix)
        if closed:
            log.info("%d call(s) of a previous run closed", closed)
        await self.agent.start()
        log.info("call control on %s:%s (Kamailio at %s:%s)", *self.agent.local, *self.agent.proxy)
        try:
            while not stop.is_set():
                try:
                    await self.follow_all()
                except Exception:  # the loop must survive a database hiccup
                    log.exception("following the calls failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll)
        finally:
            for line in list(self.lines.values()):
                line.releasing = True
                await self.release(line)
            self.agent.close()

    # -- the caller ------------------------------------------------------------------------------
    def _on_invite(self, leg: sip.ServerLeg) -> None:
        self.spawn(self.incoming(leg))

    async def incoming(self, leg: sip.ServerLeg) -> None:
        external = f"{self.prefix}:{leg.call_id}"[:80]
        try:
            call = await self.db(services.call_arrived, leg.called, leg.caller or None, external_id=external)
        except services.CallError as exc:
            log.info("call to %s refused: %s", leg.called, exc)
            leg.reject(404, "Not Found")
            return
        try:
            anchor_id = f"{self.run_id}-{call.pk}-caller"
            anchor = await self.rtp(self.media.answer_incoming, anchor_id, leg.remote_sdp)
        except MediaError as exc:
            log.error("call %s: no media (%s)", call.pk, exc)
            leg.reject(503, "Service Unavailable")
            await self.db(services.caller_hung_up, call.pk)
            return
        line = Line(call.pk, await self.db(lambda: call.account.name), leg, anchor)
        line.followed = call.state != State.NOT_SERVED
        self.lines[call.pk] = line
        if await leg.answer(anchor.endpoint_sdp):
            if call.state == State.NOT_SERVED:
                self.spawn(self.turn_away(line))
            else:
                self.spawn(self.waiting(line))
        reason = await leg.ended
        log.info("call %s: caller's leg ended (%s)", call.pk, reason)
        if not line.releasing:
            await self.db(services.caller_hung_up, call.pk)
        await self.release(line)

    async def waiting(self, line: Line) -> None:
        """The waiting message, then music until the call is answered."""
        try:
            duration = await self.rtp(self.media.play, line.anchor, "waiting")
            await asyncio.sleep(duration)
            if not line.joined and not line.caller.is_over:
                await self.rtp(self.media.play, line.anchor, "music", repeat=10000)
        except MediaError as exc:
            log.warning("call %s: waiting music failed: %s", line.call, exc)

    async def turn_away(self, line: Line) -> None:
        """The account does not take the call now (``calls.admission``): the closed greeting, then
        the line is released. (Voicemail and forwarding on real telephony: issue 16.)"""
        try:
            duration = await self.rtp(self.media.play, line.anchor, "closed")
            await asyncio.sleep(duration + 0.5)
        except MediaError as exc:
            log.warning("call %s: closed greeting failed: %s", line.call, exc)
        line.releasing = True
        await line.caller.hang_up()

    async def release(self, line: Line) -> None:
        """Both legs down, media freed (idempotent)."""
        self.lines.pop(line.call, None)
        if line.desk is not None:
            await line.desk.hang_up()
        if not line.caller.is_over:
            await line.caller.hang_up()
        for anchor in (line.anchor, line.desk_anchor):
            if anchor is not None:
                await self.rtp(self.media.release, anchor)

    # -- following the database ------------------------------------------------------------------
    async def follow_all(self) -> None:
        if not self.lines:
            return
        ids = [pk for pk, line in self.lines.items() if line.followed]
        rows = await self.db(
            lambda: list(Call.objects.filter(pk__in=ids).values_list("pk", "state", "offered_to_id"))
        )
        for pk, state, offered in rows:
            line = self.lines.get(pk)
            if line is not None and not line.releasing:
                await self.follow(line, State(state), offered)

    async def follow(self, line: Line, state: State, offered: int | None) -> None:
        ringing = line.desk is not None and not line.desk.established and not line.desk.is_over
        if ringing and (state != State.OFFERED or offered != line.desk_user):
            await self.stop_ringing(line)  # the offer lapsed, moved on, or was withdrawn
        if state == State.OFFERED and offered and (line.desk is None or line.desk.is_over):
            await self.ring(line, offered)
        if state == State.ON_HOLD and line.joined and not line.held:
            await self.hold(line, True)
        elif state == State.TALKING and line.held:
            await self.hold(line, False)
        if state == State.WRAP_UP or state in lifecycle.OVER:
            line.releasing = True
            await self.release(line)

    # -- the secretary's phone -------------------------------------------------------------------
    async def ring(self, line: Line, user_id: int) -> None:
        phone = await self.db(
            lambda: Desk.objects.filter(secretary_id=user_id).values_list("phone", flat=True).first()
        )
        browser = phone != Phone.SIP
        try:
            anchor = await self.rtp(self.media.offer_outgoing, f"{self.run_id}-{line.call}-desk-{user_id}-"
                                    f"{uuid.uuid4().hex[:4]}", line.anchor, browser=browser)  # fmt: skip
        except MediaError as exc:
            log.error("call %s: cannot ring secretary %s: %s", line.call, user_id, exc)
            return
        caller = line.caller.caller or "anonymous"
        leg = sip.ClientLeg(
            self.agent, f"sip:{credentials.sip_user(user_id)}@{self.domain}", anchor.endpoint_sdp,
            f"sip:{caller}@{self.domain}",
            headers=[("x-permanence-call", str(line.call)), ("x-permanence-account", line.account[:60])],
        ).start()  # fmt: skip
        line.desk, line.desk_user, line.desk_anchor, line.desk_browser = leg, user_id, anchor, browser
        self.spawn(self.desk_answers(line, leg, anchor, user_id))

    async def stop_ringing(self, line: Line) -> None:
        leg, anchor = line.desk, line.desk_anchor
        line.desk, line.desk_user, line.desk_anchor = None, None, None
        if leg is not None:
            await leg.hang_up()
        if anchor is not None:
            await self.rtp(self.media.release, anchor)

    async def desk_answers(self, line: Line, leg: sip.ClientLeg, anchor: Anchor, user_id: int) -> None:
        response = await leg.answered
        if response.status >= 300 or line.desk is not leg or line.releasing:
            log.info("call %s: secretary %s's phone: %s %s", line.call, user_id, response.status,
                     response.reason)  # fmt: skip
            if line.desk is leg:
                line.desk, line.desk_anchor = None, None
                await self.rtp(self.media.release, anchor)
            return
        try:
            await self.rtp(self.media.outgoing_answered, anchor, leg.remote_sdp, browser=line.desk_browser)
        except MediaError as exc:
            log.error("call %s: the secretary's answer has no usable media: %s", line.call, exc)
            await leg.hang_up()
            return
        await self.rtp(self.media.stop, line.anchor)
        line.joined = True
        user = await self.db(lambda: get_user_model().objects.get(pk=user_id))
        with contextlib.suppress(services.CallError):  # the desk page accepted it already
            await self.db(services.accept, line.call, user)
        log.info("call %s: answered by secretary %s", line.call, user_id)
        reason = await leg.ended
        if line.releasing or line.caller.is_over:
            return
        # her phone is gone (browser closed, network lost) while the caller is still there: the
        # caller is not cut off; they hear the music while the desk decides (issue 15's note)
        log.warning("call %s: secretary %s's phone left the call (%s)", line.call, user_id, reason)
        line.joined = False
        with contextlib.suppress(MediaError):
            await self.rtp(self.media.play, line.anchor, "music", repeat=10000)

    async def hold(self, line: Line, on: bool) -> None:
        if line.desk_anchor is None:
            return
        try:
            await self.rtp(self.media.mute, line.anchor, on)
            await self.rtp(self.media.mute, line.desk_anchor, on)
            if on:
                await self.rtp(self.media.play, line.anchor, "music", repeat=10000)
            else:
                await self.rtp(self.media.stop, line.anchor)
        except MediaError as exc:
            log.warning("call %s: hold failed: %s", line.call, exc)
            return
        line.held = on
