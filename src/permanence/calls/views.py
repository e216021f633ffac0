"""The secretary's desk: status, offers, the call screen (screen pop, scenario run, draft), training calls."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from permanence import policy
from permanence.accounts import instructions
from permanence.accounts.models import Account, parse_recipients
from permanence.agenda import desk as agenda_desk
from permanence.agenda import services as agenda_services
from permanence.audit import trail
from permanence.audit.models import Action, AuditEvent
from permanence.calls import identity_limits, services, telephony
from permanence.calls import voicemail as voicemails
from permanence.calls.lifecycle import Kind, State
from permanence.calls.models import NUISANCES, Call, Desk, DeskStatus
from permanence.contacts.models import Contact, ContactNumber
from permanence.directory import oncall, search
from permanence.messaging import outbox, quality, sensitive
from permanence.messaging.models import CallbackTask
from permanence.policy import Perm
from permanence.portal.access import member_required
from permanence.reporting.models import CallReview
from permanence.scenarios import changes as scenario_changes
from permanence.scenarios import environment, live, runform
from permanence.scenarios import services as scenario_services
from permanence.scenarios.engine import identity as idcheck
from permanence.scenarios.engine.runtime import AnswerError
from permanence.scenarios.engine.runtime import Run as Engine
from permanence.scenarios.models import MAIN_ENTRY, Run, Status
from permanence.textlists import parse_list

LIVE = (State.TALKING, State.ON_HOLD, State.TRANSFERRING, State.WRAP_UP)


def _desk_user(request: HttpRequest) -> Any:
    if not policy.has_perm(request.user, Perm.USE_DESK):
        raise Http404
    return request.user


def _my_call(request: HttpRequest, pk: int) -> Call:
    """A call the secretary answered. One of an account she is not trained on (an overflow call) only
    while it lasts: its caller's card, history and directory are not hers to come back to."""
    user = _desk_user(request)
    try:
        call = Call.objects.select_related("account").get(pk=pk, secretary=user)
    except Call.DoesNotExist:
        raise Http404 from None
    if call.state not in LIVE and not policy.in_scope(user, call.account):
        raise Http404
    return call


@member_required
@require_GET
def desk(request: HttpRequest) -> HttpResponse:
    user = _desk_user(request)
    current = Call.objects.filter(secretary=user, state__in=LIVE).first()
    if current is not None:
        return redirect("desk_call", current.pk)
    desk_row, _created = Desk.objects.get_or_create(secretary=user)
    offer = Call.objects.filter(offered_to=user, state=State.OFFERED).select_related("account").first()
    trained = (
        policy.visible_accounts(user)
        .filter(scenarios__versions__status=Status.PUBLISHED, scenarios__versions__entry=MAIN_ENTRY)
        .distinct()
    )
    callbacks = (
        CallbackTask.objects.filter(done_at__isnull=True, account__in=policy.visible_accounts(user))
        .filter(Q(due_at__isnull=True) | Q(due_at__lte=timezone.now()))
        .select_related("account", "message", "message__call", "call")[:20]
    )
    return render(
        request,
        "desk/desk.html",
        {
            "desk": desk_row,
            "offer": offer,
            "statuses": DeskStatus,
            "training_accounts": trained,
            "callbacks": callbacks,
            "voicemails": voicemails.pending(user)[:30],
            "flags": quality.flagged_for(user, timezone.now() - timedelta(days=30)),
            "reviews": CallReview.objects.filter(secretary=user, at__gte=timezone.now() - timedelta(days=30))
            .select_related("call__account")[:20],
            "now": timezone.now(),
            "today": _answered_today(user),
        },
    )


def _answered_today(user: Any) -> int:
    """Calls she answered today (local day), training calls left out."""
    start = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    return Call.objects.filter(
        secretary=user, training=False, answered_at__gte=start, answered_at__lt=start + timedelta(days=1)
    ).count()


@member_required
@require_GET
def desk_poll(request: HttpRequest) -> JsonResponse:
    """The same news as the WebSocket, for a page whose socket is down (proxy, network). It only reads:
    offers are made by the dispatch (on events, and by the worker's loop), never by a GET."""
    user = _desk_user(request)
    offer = Call.objects.filter(offered_to=user, state=State.OFFERED).select_related("account").first()
    live = Call.objects.filter(secretary=user, state__in=LIVE).values_list("pk", flat=True).first()
    status = Desk.objects.filter(secretary=user).values_list("status", flat=True).first()
    return JsonResponse(
        {
            "offer": services.offer_payload(offer) if offer else None,
            "call": live,
            "status": status or DeskStatus.OFFLINE,
        }
    )


@member_required
@require_POST
def desk_status(request: HttpRequest) -> HttpResponse:
    user = _desk_user(request)
    try:
        services.set_status(user, request.POST.get("status", ""), request.POST.get("reason", ""))
    except services.CallError as exc:
        messages.error(request, str(exc))
    return redirect("desk")


@member_required
@require_POST
def desk_callback_done(request: HttpRequest, pk: int) -> HttpResponse:
    """An urgent message nobody acknowledged: the secretary has called the client back."""
    user = _desk_user(request)
    updated = CallbackTask.objects.filter(
        pk=pk, done_at__isnull=True, account__in=policy.visible_accounts(user)
    ).update(done_at=timezone.now(), done_by=user)
    if (
        not updated
        and not CallbackTask.objects.filter(pk=pk, account__in=policy.visible_accounts(user)).exists()
    ):
        raise Http404
    return redirect("desk")


@member_required
@require_POST
def desk_accept(request: HttpRequest, pk: int) -> HttpResponse:
    user = _desk_user(request)
    try:
        call = services.accept(pk, user)
    except (services.CallError, Call.DoesNotExist):
        messages.error(request, _("This call is no longer offered to you."))
        return redirect("desk")
    return redirect("desk_call", call.pk)


@member_required
@require_POST
def desk_training(request: HttpRequest) -> HttpResponse:
    """A training call on an account within reach: the real scenario, no KPI, no message sent."""
    user = _desk_user(request)
    try:
        account = policy.visible_accounts(user).get(slug=request.POST.get("account", ""))
    except Account.DoesNotExist:
        raise Http404 from None
    number = account.numbers.filter(released_at__isnull=True).values_list("number", flat=True).first()
    if number is None:
        messages.error(request, _("This account has no number."))
        return redirect("desk")
    with transaction.atomic():
        call = services.call_arrived(
            number, request.POST.get("caller") or None, account=account, training=True
        )
        call = Call.objects.select_for_update().get(pk=call.pk)
        services.record(call, Kind.OFFERED, secretary=user)
        services.record(call, Kind.ANSWERED, secretary=user)
    return redirect("desk_call", call.pk)


def _run(call: Call, user: Any) -> tuple[Engine | None, Run | None, Any]:
    """The call's scenario run: created on first view on the version in service at the account's main
    entry point (the shared blocks expanded as in the editor), then pinned to it. A stored run is
    resumed, never started again: answers that no longer apply (its text changed under it) are kept
    aside and shown (``engine.unapplied``)."""
    account = call.account
    stored = Run.objects.filter(pk=call.run_id).select_related("version").first() if call.run_id else None
    if stored is None:
        current = live.in_service(account)
        if current is None:
            return None, None, None
        env = _environment(call, user)
        engine = current.start(env)
        stored = Run.objects.create(
            version=current.version, agent=user, test=call.training, state=engine.to_json()
        )
        call.run = stored
        call.save(update_fields=["run"])
        return engine, stored, env
    env = _environment(call, user)
    return live.resume(stored, env).run, stored, env


def _environment(call: Call, user: Any) -> Any:
    return environment.environment(
        call.account, call.arrived_at, caller=call.caller or None, called=call.called, agent=user.first_name,
        motive=call.motive,
    )


@member_required
@require_http_methods(["GET", "POST"])
@sensitive_post_parameters(*runform.IDENTITY_POST_NAMES)  # the identity answers: never in an error report
def desk_call(request: HttpRequest, pk: int) -> HttpResponse:
    call = _my_call(request, pk)
    user = request.user
    engine, stored, env = _run(call, user)
    errors: dict[str, str] = {}
    query = request.POST.get("q", "").strip()[:100] if request.POST.get("search") else ""
    if engine is not None and stored is not None and request.method == "POST" and not query:
        screen = engine.screen()
        if screen.get("kind") == "verify":
            # an identity check's attempt under the run's row lock: two posts at once never both count
            # as the same attempt (nor pass the limit); one whose run changed meanwhile is not applied
            with transaction.atomic():
                locked = Run.objects.select_for_update().only("updated").get(pk=stored.pk)
                if locked.updated != stored.updated:
                    return redirect("desk_call", call.pk)
                errors = _apply_input(request, call, engine, stored, screen)
        else:
            errors = _apply_input(request, call, engine, stored, screen)
        if not errors:
            return redirect("desk_call", call.pk)
    return _call_page(request, call, engine, stored, env, errors=errors, query=query,
                      posted=request.POST if errors else None)


def _apply_input(
    request: HttpRequest, call: Call, engine: Engine, stored: Run, screen: dict[str, Any]
) -> dict[str, str]:
    """Apply what the secretary posted at the current step and store the run; the errors by field."""
    user = request.user
    errors: dict[str, str] = {}
    if request.POST.get("back"):
        try:
            engine.back()
        except AnswerError as exc:  # nothing to undo: stay; an identity check's attempt: said
            if "identity_no_undo" in (code for code, _params in exc.errors.values()):
                messages.warning(request, " ".join(exc.messages(_).values()))
    elif call.state in (State.TALKING, State.ON_HOLD, State.TRANSFERRING, State.WRAP_UP):
        given = runform.answer_from_post(request.POST, screen)
        contact = _checked_contact(call, engine)
        try:
            picked = request.POST.get("slot_pick", "")
            if screen.get("kind") == "appointment" and given.get("result") == "booked" and picked:
                hidden = engine.sensitive_names()  # read after signing in, never in a calendar
                public = {k: v for k, v in engine.answers.items() if k not in hidden}
                given["slot"] = agenda_desk.book(call, screen, picked, public, user)
            if why := identity_limits.refusal(contact):  # too many failed checks: not compared
                given = {"result": idcheck.NOT_VERIFIED}
                messages.warning(request, why)
            engine.answer(given)
            if contact is not None and engine.inputs[-1][1].get("result") == idcheck.FAILED:
                identity_limits.record_failure(user, contact, call, request)
            _skip_identity_check(request, call, engine)
            if screen.get("kind") == "transfer":
                _transfer_done(call, user, screen, given["result"])
        except AnswerError as exc:
            errors = exc.messages(_)
        except services.CallError as exc:
            messages.error(request, str(exc))
        except agenda_services.SlotTaken:
            messages.error(request, _("This slot has just been taken: pick another one."))
        except agenda_services.BookingError as exc:
            messages.error(request, str(exc))
    stored.state = engine.to_json()
    stored.outcome = (engine.outcome or {}).get("kind", "")
    stored.save(update_fields=["state", "outcome", "updated"])
    return errors


def _checked_contact(call: Call, engine: Engine) -> Contact | None:
    """The contact whose identity the current step checks (the caller's), None at any other step."""
    if engine.step is None or engine.scenario.steps[engine.step].kind != "verify":
        return None
    if engine.env.identity is None or engine.env.identity.simulated:
        return None
    return environment.caller_contact(call.account, call.caller)


def _skip_identity_check(request: HttpRequest, call: Call, engine: Engine) -> None:
    """At an identity check of a caller with too many failed checks lately: not verified, at once, without
    comparing anything, and the secretary is told why."""
    contact = _checked_contact(call, engine)
    why = identity_limits.refusal(contact)
    if contact is not None and why:
        engine.answer({"result": idcheck.NOT_VERIFIED})
        messages.warning(request, why)


def _call_page(
    request: HttpRequest,
    call: Call,
    engine: Engine | None,
    stored: Run | None,
    env: Any,
    *,
    errors: dict[str, str] | None = None,
    query: str = "",
    typed: dict[str, Any] | None = None,
    posted: Any = None,
    status: int = 200,
) -> HttpResponse:
    """The call's page; ``typed``: the draft as the secretary sent it (kept when it is refused)."""
    errors = errors or {}
    call.refresh_from_db()
    screen = engine.screen() if engine else {}
    for field in screen.get("fields", []):  # each error under its field
        field["error"] = errors.get(field["name"], "")
        if posted is not None and field["name"] in posted:  # a refused answer keeps what was typed
            _keep_typed(field, posted.get(field["name"], ""))
    runform.identity_screen(screen, errors)  # an identity check's answers are never shown again
    if screen.get("identity") and engine is not None:  # too many failed checks lately: not compared
        screen["identity"]["refused"] = identity_limits.refusal(_checked_contact(call, engine))
    matches = runform.lookup_matches(call.account, screen, query)
    draft = engine.report() if engine else {"to": [], "subject": "", "body": ""}
    recipients, by_default = _recipients(call.account, engine, draft)
    caller, history = _caller_card(call), _history(call)
    _audit_caller_reads(request, call, caller, history)
    if typed is not None:
        draft = {**draft, "subject": typed["subject"], "body": typed["body"]}
        recipients, by_default = typed["recipients"], False
    return render(
        request,
        "desk/call.html",
        {
            "call": call,
            "account": call.account,
            "supervisions": list(call.supervisions.select_related("supervisor")),
            "screen": screen,
            "errors": errors,
            "draft": draft,
            "agenda": agenda_desk.offer(
                call.account, screen, dict(engine.answers), request.GET.get("type", "")
            )
            if engine
            else None,
            "query": query,
            "matches": [_match_row(m, env) for m in matches],
            "people": runform.people(env) if env else [],
            "status": call.account.opening_status(),
            "caller": caller,
            "history": history,
            "instructions": instructions.at_desk(call.account, request.user, call_id=call.pk),
            "on_call": oncall.now_on_call(call.account),
            "changes": [] if call.training
            else scenario_changes.for_desk(call.account, request.user, call.pk),
            "version": stored.version if stored else None,
            "recipients": recipients,
            "recipients_by_default": by_default,
            "who": _who_gets_it(call.account, recipients),
            "nuisances": NUISANCES,
            "typed": typed or {},
            "can_remark": policy.has_perm(request.user, Perm.REMARK_SCENARIOS),
            "unapplied": engine.unapplied if engine else [],
            # shown to her during the call; the message carries a link to read them instead
            "sensitive_answers": engine.sensitive_answers() if engine else [],
        },
        status=status,
    )


def _keep_typed(field: dict[str, Any], raw: str) -> None:
    """Show in the field what the secretary typed (refused with another field, or itself)."""
    if field.get("type") == "yes_no":
        field["value"] = True if raw == "oui" else False if raw == "non" else None
    elif field.get("type") == "choice":
        field["value"] = raw
    else:
        field["text"] = raw[:2000]


def _match_row(match: search.Match, env: Any) -> dict[str, Any]:
    """A directory match with what the secretary needs to decide: availability and transfer rule."""
    person = env.people.get(match.ref) if env else None
    return {
        "ref": match.ref,
        "name": match.name,
        "why": match.why,
        "available": person.available if person else True,
        "absence": person.absence if person else None,
        "replacement": env.people[person.replacement].name
        if person and person.replacement and person.replacement in env.people else "",
        "transfer": person.transfer if person else "",
    }


def _transfer_done(call: Call, user: Any, screen: dict[str, Any], result: str) -> None:
    """Record the transfer's result told by the secretary (announced) or by the telephony."""
    call.refresh_from_db()
    if call.state in (State.TALKING, State.ON_HOLD):  # she reports it without having used the button
        services.request_transfer(
            call, user, (screen.get("person") or {}).get("ref", ""), screen.get("mode", "announced")
        )
        call.refresh_from_db()
    if call.state == State.TRANSFERRING:
        services.transfer_result(call, result, user)


def _caller_card(call: Call) -> list[Contact]:
    if not call.caller:
        return []
    ids = ContactNumber.objects.filter(account=call.account, number=call.caller).values("contact_id")
    return list(Contact.objects.filter(account=call.account, pk__in=ids))


def _audit_caller_reads(request: HttpRequest, call: Call, card: list[Contact], history: list[Call]) -> None:
    """The caller's card and past calls shown to a secretary: audited once per call and reader (the
    page is drawn again at each step), one row per contact card and one for the history."""
    if not card and not history:
        return
    seen = AuditEvent.objects.filter(
        actor_id=request.user.pk, action=Action.VIEW, object_type="calls.call", object_id=str(call.pk),
        detail__what="caller",
    )
    if seen.exists():
        return
    for contact in card:
        trail.record(request.user, Action.VIEW, contact, request=request, via="desk", call=call.pk,
                     what="caller card")
    trail.record(request.user, Action.VIEW, call, request=request, via="desk", what="caller",
                 history=[past.pk for past in history])


def _history(call: Call) -> list[Call]:
    """The caller's last calls to this account, with the messages they produced."""
    if not call.caller:
        return []
    return list(
        Call.objects.filter(account=call.account, caller=call.caller, training=False)
        .exclude(pk=call.pk)
        .prefetch_related("messages")
        .order_by("-arrived_at")[:5]
    )


def _recipients(account: Account, engine: Engine | None, draft: dict[str, Any]) -> tuple[str, bool]:
    """Who the message goes to: the people the scenario names (its outcome, or the report's ``to``),
    else the account's default recipients. Returns the list as typed in the field, and whether it is
    the account's default."""
    named: list[str] = []
    for recipient in (engine.outcome or {}).get("recipients", []) if engine else []:
        if recipient.get("default"):
            named += _defaults(account)
        elif recipient.get("email") or recipient.get("name"):
            named.append(recipient.get("email") or recipient.get("name", ""))
    named += [t for t in draft.get("to", []) if t]
    unique = list(dict.fromkeys(n for n in named if n))
    if unique:
        return ", ".join(unique), False
    return ", ".join(_defaults(account)), True


def _defaults(account: Account) -> list[str]:
    """The account's default recipients; none when what is stored is not valid any more (the
    back-office refuses that; the desk then asks the secretary for a recipient rather than failing)."""
    try:
        return account.recipient_list()
    except ValidationError:
        return []


def _who_gets_it(account: Account, recipients: str) -> list[dict[str, str]]:
    """Each address with the collaborator it belongs to (as the outbox reads it), for the secretary to
    check before sending."""
    out = []
    for address in parse_list(recipients):
        reached = outbox.channel_of(address)
        person = outbox.collaborator(account, *reached) if reached else None
        out.append({"address": address, "name": str(person) if person else ""})
    return out


def _checked_recipients(account: Account, typed: str, also: list[str] | None = None) -> list[str]:
    """The recipients typed, each an e-mail address or a phone number; none: the account's default.
    Each must be allowed (``outbox.not_allowed``: the directory, the account's default and other
    allowed recipients, those the scenario names: ``also``). Raises CallError with a sentence when one
    is neither address nor number, is not allowed, or when nobody at all would get it."""
    try:
        out = parse_recipients(typed)
    except ValidationError as exc:
        raise services.CallError(" ".join(exc.messages)) from None
    refused = outbox.not_allowed(account, out, also or [])
    if refused:
        raise services.CallError(
            _("“%(value)s” is neither a person of this account's directory nor one of its allowed "
              "recipients: choose someone from the directory, or ask the account's manager to allow "
              "this address.") % {"value": refused[0]}
        )
    if not out:
        out = _defaults(account)
    if not out:
        raise services.CallError(
            _("Nobody would get this message: type a recipient (the account has no default recipient).")
        )
    return out


@member_required
@require_POST
def desk_transfer(request: HttpRequest, pk: int) -> HttpResponse:
    """Start the transfer of the current step: announced (talk first) or blind."""
    call = _my_call(request, pk)
    engine, _stored, _env = _run(call, request.user)
    screen = engine.screen() if engine else {}
    if screen.get("kind") != "transfer" or not screen.get("person"):
        messages.error(request, _("There is no transfer to make at this step."))
        return redirect("desk_call", call.pk)
    try:
        services.request_transfer(
            call, request.user, screen["person"]["ref"], screen.get("mode", "announced"),
            number=screen.get("number", ""),
        )  # fmt: skip
    except services.CallError as exc:
        messages.error(request, str(exc))
        return redirect("desk_call", call.pk)
    adapter = telephony.current()
    if adapter is not None and not call.training:
        adapter.transfer(call, screen.get("number", ""), screen.get("mode", "announced"))
    return redirect("desk_call", call.pk)


@member_required
@require_POST
def desk_hold(request: HttpRequest, pk: int) -> HttpResponse:
    call = _my_call(request, pk)
    try:
        services.hold(call, request.user)
    except services.CallError as exc:
        messages.error(request, str(exc))
    return redirect("desk_call", call.pk)


@member_required
@require_POST
def desk_finish(request: HttpRequest, pk: int) -> HttpResponse:
    """Send the message (queued for dispatch; training: kept, not sent), end the call, wrap up."""
    call = _my_call(request, pk)
    user = request.user
    if call.state not in LIVE:  # sent twice (a retry, a double click): finished by the first
        messages.info(request, _("This call is already finished."))
        return redirect("desk")
    engine, stored, env = _run(call, user)
    outcome = (engine.outcome or {}) if engine else {}
    if engine is not None and engine.step is not None and not request.POST.get("force"):
        messages.error(request, _("The scenario has not reached an outcome yet."))
        return redirect("desk_call", call.pk)
    subject = request.POST.get("subject", "").replace("\x00", "").strip()[:300]
    body = request.POST.get("body", "").replace("\x00", "").strip()
    typed_to = request.POST.get("recipients", "").replace("\x00", "")[:2000]
    send = request.POST.get("send") == "1"
    nuisance = request.POST.get("nuisance", "")
    nuisance_reason = request.POST.get("nuisance_reason", "").replace("\x00", "").strip()[:300]
    recipients: list[str] = []
    secret = engine.sensitive_answers() if engine else []
    problem = ""
    if nuisance and nuisance not in dict(NUISANCES):
        problem = _("Choose the kind of call not to bill from the list.")
    elif nuisance and not nuisance_reason:
        problem = _("Say why this call is not to be billed.")
    elif nuisance_reason and not nuisance:
        problem = _("Choose the kind of call not to bill from the list.")
    if problem:
        messages.error(request, problem)
        typed = {"subject": subject, "body": body, "recipients": typed_to, "nuisance": nuisance,
                 "nuisance_reason": nuisance_reason}
        return _call_page(request, call, engine, stored, env, typed=typed, status=400)
    if send:
        problem = "" if subject and body else _("The message needs a subject and a text.")
        leaked = sensitive.leaked(secret, subject, body) if not problem else None
        if leaked:
            problem = _(
                "The text gives the sensitive answer “%(label)s”, which is never sent: the recipients read "
                "it after signing in, through a link in the message. Take it out of the text."
            ) % {"label": leaked}
        if not problem:
            try:
                named = _recipients(call.account, engine, engine.report() if engine else {})[0]
                recipients = _checked_recipients(call.account, typed_to, parse_list(named))
            except services.CallError as exc:
                problem = str(exc)
        if problem:  # nothing is lost: the page comes back with what she typed
            messages.error(request, problem)
            typed = {"subject": subject, "body": body, "recipients": typed_to, "nuisance": nuisance,
                     "nuisance_reason": nuisance_reason}
            return _call_page(request, call, engine, stored, env, typed=typed, status=400)
    message = None
    try:
        message = _finish(request, call, user, engine, outcome, send, recipients, subject, body, secret,
                          nuisance, nuisance_reason)  # fmt: skip
    except services.CallError:  # finished meanwhile by the same form sent twice at once: nothing twice
        messages.info(request, _("This call is already finished."))
        return redirect("desk")
    if message is None:
        messages.success(request, _("Call finished."))
    elif call.training:
        messages.success(request, _("Training call finished: the message was kept, not sent."))
    elif message.status == message.Status.FAILED:
        messages.error(
            request,
            _("Call finished, but no channel can carry this message: it is on the desk's call-back list."),
        )
    else:
        who = ", ".join(recipients)
        messages.success(request, _("Call finished. The message is on its way to %(who)s.") % {"who": who})
    return redirect("desk")



def _finish(request: HttpRequest, call: Call, user: Any, engine: Engine | None, outcome: dict[str, Any],
            send: bool, recipients: list[str], subject: str, body: str, secret: Any, nuisance: str,
            nuisance_reason: str) -> Any:  # fmt: skip
    """The message queued, the call ended and wrapped up: all in one transaction, or nothing."""
    message = None
    with transaction.atomic():
        if send:
            answers = engine.answers if engine else {}
            message = outbox.queue_message(  # in this transaction: the message and its deliveries, or nothing
                call.account,
                call=call,
                recipients=recipients[:20],
                subject=subject,
                body=body,
                urgent=request.POST.get("urgent") == "1",
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
        services.wrap_up(call, user, str(outcome.get("kind", "")), nuisance=nuisance, reason=nuisance_reason)
    return message

@member_required
@require_POST
def desk_remark(request: HttpRequest, pk: int) -> HttpResponse:
    call = _my_call(request, pk)
    _engine, stored, _env = _run(call, request.user)
    if stored is None:
        raise Http404
    try:
        scenario_services.remark(
            stored.version, request.user, request.POST.get("step", ""), request.POST.get("text", "")
        )
        messages.success(request, _("Thank you: your remark goes to the technical assistants."))
    except scenario_services.ScenarioError as exc:
        messages.error(request, str(exc))
    return redirect("desk_call", call.pk)
