"""The privacy pages: under the client's area (``/a/<slug>/privacy/``: retention periods, legal holds, the
register of requests and each request's page with its export, erasure or rectification), and the
operator's register across accounts (``/privacy/``). ``Perm.MANAGE_PRIVACY`` everywhere; a request about
every account only for the operator's staff who reach every account."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from permanence import policy
from permanence.accounts.models import Account
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.contacts.models import Contact
from permanence.policy import Perm
from permanence.portal.access import member_required
from permanence.portal.forms import field_errors
from permanence.privacy import actions, holds
from permanence.privacy.models import KINDS, DataRequest, LegalHold, RetentionPolicy, default_months
from permanence.privacy.subjects import LABELS, Selection

CONTACT_CHOICES = 1000  # contacts offered in the forms' lists (any contact of the account may be posted)
REGISTER = 200  # requests shown in a register


def _contacts(account: Account) -> QuerySet[Contact]:
    return Contact.objects.filter(account=account).order_by("last_name", "first_name", "pk")[:CONTACT_CHOICES]


def _register(rows: QuerySet[DataRequest]) -> list[DataRequest]:
    """Open requests first, the nearest deadline first; then the others, the latest first."""
    ordered = rows.select_related("account", "contact", "handled_by").annotate(
        closed=Case(When(status=DataRequest.Status.OPEN, then=Value(0)), default=Value(1),
                    output_field=IntegerField()))  # fmt: skip
    found = list(ordered.order_by("closed", "due_at", "-pk")[:REGISTER])
    now = timezone.now()
    for row in found:
        row.state = row.deadline(now)  # type: ignore[attr-defined]
    return found


@member_required
@require_http_methods(["GET", "POST"])
def retention(request: HttpRequest, slug: str) -> HttpResponse:
    """The account's retention periods (empty: the operator's default), beside the recordings' and
    voicemails' own, and the legal holds in force."""
    account = policy.get_account_or_404(request.user, slug, Perm.MANAGE_PRIVACY)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            actions.set_retention(account, request.POST, actor=request.user, request=request)
        except ValidationError as error:
            errors, status = field_errors(error), 422
        else:
            messages.success(request, _("The retention periods are saved."))
            return redirect("privacy", account.slug)
    current = RetentionPolicy.for_account(account)
    periods = [
        {"name": f"{kind}_months", "label": current._meta.get_field(f"{kind}_months").verbose_name,
         "help": current._meta.get_field(f"{kind}_months").help_text, "default": default_months(kind),
         "value": request.POST.get(f"{kind}_months", "") if errors
         else (getattr(current, f"{kind}_months") or "")}
        for kind in KINDS
    ]  # fmt: skip
    return render(request, "privacy/retention.html", {
        "account": account, "periods": periods, "errors": errors,
        "holds": holds.active([account.pk]).count(),
        "open_requests": DataRequest.objects.filter(account=account, status=DataRequest.Status.OPEN).count(),
    }, status=status)  # fmt: skip


@member_required
@require_http_methods(["GET", "POST"])
def hold_list(request: HttpRequest, slug: str) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.MANAGE_PRIVACY)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            holds.place(account, whole_account=request.POST.get("whole_account") == "1",
                        phone=request.POST.get("phone", ""), email=request.POST.get("email", ""),
                        contact=request.POST.get("contact", ""), reason=request.POST.get("reason", ""),
                        actor=request.user, request=request)  # fmt: skip
        except ValidationError as error:
            errors, status = field_errors(error), 422
        else:
            messages.success(request, _("The legal hold is set: what it covers is no longer deleted."))
            return redirect("privacy_holds", account.slug)
    rows = list(LegalHold.objects.filter(account=account).select_related("contact", "set_by", "lifted_by")
                .order_by("lifted_at", "-set_at")[:REGISTER])  # fmt: skip
    for row in rows:
        row.liftable = holds.may_lift(row, request.user)  # type: ignore[attr-defined]
    return render(request, "privacy/holds.html", {
        "account": account, "holds": rows,
        "contacts": _contacts(account), "errors": errors, "typed": request.POST if errors else {},
    }, status=status)  # fmt: skip


@member_required
@require_POST
def hold_lift(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.MANAGE_PRIVACY)
    hold = LegalHold.objects.filter(account=account, pk=pk).first()
    if hold is None:
        raise Http404
    if holds.lift(hold, actor=request.user, request=request):
        messages.success(request, _("The legal hold is lifted: the retention periods apply again."))
    return redirect("privacy_holds", account.slug)


def _register_page(request: HttpRequest, account: Account | None, rows: QuerySet[DataRequest],
                   template: str) -> HttpResponse:
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            item = actions.register(account, request.POST, actor=request.user, request=request)
        except ValidationError as error:
            errors, status = field_errors(error), 422
        else:
            messages.success(request, _("The request is in the register."))
            return redirect(_request_url(item, "privacy_request"))
    return render(request, template, {
        "account": account, "requests": _register(rows), "kinds": DataRequest.Kind.choices,
        "contacts": _contacts(account) if account else [], "errors": errors,
        "typed": request.POST if errors else {}, "today": timezone.localdate().isoformat(),
    }, status=status)  # fmt: skip


@member_required
@require_http_methods(["GET", "POST"])
def request_list(request: HttpRequest, slug: str) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.MANAGE_PRIVACY)
    rows = DataRequest.objects.filter(account=account)
    return _register_page(request, account, rows, "privacy/requests.html")


@member_required
@require_http_methods(["GET", "POST"])
def operator(request: HttpRequest) -> HttpResponse:
    """Every request of the accounts within reach, and requests about every account. A client admin
    goes to their own account's register."""
    user: Any = request.user
    if not policy.has_perm(user, Perm.MANAGE_PRIVACY):
        raise PermissionDenied
    if not policy.reaches_every_account(user):
        if request.method == "GET" and user.account_id:
            return redirect("privacy_requests", user.account.slug)
        raise PermissionDenied
    return _register_page(request, None, DataRequest.objects.all(), "privacy/operator.html")


# A request's page ----------------------------------------------------------------------------------


def _request_url(item: DataRequest, name: str) -> str:
    if item.account is None:
        return reverse(f"{name}_all", args=[item.pk])
    return reverse(name, args=[item.account.slug, item.pk])


def _find(request: HttpRequest, slug: str | None, pk: int) -> tuple[DataRequest, QuerySet[Account]]:
    """The request and the accounts it looks in: the account's own (under ``/a/<slug>/``), or every
    account for a request about every account (the operator's staff only)."""
    user: Any = request.user
    if slug is not None:
        account = policy.get_account_or_404(user, slug, Perm.MANAGE_PRIVACY)
        item = DataRequest.objects.filter(account=account, pk=pk).select_related("account", "contact").first()
        if item is None:
            raise Http404
        return item, Account.objects.filter(pk=account.pk)
    if not policy.has_perm(user, Perm.MANAGE_PRIVACY):
        raise PermissionDenied
    if not policy.reaches_every_account(user):
        raise Http404
    item = DataRequest.objects.filter(account__isnull=True, pk=pk).select_related("contact").first()
    if item is None:
        raise Http404
    return item, Account.objects.all()


def _found(selection: Selection) -> list[dict[str, Any]]:
    """What the request's person has, per account and kind (counts), for the page."""
    return [{"account": row["account"], "counts": [(LABELS[s], n) for s, n in row["counts"].items() if n]}
            for row in selection.per_account()]  # fmt: skip


@member_required
@require_http_methods(["GET", "POST"])
def request_detail(request: HttpRequest, pk: int, slug: str | None = None) -> HttpResponse:
    item, accounts = _find(request, slug, pk)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            actions.set_status(item, request.POST.get("status", ""), request.POST.get("notes", ""),
                               actor=request.user, request=request)  # fmt: skip
        except ValidationError as error:
            errors, status = field_errors(error), 422
        else:
            messages.success(request, _("The request is saved."))
            return redirect(_request_url(item, "privacy_request"))
    return _request_page(request, item, accounts, errors, status)


def _request_page(request: HttpRequest, item: DataRequest, accounts: QuerySet[Account],
                  errors: dict[str, str], status: int, typed: Any = None,
                  selection: Selection | None = None) -> HttpResponse:  # fmt: skip
    selection = selection or actions.selection(item, accounts)
    contacts = []
    if item.kind == DataRequest.Kind.RECTIFICATION:  # the contacts' fields are shown to be corrected
        contacts = list(selection.contacts().select_related("account").prefetch_related("numbers"))
        for contact in contacts:
            contact.numbers_text = "\n".join(n.number for n in contact.numbers.all())  # type: ignore[attr-defined]
            if request.method == "GET":
                trail.record(request.user, Action.VIEW, contact, request=request, data_request=item.pk)
    return render(request, "privacy/request.html", {
        "account": item.account, "item": item, "state": item.deadline(), "found": _found(selection),
        "others": selection.others().select_related("account")
        .order_by("account__name", "last_name", "first_name", "company", "pk"),
        "contacts": contacts, "statuses": DataRequest.Status.choices, "errors": errors, "typed": typed or {},
        "kept": item.result.get("kept", []) if isinstance(item.result, dict) else [],
        "erased": [(LABELS.get(k, k), n) for k, n in (item.result.get("erased", {}) or {}).items()]
        if isinstance(item.result, dict) else [],
        "urls": [_request_url(item, f"privacy_request{n}") for n in ("", "_export", "_erase", "_rectify")],
    }, status=status)  # fmt: skip


@member_required
@require_POST
def request_export(request: HttpRequest, pk: int, slug: str | None = None) -> HttpResponse:
    item, accounts = _find(request, slug, pk)
    data = actions.export_zip(item, accounts, actor=request.user, request=request)
    response = HttpResponse(data, content_type="application/zip")
    where = item.account.slug if item.account else "all"
    name = f"data-{where}-{item.pk}-{timezone.localdate().isoformat()}.zip"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@member_required
@require_POST
def request_erase(request: HttpRequest, pk: int, slug: str | None = None) -> HttpResponse:
    item, accounts = _find(request, slug, pk)
    if request.POST.get("confirm") != "1":
        error = _("Tick the box to confirm the erasure.")
        return _request_page(request, item, accounts, {"erase": error}, 422)
    try:
        report = actions.erase(item, accounts, actor=request.user, request=request)
    except ValidationError as error:
        return _request_page(request, item, accounts, {"erase": " ".join(error.messages)}, 422)
    messages.success(request, _("Erased: %(erased)d; kept: %(kept)d (see why below).") % {
        "erased": sum(report["erased"].values()), "kept": len(report["kept"])})
    return redirect(_request_url(item, "privacy_request"))


@member_required
@require_POST
def request_rectify(request: HttpRequest, pk: int, slug: str | None = None) -> HttpResponse:
    item, accounts = _find(request, slug, pk)
    raw = request.POST.get("contact") or ""
    selection = actions.selection(item, accounts)
    contact = None
    if raw.isascii() and raw.isdigit() and int(raw) in selection.pks("contacts"):
        contact = selection.contacts().filter(pk=int(raw)).first()
    if contact is None:
        error = _("Choose one of the person's contacts.")
        return _request_page(request, item, accounts, {"contact": error}, 422, selection=selection)
    try:
        changes = actions.rectify(item, contact, request.POST, actor=request.user, request=request)
    except ValidationError as error:
        return _request_page(request, item, accounts, field_errors(error), 422, typed=request.POST,
                             selection=selection)  # fmt: skip
    messages.success(request, _("The contact is corrected.") if changes else _("Nothing to change."))
    return redirect(_request_url(item, "privacy_request"))
