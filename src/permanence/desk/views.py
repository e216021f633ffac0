"""The secretary's desk pages: status, offers, the call screen (screen pop, scenario run, draft), training
calls. Thin: each parses the request, calls a domain action (``desk.actions``) and renders or redirects."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from permanence import policy
from permanence.accounts import instructions
from permanence.accounts.models import Account
from permanence.agenda import desk as agenda_desk
from permanence.audit import trail
from permanence.calls import services
from permanence.calls import voicemail as voicemails
from permanence.calls.lifecycle import State
from permanence.calls.models import NUISANCES, Call, Desk, DeskStatus
from permanence.desk import actions, caller
from permanence.desk import recipients as desk_recipients
from permanence.desk.actions import LIVE, ScenarioRun
from permanence.directory import oncall, search
from permanence.messaging import quality
from permanence.messaging.models import CallbackTask
from permanence.policy import Perm
from permanence.portal.access import member_required
from permanence.reporting.models import CallReview
from permanence.scenarios import changes as scenario_changes
from permanence.scenarios import runform
from permanence.scenarios.models import MAIN_ENTRY, Status


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


def _tell(request: HttpRequest, outcome: actions.Outcome) -> None:
    """The action's notices, as the page's messages."""
    for notice in outcome.notices:
        messages.add_message(request, getattr(messages, notice.level.upper()), notice.text)


def _run(call: Call, user: Any) -> ScenarioRun:
    """The call's scenario run (``actions.load_run``)."""
    return actions.load_run(call, user)


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
            "poll": poll_milliseconds(),
        },
    )


POLL_MS = 2000  # the desk page asks /desk/poll this often without a socket, or when it may miss offers
POLL_SOCKET_MS = 30000  # with a socket on a shared channel layer: a safety net only


def poll_milliseconds() -> dict[str, int]:
    """How often the desk page asks ``/desk/poll``. Without a socket, every 2 s. With one, every 2 s too
    when the channel layer is the web process's own memory (an offer made by the worker's dispatch loop
    cannot reach the socket), every 30 s on a shared layer (Redis), where the socket brings every offer:
    200 desks polling every 2 s were 100 requests a second that offers waited behind
    (bench/bench_offer.py). The page also asks at once each time its socket connects again."""
    shared = "InMemory" not in settings.CHANNEL_LAYERS["default"]["BACKEND"]
    return {"without_socket": POLL_MS, "with_socket": POLL_SOCKET_MS if shared else POLL_MS}


def answered_today(user: Any) -> Any:
    """Calls she answered today, training calls left out: a range on the answer time from the start of the
    local day (the site's time zone) to the next one (23 or 25 hours apart on a DST change), which the
    index ``call_secretary_answered`` serves; never the date of a timestamp, which no index serves."""
    today = timezone.localdate()
    start = timezone.make_aware(datetime.combine(today, time.min))
    end = timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min))
    return Call.objects.filter(secretary=user, training=False, answered_at__gte=start, answered_at__lt=end)


def _answered_today(user: Any) -> int:
    return int(answered_today(user).count())


@member_required
@require_GET
def desk_poll(request: HttpRequest) -> JsonResponse:
    """The same news as the WebSocket, for a page whose socket is down (proxy, network). It only reads:
    offers are made by the dispatch (on events, and by the worker's loop), never by a GET."""
    user = _desk_user(request)
    offer = Call.objects.filter(offered_to=user, state=State.OFFERED).select_related("account").first()
    current = Call.objects.filter(secretary=user, state__in=LIVE).values_list("pk", flat=True).first()
    status = Desk.objects.filter(secretary=user).values_list("status", flat=True).first()
    return JsonResponse(
        {
            "offer": services.offer_payload(offer) if offer else None,
            "call": current,
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
    if not actions.callback_done(_desk_user(request), pk):
        raise Http404
    return redirect("desk")


@member_required
@require_POST
def desk_accept(request: HttpRequest, pk: int) -> HttpResponse:
    call = actions.accept(pk, _desk_user(request))
    if call is None:
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
    call = actions.start_training(user, account, request.POST.get("caller") or None)
    if call is None:
        messages.error(request, _("This account has no number."))
        return redirect("desk")
    return redirect("desk_call", call.pk)


@member_required
@require_http_methods(["GET", "POST"])
@sensitive_post_parameters(*runform.IDENTITY_POST_NAMES)  # the identity answers: never in an error report
def desk_call(request: HttpRequest, pk: int) -> HttpResponse:
    call = _my_call(request, pk)
    run = ScenarioRun(*_run(call, request.user))
    errors: dict[str, str] = {}
    query = request.POST.get("q", "").strip()[:100] if request.POST.get("search") else ""
    if run.engine is not None and run.stored is not None and request.method == "POST" and not query:
        back = bool(request.POST.get("back"))
        given = {} if back else runform.answer_from_post(request.POST, run.engine.screen())
        outcome = actions.answer_step(
            call, request.user, run, given, back=back, slot_pick=request.POST.get("slot_pick", ""),
            ip=trail.client_ip(request),
        )
        _tell(request, outcome)
        errors = outcome.errors
        if not errors:
            return redirect("desk_call", call.pk)
    return _call_page(request, call, run, errors=errors, query=query, posted=request.POST if errors else None)


def _call_page(
    request: HttpRequest,
    call: Call,
    run: ScenarioRun,
    *,
    errors: dict[str, str] | None = None,
    query: str = "",
    typed: dict[str, Any] | None = None,
    posted: Any = None,
    status: int = 200,
) -> HttpResponse:
    """The call's page; ``typed``: the draft as the secretary sent it (kept when it is refused)."""
    engine, stored, env = run.engine, run.stored, run.env
    errors = errors or {}
    call.refresh_from_db()
    screen = engine.screen() if engine else {}
    for field in screen.get("fields", []):  # each error under its field
        field["error"] = errors.get(field["name"], "")
        if posted is not None and field["name"] in posted:  # a refused answer keeps what was typed
            _keep_typed(field, posted.get(field["name"], ""))
    runform.identity_screen(screen, errors)  # an identity check's answers are never shown again
    if screen.get("identity") and engine is not None:  # too many failed checks lately: not compared
        screen["identity"]["refused"] = actions.identity_refusal(call, engine)
    matches = runform.lookup_matches(call.account, screen, query)
    draft = engine.report() if engine else {"to": [], "subject": "", "body": ""}
    ready = engine.ready_report() if engine else None
    recipients, by_default = desk_recipients.named(call.account, ready, draft.get("to", []))
    card, history = caller.card(call), caller.history(call)
    caller.audit_reads(request.user, call, card, history, ip=trail.client_ip(request))
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
            "caller": card,
            "history": history,
            "instructions": instructions.at_desk(call.account, request.user, call_id=call.pk),
            "on_call": oncall.now_on_call(call.account),
            "changes": [] if call.training
            else scenario_changes.for_desk(call.account, request.user, call.pk),
            "version": stored.version if stored else None,
            "recipients": recipients,
            "recipients_by_default": by_default,
            "who": desk_recipients.who_gets_it(call.account, recipients),
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


@member_required
@require_POST
def desk_transfer(request: HttpRequest, pk: int) -> HttpResponse:
    """Start the transfer of the current step: announced (talk first) or blind."""
    call = _my_call(request, pk)
    _tell(request, actions.transfer(call, request.user, actions.load_run(call, request.user)))
    return redirect("desk_call", call.pk)


@member_required
@require_POST
def desk_hold(request: HttpRequest, pk: int) -> HttpResponse:
    call = _my_call(request, pk)
    _tell(request, actions.hold(call, request.user))
    return redirect("desk_call", call.pk)


def _clean(request: HttpRequest, name: str, limit: int | None = None, strip: bool = True) -> str:
    text = request.POST.get(name, "").replace("\x00", "")
    text = text.strip() if strip else text
    return text[:limit] if limit is not None else text


@member_required
@require_POST
def desk_finish(request: HttpRequest, pk: int) -> HttpResponse:
    """Send the message (queued for dispatch; training: kept, not sent), end the call, wrap up."""
    call = _my_call(request, pk)
    report = actions.Report(
        subject=_clean(request, "subject", 300),
        body=_clean(request, "body"),
        recipients=_clean(request, "recipients", 2000, strip=False),
        send=request.POST.get("send") == "1",
        urgent=request.POST.get("urgent") == "1",
        nuisance=request.POST.get("nuisance", ""),
        nuisance_reason=_clean(request, "nuisance_reason", 300),
        force=bool(request.POST.get("force")),
    )
    done = actions.finish(call, request.user, report)
    _tell(request, done)
    if done.refused and done.run is not None:  # nothing is lost: the page comes back with what she typed
        return _call_page(request, call, done.run, typed=report.typed(), status=400)
    if done.not_ready:
        return redirect("desk_call", call.pk)
    return redirect("desk")


@member_required
@require_POST
def desk_remark(request: HttpRequest, pk: int) -> HttpResponse:
    call = _my_call(request, pk)
    stored = actions.load_run(call, request.user).stored
    if stored is None:
        raise Http404
    _tell(request, actions.remark(request.user, stored, request.POST.get("step", ""),
                                  request.POST.get("text", "")))
    return redirect("desk_call", call.pk)
