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
import functools
import io
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.db import OperationalError, close_old_connections
from django.utils import timezone

from permanence.calls import lifecycle, monitoring, prompts, recordings, services
from permanence.calls import telephony as adapters
from permanence.calls import voicemail as voicemails
from permanence.calls.lifecycle import Kind, State
from permanence.calls.models import Call, Desk, Phone
from permanence.scenarios.engine import ivr
from permanence.telephony import credentials, sip
from permanence.telephony.bridge import CALLER, SECRETARY, SUPERVISOR, Bridge
from permanence.telephony.media import Anchor, Media, MediaError
from permanence.telephony.ng import Client
from permanence.telephony.recorder import Keys, Recorder, write_conversation

log = logging.getLogger(__name__)
NAME = "sip"  # the calls' external_id: "sip:<run>:<SIP Call-ID>"
MEDIA_CHECK_SECONDS = 2.0  # how often each call's media are checked (rtpengine restarted?)
PHONE_SILENCE_SECONDS = 8.0  # no media from the secretary's phone this long: it has left the call
RECORDING_LONGEST_SECONDS = 4 * 3600.0  # a conversation recorded: no silence or length ends it before
VOICEMAIL_SILENCE_SECONDS = 5.0  # a caller silent this long after speaking has finished the voicemail
NO_ANSWER_SECONDS = 25.0  # a transfer's second leg rings this long, then "no answer"
BUSY = {486, 600}  # a transfer's refusals: busy here or everywhere; 403/603 declined; the rest unanswered
DECLINED = {403, 603}
# her phone cannot ring: not registered (404, 480), gone (408 timeout, 410), or refusing (403, 486, 603)
UNREACHABLE = {403, 404, 408, 410, 480, 486, 603}
T = TypeVar("T")
ON_THE_LINE = (State.TALKING, State.ON_HOLD, State.TRANSFERRING)


def _in_db(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """One unit of database work; SQLite's "locked" (another process or thread writing longer than the
    busy timeout) is retried a few times: each unit is a transaction, rolled back when it fails."""
    for attempt in range(4):
        close_old_connections()
        try:
            return function(*args, **kwargs)
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == 3:
                raise
            time.sleep(0.05 * 2**attempt)
        finally:
            close_old_connections()
    raise AssertionError("unreachable")


@dataclass
class Transfer:
    """A second leg to the person the directory gives: announced (the secretary talks first, then
    connects or comes back) or blind (the caller is connected as soon as the person answers)."""

    number: str
    mode: str
    leg: sip.ClientLeg | None = None
    anchor: Anchor | None = None


@dataclass
class Recording:
    """A conversation being recorded: a copy of each leg's voice (rtpengine subscriptions) received by a
    recorder of this process, the two started together so that they line up."""

    caller: Recorder
    desk: Recorder
    taps: list[tuple[Anchor, str]]
    started: datetime
    secretary: int | None


@dataclass
class Watch:
    """A supervisor on the line: his phone's leg and anchor, and the bridge mixing the three voices."""

    pk: int
    supervisor: int
    mode: str
    leg: sip.ClientLeg | None = None
    anchor: Anchor | None = None
    bridge: Bridge | None = None


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
    transfer: Transfer | None = None
    handed_over: bool = False  # the caller now talks to the person the call was transferred to
    heard: tuple[int, float] = (0, 0.0)  # rtpengine's last packet from her phone, and when it moved
    failed: set[int] = field(default_factory=set)  # whose phone could not ring for the current offer
    waiting: str | Path = "waiting"  # the account's waiting message and music, or the ones shipped
    music: str | Path = "music"
    notice: str | Path = "recording-notice"  # the legal notice of the recording
    record: bool = False  # the account records its calls: the legal notice first, then each conversation
    notice_ends: float = 0.0  # the event loop's time the legal notice ends: nobody talks over it
    recording: Recording | None = None
    watch: Watch | None = None  # live supervision
    version: int = 10  # the SDP version of the caller's anchor's next re-answer (``media.point``)


class CallControl:
    def __init__(self, *, local: tuple[str, int], proxy: tuple[str, int], rtpengine: Client,
                 media_address: str, domain: str, poll: float = 0.2,
                 phone_silence: float = PHONE_SILENCE_SECONDS,
                 voicemail_silence: float = VOICEMAIL_SILENCE_SECONDS) -> None:  # fmt: skip
        self.agent = sip.Agent(local, proxy, self._on_invite)
        self.media = Media(rtpengine, media_address)
        self.domain, self.poll, self.phone_silence = domain, poll, phone_silence
        self.voicemail_silence = voicemail_silence
        self.run_id = uuid.uuid4().hex[:12]
        self.prefix = f"{NAME}:{self.run_id}"
        self.lines: dict[int, Line] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._db = ThreadPoolExecutor(1, thread_name_prefix="call-control-db")

    # -- plumbing --------------------------------------------------------------------------------
    async def db(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``function`` in the one database thread: the calls' database work is serialised (a
        few milliseconds each), which no database minds and SQLite needs."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, functools.partial(_in_db, function, *args, **kwargs))

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
        checked = 0.0
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                try:
                    await self.follow_all()
                    if loop.time() - checked >= MEDIA_CHECK_SECONDS:
                        checked = loop.time()
                        await self.check_media()
                except Exception:  # the loop must survive a database or rtpengine hiccup
                    log.exception("following the calls failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll)
        finally:
            for line in list(self.lines.values()):
                line.releasing = True
                await self.release(line)
            self.agent.close()
            await self.db(lambda: None)  # the last database work done before the thread stops
            self._db.shutdown(wait=True)

    # -- the caller ------------------------------------------------------------------------------
    def _on_invite(self, leg: sip.ServerLeg) -> None:
        self.spawn(self.incoming(leg))

    async def incoming(self, leg: sip.ServerLeg) -> None:
        external = f"{self.prefix}:{leg.call_id}"[:80]
        arrived = timezone.now()
        chosen: dict[str, str] | None = None
        anchor: Anchor | None = None
        try:
            menu = await self.db(services.voice_menu, leg.called, leg.caller or None, arrived)
        except Exception:  # a broken menu never keeps a caller from the queue
            log.exception("the voice menu of %s could not be read: straight to the queue", leg.called)
            menu = None
        if menu is not None:
            answered = await self.voice_menu(leg, menu)
            if answered is None:
                return  # no media: refused
            chosen, anchor = answered
            if anchor is None:  # gone before the menu began: a call all the same, over at once
                with contextlib.suppress(services.CallError):
                    call = await self.db(services.call_arrived, leg.called, leg.caller or None,
                                         external_id=external, at=arrived, menu=chosen)  # fmt: skip
                    await self.db(services.caller_hung_up, call.pk)
                return
        try:
            call = await self.db(services.call_arrived, leg.called, leg.caller or None, external_id=external,
                                 at=arrived, menu=chosen)  # fmt: skip
        except services.CallError as exc:
            log.info("call to %s refused: %s", leg.called, exc)
            if anchor is None:
                leg.reject(404, "Not Found")
            else:
                await leg.hang_up()
                await self.rtp(self.media.release, anchor)
            return
        if anchor is None:
            try:
                anchor_id = f"{self.run_id}-{call.pk}-caller"
                anchor = await self.rtp(self.media.answer_incoming, anchor_id, leg.remote_sdp)
            except MediaError as exc:
                log.error("call %s: no media (%s)", call.pk, exc)
                leg.reject(503, "Service Unavailable")
                await self.db(services.caller_hung_up, call.pk)
                return
        line = Line(call.pk, await self.db(lambda: call.account.name), leg, anchor)
        waiting, line.music = await self.db(sounds, call.account_id)
        line.waiting = (await self.rtp(prompts.sound, waiting))[0]
        line.record = await self.db(recordings.records, call.pk)
        if line.record:
            line.notice = (await self.rtp(prompts.sound, await self.db(choose_prompt, call.pk, "notice")))[0]
        line.followed = call.state != State.NOT_SERVED
        self.lines[call.pk] = line
        if leg.established or await leg.answer(anchor.endpoint_sdp):
            action = (chosen or {}).get("action")
            if leg.is_over:
                pass
            elif action == "end":  # the menu said what the caller wanted: goodbye
                self.spawn(self.hang_up(line))
            elif action == "voicemail" and call.state == State.NOT_SERVED:
                self.spawn(self.menu_voicemail(line))
            elif call.state == State.NOT_SERVED:
                self.spawn(self.turn_away(line))
            else:
                self.spawn(self.waiting(line))
        reason = await leg.ended
        log.info("call %s: caller's leg ended (%s)", call.pk, reason)
        if not line.releasing:
            await self.db(services.caller_hung_up, call.pk)
        await self.release(line)

    async def menu_voicemail(self, line: Line) -> None:
        await self.voicemail(line, await self.prompt(line, "voicemail"))

    # -- the voice menu --------------------------------------------------------------------------
    async def voice_menu(
        self, leg: sip.ServerLeg, menu: ivr.Ivr
    ) -> tuple[dict[str, str], Anchor | None] | None:
        """The account's voice menu, before the call joins the queue: each menu said (``speech``), the
        caller's keys read (RFC 4733, from the caller's anchor pointed at a socket of this process),
        until an option decides. Its choice (action, motive, priority, keys), and the caller's anchor
        (None: the caller left before the answer); None if no media. A caller who hangs up in the
        menu: an "end"."""
        try:
            anchor = await self.rtp(self.media.answer_incoming, f"{self.run_id}-menu-{uuid.uuid4().hex[:8]}",
                                    leg.remote_sdp)  # fmt: skip
        except MediaError as exc:
            log.error("call to %s: no media (%s)", leg.called, exc)
            leg.reject(503, "Service Unavailable")
            return None
        if not await leg.answer(anchor.endpoint_sdp):
            await self.rtp(self.media.release, anchor)
            return {"action": "end"}, None
        loop = asyncio.get_running_loop()
        host = self.agent.local[0]
        _transport, keys = await loop.create_datagram_endpoint(Keys, local_addr=(host, 0))
        run = ivr.Run(menu)
        step = run.start()
        try:
            await self.rtp(self.media.point, anchor, (host, keys.port), leg.remote_sdp, 2)
            while step.action is None and not leg.is_over:
                said, _beep = await self.rtp(prompts.sound, prompts.Prompt("", step.say))
                if not said:  # nothing can say the menu (no text-to-speech): straight to the queue
                    log.warning("call to %s: the voice menu cannot be said: to the queue", leg.called)
                    step = ivr.Step(action=ivr.QUEUE, keys=step.keys)
                    break
                duration = await self.rtp(self.media.play, anchor, said)
                key = await self._key_or_hang_up(keys, leg, duration + step.wait)
                await self.rtp(self.media.stop, anchor)
                if leg.is_over:
                    break
                step = run.key(key) if key else run.timeout()
            if step.action is not None and step.action.kind == "end" and step.say and not leg.is_over:
                said, _beep = await self.rtp(prompts.sound, prompts.Prompt("", step.say))
                if said:
                    duration = await self.rtp(self.media.play, anchor, said)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(leg.ended), duration + 0.3)
            await self.rtp(self.media.point, anchor, (self.media.address, 9), leg.remote_sdp, 3)
        except MediaError as exc:
            log.error("call to %s: the voice menu failed (%s): to the queue", leg.called, exc)
            step = ivr.Step(action=ivr.QUEUE, keys=tuple(run.keys))
        finally:
            keys.close()
        action = step.action if step.action is not None and not leg.is_over else ivr.Action("end")
        chosen = {"action": action.kind, "keys": "".join(run.keys), "priority": action.priority}
        if action.kind in ("queue", "voicemail") and action.value:
            chosen["motive"] = action.value
        log.info("call to %s: voice menu: %s", leg.called, chosen)
        return chosen, anchor

    @staticmethod
    async def _key_or_hang_up(keys: Keys, leg: sip.Leg, timeout: float) -> str | None:
        pressed = asyncio.ensure_future(keys.next(timeout))
        ended = asyncio.ensure_future(asyncio.shield(leg.ended))
        await asyncio.wait([pressed, ended], return_when=asyncio.FIRST_COMPLETED)
        ended.cancel()
        if pressed.done():
            return pressed.result()
        pressed.cancel()
        return None

    async def waiting(self, line: Line) -> None:
        """The legal notice when the account records its calls, the waiting message, then music until
        the call is answered."""
        try:
            if line.record:
                duration = await self.rtp(self.media.play, line.anchor, line.notice)
                line.notice_ends = asyncio.get_running_loop().time() + duration
                await asyncio.sleep(duration)
                if line.joined or line.releasing or line.caller.is_over:
                    return
            duration = await self.rtp(self.media.play, line.anchor, line.waiting)
            await asyncio.sleep(duration)
            # meanwhile answered, or told goodbye (diverted at the maximum wait): no music over it
            if not line.joined and line.followed and not line.releasing and not line.caller.is_over:
                await self.rtp(self.media.play, line.anchor, line.music, repeat=10000)
        except MediaError as exc:
            log.warning("call %s: waiting music failed: %s", line.call, exc)

    async def turn_away(self, line: Line) -> None:
        """The account does not take the call now (``calls.admission``): forwarded to its on-call
        number when that is its policy, the voicemail when it is that, else the closed greeting; then
        the line is released."""
        _kind, detail = await self.db(self._last_event, line.call)
        forward_to = str(detail.get("to", "")) if detail.get("action") == "forward" else ""
        if forward_to and await self.forward(line, forward_to):
            return
        said = await self.prompt(line, "closed", action=str(detail.get("action", "")))
        if detail.get("action") == "voicemail":
            await self.voicemail(line, said)
            return
        await self.say_goodbye(line, said[0])

    async def diverted(self, line: Line) -> None:
        """The caller waited the account's maximum: told they will be called back (a call-back task
        is on the desk), or the voicemail; then released."""
        line.followed = False
        _kind, detail = await self.db(self._last_event, line.call)
        if detail.get("to") == "callback":
            await self.say_goodbye(line, "callback")
        else:
            await self.voicemail(line, await self.prompt(line, "voicemail"))

    async def prompt(self, line: Line, name: str, action: str = "") -> tuple[str | Path, bool]:
        """The account's prompt (``calls.prompts``): its file, whether a beep follows."""
        chosen = await self.db(choose_prompt, line.call, name, action)
        return await self.rtp(prompts.sound, chosen)

    async def voicemail(self, line: Line, said: tuple[str | Path, bool] = ("voicemail", False)) -> None:
        """The voicemail prompt (``said``: a file, and whether the beep follows it), then what the
        caller says, recorded by a socket of this process (``recorder``) that the caller's anchor is
        pointed at; it stops after the account's longest length, a silence once the caller spoke, or
        the caller hanging up. Stored with the call (``calls.voicemail``) if the caller said something;
        then thanked and released."""
        line.followed = False
        longest = await self.db(voicemail_longest, line.call)
        try:
            await self.rtp(self.media.stop, line.anchor)  # the waiting music of a diverted call
            for sound in (said[0], "beep") if said[1] else (said[0],):
                duration = await self.rtp(self.media.play, line.anchor, sound)
                with contextlib.suppress(TimeoutError):  # the prompt, or the caller hanging up during it
                    await asyncio.wait_for(asyncio.shield(line.caller.ended), duration)
                if line.caller.is_over:
                    return
        except MediaError as exc:
            log.warning("call %s: no voicemail prompt (%s): released", line.call, exc)
            await self.say_goodbye(line, "closed")
            return
        loop = asyncio.get_running_loop()
        host = self.agent.local[0]
        _transport, recorder = await loop.create_datagram_endpoint(
            lambda: Recorder(longest=longest, silence=self.voicemail_silence), local_addr=(host, 0)
        )
        try:
            await self.rtp(self.media.point, line.anchor, (host, recorder.port), line.caller.remote_sdp, 2)
        except MediaError as exc:
            log.error("call %s: cannot record the voicemail: %s", line.call, exc)
            recorder.stop()
            await self.say_goodbye(line, "closed")
            return
        hung_up = asyncio.ensure_future(asyncio.shield(line.caller.ended))
        waits = [recorder.done, hung_up]
        # not a word after the beep (or no media at all): nobody is leaving a message
        await asyncio.wait(waits, timeout=2 * self.voicemail_silence, return_when=asyncio.FIRST_COMPLETED)
        if recorder.spoke:  # the longest length bounds the wait too, media or not
            await asyncio.wait(waits, timeout=longest + 2, return_when=asyncio.FIRST_COMPLETED)
        hung_up.cancel()
        recorder.stop()
        ended = {"silence": "silence", "longest": "longest"}.get(recorder.done.result(), "hangup")
        if recorder.spoke:
            wav = io.BytesIO()
            seconds = recorder.write(wav)
            stored = await self.db(voicemails.left, line.call, wav.getvalue(), seconds, ended)
            log.info("call %s: voicemail %s, %.1f s (%s)", line.call, stored.pk, seconds, ended)
        else:
            log.info("call %s: the caller left no word after the beep (%s)", line.call, ended)
        if line.caller.is_over:
            return
        if recorder.spoke:
            await self.say_goodbye(line, "recorded")
        else:
            await self.hang_up(line)

    async def say_goodbye(self, line: Line, sound: str | Path) -> None:
        """Play a prompt to the caller, then release the line."""
        line.followed = False
        try:
            duration = await self.rtp(self.media.play, line.anchor, sound)
            await asyncio.sleep(duration + 0.5)
        except MediaError as exc:
            log.warning("call %s: the %s prompt failed: %s", line.call, sound, exc)
        line.releasing = True
        await line.caller.hang_up()

    async def hang_up(self, line: Line) -> None:
        line.followed, line.releasing = False, True
        await line.caller.hang_up()

    @staticmethod
    def _last_event(call_id: int) -> tuple[str, dict[str, Any]]:
        """The kind and the detail of the call's latest event."""
        from permanence.calls.models import CallEvent

        last = CallEvent.objects.filter(call_id=call_id).order_by("-seq").first()
        return (last.kind, dict(last.detail)) if last else ("", {})

    async def forward(self, line: Line, number: str) -> bool:
        """Connect the caller to ``number`` (the account's on-call line); False if nobody answered."""
        account = await self.db(lambda: Call.objects.values_list("account_id", flat=True).get(pk=line.call))
        if number not in await self.db(dialable, account):
            log.warning("call %s: forward to %r refused: not a number of the account", line.call, number)
            return False
        try:
            await self.rtp(self.media.play, line.anchor, line.music, repeat=10000)
            anchor = await self.rtp(self.media.offer_outgoing, f"{self.run_id}-{line.call}-forward",
                                    line.anchor, browser=False)  # fmt: skip
        except MediaError as exc:
            log.error("call %s: forward without media: %s", line.call, exc)
            return False
        leg = sip.ClientLeg(self.agent, f"sip:{number}@{self.domain}", anchor.endpoint_sdp,
                            f"sip:{line.caller.called or 'anonymous'}@{self.domain}",
                            headers=[("x-permanence-call", str(line.call))]).start()  # fmt: skip
        line.transfer = Transfer(number, "blind", leg, anchor)
        try:
            response = await asyncio.wait_for(asyncio.shield(leg.answered), NO_ANSWER_SECONDS)
        except TimeoutError:
            await leg.hang_up()
            return False
        if response.status >= 300 or line.caller.is_over:
            await leg.hang_up()
            return False
        try:
            await self.rtp(self.media.outgoing_answered, anchor, leg.remote_sdp, browser=False)
            await self.rtp(self.media.stop, line.anchor)
        except MediaError as exc:
            log.error("call %s: the forward's answer has no usable media: %s", line.call, exc)
            await leg.hang_up()
            return False
        line.handed_over = True
        log.info("call %s: forwarded to %s", line.call, number)
        self.spawn(self._person_leaves(line, leg))
        return True

    async def release(self, line: Line) -> None:
        """Both legs down, media freed (idempotent)."""
        self.lines.pop(line.call, None)
        await self.end_watch(line, "call over")
        await self.stop_recording(line)
        if line.transfer is not None and line.transfer.leg is not None:
            await line.transfer.leg.hang_up()
        if line.desk is not None:
            await line.desk.hang_up()
        if not line.caller.is_over:
            await line.caller.hang_up()
        for anchor in (line.anchor, line.desk_anchor, line.transfer.anchor if line.transfer else None):
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
        watched = await self.db(monitoring.active, ids)
        for pk, state, offered in rows:
            line = self.lines.get(pk)
            if line is not None and not line.releasing:
                await self.supervise(line, State(state), watched.get(pk))
                await self.follow(line, State(state), offered)

    async def follow(self, line: Line, state: State, offered: int | None) -> None:
        if line.handed_over:
            return  # the caller and the person talk; either hanging up ends it
        if state == State.TRANSFERRING and line.transfer is None and line.joined:
            await self.start_transfer(line)
        elif line.transfer is not None and state != State.TRANSFERRING:
            if state == State.WRAP_UP and await self.db(self._accepted, line.call):
                await self.hand_over(line)
                return
            await self.transfer_back(line, state)
        ringing = line.desk is not None and not line.desk.established and not line.desk.is_over
        if ringing and (state != State.OFFERED or offered != line.desk_user):
            await self.stop_ringing(line)  # the offer lapsed, moved on, or was withdrawn
        if state != State.OFFERED:
            line.failed.clear()
        elif offered and offered not in line.failed and (line.desk is None or line.desk.is_over):
            await self.ring(line, offered)  # once per offer: a phone that failed is not rung again
        if state == State.ON_HOLD and line.joined and not line.held:
            await self.hold(line, True)
        elif state == State.TALKING and line.held:
            await self.hold(line, False)
        if state == State.DIVERTED:  # waited the account's maximum: told, then released
            line.followed = False
            self.spawn(self.diverted(line))
        elif state == State.WRAP_UP or state in lifecycle.OVER:
            line.releasing = True
            await self.release(line)
        elif state in ON_THE_LINE and line.joined and line.desk is not None and line.desk_anchor is not None:
            await self.still_there(line)

    async def still_there(self, line: Line) -> None:
        """A phone that vanished (browser closed, network lost) sends no BYE: its media stop."""
        loop = asyncio.get_running_loop()
        try:
            heard = await self.rtp(self.media.last_heard, line.desk_anchor)
        except MediaError:
            return
        if heard != line.heard[0] or not line.heard[1]:
            line.heard = (heard, loop.time())
        elif loop.time() - line.heard[1] > self.phone_silence:
            log.warning("call %s: no media from her phone for %.0f s", line.call, self.phone_silence)
            await self.phone_lost(line, "no media")

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
                line.failed.add(user_id)
            if response.status in UNREACHABLE and not line.releasing:  # offered elsewhere at once
                await self.db(services.phone_unreachable, line.call, user_id)
            return
        try:
            await self.rtp(self.media.outgoing_answered, anchor, leg.remote_sdp, browser=line.desk_browser)
        except MediaError as exc:
            log.error("call %s: the secretary's answer has no usable media: %s", line.call, exc)
            await leg.hang_up()
            return
        remaining = line.notice_ends - asyncio.get_running_loop().time()
        if remaining > 0:  # answered during the legal notice: the caller hears it whole first
            with contextlib.suppress(MediaError):
                await self.rtp(self.media.mute, anchor, True)
                await asyncio.sleep(remaining)
                await self.rtp(self.media.mute, anchor, False)
        await self.rtp(self.media.stop, line.anchor)
        line.joined = True
        if line.record:
            await self.start_recording(line, user_id)
        user = await self.db(lambda: get_user_model().objects.get(pk=user_id))
        if await self.db(lambda: Call.objects.filter(pk=line.call, state=State.OFFERED).exists()):
            with contextlib.suppress(services.CallError):  # answered with the handset, not the desk's key
                await self.db(services.accept, line.call, user)
        log.info("call %s: answered by secretary %s", line.call, user_id)
        reason = await leg.ended
        if line.releasing or line.caller.is_over or line.desk is not leg or line.handed_over:
            return
        if hung_up_on_purpose(leg, line.desk_browser):  # she ends the call; the caller's line follows
            with contextlib.suppress(services.CallError):
                await self.db(services.end_call, line.call, user)
            return
        await self.phone_lost(line, reason)

    async def phone_lost(self, line: Line, reason: str) -> None:
        """Her phone left the call while the caller is still there: the caller is not cut off; they
        hear the music and wait again, first in line, for the next secretary."""
        log.warning("call %s: the secretary's phone left the call (%s): back to the queue", line.call, reason)
        await self.stop_recording(line)
        desk, anchor, transfer = line.desk, line.desk_anchor, line.transfer
        line.desk, line.desk_anchor, line.desk_user, line.transfer = None, None, None, None
        line.joined, line.held, line.heard = False, False, (0, 0.0)
        await self.db(services.line_lost, line.call, reason)
        for leg in (desk, transfer.leg if transfer else None):
            if leg is not None:
                await leg.hang_up()
        for gone in (anchor, transfer.anchor if transfer else None):
            if gone is not None:
                await self.rtp(self.media.release, gone)
        with contextlib.suppress(MediaError):
            await self.rtp(self.media.mute, line.anchor, False)
            await self.rtp(self.media.play, line.anchor, line.music, repeat=10000)

    # -- live supervision ------------------------------------------------------------------------
    async def supervise(self, line: Line, state: State, wanted: tuple[int, int, str] | None) -> None:
        """Make the line match its supervision in the database: a supervisor's phone rung and bridged
        in while the secretary talks with the caller; the mode followed; ended otherwise."""
        watch = line.watch
        talking = (state == State.TALKING and line.joined and line.desk_anchor is not None
                   and line.transfer is None and not line.handed_over)  # fmt: skip
        if watch is not None and (wanted is None or wanted[0] != watch.pk or not talking):
            await self.end_watch(line, "call moved on" if wanted is not None else "stopped")
            return
        if wanted is None:
            return
        pk, supervisor, mode = wanted
        if not talking:
            if state not in (State.TALKING, State.ON_HOLD):
                await self.db(monitoring.stop, pk, None, "call over")
            return
        if watch is None:
            await self.start_watch(line, pk, supervisor, mode)
        elif watch.mode != mode:
            watch.mode = mode
            if watch.bridge is not None:
                watch.bridge.set_mode(mode)
            log.info("call %s: supervision now %s", line.call, mode)

    async def start_watch(self, line: Line, pk: int, supervisor: int, mode: str) -> None:
        phone = await self.db(
            lambda: Desk.objects.filter(secretary_id=supervisor).values_list("phone", flat=True).first()
        )
        browser = phone != Phone.SIP
        watch = line.watch = Watch(pk, supervisor, mode)
        try:
            nowhere = Anchor("", peer_port=9)  # the bridge is its peer once it sends to it
            watch.anchor = await self.rtp(self.media.offer_outgoing, f"{self.run_id}-{line.call}-supervisor-"
                                          f"{uuid.uuid4().hex[:4]}", nowhere, browser=browser)  # fmt: skip
        except MediaError as exc:
            log.error("call %s: no media for the supervisor: %s", line.call, exc)
            line.watch = None
            await self.db(monitoring.stop, pk, None, "no media")
            return
        watch.leg = sip.ClientLeg(
            self.agent, f"sip:{credentials.sip_user(supervisor)}@{self.domain}", watch.anchor.endpoint_sdp,
            f"sip:{line.caller.caller or 'anonymous'}@{self.domain}",
            headers=[("x-permanence-call", str(line.call)), ("x-permanence-supervision", mode),
                     ("x-permanence-account", line.account[:60])],
        ).start()  # fmt: skip
        self.spawn(self.watch_answers(line, watch, browser))

    async def watch_answers(self, line: Line, watch: Watch, browser: bool) -> None:
        leg, anchor = watch.leg, watch.anchor
        assert leg is not None and anchor is not None
        try:
            response = await asyncio.wait_for(asyncio.shield(leg.answered), NO_ANSWER_SECONDS)
        except TimeoutError:
            response = None
        if line.watch is not watch:
            await leg.hang_up()
            return
        if response is None or response.status >= 300:
            log.info("call %s: the supervisor's phone did not answer", line.call)
            await self.end_watch(line, "unanswered")
            return
        try:
            await self.rtp(self.media.outgoing_answered, anchor, leg.remote_sdp, browser=browser)
        except MediaError as exc:
            log.error("call %s: the supervisor's answer has no usable media: %s", line.call, exc)
            await self.end_watch(line, "no media")
            return
        if line.desk_anchor is None or line.watch is not watch:
            return
        bridge = Bridge(watch.mode)
        host, address = self.agent.local[0], self.media.address
        await bridge.add(CALLER, host, (address, line.anchor.peer_port))
        await bridge.add(SECRETARY, host, (address, line.desk_anchor.peer_port))
        await bridge.add(SUPERVISOR, host, (address, anchor.peer_port))
        bridge.start()
        watch.bridge = bridge
        await self.db(monitoring.connected, watch.pk)
        log.info("call %s: supervised (%s) by %s", line.call, watch.mode, watch.supervisor)
        await leg.ended
        if line.watch is watch:  # he hung up
            await self.end_watch(line, "supervisor hung up")

    async def end_watch(self, line: Line, reason: str) -> None:
        """The supervisor leaves: his leg and anchor gone, the bridge removed, the caller's and the
        secretary's anchors joined directly again (the caller's re-pointed at hers)."""
        watch, line.watch = line.watch, None
        if watch is None:
            return
        await self.db(monitoring.stop, watch.pk, None, reason)
        if watch.leg is not None:
            await watch.leg.hang_up()
        if watch.bridge is not None:
            await watch.bridge.stop()
        if watch.anchor is not None:
            await self.rtp(self.media.release, watch.anchor)
        if watch.bridge is not None and line.desk_anchor is not None and not line.caller.is_over:
            line.version += 1
            with contextlib.suppress(MediaError):
                await self.rtp(self.media.point, line.anchor, line.desk_anchor, line.caller.remote_sdp,
                               line.version)  # fmt: skip
        log.info("call %s: supervision ended (%s)", line.call, reason)

    # -- call recording --------------------------------------------------------------------------
    async def start_recording(self, line: Line, user_id: int) -> None:
        """Record the conversation: both voices, copied by rtpengine to two recorders of this process."""
        if line.recording is not None or line.desk_anchor is None:
            return
        loop = asyncio.get_running_loop()
        start, host = loop.time(), self.agent.local[0]
        made: list[Recorder] = []
        for _ in range(2):
            _transport, recorder = await loop.create_datagram_endpoint(
                lambda: Recorder(longest=RECORDING_LONGEST_SECONDS, silence=RECORDING_LONGEST_SECONDS,
                                 clock=lambda: loop.time() - start),  # fmt: skip
                local_addr=(host, 0),
            )
            made.append(recorder)
        recording = Recording(made[0], made[1], [], timezone.now(), user_id)
        line.recording = recording
        try:
            for anchor, recorder in ((line.anchor, made[0]), (line.desk_anchor, made[1])):
                recording.taps.append((anchor, await self.rtp(self.media.tap, anchor, host, recorder.port)))
        except MediaError as exc:
            log.error("call %s: the conversation cannot be recorded: %s", line.call, exc)

    async def stop_recording(self, line: Line) -> None:
        """End the recording (the secretary leaves the call, or it ends) and store it with the call."""
        recording, line.recording = line.recording, None
        if recording is None:
            return
        for anchor, tag in recording.taps:
            await self.rtp(self.media.untap, anchor, tag)
        recording.caller.stop()
        recording.desk.stop()
        wav = io.BytesIO()
        seconds = write_conversation(wav, recording.caller, recording.desk)
        if seconds < 0.5:
            return
        try:
            stored = await self.db(recordings.stored, line.call, wav.getvalue(), seconds, recording.started,
                                   recording.secretary)  # fmt: skip
        except Exception:  # the call goes on; the loss is in the log
            log.exception("call %s: the recording could not be stored", line.call)
            return
        log.info("call %s: recording %s, %.1f s", line.call, stored.pk, seconds)

    async def hold(self, line: Line, on: bool) -> None:
        if line.desk_anchor is None:
            return
        try:
            await self.rtp(self.media.mute, line.anchor, on)
            await self.rtp(self.media.mute, line.desk_anchor, on)
            if on:
                await self.rtp(self.media.play, line.anchor, line.music, repeat=10000)
            else:
                await self.rtp(self.media.stop, line.anchor)
        except MediaError as exc:
            log.warning("call %s: hold failed: %s", line.call, exc)
            return
        line.held = on

    # -- transfers -------------------------------------------------------------------------------
    @staticmethod
    def _request(call_id: int) -> tuple[str, str, int]:
        from permanence.calls.models import CallEvent

        requests = CallEvent.objects.filter(call_id=call_id, kind=Kind.TRANSFER_REQUESTED)
        event = requests.order_by("-seq").first()
        detail = event.detail if event else {}
        account = Call.objects.values_list("account_id", flat=True).get(pk=call_id)
        return str(detail.get("number", "")), str(detail.get("mode", "announced")), account

    @classmethod
    def _accepted(cls, call_id: int) -> bool:
        kind, detail = cls._last_event(call_id)
        return kind == Kind.TRANSFER_RESULT and detail.get("result") == "accepted"

    async def report(self, line: Line, result: str) -> None:
        with contextlib.suppress(services.CallError):  # the desk moved on meanwhile
            await self.db(services.transfer_result, line.call, result)

    async def start_transfer(self, line: Line) -> None:
        number, mode, account = await self.db(self._request, line.call)
        transfer = line.transfer = Transfer(number, mode)
        if number not in await self.db(dialable, account):
            # the toll-fraud guard: only the account's own directory and on-call numbers are dialled
            log.warning("call %s: transfer to %r refused: not a number of the account", line.call, number)
            await self.report(line, "refused")
            return
        try:
            await self.rtp(self.media.mute, line.anchor, True)  # the caller waits, with music
            await self.rtp(self.media.play, line.anchor, line.music, repeat=10000)
            if mode == "blind" and line.desk_anchor is not None:
                await self.rtp(self.media.mute, line.desk_anchor, True)
            toward = line.desk_anchor if mode != "blind" and line.desk_anchor else line.anchor
            anchor = await self.rtp(self.media.offer_outgoing, f"{self.run_id}-{line.call}-transfer-"
                                    f"{uuid.uuid4().hex[:4]}", toward, browser=False)  # fmt: skip
        except MediaError as exc:
            log.error("call %s: transfer without media: %s", line.call, exc)
            await self.report(line, "no_answer")
            return
        transfer.anchor = anchor
        transfer.leg = sip.ClientLeg(
            self.agent, f"sip:{number}@{self.domain}", anchor.endpoint_sdp,
            f"sip:{line.caller.called or 'anonymous'}@{self.domain}",  # the account's number: the caller id
            headers=[("x-permanence-call", str(line.call))],
        ).start()  # fmt: skip
        self.spawn(self.transfer_answers(line, transfer))

    async def transfer_answers(self, line: Line, transfer: Transfer) -> None:
        leg = transfer.leg
        assert leg is not None and transfer.anchor is not None
        try:
            response = await asyncio.wait_for(asyncio.shield(leg.answered), NO_ANSWER_SECONDS)
        except TimeoutError:
            await leg.hang_up()
            await self.report(line, "no_answer")
            return
        if line.transfer is not transfer or line.releasing:
            await leg.hang_up()
            return
        if response.status >= 300:
            status = response.status
            result = "busy" if status in BUSY else "refused" if status in DECLINED else "no_answer"
            log.info("call %s: transfer to %s: %s %s", line.call, transfer.number, status, response.reason)
            await self.report(line, result)
            return
        try:
            await self.rtp(self.media.outgoing_answered, transfer.anchor, leg.remote_sdp, browser=False)
        except MediaError as exc:
            log.error("call %s: the transfer's answer has no usable media: %s", line.call, exc)
            await leg.hang_up()
            await self.report(line, "no_answer")
            return
        if transfer.mode == "blind":
            await self.report(line, "accepted")
        reason = await leg.ended  # the person hangs up: during the announcement, the secretary comes back
        if line.transfer is transfer and not line.handed_over and not line.releasing:
            log.info("call %s: the person hung up during the announcement (%s)", line.call, reason)
            await self.report(line, "refused")

    async def hand_over(self, line: Line) -> None:
        """The transfer is accepted: the secretary leaves, the caller talks to the person."""
        transfer = line.transfer
        assert transfer is not None and transfer.anchor is not None and transfer.leg is not None
        line.handed_over = True
        await self.stop_recording(line)
        desk, desk_anchor = line.desk, line.desk_anchor
        line.desk, line.desk_anchor = None, None
        if desk is not None:
            await desk.hang_up()
        if desk_anchor is not None:
            await self.rtp(self.media.release, desk_anchor)
        try:
            if transfer.mode != "blind":  # the person's anchor sent to the secretary's: now to the caller
                await self.rtp(self.media.point, transfer.anchor, line.anchor, transfer.leg.remote_sdp, 2)
            await self.rtp(self.media.stop, line.anchor)
            await self.rtp(self.media.mute, line.anchor, False)
        except MediaError as exc:
            log.error("call %s: cannot join the caller and the person: %s", line.call, exc)
        log.info("call %s: transferred to %s", line.call, transfer.number)
        self.spawn(self._person_leaves(line, transfer.leg))

    async def _person_leaves(self, line: Line, leg: sip.ClientLeg) -> None:
        await leg.ended
        if not line.caller.is_over:
            line.releasing = True
            await line.caller.hang_up()

    async def transfer_back(self, line: Line, state: State) -> None:
        """No transfer (refused, unanswered, or the secretary came back): she talks to the caller."""
        transfer, line.transfer = line.transfer, None
        if transfer is not None and transfer.leg is not None:
            await transfer.leg.hang_up()
        if transfer is not None and transfer.anchor is not None:
            await self.rtp(self.media.release, transfer.anchor)
        if state in ON_THE_LINE and line.desk_anchor is not None:
            try:
                held = state == State.ON_HOLD
                await self.rtp(self.media.mute, line.desk_anchor, held)
                await self.rtp(self.media.mute, line.anchor, held)
                if not held:
                    await self.rtp(self.media.stop, line.anchor)
                line.held = held
            except MediaError as exc:
                log.warning("call %s: back from the transfer: %s", line.call, exc)


    # -- rtpengine restarted -------------------------------------------------------------------------
    async def check_media(self) -> None:
        """rtpengine forgets every call when it restarts: the calls it lost are anchored again, and
        their legs told the new media addresses (re-INVITEs), so that nobody is left in silence."""
        for line in list(self.lines.values()):
            if line.releasing or line.caller.is_over or not line.caller.established:
                continue
            try:
                alive = await self.rtp(self.media.exists, line.anchor)
            except MediaError as exc:
                log.warning("rtpengine does not answer (%s): media checked again later", exc)
                return
            if not alive:
                await self.reanchor(line)

    async def reanchor(self, line: Line) -> None:
        log.warning("call %s: rtpengine lost its media (restarted?): anchored again", line.call)
        suffix = uuid.uuid4().hex[:4]
        try:
            name = f"{self.run_id}-{line.call}-caller-{suffix}"
            line.anchor = await self.rtp(self.media.answer_incoming, name, line.caller.remote_sdp)
        except MediaError as exc:
            log.error("call %s: cannot anchor the caller again: %s", line.call, exc)
            return
        if not await line.caller.reinvite(line.anchor.endpoint_sdp):
            log.warning("call %s: the caller's side refused the new media address", line.call)
        transfer = line.transfer
        if transfer is not None and not line.handed_over:  # an announcement in progress is dropped
            line.transfer = None
            if transfer.leg is not None:
                await transfer.leg.hang_up()
            await self.report(line, "no_answer")
        other: sip.Leg | None = None
        browser = False
        if line.handed_over and transfer is not None:
            other = transfer.leg
        elif line.joined and line.desk is not None:
            other, browser = line.desk, line.desk_browser
        if other is not None and not other.is_over:
            try:
                name = f"{self.run_id}-{line.call}-again-{suffix}"
                anchor = await self.rtp(self.media.offer_outgoing, name, line.anchor, browser=browser)
                if await other.reinvite(anchor.endpoint_sdp):
                    await self.rtp(self.media.outgoing_answered, anchor, other.remote_sdp, browser=browser)
                else:
                    log.warning("call %s: the other leg refused the new media address", line.call)
            except MediaError as exc:
                log.error("call %s: cannot anchor the other leg again: %s", line.call, exc)
                return
            if line.handed_over and transfer is not None:
                transfer.anchor = anchor
            else:
                line.desk_anchor = anchor
        with contextlib.suppress(MediaError):
            if line.held or (not line.joined and not line.handed_over):
                await self.rtp(self.media.play, line.anchor, line.music, repeat=10000)
            if line.held and line.desk_anchor is not None:
                await self.rtp(self.media.mute, line.anchor, True)
                await self.rtp(self.media.mute, line.desk_anchor, True)


def hung_up_on_purpose(leg: sip.Leg, browser: bool) -> bool:
    """A SIP phone's BYE is its handset put down; a softphone's only when its hang-up button sent it
    (marked): a page closing sends a BYE too, and that call must not be cut off."""
    if leg.bye is None:
        return False
    return not browser or leg.bye.get("x-permanence-reason").lower() == "hangup"


def dialable(account_id: int) -> set[str]:
    """The numbers a transfer of this account may dial: its directory's lines and its on-call number
    (E.164). Anything else is refused, whoever asks: the toll-fraud guard."""
    from permanence.accounts.models import Account
    from permanence.directory.models import Collaborator

    numbers = {
        n
        for pair in Collaborator.objects.filter(account_id=account_id).values_list("direct_line", "mobile")
        for n in pair
        if n
    }
    on_call = Account.objects.filter(pk=account_id).values_list("on_call_number", flat=True).first()
    return numbers | ({on_call} if on_call else set())


def sounds(account_id: int) -> tuple[prompts.Prompt, str | Path]:
    """The account's waiting message (a file uploaded in the back-office, else its text said, else the
    recording shipped) and its music (uploaded, else shipped)."""
    from permanence.accounts.models import Account

    account = Account.objects.get(pk=account_id)
    music = Path(account.music_audio.path) if account.music_audio else "music"
    return prompts.choose(account, "waiting"), music


def choose_prompt(call_id: int, name: str, action: str = "") -> prompts.Prompt:
    call = Call.objects.select_related("account").get(pk=call_id)
    return prompts.choose(call.account, name, action=action)


def voicemail_longest(call_id: int) -> float:
    """The longest recording the call's account takes, in seconds."""
    return float(Call.objects.values_list("account__voicemail_longest_seconds", flat=True).get(pk=call_id))
