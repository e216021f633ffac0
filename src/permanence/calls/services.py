"""Named actions on calls: each appends lifecycle events (checked by the core) in one transaction.

The telephony adapter reports arrivals, hang-ups and transfer results; the desk
accepts offers, transfers, ends and wraps up; ``dispatch`` offers waiting calls
to ready secretaries and takes back offers left unanswered. Offers reach the
secretary's page through the channel layer (group ``desk.<user id>``).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from permanence.accounts.models import Account, AfterHours, Trade
from permanence.accounts.phones import display, try_normalize
from permanence.calls import admission, lifecycle, routing
from permanence.calls import desk_events as events
from permanence.calls.lifecycle import Kind, State
from permanence.calls.models import NUISANCES, Call, CallEvent, Desk, DeskStatus, PresenceSpan
from permanence.directory import oncall
from permanence.users.models import Role, Training, User

log = logging.getLogger(__name__)

OFFER_SECONDS = getattr(settings, "DESK_OFFER_SECONDS", 15)
DISPATCH_CHANNEL = "permanence_dispatch"  # PostgreSQL NOTIFY channel that wakes the dispatcher
WAITING = (State.QUEUED,)


class CallError(Exception):
    """An action refused (wrong state, not this secretary's call...)."""


def desk_group(user_id: int) -> str:
    return f"desk.{user_id}"


def notify(user_id: int, payload: dict[str, Any]) -> None:
    """Send ``payload`` to the secretary's open desk pages (none open: nothing happens)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "desk.event", "payload": payload}
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # the usual case: sync code with no loop in this thread
        async_to_sync(layer.group_send)(desk_group(user_id), message)
        return
    _sender().put((layer, desk_group(user_id), message))  # called from async code: do not block it


_outgoing: queue.SimpleQueue[tuple[Any, str, dict[str, Any]]] | None = None
_outgoing_lock = threading.Lock()


def _sender() -> queue.SimpleQueue[tuple[Any, str, dict[str, Any]]]:
    """One thread per process sends what async code publishes, in the order published."""
    global _outgoing
    with _outgoing_lock:
        if _outgoing is None:
            _outgoing = queue.SimpleQueue()
            threading.Thread(target=_send_forever, args=(_outgoing,), name="desk-events", daemon=True).start()
        return _outgoing


def _send_forever(outgoing: queue.SimpleQueue[tuple[Any, str, dict[str, Any]]]) -> None:
    while True:
        layer, group, message = outgoing.get()
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # a lost push: the desk's poll still shows the truth
            log.warning("a desk event could not be sent to %s", group, exc_info=True)


def publish(event: events.DeskEvent) -> None:
    """Tell her desk pages, once the current transaction has committed (at once outside one)."""
    secretary, payload = event.secretary, event.payload()
    transaction.on_commit(lambda: notify(secretary, payload), robust=True)


def request_dispatch(at: datetime | None = None) -> None:
    """Offer what waits, once the current transaction has committed: here (``DISPATCH=inline``, one
    node), or by waking the cluster's one dispatcher (``DISPATCH=dispatcher``): a NOTIFY, which
    PostgreSQL delivers only at the commit, and never if the transaction rolls back."""
    if settings.DISPATCH == "dispatcher":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [DISPATCH_CHANNEL])
        return
    transaction.on_commit(lambda: dispatch(at), robust=True)


def record(
    call: Call, kind: Kind, *, at: datetime | None = None, secretary: User | None = None, **detail: Any
) -> CallEvent:
    """Append one event to a locked call; the core refuses an impossible one."""
    at = at or timezone.now()
    if call.last_event_at and at < call.last_event_at:
        at = call.last_event_at  # clocks of several processes: never go back
    summary = call.summary()
    try:
        lifecycle.apply(summary, lifecycle.Event(kind, at, secretary.pk if secretary else None, detail))
    except lifecycle.LifecycleError as exc:
        raise CallError(str(exc)) from None
    event = CallEvent.objects.create(
        call=call, seq=call.events.count() + 1, kind=kind, at=at, secretary=secretary, detail=detail
    )
    call.state = summary.state
    call.arrived_at, call.answered_at, call.ended_at = (
        summary.arrived_at,
        summary.answered_at,
        summary.ended_at,
    )
    call.last_event_at = at
    if kind is Kind.ANSWERED:
        call.secretary = secretary
    call.save()
    if call.state in lifecycle.OVER and not call.training:
        from permanence.reporting import tasks as reporting_tasks

        reporting_tasks.soon(call.pk)  # counted in the reports' rollups
    return event


def _locked(call: Call | int) -> Call:
    return Call.objects.select_for_update().get(pk=call.pk if isinstance(call, Call) else call)


@transaction.atomic
def call_arrived(
    called: str,
    caller: str | None,
    *,
    account: Account | None = None,
    training: bool = False,
    external_id: str = "",
    at: datetime | None = None,
    caller_leaves_at: datetime | None = None,
    menu: dict[str, str] | None = None,
) -> Call:
    """A call rings: find its account by the number called; its state, hours and after-hours policy
    decide (``admission``): it joins the queue, or is turned away (voicemail, forward, call-back task,
    closed greeting, number not in service). ``caller_leaves_at``: when a simulated caller hangs up if
    still waiting, enforced from the database by whichever process runs ``tick``. ``menu``: what the
    caller chose in the account's voice menu (``action`` queue, end or voicemail, ``motive``,
    ``priority``, ``keys``): the motive and priority go with the call; an end or a voicemail chosen
    there is a call served by the menu."""
    region = settings.PHONE_DEFAULT_REGION
    called_e164 = try_normalize(called, region) or called
    if account is None:
        account = Account.objects.filter(
            numbers__number=called_e164, numbers__released_at__isnull=True
        ).first()
        if account is None:
            raise CallError(f"no account answers {called}")
    at = at or timezone.now()
    call = Call.objects.create(
        account=account,
        called=called_e164,
        caller=try_normalize(caller, region) or "",
        training=training,
        external_id=external_id,
        caller_leaves_at=caller_leaves_at,
        motive=(menu or {}).get("motive", "")[:120],
        urgent=(menu or {}).get("priority") == "urgent",
    )
    record(call, Kind.ARRIVED, at=at)
    decision = admit(account, call.caller, at, training=training)
    chosen = {k: v for k, v in (menu or {}).items() if k in ("motive", "keys") and v}
    if decision.served and menu and menu.get("action") in ("end", "voicemail"):
        action = admission.Action.SELF_SERVICE if menu["action"] == "end" else admission.Action.VOICEMAIL
        decision = admission.Decision(action, admission.Reason.VOICE_MENU)
    if decision.served:
        record(call, Kind.QUEUED, at=at, **decision.detail(), **chosen)
        if not training:  # offered at once if someone is ready (else by a later dispatch), as of its arrival
            request_dispatch(at)
        return call
    record(call, Kind.NOT_SERVED, at=at, **decision.detail(), **chosen)
    if decision.action is admission.Action.CALLBACK:
        from permanence.messaging.models import CallbackTask

        CallbackTask.objects.create(
            account=account, call=call, number=call.caller, due_at=decision.next_opening
        )
    transaction.on_commit(lambda: _tell_telephony_turned_away(call, decision))
    return call


def voice_menu(called: str, caller: str | None, at: datetime | None = None) -> Any:
    """The voice menu the caller hears first (``scenarios.engine.ivr.Ivr``), or None: the account has
    none (or none that reads), or does not serve the call now (closed: no menu before the greeting)."""
    from permanence.scenarios.engine import ivr

    called_e164 = try_normalize(called, settings.PHONE_DEFAULT_REGION) or called
    account = Account.objects.filter(numbers__number=called_e164, numbers__released_at__isnull=True).first()
    if account is None or not account.ivr_source.strip():
        return None
    number = try_normalize(caller, settings.PHONE_DEFAULT_REGION) or ""
    if not admit(account, number, at or timezone.now()).served:
        return None
    return ivr.check(account.ivr_source).ivr


def admit(account: Account, caller: str, at: datetime, *, training: bool = False) -> admission.Decision:
    """The arrival decision for a call to ``account`` at ``at``."""
    opening = account.opening_status(at)
    forward_to = account.on_call_number
    if not opening.is_open and account.after_hours == AfterHours.FORWARD:
        forward_to = oncall.forward_number(account, at)  # the forwarding rota's person on call, if any
    return admission.decide(
        state=account.status,
        is_open=opening.is_open,
        closed_because=opening.reason,
        policy=account.after_hours,
        on_call_number=forward_to,
        caller=caller,
        training=training,
        next_opening=opening.next_open,
    )


def closed_text(account: Account, decision: admission.Decision, at: datetime | None = None) -> str:
    """What the caller hears when the call is not served (the account's own text, or a standard one
    with the next opening), in the account's language (``Account.language``)."""
    from babel.dates import format_date, format_time
    from django.utils import translation
    from django.utils.translation import gettext, pgettext

    from permanence.accounts.models import client_language

    with translation.override(client_language(account)):
        if decision.action is admission.Action.NOT_IN_SERVICE:
            return gettext("The number you have called is no longer in service.")
        opening = account.opening_status(at or timezone.now())
        own = account.closed_greeting.strip()
        closed = gettext("%(account)s, hello. We are closed at the moment.") % {"account": account.name}
        parts = [own or closed]
        if not own and opening.next_open is not None:
            locale = translation.to_locale(translation.get_language() or "fr")
            local = opening.next_open.astimezone(account.tz)
            when = pgettext("message header", "%(date)s at %(time)s") % {  # "lundi 7 décembre à 09:00"
                "date": format_date(local, "EEEE d MMMM", locale=locale),
                "time": format_time(local, "short", locale=locale),
            }
            parts.append(gettext("We will be open again on %(when)s.") % {"when": when})
        parts.append(
            {
                admission.Action.VOICEMAIL: gettext("Please leave us a message after the beep."),
                admission.Action.FORWARD: gettext("We are putting your call through, please hold."),
                admission.Action.CALLBACK: gettext("We will call you back as soon as we reopen."),
            }.get(decision.action) or gettext("Please call again during our opening hours.")
        )
        return " ".join(parts)


def _tell_telephony_turned_away(call: Call, decision: admission.Decision) -> None:
    from permanence.calls import telephony

    adapter = telephony.current()
    if adapter is not None:
        text = closed_text(call.account, decision)
        adapter.turn_away(call, str(decision.action), text, decision.forward_to)


def set_status(secretary: User, status: str, reason: str = "") -> Desk:
    if status not in DeskStatus.values or status in (DeskStatus.ON_CALL, DeskStatus.WRAP_UP):
        raise CallError(f"cannot set the status {status!r} by hand")
    with transaction.atomic():
        desk, _ = Desk.objects.select_for_update().get_or_create(secretary=secretary)
        busy = Call.objects.filter(
            secretary=secretary, state__in=[State.TALKING, State.ON_HOLD, State.TRANSFERRING, State.WRAP_UP]
        ).exists()
        if busy and status != DeskStatus.OFFLINE:
            raise CallError("finish the current call first")
        now = timezone.now()
        if status == DeskStatus.READY and desk.status != DeskStatus.READY:
            desk.idle_since, desk.missed_offers = now, 0
        _presence(secretary.pk, desk.status in PRESENT, status == DeskStatus.READY, now)
        changed = desk.status != status or (status == DeskStatus.PAUSED and desk.reason != reason[:80])
        desk.status, desk.reason, desk.since = status, reason[:80] if status == DeskStatus.PAUSED else "", now
        desk.save()
        if changed:  # offline in the middle of a call: the call is still hers (to finish on her return)
            still = Call.objects.filter(secretary=secretary, state__in=BUSY, training=False)
            call_id = still.values_list("pk", flat=True).first()
            publish(events.StatusChanged(secretary.pk, status, desk.reason, call_id))
    if status != DeskStatus.READY:
        _take_back_offers(secretary)
    if settings.DISPATCH == "dispatcher":
        request_dispatch()
    else:
        dispatch()  # outside the transaction above: what she took back goes to the others too
    return desk


PRESENT = (DeskStatus.READY, DeskStatus.ON_CALL, DeskStatus.WRAP_UP)
BUSY = (State.TALKING, State.ON_HOLD, State.TRANSFERRING, State.WRAP_UP)  # a secretary's call not over


def _desk_moves(secretary_id: int, frm: Iterable[str], to: str, call: Call, **fields: Any) -> None:
    """Her desk goes from one of ``frm`` to ``to`` for a real call of hers, and her pages are told; a desk
    elsewhere (she went offline, or paused, mid-call) stays where she put it, and a training call never
    moves it."""
    if call.training:
        return
    if Desk.objects.filter(secretary_id=secretary_id, status__in=tuple(frm)).update(status=to, **fields):
        publish(events.StatusChanged(secretary_id, to, call=call.pk if to in events.BUSY else None))


def _presence(secretary_id: int | None, was: bool, now_present: bool, at: datetime) -> None:
    """Open or close the secretary's presence span (what occupancy divides by)."""
    if secretary_id is None or was == now_present:
        return
    if now_present:
        PresenceSpan.objects.filter(secretary_id=secretary_id, end__isnull=True).update(end=at)  # stray
        PresenceSpan.objects.create(secretary_id=secretary_id, start=at)
        return
    for span in PresenceSpan.objects.filter(secretary_id=secretary_id, end__isnull=True):
        span.end = max(at, span.start)
        span.save(update_fields=["end"])
        from permanence.reporting import tasks as reporting_tasks

        reporting_tasks.presence_soon(span.pk)


def _take_back_offers(secretary: User) -> None:
    for call_id in Call.objects.filter(offered_to=secretary, state=State.OFFERED).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            call = _locked(call_id)
            if call.state == State.OFFERED and call.offered_to_id == secretary.pk:
                _lapse(call, Kind.OFFER_DECLINED)


def _lapse(call: Call, kind: Kind, at: datetime | None = None) -> None:
    why = "expired" if kind is Kind.OFFER_EXPIRED else "declined"
    passed = list(call.passed_by)
    if call.offered_to_id and call.offered_to_id not in passed:
        passed.append(call.offered_to_id)
    user_id = call.offered_to_id
    record(call, kind, at=at, secretary=call.offered_to)
    call.passed_by, call.offered_to, call.offer_expires_at = passed, None, None
    call.save(update_fields=["passed_by", "offered_to", "offer_expires_at"])
    if user_id:
        publish(events.OfferWithdrawn(user_id, call.pk, why))


def tick(now: datetime | None = None) -> list[tuple[int, int]]:
    """What time alone changes, read from the database (any process may run it, the worker does every
    second): simulated callers whose patience ran out hang up, then ``dispatch`` takes back lapsed
    offers, diverts calls at their account's maximum wait and offers the waiting calls."""
    now = now or timezone.now()
    callers_gone(now)
    return dispatch(now)


def callers_gone(now: datetime) -> int:
    """Waiting calls whose (simulated) caller has left by now: abandoned at the moment they left."""
    gone = 0
    for call_id, left_at in Call.objects.filter(
        state__in=lifecycle.UNANSWERED, caller_leaves_at__lte=now
    ).values_list("pk", "caller_leaves_at"):
        call = caller_hung_up(call_id, at=left_at)
        gone += call.state == State.ABANDONED
    return gone


def _missed(call: Call, now: datetime) -> None:
    """An offer rang out: the call goes back to the queue (offered again, to her too if nobody else can
    take it). She is paused only by a rule: the account's, or the team's (several in a row)."""
    missed = call.offered_to_id
    account = call.account
    _lapse(call, Kind.OFFER_EXPIRED, now)
    if missed is None:
        return
    desk = Desk.objects.select_for_update().filter(secretary_id=missed).first()
    if desk is None:
        return
    desk.missed_offers += 1
    team_rule = getattr(settings, "DESK_PAUSE_AFTER_MISSED_OFFERS", 0)
    reason = ""
    if account.pause_on_missed_offer:
        reason = _("Call not picked up (rule of the account %(account)s)") % {"account": account.name}
    elif team_rule and desk.missed_offers >= team_rule:
        reason = _("%(count)s calls not picked up in a row (team rule)") % {"count": desk.missed_offers}
    if reason and desk.status == DeskStatus.READY:
        desk.status, desk.reason, desk.since = DeskStatus.PAUSED, reason[:80], now
        _presence(missed, True, False, now)
        publish(events.StatusChanged(missed, DeskStatus.PAUSED, reason[:80]))
    desk.save(update_fields=["missed_offers", "status", "reason", "since"])


def dispatch(now: datetime | None = None) -> list[tuple[int, int]]:
    """Take back lapsed offers, divert calls at their maximum wait, then offer waiting calls to ready
    secretaries. Safe to run in several processes at once: an offer is made under the call's and the
    secretary's row locks, to a secretary still ready and with no other offer."""
    now = now or timezone.now()
    for call_id in Call.objects.filter(state=State.OFFERED, offer_expires_at__lte=now).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            call = _locked(call_id)
            if call.state == State.OFFERED and call.offer_expires_at and call.offer_expires_at <= now:
                _missed(call, now)
    rows = waiting_calls()
    if not rows:
        return []
    router = load_router(rows, now)
    for fallback in router.expired(now):
        divert(fallback.call, fallback.action, now)
    offered_to = set(Call.objects.filter(state=State.OFFERED).values_list("offered_to_id", flat=True))
    desks = Desk.objects.filter(
        status=DeskStatus.READY, secretary__is_active=True, secretary__role=Role.SECRETARY
    ).exclude(secretary_id__in=offered_to)
    skills: dict[int, dict[int, int]] = {}
    groups: dict[int, set[str]] = {}
    for secretary_id, account_id, level, trade in Training.objects.filter(
        secretary__desk__in=desks
    ).values_list("secretary_id", "account_id", "level", "account__trade"):
        skills.setdefault(secretary_id, {})[account_id] = level
        groups.setdefault(secretary_id, set()).add(overflow_group(trade))
    languages: dict[int, set[str]] = {}
    for secretary_id, code in User.languages.through.objects.filter(user__desk__in=desks).values_list(
        "user_id", "language_id"
    ):
        languages.setdefault(secretary_id, set()).add(code)
    for desk in desks:
        sid = desk.secretary_id
        router.set_ready(
            routing.Secretary(
                sid,
                skills.get(sid, {}),
                desk.idle_since,
                groups=frozenset(groups.get(sid, set()) - {""}),
                languages=frozenset(languages.get(sid, set())),
            )
        )
    return [(c, sid) for c, sid in router.assign(now) if offer(c, sid, now)]


def offer(call_id: int, secretary_id: int, now: datetime) -> bool:
    """Offer a waiting call to a secretary, if both are still free: under the call's and the desk's row
    locks, so that two dispatchers (two processes) never offer one call twice, nor one secretary two
    calls. False: someone got there first."""
    with transaction.atomic():
        call = _locked(call_id)
        if call.state != State.QUEUED:
            return False
        desk = Desk.objects.select_for_update().filter(secretary_id=secretary_id, status=DeskStatus.READY)
        ready = desk.exists()
        if not ready or Call.objects.filter(offered_to_id=secretary_id, state=State.OFFERED).exists():
            return False
        if Call.objects.filter(secretary_id=secretary_id, state__in=BUSY).exists():
            return False  # on a call (a training one, or one she left her desk "ready" during)
        secretary = User.objects.get(pk=secretary_id)
        record(call, Kind.OFFERED, at=now, secretary=secretary)
        call.offered_to, call.offer_expires_at = secretary, now + timedelta(seconds=OFFER_SECONDS)
        call.save(update_fields=["offered_to", "offer_expires_at"])
        publish(offer_made(call))
    return True


LONG_WAIT_SECONDS = 60  # a call waiting this long goes up one priority class


def policy(account: Account) -> routing.Policy:
    """The account's routing settings, as the core reads them."""
    return routing.Policy(
        long_wait_seconds=LONG_WAIT_SECONDS,
        overflow_after_seconds=account.overflow_after_seconds,
        max_wait_seconds=account.max_wait_seconds,
        fallback=account.fallback,
    )


def overflow_group(trade: str) -> str:
    """The wider group an account's calls overflow to: its trade ("other" is no group)."""
    return "" if trade == Trade.OTHER else trade


def waiting_calls() -> list[Call]:
    """The calls in the queue, with what routing needs (and the account's name, for display)."""
    return list(
        Call.objects.filter(state__in=WAITING)
        .order_by("arrived_at", "pk")
        .select_related("account")
        .only(
            "pk", "account_id", "arrived_at", "passed_by", "caller", "urgent", "account__name",
            "account__trade", "account__urgent", "account__call_language", "account__overflow_after_seconds",
            "account__max_wait_seconds", "account__fallback",
        )  # fmt: skip
    )


def divert(call_id: int, to: str, now: datetime | None = None) -> Call | None:
    """A call that waited its account's maximum leaves the queue for the fallback: the voicemail, or a
    call-back task at the desk (voicemail when the number is withheld: nobody to call back)."""
    from permanence.calls import telephony
    from permanence.messaging.models import CallbackTask

    now = now or timezone.now()
    with transaction.atomic():
        call = _locked(call_id)
        if call.state != State.QUEUED:
            return None  # answered or hung up meanwhile
        if to == "callback" and not call.caller:
            to = "voicemail"
        waited = round((now - call.arrived_at).total_seconds()) if call.arrived_at else None
        record(call, Kind.DIVERTED, at=now, to=to, waited=waited)
        if to == "callback":
            CallbackTask.objects.create(account_id=call.account_id, call=call, number=call.caller)
    adapter = telephony.current()
    if adapter is not None:
        adapter.divert(call, to)
    return call


def urgent(call: Call, account: Account) -> bool:
    """An urgent account's call, or one its caller said urgent in the voice menu."""
    return bool(account.urgent or call.urgent)


def load_router(rows: list[Call], now: datetime) -> routing.Router:
    """The routing core loaded with the waiting calls and their accounts' settings: a VIP caller (contact
    tagged vip) first, then an urgent account's calls."""
    from permanence.contacts.models import TAG_VIP, ContactNumber
    from permanence.textlists import parse_list

    vip = {
        (account_id, number)
        for account_id, number, tags in ContactNumber.objects.filter(
            account_id__in={c.account_id for c in rows},
            number__in={c.caller for c in rows if c.caller},
            contact__tags__icontains=TAG_VIP,  # narrows; the exact tag is checked here
        ).values_list("account_id", "number", "contact__tags")
        if TAG_VIP in parse_list(tags, lower=True)
    }
    router = routing.Router({call.account_id: policy(call.account) for call in rows})
    for call in rows:
        account = call.account
        router.add_call(
            routing.Call(
                call.pk,
                call.account_id,
                call.arrived_at or now,
                priority=2 if (call.account_id, call.caller) in vip else 1 if urgent(call, account) else 0,
                group=overflow_group(account.trade),
                language=account.call_language or None,
                passed_by=frozenset(call.passed_by),
            )
        )
    return router


def offer_made(call: Call) -> events.OfferMade:
    """The offer of ``call`` to the secretary it is offered to."""
    assert call.offered_to_id is not None
    return events.OfferMade(
        call.offered_to_id,
        call=call.pk,
        account=call.account.name,
        account_slug=call.account.slug,
        caller=display(call.caller) if call.caller else "",
        training=call.training,
        expires_at=call.offer_expires_at.isoformat() if call.offer_expires_at else None,
    )


def offer_payload(call: Call) -> dict[str, Any]:
    """What the desk's poll and socket carry for an offer."""
    return offer_made(call).payload()


@transaction.atomic
def accept(call: Call | int, secretary: User) -> Call:
    call = _locked(call)
    if call.state != State.OFFERED or call.offered_to_id != secretary.pk:
        raise CallError("this call is not offered to you (any more)")
    record(call, Kind.ANSWERED, secretary=secretary)
    call.offered_to, call.offer_expires_at = None, None
    call.save(update_fields=["offered_to", "offer_expires_at"])
    _desk_moves(secretary.pk, DeskStatus.values, DeskStatus.ON_CALL, call, since=timezone.now(),
                missed_offers=0)  # fmt: skip
    return call


@transaction.atomic
def caller_hung_up(call: Call | int, at: datetime | None = None) -> Call:
    call = _locked(call)
    if call.state in (*lifecycle.OVER, State.WRAP_UP):
        return call  # already over: a late signal from the telephony
    offered = call.offered_to_id if call.state == State.OFFERED else None
    record(call, Kind.CALLER_HUNG_UP, at=at)
    if offered:
        call.offered_to, call.offer_expires_at = None, None
        call.save(update_fields=["offered_to", "offer_expires_at"])
        publish(events.OfferWithdrawn(offered, call.pk, "caller_hung_up"))
        request_dispatch()  # she is free for the next one
    if call.state == State.WRAP_UP and call.secretary_id:
        _desk_moves(call.secretary_id, (DeskStatus.ON_CALL,), DeskStatus.WRAP_UP, call)
        publish(events.CallerHungUp(call.secretary_id, call.pk))
    return call


@transaction.atomic
def phone_unreachable(call: Call | int, secretary_id: int) -> Call:
    """The secretary's phone could not be rung for the call offered to her (not registered, refused):
    the offer is declined at once and goes to someone else; her desk is paused with the reason, so that
    no more calls go to a phone that cannot ring."""
    call = _locked(call)
    if call.state != State.OFFERED or call.offered_to_id != secretary_id:
        return call
    _lapse(call, Kind.OFFER_DECLINED)
    _phone_gone(secretary_id, str(_("phone unreachable")))
    return call


@transaction.atomic
def line_lost(call: Call | int, reason: str = "", at: datetime | None = None) -> Call:
    """The secretary's phone left a call whose caller is still there (her browser closed, her network
    lost): the caller waits again, first in line by arrival, and is offered to the next secretary; hers
    is paused with the reason, so that nothing more is offered to a phone that is gone."""
    call = _locked(call)
    if call.state not in (State.TALKING, State.ON_HOLD, State.TRANSFERRING):
        return call
    secretary_id = call.secretary_id
    record(call, Kind.LINE_LOST, at=at, reason=reason[:80])
    if secretary_id:
        _phone_gone(secretary_id, str(_("phone disconnected")))
    else:
        request_dispatch()
    return call


def _phone_gone(secretary_id: int, reason: str) -> None:
    """Her phone cannot take calls: her desk is paused with the reason (her page told), her presence
    closed, and the waiting calls offered to the others."""
    now = timezone.now()
    Desk.objects.filter(secretary_id=secretary_id).update(  # the desk's row first, as everywhere
        status=DeskStatus.PAUSED, reason=reason[:80], since=now
    )
    _presence(secretary_id, True, False, now)
    publish(events.StatusChanged(secretary_id, DeskStatus.PAUSED, reason[:80]))
    request_dispatch()


def _own(call: Call | int, secretary: User, states: Iterable[State]) -> Call:
    call = _locked(call)
    if call.secretary_id != secretary.pk or call.state not in tuple(states):
        raise CallError("this is not your call, or not at this point")
    return call


@transaction.atomic
def request_transfer(call: Call | int, secretary: User, to: str, mode: str = "announced",
                     number: str = "") -> Call:  # fmt: skip
    """``to``: the collaborator's reference; ``number``: the line the telephony dials (the call control
    reads it from the event, whichever process records it)."""
    call = _own(call, secretary, (State.TALKING, State.ON_HOLD))
    record(call, Kind.TRANSFER_REQUESTED, secretary=secretary, to=to, mode=mode, number=number)
    return call


@transaction.atomic
def transfer_result(call: Call | int, result: str, secretary: User | None = None) -> Call:
    call = _locked(call)
    if call.state != State.TRANSFERRING:
        raise CallError("no transfer in progress")
    record(call, Kind.TRANSFER_RESULT, secretary=secretary, result=result)
    if call.state == State.WRAP_UP and call.secretary_id:
        _desk_moves(call.secretary_id, (DeskStatus.ON_CALL,), DeskStatus.WRAP_UP, call)
    if secretary is None and call.secretary_id:  # told by the telephony: the desk page applies it
        publish(events.TransferResult(call.secretary_id, call.pk, result))
    return call


@transaction.atomic
def hold(call: Call | int, secretary: User) -> Call:
    """Put the caller on hold, or take them back."""
    call = _own(call, secretary, (State.TALKING, State.ON_HOLD))
    record(call, Kind.RESUMED if call.state == State.ON_HOLD else Kind.ON_HOLD, secretary=secretary)
    return call


@transaction.atomic
def end_call(call: Call | int, secretary: User) -> Call:
    call = _own(call, secretary, (State.TALKING, State.ON_HOLD, State.TRANSFERRING))
    record(call, Kind.ENDED, secretary=secretary)
    _desk_moves(secretary.pk, (DeskStatus.ON_CALL,), DeskStatus.WRAP_UP, call, since=timezone.now())
    return call


@transaction.atomic
def wrap_up(
    call: Call | int, secretary: User, outcome: str = "", *, nuisance: str = "", reason: str = ""
) -> Call:
    """The call's end at the desk; ``nuisance`` (a cold call, a wrong number: ``NUISANCES``) with its
    ``reason`` is what the secretary says the operator does not bill."""
    call = _own(call, secretary, (State.WRAP_UP,))
    if nuisance and nuisance not in dict(NUISANCES):
        raise CallError(f"unknown kind of call not to bill: {nuisance!r}")
    detail = {"nuisance": nuisance} if nuisance else {}  # the reason stays on the call (privacy erases it)
    record(call, Kind.WRAPPED_UP, secretary=secretary, outcome=outcome, **detail)
    call.outcome = outcome[:20]
    call.nuisance, call.nuisance_reason = nuisance, reason[:300] if nuisance else ""
    call.save(update_fields=["outcome", "nuisance", "nuisance_reason"])
    now = timezone.now()
    if not call.training:
        publish(events.CallEnded(secretary.pk, call.pk))
    _desk_moves(secretary.pk, (DeskStatus.ON_CALL, DeskStatus.WRAP_UP), DeskStatus.READY, call,
                since=now, idle_since=now)  # fmt: skip
    request_dispatch()
    return call
