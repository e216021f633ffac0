"""The client writes its directory: services, collaborators with their transfer rules, arrivals and
departures, now or at a chosen time. Views parse and authorise (``Perm.EDIT_ACCOUNT`` to write);
``directory.people`` validates, refuses what is in use, writes and audits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from permanence import policy
from permanence.accounts import actions, periods
from permanence.accounts.models import Account, Weekday
from permanence.directory import people
from permanence.directory.models import (
    CALLER_TYPE_CHOICES,
    ChangeKind,
    ChangeStatus,
    Collaborator,
    DirectoryChange,
    Service,
)
from permanence.policy import Perm
from permanence.portal.access import member_required
from permanence.portal.forms import field_errors

RECENT = 10
FIELD_LABELS: dict[str, Any] = {
    **{name: Collaborator._meta.get_field(name).verbose_name
       for name in (*people.TEXT_FIELDS, *people.FLAG_FIELDS)},
    "service": gettext_lazy("service"),
    "caller_types": gettext_lazy("only for caller types"),
    "windows": gettext_lazy("transfer hours"),
}


def _person(account: Account, pk: int) -> Collaborator:
    person = Collaborator.objects.filter(account=account, pk=pk).select_related("service").first()
    if person is None:
        raise Http404
    return person


def _posted_details(post: Any) -> dict[str, Any]:
    """The collaborator form as ``people.FIELDS``."""
    return {
        **{name: post.get(name, "") for name in people.TEXT_FIELDS},
        **{name: post.get(name) == "on" for name in people.FLAG_FIELDS},
        "service": post.get("service") or None,
        "caller_types": post.getlist("caller_types"),
        "windows": {str(day): post.get(f"windows_{day}", "") for day in range(7)},
    }


def _when(post: Any, account: Account) -> tuple[datetime | None, dict[str, str]]:
    """None for "now", else the local time typed for ``effective_at`` read as an instant."""
    if post.get("when", "now") != "at":
        return None, {}
    raw = post.get("effective_at", "")
    if not raw.strip():
        return None, {"effective_at": _("Give the date and time the change takes effect.")}
    try:
        return periods.local_instant(raw, account.tz), {}
    except periods.PeriodError as error:
        return None, {"effective_at": actions.period_error(error)}


def _summary(change: DirectoryChange) -> str:
    """What a planned change changes, in words."""
    if change.kind != ChangeKind.CHANGE:
        return ""
    return ", ".join(str(FIELD_LABELS.get(name, name)) for name in change.data)


def _changes(rows: Any) -> list[dict[str, Any]]:
    return [{"row": c, "summary": _summary(c)} for c in rows]


@member_required
@require_http_methods(["GET", "POST"])
def directory(request: HttpRequest, slug: str) -> HttpResponse:
    """The services and the people of the account, what is planned, and a new service."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_ACCOUNT)
    errors: dict[str, str] = {}
    typed: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
        typed = {"name": request.POST.get("name", ""), "description": request.POST.get("description", "")}
        try:
            people.save_service(account, typed["name"], typed["description"], actor=request.user,
                                request=request)
        except ValidationError as error:
            errors = field_errors(error)
            status = 422
        else:
            messages.success(request, _("The service is added."))
            return redirect("account_directory", account.slug)
    everyone = list(Collaborator.objects.filter(account=account).select_related("service")
                    .prefetch_related("transfer_windows"))
    planned = DirectoryChange.objects.filter(account=account).select_related("collaborator", "created_by")
    return render(request, "portal/directory.html", {
        "account": account,
        "can_edit": policy.has_perm(request.user, Perm.EDIT_ACCOUNT),
        "services": Service.objects.filter(account=account).prefetch_related("collaborators"),
        "present": [p for p in everyone if p.is_active],
        "left": [p for p in everyone if not p.is_active],
        "planned": _changes(planned.filter(status=ChangeStatus.PENDING)),
        "recent": _changes(planned.exclude(status=ChangeStatus.PENDING).order_by("-done_at")[:RECENT]),
        "errors": errors,
        "typed": typed,
    }, status=status)


def _service_action(request: HttpRequest, slug: str, pk: int, act: Any, done: str) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    service = Service.objects.filter(account=account, pk=pk).first()
    if service is None:
        raise Http404
    try:
        act(account, service)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
    return redirect("account_directory", account.slug)


@member_required
@require_POST
def service_rename(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    return _service_action(request, slug, pk, lambda account, service: people.save_service(
        account, request.POST.get("name", ""), request.POST.get("description", ""), service,
        actor=request.user, request=request), _("The service is saved."))


@member_required
@require_POST
def service_remove(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    return _service_action(request, slug, pk, lambda _account, service: people.remove_service(
        service, actor=request.user, request=request), _("The service is removed."))


def _form_context(account: Account, details: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "account": account,
        "details": details,
        "services": Service.objects.filter(account=account),
        "caller_types": CALLER_TYPE_CHOICES,
        # words kept from before the shared list: shown ticked, refused until unticked (never lost silently)
        "unknown_types": [t for t in details.get("caller_types") or [] if t not in dict(CALLER_TYPE_CHOICES)],
        "modes": Collaborator._meta.get_field("transfer_mode").choices,
        "days": [(day, label, details["windows"].get(str(day), "")) for day, label in Weekday.choices],
        "can_edit": True,
        **more,
    }


@member_required
@require_http_methods(["GET", "POST"])
def collaborator(request: HttpRequest, slug: str, pk: int | None = None) -> HttpResponse:
    """A person's details and transfer rules, changed now or from a chosen time; a new person."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_ACCOUNT if pk else Perm.EDIT_ACCOUNT)
    person = _person(account, pk) if pk is not None else None
    can_edit = policy.has_perm(request.user, Perm.EDIT_ACCOUNT)
    details = people.snapshot(person)
    errors: dict[str, str] = {}
    typed_when = {"when": "now", "effective_at": ""}
    status = 200
    if request.method == "POST":
        policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
        details = _posted_details(request.POST)
        typed_when = {"when": request.POST.get("when", "now"),
                      "effective_at": request.POST.get("effective_at", "")}
        at, errors = _when(request.POST, account)
        if not errors:
            try:
                if at is None:
                    saved = people.save_collaborator(account, details, person, actor=request.user,
                                                     request=request)
                    messages.success(request, _("Saved: the desk follows it from the next call."))
                    return redirect("account_collaborator", account.slug, saved.pk)
                kind = ChangeKind.ADD if person is None else ChangeKind.CHANGE
                people.plan_change(account, kind, at, details, person, actor=request.user, request=request)
                messages.success(request, _("The change is planned for %(when)s.") % {
                    "when": formats.date_format(timezone.localtime(at, account.tz), "SHORT_DATETIME_FORMAT")})
                return redirect("account_directory", account.slug)
            except ValidationError as error:
                errors = field_errors(error)
        status = 422
    planned = (DirectoryChange.objects.filter(collaborator=person) if person
               else DirectoryChange.objects.none())
    return render(request, "portal/collaborator.html", _form_context(
        account, details, person=person, can_edit=can_edit, errors=errors, typed_when=typed_when,
        planned=_changes(planned.filter(status=ChangeStatus.PENDING)),
        now=timezone.now()), status=status)


@member_required
@require_POST
def collaborator_leave(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """The person leaves the directory now, or at the time typed."""
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    person = _person(account, pk)
    at, errors = _when(request.POST, account)
    try:
        if errors:
            raise ValidationError(errors)
        if at is None:
            people.leave(person, actor=request.user, request=request)
            messages.success(request, _("%(person)s has left the directory.") % {"person": person})
        else:
            people.plan_change(account, ChangeKind.LEAVE, at, person=person, actor=request.user,
                               request=request)
            messages.success(request, _("The departure is planned for %(when)s.") % {
                "when": formats.date_format(timezone.localtime(at, account.tz), "SHORT_DATETIME_FORMAT")})
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("account_collaborator", account.slug, person.pk)
    return redirect("account_directory", account.slug)


@member_required
@require_POST
def collaborator_rejoin(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    person = _person(account, pk)
    try:
        people.rejoin(person, actor=request.user, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(person)s is back in the directory.") % {"person": person})
    return redirect("account_collaborator", account.slug, person.pk)


@member_required
@require_POST
def change_cancel(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    change = DirectoryChange.objects.filter(account=account, pk=pk).first()
    if change is None:
        raise Http404
    try:
        people.cancel_change(change, actor=request.user, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The planned change is cancelled."))
    return redirect("account_directory", account.slug)
