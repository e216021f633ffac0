"""Signed-in pages. Views parse, authorise (through permanence.policy) and call."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import LoginView, redirect_to_login
from django.db import transaction
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import match_token, user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from permanence import policy
from permanence.accounts import instructions
from permanence.accounts.models import Account, Weekday
from permanence.audit import trail
from permanence.audit.models import Action, AuditEvent
from permanence.contacts import csvio
from permanence.contacts.identify import identify
from permanence.contacts.models import Contact
from permanence.directory.models import Absence, Collaborator
from permanence.policy import Perm
from permanence.portal.access import ENROL, member_required, second_factor_required
from permanence.portal.forms import ContactImportForm, IdentifyForm, SecondFactorForm, TokenForm
from permanence.users.models import STAFF_ROLES

PAGE_SIZE = 50


class SignInView(LoginView):
    template_name = "registration/login.html"


def _safe_next(request: HttpRequest, default: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


@require_http_methods(["GET", "POST"])
def verify_second_factor(request: HttpRequest) -> HttpResponse:
    """The code from the authenticator app, or one of the recovery codes (each good once)."""
    if not request.user.is_authenticated:
        return redirect("login")
    if request.user.is_verified():  # type: ignore[union-attr]
        return redirect(_safe_next(request))
    if not user_has_device(request.user):
        return redirect(ENROL if second_factor_required(request.user) else _safe_next(request))
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            if isinstance(device, StaticDevice):
                left = device.token_set.count()
                trail.record(request.user, Action.UPDATE, object_type="users.second_factor",
                             object_id=str(request.user.pk), request=request, recovery_code_used=True,
                             codes_left=left)
                messages.warning(request, _(
                    "You signed in with a recovery code; %(count)s left. Make new ones on the "
                    "two-factor page if you lost your phone.") % {"count": left})
            return redirect(_safe_next(request))
        form.add_error("token", _("This code is not valid. Wait for the next one and try again."))
    return render(request, "registration/verify.html", {"form": form, "next": _safe_next(request)})


@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponse:
    """Staff set up TOTP two-factor sign-in (operator admins and technical assistants must: they
    come here right after signing in until they have), get recovery codes, replace or turn it off.
    Only from a session past the second factor when one is set up."""
    user = request.user
    if not user.is_authenticated or not user.is_active:
        return redirect_to_login(request.get_full_path())
    if user.role not in STAFF_ROLES:  # type: ignore[union-attr]
        raise Http404
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if confirmed is not None and not user.is_verified():  # type: ignore[union-attr]
        return redirect(f"/login/verify/?next={request.path}")
    required = second_factor_required(user)
    form = TokenForm(request.POST or None)
    if confirmed is not None:
        context = {"enabled": True, "form": form, "required": required,
                   "codes_left": StaticToken.objects.filter(device__user=user).count()}
        if request.method == "POST" and request.POST.get("action") == "recovery":
            context["codes"] = _new_recovery_codes(user)
            trail.record(user, Action.UPDATE, object_type="users.second_factor", object_id=str(user.pk),
                         request=request, recovery_codes="replaced")
            context["codes_left"] = len(context["codes"])
            return render(request, "portal/two_factor.html", context)
        if request.method == "POST" and form.is_valid():
            if confirmed.verify_token(form.cleaned_data["token"]):
                TOTPDevice.objects.filter(user=user).delete()
                StaticDevice.objects.filter(user=user).delete()
                trail.record(user, Action.DELETE, object_type="users.second_factor", object_id=str(user.pk),
                             request=request)
                if required:
                    messages.info(request, _("Set up your new authenticator app: your role requires it."))
                else:
                    messages.success(request, _("Two-factor authentication is now off."))
                return redirect("two_factor")
            form.add_error("token", _("This code is not valid."))
        return render(request, "portal/two_factor.html", context)
    pending, _created = TOTPDevice.objects.get_or_create(
        user=user, confirmed=False, defaults={"name": "authenticator"}
    )
    if request.method == "POST" and form.is_valid():
        if pending.verify_token(form.cleaned_data["token"]):
            pending.confirmed = True
            pending.save(update_fields=["confirmed"])
            otp_login(request, pending)
            codes = _new_recovery_codes(user)
            trail.record(user, Action.CREATE, object_type="users.second_factor", object_id=str(user.pk),
                         request=request)
            messages.success(request, _("Two-factor authentication is on."))
            return render(request, "portal/two_factor.html", {
                "enabled": True, "form": TokenForm(), "required": required, "codes": codes,
                "codes_left": len(codes), "next": _safe_next(request, "")})
        form.add_error("token", _("This code is not valid. Check your phone's clock."))
    import segno

    qr_svg = segno.make(pending.config_url, error="m").svg_inline(scale=4)
    return render(
        request,
        "portal/two_factor.html",
        {"enabled": False, "form": form, "qr_svg": qr_svg, "secret": _b32(pending.bin_key),
         "required": required},
    )


RECOVERY_CODES = 10


def _new_recovery_codes(user: Any) -> list[str]:
    """Ten single-use codes that sign in in place of the app (a lost phone); the previous ones stop.
    Shown once: only django-otp's static tokens keep them."""
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name="recovery", confirmed=True)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return [f"{code[:4]}-{code[4:]}" for code in codes]


def _b32(key: bytes) -> str:
    import base64

    return base64.b32encode(key).decode().rstrip("=")


@member_required
def home(request: HttpRequest) -> HttpResponse:
    accounts = policy.visible_accounts(request.user).prefetch_related("numbers")
    if request.user.is_client:  # type: ignore[union-attr]
        account = accounts.first()
        if account is not None:
            return redirect("account", slug=account.slug)
    query = request.GET.get("q", "").strip()
    if query:
        accounts = accounts.filter(Q(name__icontains=query) | Q(slug__icontains=query))
    now = timezone.now()
    rows = [(a, a.opening_status(now)) for a in accounts.prefetch_related(
        "weekly_hours", "hours_exceptions")[:200]]
    return render(request, "portal/home.html", {"rows": rows, "q": query})


@member_required
def account_detail(request: HttpRequest, slug: str) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_ACCOUNT)
    now = timezone.now()
    collaborators = (
        Collaborator.objects.filter(account=account, is_active=True)
        .select_related("service", "account")
        .prefetch_related(
            "transfer_windows",
            Prefetch("absences", queryset=Absence.objects.select_related("replacement")),
        )
    )
    directory = [
        {
            "collaborator": c,
            "absence": c.current_absence(now),
            "decision": c.decide_transfer(at=now),
            "windows": list(c.transfer_windows.all()),
        }
        for c in collaborators
    ]
    user = request.user
    return render(
        request,
        "portal/account.html",
        {
            "account": account,
            "status": account.opening_status(now),
            "numbers": account.numbers.filter(released_at__isnull=True),
            "week": _week(account),
            "exceptions": account.hours_exceptions.filter(end_date__gte=now.date()),
            "directory": directory,
            "services": account.services.all(),
            "dated": instructions.in_force(account, now),
            "can": {p.value: policy.has_perm(user, p) for p in Perm},
        },
    )


def _week(account: Account) -> list[tuple[str, list[str]]]:
    """Monday to Sunday with each day's ranges, e.g. ("Lundi", ["09:00 – 12:30", ...])."""
    weekly = account.schedule().weekly
    return [
        (str(Weekday(day).label), [r.format(" – ") for r in sorted(weekly.get(day, ()))])
        for day in range(7)
    ]


@member_required
def contact_list(request: HttpRequest, slug: str) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_CONTACTS)
    query = request.GET.get("q", "").strip()
    contacts = Contact.objects.filter(account=account).prefetch_related("numbers")
    if query:
        filters = (
            Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
            | Q(company__icontains=query)
            | Q(email__icontains=query)
        )
        from permanence.accounts.phones import try_normalize

        number = try_normalize(query, settings.PHONE_DEFAULT_REGION)
        if number:
            filters |= Q(numbers__number=number)
        contacts = contacts.filter(filters).distinct()
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    total = contacts.count()
    shown = list(contacts[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])
    trail.record(
        request.user, Action.LIST, account=account, object_type="contacts.contact",
        object_repr=f"{len(shown)} contacts", request=request, query=query, page=page,
    )
    return render(
        request,
        "portal/contacts.html",
        {
            "account": account,
            "contacts": shown,
            "q": query,
            "page": page,
            "total": total,
            "has_next": page * PAGE_SIZE < total,
            "can": {p.value: policy.has_perm(request.user, p) for p in Perm},
        },
    )


def _contact_in(account: Account, pk: int) -> Contact:
    try:
        return Contact.objects.prefetch_related("numbers").get(account=account, pk=pk)
    except Contact.DoesNotExist:
        raise Http404 from None


@member_required
def contact_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_CONTACTS)
    contact = _contact_in(account, pk)
    trail.record(request.user, Action.VIEW, contact, request=request)
    return render(request, "portal/contact.html", {"account": account, "contact": contact})


@member_required
@require_http_methods(["GET", "POST"])
def contact_import(request: HttpRequest, slug: str) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.IMPORT_CONTACTS)
    form = ContactImportForm(request.POST or None, request.FILES or None)
    report = None
    file_error = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > settings.CONTACTS_IMPORT_MAX_BYTES:
            file_error = _("The file is larger than %(max)d bytes.") % {
                "max": settings.CONTACTS_IMPORT_MAX_BYTES
            }
        else:
            try:
                report = csvio.import_contacts(account, upload.read(), actor=request.user)
            except csvio.CsvFileError as exc:
                file_error = str(exc)
    return render(
        request,
        "portal/contact_import.html",
        {"account": account, "form": form, "report": report, "file_error": file_error},
        status=400 if file_error else 200,
    )


@member_required
def contact_export(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.EXPORT_CONTACTS)
    count = Contact.objects.filter(account=account).count()
    trail.record(
        request.user, Action.EXPORT, account=account, object_type="contacts.contact",
        object_repr=f"{count} contacts", request=request, format="csv",
    )
    response = StreamingHttpResponse(
        csvio.export_csv_chunks(account), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="contacts-{account.slug}-{stamp}.csv"'
    return response


@member_required
def identify_caller(request: HttpRequest, slug: str) -> HttpResponse:
    """Look up who is calling this account (the desk's screen pop uses the same function)."""
    account = policy.get_account_or_404(request.user, slug, Perm.IDENTIFY_CALLER)
    form = IdentifyForm(request.GET or None, initial={"called": ""})
    result = None
    if form.is_valid():
        result = identify(form.cleaned_data["called"], form.cleaned_data["caller"])
        if result.account is not None and result.account.pk != account.pk:
            form.add_error("called", _("This number does not belong to this account."))
            result = None
        elif result.account is None:
            form.add_error("called", _("This number belongs to no account."))
            result = None
        else:
            trail.record(
                request.user, Action.IDENTIFY, account=account, object_type="contacts.contact",
                object_repr=", ".join(str(c) for c in result.contacts)[:200] or "unknown",
                request=request, caller=result.caller or "withheld",
            )
    return render(
        request,
        "portal/identify.html",
        {"account": account, "form": form, "result": result,
         "numbers": account.numbers.filter(released_at__isnull=True)},
    )


@member_required
def audit_log(request: HttpRequest, slug: str) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_AUDIT)
    events = AuditEvent.objects.filter(account_id=account.pk)[:200]
    return render(request, "portal/audit.html", {"account": account, "events": events})


def _forbidden(request: HttpRequest, exception: Any = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def _not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def _server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "500.html", status=500)

