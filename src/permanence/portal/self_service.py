"""The client runs its own account: instructions (*consignes*), standing and dated; absences
with their replacements; on-call rotas (*astreintes*); opening hours, closures and the after-hours
policy; the API keys of the client's own systems.

Views parse, authorise (``Perm.EDIT_ACCOUNT`` to write: the client admin and the
operator's staff) and call the named actions in ``accounts.actions``, which
validate and audit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from permanence import policy
from permanence.accounts import actions, periods
from permanence.accounts.models import Account, AfterHours, HoursException, Instruction, Weekday
from permanence.api import keys
from permanence.api.models import ApiKey, Scope
from permanence.audit.models import AuditEvent
from permanence.directory import actions as directory_actions
from permanence.directory import oncall
from permanence.directory import rota as rota_core
from permanence.directory.models import Absence, AbsenceKind, Collaborator, Rota, RotaSwap, Service
from permanence.policy import Perm
from permanence.portal.access import member_required
from permanence.portal.forms import field_errors

HISTORY = 50
COVER_LABELS = {
    rota_core.Cover.ALWAYS: gettext_lazy("always"),
    rota_core.Cover.NIGHTS: gettext_lazy("nights"),
    rota_core.Cover.WEEKENDS: gettext_lazy("weekends"),
    rota_core.Cover.HOLIDAYS: gettext_lazy("public holidays"),
}


def _local_input(value: datetime, account: Account) -> str:
    return value.astimezone(account.tz).strftime("%Y-%m-%dT%H:%M")


def _instants(post: Any, account: Account, optional: tuple[str, ...] = ()) -> tuple[
        dict[str, datetime], dict[str, str]]:
    """``starts_at`` and ``ends_at`` as typed (local times of the account) read as instants; errors by
    field. A field in ``optional`` may be left empty (absent from the result)."""
    errors: dict[str, str] = {}
    when: dict[str, datetime] = {}
    for name in ("starts_at", "ends_at"):
        raw = post.get(name, "")
        if not raw.strip():
            if name not in optional:
                errors[name] = _("Give a date and a time.")
            continue
        try:
            when[name] = periods.local_instant(raw, account.tz)
        except periods.PeriodError as error:
            errors[name] = actions.period_error(error)
    return when, errors


def _lists(account: Account, now: datetime) -> dict[str, Any]:
    rows = Instruction.objects.filter(account=account).select_related("created_by")
    live = rows.filter(withdrawn_at__isnull=True, ends_at__gt=now)
    return {
        "current": live.filter(starts_at__lte=now),
        "coming": live.filter(starts_at__gt=now),
        "history": rows.exclude(pk__in=live.values("pk")).order_by("-ends_at")[:HISTORY],
    }


def _row_action(request: HttpRequest, slug: str, find: Callable[[Account], Any], act: Callable[[Any], Any],
                done: Callable[[Any], str], back: str, perm: Perm = Perm.EDIT_ACCOUNT) -> HttpResponse:
    """A POST on one row of the account (withdraw, end, remove, revoke): found within the account (else
    404), the named action called, its refusal or its result said, back to the list."""
    account = policy.get_account_or_404(request.user, slug, perm)
    row = find(account)
    if row is None:
        raise Http404
    try:
        result = act(row)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done(result))
    return redirect(back, account.slug)


@member_required
@require_http_methods(["GET", "POST"])
def instructions(request: HttpRequest, slug: str) -> HttpResponse:
    """The standing instructions, the dated ones (now, coming, history), and a new one."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_ACCOUNT)
    can_edit = policy.has_perm(request.user, Perm.EDIT_ACCOUNT)
    now = timezone.now()
    errors: dict[str, str] = {}
    typed: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
        if request.POST.get("form") == "standing":
            try:
                actions.set_standing_instructions(account, request.POST.get("standing", ""),
                                                  actor=request.user, request=request)
            except ValidationError as error:
                errors = {"standing": field_errors(error).get("text", "")}
            else:
                messages.success(request, _("The standing instructions are saved."))
                return redirect("account_instructions", account.slug)
        else:
            when, errors = _instants(request.POST, account)
            typed = {k: request.POST.get(k, "") for k in ("text", "starts_at", "ends_at")}
            if not errors:
                try:
                    actions.add_instruction(account, typed["text"], when["starts_at"], when["ends_at"],
                                            actor=request.user, request=request, now=now)
                except ValidationError as error:
                    errors = field_errors(error)
                else:
                    messages.success(request, _("The instruction is saved."))
                    return redirect("account_instructions", account.slug)
        status = 422
    typed = typed or {"text": "", "starts_at": "", "ends_at": ""}
    return render(
        request,
        "portal/instructions.html",
        {
            "account": account,
            "can_edit": can_edit,
            "standing": request.POST.get("standing", account.instructions) if errors.get("standing")
            else account.instructions,
            "errors": errors,
            "typed": typed,
            **_lists(account, now),
        },
        status=status,
    )


def _instruction(account: Account, pk: int) -> Instruction:
    instruction = Instruction.objects.filter(account=account, pk=pk).first()
    if instruction is None:
        raise Http404
    return instruction


@member_required
@require_http_methods(["GET", "POST"])
def instruction_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """One dated instruction: change it while it is not over, and its history of changes."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_ACCOUNT)
    instruction = _instruction(account, pk)
    errors: dict[str, str] = {}
    typed = {
        "text": instruction.text,
        "starts_at": _local_input(instruction.starts_at, account),
        "ends_at": _local_input(instruction.ends_at, account),
    }
    status = 200
    if request.method == "POST":
        policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
        when, errors = _instants(request.POST, account)
        typed = {k: request.POST.get(k, "") for k in ("text", "starts_at", "ends_at")}
        if not errors:
            try:
                actions.change_instruction(instruction, text=typed["text"], starts_at=when["starts_at"],
                                           ends_at=when["ends_at"], actor=request.user, request=request)
            except ValidationError as error:
                errors = field_errors(error)
            else:
                messages.success(request, _("The instruction is saved."))
                return redirect("account_instructions", account.slug)
        status = 422
    changes = AuditEvent.objects.filter(
        account_id=account.pk, object_type="accounts.instruction", object_id=str(instruction.pk)
    ).order_by("at", "pk")
    return render(
        request,
        "portal/instruction.html",
        {
            "account": account,
            "instruction": instruction,
            "phase": instruction.phase(),
            "can_edit": policy.has_perm(request.user, Perm.EDIT_ACCOUNT),
            "errors": errors,
            "typed": typed,
            "changes": changes,
        },
        status=status,
    )


@member_required
@require_POST
def instruction_withdraw(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    return _row_action(
        request, slug, lambda account: Instruction.objects.filter(account=account, pk=pk).first(),
        lambda row: actions.withdraw_instruction(row, actor=request.user, request=request),
        lambda _row: _("The instruction is withdrawn: the desk no longer shows it."), "account_instructions")


# Absences and replacements ----------------------------------------------------------------


def _collaborator(account: Account, raw: str) -> Collaborator | None:
    if not raw:
        return None
    try:
        return Collaborator.objects.get(account=account, pk=int(raw), is_active=True)
    except (ValueError, Collaborator.DoesNotExist):
        return None


@member_required
@require_http_methods(["GET", "POST"])
def absences(request: HttpRequest, slug: str) -> HttpResponse:
    """Who is away (now and coming), replaced by whom; a new absence."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_ACCOUNT)
    now = timezone.now()
    errors: dict[str, str] = {}
    typed: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
        typed = {k: request.POST.get(k, "") for k in
                 ("collaborator", "kind", "starts_at", "ends_at", "replacement", "note")}
        person = _collaborator(account, typed["collaborator"])
        replacement = _collaborator(account, typed["replacement"])
        if person is None:
            errors["collaborator"] = _("Pick the person who is away.")
        if typed["replacement"] and replacement is None:
            errors["replacement"] = _("Pick the replacement from the directory.")
        when, wrong = _instants(request.POST, account, optional=("ends_at",))
        errors.update(wrong)
        if not errors and person is not None:
            try:
                directory_actions.add_absence(person, typed["kind"], when["starts_at"], when.get("ends_at"),
                                              replacement=replacement, note=typed["note"],
                                              actor=request.user, request=request, now=now)
            except ValidationError as error:
                errors = field_errors(error)
            else:
                messages.success(request, _("The absence is saved: the desk follows it from its start."))
                return redirect("account_absences", account.slug)
        status = 422
    rows = (Absence.objects.filter(collaborator__account=account)
            .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
            .select_related("collaborator", "replacement").order_by("starts_at", "pk"))
    return render(
        request,
        "portal/absences.html",
        {
            "account": account,
            "can_edit": policy.has_perm(request.user, Perm.EDIT_ACCOUNT),
            "current": [a for a in rows if a.starts_at <= now],
            "coming": [a for a in rows if a.starts_at > now],
            "people": Collaborator.objects.filter(account=account, is_active=True),
            "kinds": AbsenceKind.choices,
            "now": now,
            "errors": errors,
            "typed": typed,
        },
        status=status,
    )


@member_required
@require_POST
def absence_end(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    return _row_action(
        request, slug, lambda account: Absence.objects.filter(collaborator__account=account, pk=pk).first(),
        lambda row: directory_actions.end_absence(row, actor=request.user, request=request),
        lambda kept: _("The absence is cancelled.") if kept is None
        else _("The absence ends now: calls go to the person again."), "account_absences")


# On-call rotas (astreintes) ---------------------------------------------------------------

CALENDAR_DAYS = 28
MAX_MEMBERS = 8


def _time(raw: str, default: time) -> time:
    raw = (raw or "").strip()
    if not raw:
        return default
    try:
        return time.fromisoformat(raw)
    except ValueError:
        raise ValidationError(
            _("“%(value)s” is not a time of day, e.g. 08:00.") % {"value": raw[:20]}) from None


def _rota_post(account: Account, request: HttpRequest) -> Rota:
    """Create or replace a service's rota from the form (ValidationError by field)."""
    post = request.POST
    service = Service.objects.filter(account=account, pk=post.get("service") or 0).first() \
        if str(post.get("service", "")).isdigit() else None
    if service is None:
        raise ValidationError({"service": _("Pick the service whose rota this is.")})
    members = []
    for i in range(1, MAX_MEMBERS + 1):
        raw = post.get(f"member_{i}", "")
        if raw:
            person = _collaborator(account, raw)
            if person is None:
                raise ValidationError({"members": _("Pick the rota's people from the directory.")})
            members.append(person)
    try:
        first_day = date.fromisoformat(post.get("first_day", ""))
    except ValueError:
        raise ValidationError({"first_day": _("Give the day of the first handover.")}) from None
    try:
        handover = _time(post.get("handover", ""), time(8, 0))
        night_start = _time(post.get("night_start", ""), time(19, 0))
        night_end = _time(post.get("night_end", ""), time(8, 0))
    except ValidationError as error:
        raise ValidationError({"handover": error.messages[0]}) from None
    return directory_actions.save_rota(
        service, members=members, covers=post.getlist("covers"), first_day=first_day, handover=handover,
        night_start=night_start, night_end=night_end,
        forwards_after_hours=bool(post.get("forwards_after_hours")), actor=request.user, request=request,
    )


def _swap_post(account: Account, request: HttpRequest) -> None:
    post = request.POST
    rota = Rota.objects.filter(account=account, pk=post.get("rota") or 0).first() \
        if str(post.get("rota", "")).isdigit() else None
    if rota is None:
        raise ValidationError({"rota": _("Pick the rota.")})
    person = _collaborator(account, post.get("collaborator", ""))
    if person is None:
        raise ValidationError({"collaborator": _("Pick who is on call instead.")})
    when, errors = _instants(post, account)
    if errors:
        raise ValidationError(errors)
    directory_actions.add_swap(rota, person, when["starts_at"], when["ends_at"],
                               reason=post.get("reason", ""), actor=request.user, request=request)


@member_required
@require_http_methods(["GET", "POST"])
def on_call(request: HttpRequest, slug: str) -> HttpResponse:
    """The account's rotas: who is on call now, the coming four weeks, swaps; a rota written or changed."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_ACCOUNT)
    errors: dict[str, str] = {}
    form = request.POST.get("form", "")
    status = 200
    if request.method == "POST":
        policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
        try:
            if form == "swap":
                _swap_post(account, request)
                messages.success(request, _("The swap is saved."))
            else:
                _rota_post(account, request)
                messages.success(request, _("The rota is saved."))
        except ValidationError as error:
            errors = field_errors(error)
            status = 422
        else:
            return redirect("account_on_call", account.slug)
    now = timezone.now()
    start = now.astimezone(account.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    until = (start + timedelta(days=CALENDAR_DAYS)).astimezone(UTC)
    cards = []
    for rota in oncall.rotas(account):
        laid = rota_core.turns(rota.as_core(), start.astimezone(UTC), until, rota.is_holiday())
        members = [m.collaborator for m in rota.members.all()]
        people = {p.pk: p for p in [*members, *(s.collaborator for s in rota.swaps.all())]}
        item = oncall.OnCall(rota, rota.on_call(now))
        cards.append({
            "rota": rota,
            "now": item.person,
            "number": item.number,
            "members": members,
            "covers": rota.cover_set(),
            "turns": [{"starts": t.starts, "ends": t.ends, "who": str(people.get(t.member, "?")),
                       "swap": t.override} for t in laid],
            "swaps": [s for s in rota.swaps.all() if s.ends_at > now],
        })
    return render(
        request,
        "portal/on_call.html",
        {
            "account": account,
            "can_edit": policy.has_perm(request.user, Perm.EDIT_ACCOUNT),
            "cards": cards,
            "services": Service.objects.filter(account=account),
            "people": Collaborator.objects.filter(account=account, is_active=True),
            "slots": range(1, MAX_MEMBERS + 1),
            "covers": [(c.value, label) for c, label in COVER_LABELS.items()],
            "errors": errors,
            "typed": request.POST if request.method == "POST" else {},
            "form": form,
        },
        status=status,
    )


@member_required
@require_POST
def on_call_swap_remove(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    return _row_action(
        request, slug,
        lambda account: RotaSwap.objects.filter(rota__account=account, pk=pk).select_related("rota").first(),
        lambda row: directory_actions.remove_swap(row, actor=request.user, request=request),
        lambda _row: _("The swap is removed."), "account_on_call")


# Opening hours, closures and the after-hours policy -----------------------------------------

GLANCE_DAYS = 14


def _glance(account: Account, today: date) -> list[dict[str, Any]]:
    """The coming days as callers will find them: ranges, and why (a closure, a holiday)."""
    schedule = account.schedule()
    out = []
    for offset in range(GLANCE_DAYS):
        day = today + timedelta(days=offset)
        ranges, reason, label = schedule.day_rule(day)
        out.append({"day": day, "ranges": [r.format(" – ") for r in ranges], "reason": reason,
                    "label": label})
    return out


@member_required
@require_http_methods(["GET", "POST"])
def opening_hours(request: HttpRequest, slug: str) -> HttpResponse:
    """Weekly hours, exceptional closures and openings, what callers get when closed; the weeks ahead."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_ACCOUNT)
    errors: dict[str, str] = {}
    form = request.POST.get("form", "")
    status = 200
    if request.method == "POST":
        policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
        try:
            if form == "week":
                actions.set_weekly_hours(account, {d: request.POST.get(f"day_{d}", "") for d in range(7)},
                                         actor=request.user, request=request)
                messages.success(request, _("The weekly hours are saved."))
            elif form == "exception":
                try:
                    start = date.fromisoformat(request.POST.get("start_date", ""))
                    end_text = request.POST.get("end_date", "") or request.POST.get("start_date", "")
                    end = date.fromisoformat(end_text)
                except ValueError:
                    raise ValidationError({"start_date": _("Give the first and the last day.")}) from None
                actions.add_hours_exception(account, start, end, request.POST.get("ranges", ""),
                                            request.POST.get("label", ""), actor=request.user,
                                            request=request)
                messages.success(request, _("The exception is saved."))
            else:
                actions.set_after_hours(account, request.POST.get("after_hours", ""),
                                        request.POST.get("on_call_number", ""), actor=request.user,
                                        request=request)
                messages.success(request, _("What callers get when the account is closed is saved."))
        except ValidationError as error:
            errors = field_errors(error)
            status = 422
        else:
            return redirect("account_hours", account.slug)
    today = timezone.localdate(timezone=account.tz)
    week: dict[int, list[str]] = {day: [] for day in range(7)}
    for row in account.weekly_hours.order_by("weekday", "opens"):
        week[row.weekday].append(f"{row.opens:%H:%M}-{row.closes:%H:%M}")
    typed = request.POST if request.method == "POST" else {}
    return render(
        request,
        "portal/hours.html",
        {
            "account": account,
            "can_edit": policy.has_perm(request.user, Perm.EDIT_ACCOUNT),
            "days": [(d, Weekday(d).label, typed.get(f"day_{d}", ", ".join(week[d])) if form == "week"
                      else ", ".join(week[d])) for d in range(7)],
            "exceptions": account.hours_exceptions.filter(end_date__gte=today).order_by("start_date"),
            "glance": _glance(account, today),
            "policies": AfterHours.choices,
            "status": account.opening_status(),
            "errors": errors,
            "typed": typed,
            "form": form,
        },
        status=status,
    )


@member_required
@require_POST
def hours_exception_remove(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    return _row_action(
        request, slug,
        lambda account: HoursException.objects.select_related("account").filter(
            account=account, pk=pk).first(),
        lambda row: actions.remove_hours_exception(row, actor=request.user, request=request),
        lambda _row: _("The exception is removed."), "account_hours")


# API keys ------------------------------------------------------------------------------------


@member_required
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest, slug: str) -> HttpResponse:
    """The account's API keys (name, scope, last use); a new one is shown once, when created."""
    account = policy.get_account_or_404(request.user, slug, Perm.MANAGE_API_KEYS)
    errors: dict[str, str] = {}
    created = None
    status = 200
    if request.method == "POST":
        try:
            key, token = keys.create(account, request.POST.get("name", ""), request.POST.get("scope", ""),
                                     actor=request.user, request=request)
        except ValidationError as error:
            errors = field_errors(error)
            status = 422
        else:
            created = {"key": key, "token": token}  # shown on this answer only, never stored
    return render(
        request,
        "portal/api_keys.html",
        {
            "account": account,
            "keys": ApiKey.objects.filter(account=account).select_related("created_by"),
            "scopes": Scope.choices,
            "created": created,
            "errors": errors,
            "typed": request.POST if errors else {},
        },
        status=status,
    )


@member_required
@require_POST
def api_key_revoke(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    return _row_action(
        request, slug, lambda account: ApiKey.objects.filter(account=account, pk=pk).first(),
        lambda row: keys.revoke(row, actor=request.user, request=request),
        lambda _row: _("The key is revoked: it no longer works."), "account_api_keys", Perm.MANAGE_API_KEYS)
