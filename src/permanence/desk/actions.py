"""The desk's domain actions: plain functions with explicit arguments (no HTTP request).

Each takes the call, the secretary and what she gave, writes through the calls' services, and returns
what happened (``Outcome``: errors by field, notices to show her); the pages (``desk.views``) only parse
the request, call an action and render.

The scenario engine never acts: ``Run.submit`` answers the current step and returns *requests*
(``TransferRequested``, ``AppointmentRequested``, ``IdentityChecked``, ``ReportReady``), and
``answer_step`` applies them here, in this order:

1. ``AppointmentRequested``: the run has not moved on yet. The slot the secretary picked is booked
   (``book``), then the engine ``confirm``s with the slot in words; a slot taken meanwhile (or any
   booking error) is told to her and the run stays at its step, nothing applied. No slot picked: a
   booking made by hand, confirmed with what she typed. So the booking still comes before the run moves,
   and is never made for an answer the run would refuse (the answer is validated first).
2. ``IdentityChecked``: a failed attempt is counted against the caller's contact (``identity_limits``).
3. An identity check reached next, for a caller with too many failed checks lately, is answered "not
   verified" at once (never compared) and she is told why.
4. ``TransferRequested`` (with its result): the transfer is recorded if she did not use the button, then
   its result.
5. ``ReportReady``: the stored run's outcome (the call can be finished; ``finish`` reads the recipients
   its report names).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from permanence import policy
from permanence.accounts.models import Account
from permanence.agenda import desk as agenda_desk
from permanence.agenda import services as agenda_services
from permanence.calls import identity_limits, services, telephony
from permanence.calls.lifecycle import Kind, State
from permanence.calls.models import NUISANCES, Call
from permanence.contacts.models import Contact
from permanence.desk import recipients as desk_recipients
from permanence.messaging import outbox, sensitive
from permanence.messaging.models import CallbackTask, Message
from permanence.scenarios import environment, live
from permanence.scenarios import services as scenario_services
from permanence.scenarios.engine import identity as idcheck
from permanence.scenarios.engine.runtime import (
    AnswerError,
    AppointmentRequested,
    IdentityChecked,
    ReportReady,
    Request,
    TransferRequested,
)
from permanence.scenarios.engine.runtime import Run as Engine
from permanence.scenarios.models import Run
from permanence.textlists import parse_list

#: the states of a call the secretary is on (wrap-up included)
LIVE = (State.TALKING, State.ON_HOLD, State.TRANSFERRING, State.WRAP_UP)


@dataclass(frozen=True)
class Notice:
    """A sentence for the secretary; ``level``: "info", "success", "warning" or "error"."""

    level: str
    text: str


@dataclass
class Outcome:
    """What an action did: ``errors`` by field (the step's form comes back with them), ``notices`` to
    show, the engine's ``requests`` it applied; ``stale``: nothing was applied because the run changed
    meanwhile (another post at an identity check)."""

    errors: dict[str, str] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    requests: tuple[Request, ...] = ()
    stale: bool = False

    def tell(self, level: str, text: str) -> None:
        self.notices.append(Notice(level, text))


@dataclass
class ScenarioRun:
    """A call's scenario run: the engine, its stored row and the environment it runs in. All None when
    the account has no scenario in service."""

    engine: Engine | None
    stored: Run | None
    env: Any

    def __iter__(self) -> Iterator[Any]:  # engine, stored, env = run
        return iter((self.engine, self.stored, self.env))


def load_run(call: Call, user: Any) -> ScenarioRun:
    """The call's scenario run: created on first view on the version in service at the account's main
    entry point (the shared blocks expanded as in the editor; the parsed scenario is cached by the text's
    and the blocks' hashes, ``scenarios.live``), then pinned to it. A stored run is resumed, never started
    again: answers that no longer apply (its text changed under it) are kept aside and shown
    (``engine.unapplied``)."""
    stored = Run.objects.filter(pk=call.run_id).select_related("version").first() if call.run_id else None
    if stored is None:
        current = live.in_service(call.account)
        if current is None:
            return ScenarioRun(None, None, None)
        env = _environment(call, user)
        engine = current.start(env)
        stored = Run.objects.create(
            version=current.version, agent=user, test=call.training, state=engine.to_json()
        )
        call.run = stored
        call.save(update_fields=["run"])
        return ScenarioRun(engine, stored, env)
    env = _environment(call, user)
    return ScenarioRun(live.resume(stored, env).run, stored, env)


def _environment(call: Call, user: Any) -> Any:
    return environment.environment(
        call.account, call.arrived_at, caller=call.caller or None, called=call.called, agent=user.first_name,
        motive=call.motive,
    )


# ------------------------------------------------------------------------------------------ a step

def answer_step(
    call: Call,
    user: Any,
    run: ScenarioRun,
    given: dict[str, Any],
    *,
    back: bool = False,
    slot_pick: str = "",
    ip: str | None = None,
) -> Outcome:
    """Apply what the secretary gave at the current step (``back``: undo the last answer instead) and
    store the run. ``slot_pick``: the slot she picked at an appointment step (``start|collaborator|type``);
    ``ip``: her address, for the audit trail.

    At an identity check the input is applied under the run's row lock: two posts at once never both
    count as the same attempt (nor pass the limit); one whose run changed meanwhile is not applied
    (``stale``)."""
    engine, stored = run.engine, run.stored
    if engine is None or stored is None:
        return Outcome()
    if engine.checks_identity:
        with transaction.atomic():
            locked = Run.objects.select_for_update().only("updated").get(pk=stored.pk)
            if locked.updated != stored.updated:
                return Outcome(stale=True)
            return _answer(call, user, engine, stored, given, back, slot_pick, ip)
    return _answer(call, user, engine, stored, given, back, slot_pick, ip)


def _answer(call: Call, user: Any, engine: Engine, stored: Run, given: dict[str, Any], back: bool,
            slot_pick: str, ip: str | None) -> Outcome:  # fmt: skip
    out = Outcome()
    if back:
        try:
            engine.back()
        except AnswerError as exc:  # nothing to undo: stay; an identity check's attempt: said
            if "identity_no_undo" in (code for code, _params in exc.errors.values()):
                out.tell("warning", " ".join(exc.messages(_).values()))
    elif call.state in LIVE:
        contact = checked_contact(call, engine)
        try:
            if why := identity_limits.refusal(contact):  # too many failed checks: not compared
                given = {"result": idcheck.NOT_VERIFIED}
                out.tell("warning", why)
            requests = engine.submit(given)
            if requests and isinstance(requests[0], AppointmentRequested):  # booked, then the run moves on
                requests = (requests[0], *book(call, user, engine, requests[0], slot_pick))
            out.requests = requests
            for request in requests:
                if isinstance(request, IdentityChecked) and request.result == idcheck.FAILED and contact:
                    identity_limits.record_failure(user, contact, call, ip=ip)
            out.requests += _skip_identity_check(call, engine, out)
            for request in requests:
                if isinstance(request, TransferRequested):
                    transfer_done(call, user, request)
        except AnswerError as exc:
            out.errors = exc.messages(_)
        except services.CallError as exc:
            out.tell("error", str(exc))
        except agenda_services.SlotTaken:
            out.tell("error", _("This slot has just been taken: pick another one."))
        except agenda_services.BookingError as exc:
            out.tell("error", str(exc))
    store(stored, engine)
    return out


def store(stored: Run, engine: Engine) -> None:
    """Save the run's state; its outcome is the ready report's (none while the call has not reached one,
    or since an answer was undone)."""
    report = engine.ready_report()
    stored.state = engine.to_json()
    stored.outcome = report.outcome if report else ""
    stored.save(update_fields=["state", "outcome", "updated"])


def book(call: Call, user: Any, engine: Engine, request: AppointmentRequested,
         slot_pick: str) -> tuple[Request, ...]:  # fmt: skip
    """The appointment the engine asks for: the slot picked is booked with the call (a training call
    books nothing), then the run is told (``confirm``) and moves on. No slot picked: the secretary agreed
    on one by hand, confirmed with what she typed. Raises agenda's SlotTaken or BookingError (the run
    has not moved) or AnswerError."""
    if not slot_pick:
        return engine.confirm(request)
    screen = {"appointment_type": request.appointment_type}
    slot = agenda_desk.book(call, screen, slot_pick, dict(request.answers), user)
    return engine.confirm(request, slot)


def checked_contact(call: Call, engine: Engine) -> Contact | None:
    """The contact whose identity the current step checks (the caller's), None at any other step."""
    if not engine.checks_identity:
        return None
    if engine.env.identity is None or engine.env.identity.simulated:
        return None
    return environment.caller_contact(call.account, call.caller)


def identity_refusal(call: Call, engine: Engine | None) -> str:
    """Why the caller's identity is not checked at the current step (too many failed checks), or ""."""
    return identity_limits.refusal(checked_contact(call, engine)) if engine is not None else ""


def _skip_identity_check(call: Call, engine: Engine, out: Outcome) -> tuple[Request, ...]:
    """At an identity check of a caller with too many failed checks lately: not verified, at once, without
    comparing anything, and the secretary is told why."""
    contact = checked_contact(call, engine)
    why = identity_limits.refusal(contact)
    if contact is not None and why:
        requests = engine.submit({"result": idcheck.NOT_VERIFIED})
        out.tell("warning", why)
        return requests
    return ()


def transfer_done(call: Call, user: Any, request: TransferRequested) -> None:
    """Record the transfer's result told by the secretary (announced) or by the telephony."""
    call.refresh_from_db()
    if call.state in (State.TALKING, State.ON_HOLD):  # she reports it without having used the button
        services.request_transfer(call, user, request.person_ref, request.mode)
        call.refresh_from_db()
    if call.state == State.TRANSFERRING:
        services.transfer_result(call, request.result, user)


# ------------------------------------------------------------------------------------------ the line

def transfer(call: Call, user: Any, run: ScenarioRun) -> Outcome:
    """Start the transfer the current step asks for: announced (talk first) or blind."""
    out = Outcome()
    request = run.engine.transfer_request() if run.engine else None
    if request is None or not request.person_ref:
        out.tell("error", _("There is no transfer to make at this step."))
        return out
    try:
        services.request_transfer(call, user, request.person_ref, request.mode, number=request.number)
    except services.CallError as exc:
        out.tell("error", str(exc))
        return out
    out.requests = (request,)
    adapter = telephony.current()
    if adapter is not None and not call.training:
        adapter.transfer(call, request.number, request.mode)
    return out


def hold(call: Call, user: Any) -> Outcome:
    """Put the caller on hold, or take them back."""
    out = Outcome()
    try:
        services.hold(call, user)
    except services.CallError as exc:
        out.tell("error", str(exc))
    return out


def accept(pk: int, user: Any) -> Call | None:
    """The call offered to her, answered; None when it is not offered to her any more."""
    try:
        return services.accept(pk, user)
    except (services.CallError, Call.DoesNotExist):
        return None


def start_training(user: Any, account: Account, caller: str | None) -> Call | None:
    """A training call on an account within reach: the real scenario, no KPI, no message sent. None when
    the account has no number."""
    number = account.numbers.filter(released_at__isnull=True).values_list("number", flat=True).first()
    if number is None:
        return None
    with transaction.atomic():
        call = services.call_arrived(number, caller or None, account=account, training=True)
        call = Call.objects.select_for_update().get(pk=call.pk)
        services.record(call, Kind.OFFERED, secretary=user)
        services.record(call, Kind.ANSWERED, secretary=user)
    return call


def callback_done(user: Any, pk: int) -> bool:
    """An urgent message nobody acknowledged: the secretary has called the client back. False when there
    is no such task within her reach."""
    reach = policy.visible_accounts(user)
    updated = CallbackTask.objects.filter(pk=pk, done_at__isnull=True, account__in=reach).update(
        done_at=timezone.now(), done_by=user
    )
    return bool(updated) or CallbackTask.objects.filter(pk=pk, account__in=reach).exists()


def remark(user: Any, stored: Run, step: str, text: str) -> Outcome:
    """A remark on the step of the call's scenario version, for the technical assistants."""
    out = Outcome()
    try:
        scenario_services.remark(stored.version, user, step, text)
        out.tell("success", _("Thank you: your remark goes to the technical assistants."))
    except scenario_services.ScenarioError as exc:
        out.tell("error", str(exc))
    return out


# ------------------------------------------------------------------------------------------ the end

@dataclass(frozen=True)
class Report:
    """What the secretary sends when she finishes: the message (``send``) and its recipients as typed,
    or not; the kind of call not to bill (``nuisance``) and why; ``force``: finish before the scenario's
    outcome."""

    subject: str = ""
    body: str = ""
    recipients: str = ""
    send: bool = False
    urgent: bool = False
    nuisance: str = ""
    nuisance_reason: str = ""
    force: bool = False

    def typed(self) -> dict[str, str]:
        """What she typed, for the page that comes back when it is refused."""
        return {"subject": self.subject, "body": self.body, "recipients": self.recipients,
                "nuisance": self.nuisance, "nuisance_reason": self.nuisance_reason}


@dataclass
class Finished(Outcome):
    """``finish``'s result. ``refused``: a problem with what she typed (the page comes back with it);
    ``not_ready``: the scenario has not reached an outcome; ``already``: the call was finished before;
    ``run``: the call's scenario run, for the page."""

    refused: bool = False
    not_ready: bool = False
    already: bool = False
    message: Message | None = None
    run: ScenarioRun | None = None


def finish(call: Call, user: Any, report: Report) -> Finished:
    """Send the message (queued for dispatch; training: kept, not sent), end the call, wrap up.

    Refused, with a sentence, when the nuisance is half given, the message has no subject or text,
    gives a sensitive answer, or goes to someone not allowed (``recipients.checked``)."""
    if call.state not in LIVE:  # sent twice (a retry, a double click): finished by the first
        out = Finished(already=True)
        out.tell("info", _("This call is already finished."))
        return out
    run = load_run(call, user)
    engine = run.engine
    out = Finished(run=run)
    if engine is not None and engine.step is not None and not report.force:
        out.not_ready = True
        out.tell("error", _("The scenario has not reached an outcome yet."))
        return out
    ready = engine.ready_report() if engine else None
    secret = engine.sensitive_answers() if engine else []
    problem = ""
    nuisance, reason = report.nuisance, report.nuisance_reason
    if nuisance and nuisance not in dict(NUISANCES):
        problem = _("Choose the kind of call not to bill from the list.")
    elif nuisance and not reason:
        problem = _("Say why this call is not to be billed.")
    elif reason and not nuisance:
        problem = _("Choose the kind of call not to bill from the list.")
    to: list[str] = []
    if not problem and report.send:
        problem = "" if report.subject and report.body else _("The message needs a subject and a text.")
        leaked = sensitive.leaked(secret, report.subject, report.body) if not problem else None
        if leaked:
            problem = _(
                "The text gives the sensitive answer “%(label)s”, which is never sent: the recipients read "
                "it after signing in, through a link in the message. Take it out of the text."
            ) % {"label": leaked}
        if not problem:
            try:
                draft_to = engine.report().get("to", []) if engine else []
                named = desk_recipients.named(call.account, ready, draft_to)[0]
                to = desk_recipients.checked(call.account, report.recipients, parse_list(named))
            except services.CallError as exc:
                problem = str(exc)
    if problem:  # nothing is lost: the page comes back with what she typed
        out.refused = True
        out.tell("error", problem)
        return out
    try:
        out.message = _end(call, user, engine, ready, report, to, secret)
    except services.CallError:  # finished meanwhile by the same form sent twice at once: nothing twice
        out.already = True
        out.tell("info", _("This call is already finished."))
        return out
    message = out.message
    if message is None:
        out.tell("success", _("Call finished."))
    elif call.training:
        out.tell("success", _("Training call finished: the message was kept, not sent."))
    elif message.status == message.Status.FAILED:
        out.tell("error", _("Call finished, but no channel can carry this message: it is on the desk's "
                            "call-back list."))
    else:
        who = ", ".join(to)
        out.tell("success", _("Call finished. The message is on its way to %(who)s.") % {"who": who})
    return out


def _end(call: Call, user: Any, engine: Engine | None, ready: ReportReady | None, report: Report,
         to: list[str], secret: Any) -> Message | None:  # fmt: skip
    """The message queued, the call ended and wrapped up: all in one transaction, or nothing."""
    message = None
    with transaction.atomic():
        if report.send:
            answers = engine.answers if engine else {}
            message = outbox.queue_message(  # in this transaction: the message and its deliveries, or nothing
                call.account,
                call=call,
                recipients=to[:20],
                subject=report.subject,
                body=report.body,
                urgent=report.urgent,
                author=user,
                training=call.training,
                fields=sensitive.with_sensitive(
                    {k: v for k, v in answers.items() if isinstance(v, (str, int, float, bool))}, secret
                ),
                reply_to=str(answers.get("email") or ""),
            )
        if call.state in (State.TALKING, State.ON_HOLD, State.TRANSFERRING):
            services.end_call(call, user)
            adapter = telephony.current()
            if adapter is not None:
                adapter.hang_up(call)
        services.wrap_up(call, user, ready.outcome if ready else "", nuisance=report.nuisance,
                         reason=report.nuisance_reason)
    return message
