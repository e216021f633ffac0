"""HTTP API, version 1. Every endpoint authorises through permanence.policy.

OpenAPI description at /api/v1/openapi.json, browsable docs at /api/v1/docs.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from permanence import policy
from permanence.api.auth import MemberSession
from permanence.api.schemas import (
    AccountDetailOut,
    AccountOut,
    CollaboratorOut,
    ContactOut,
    ErrorOut,
    IdentifyIn,
    IdentifyOut,
)
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.contacts.identify import identify
from permanence.contacts.models import Contact
from permanence.directory.models import Collaborator
from permanence.policy import Perm

api = NinjaAPI(
    title="Permanence API",
    version="1",
    description="Accounts, directory and contacts of a telephone answering service.",
    auth=MemberSession(),
    urls_namespace="api-v1",
)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Exception):  # type: ignore[no-untyped-def]
    return api.create_response(request, {"detail": "Not found."}, status=404)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: Exception):  # type: ignore[no-untyped-def]
    return api.create_response(request, {"detail": "Sign in first."}, status=401)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError):  # type: ignore[no-untyped-def]
    return api.create_response(request, {"detail": "Invalid input.", "errors": exc.errors},
                               status=422)


def _contact_out(contact: Contact) -> ContactOut:
    return ContactOut(
        id=contact.pk,
        first_name=contact.first_name,
        last_name=contact.last_name,
        company=contact.company,
        email=contact.email,
        tags=contact.tag_list,
        numbers=[n.number for n in contact.numbers.all()],
    )


@api.get("/accounts", response=list[AccountOut], tags=["accounts"])
def list_accounts(request: HttpRequest):  # type: ignore[no-untyped-def]
    if not policy.has_perm(request.user, Perm.VIEW_ACCOUNT):
        raise HttpError(403, "Not allowed.")
    return list(policy.visible_accounts(request.user))


@api.get("/accounts/{slug}", response={200: AccountDetailOut, 403: ErrorOut, 404: ErrorOut},
         tags=["accounts"])
def get_account(request: HttpRequest, slug: str):  # type: ignore[no-untyped-def]
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_ACCOUNT)
    status = account.opening_status()
    return {
        "slug": account.slug,
        "name": account.name,
        "trade": account.trade,
        "greeting": account.greeting,
        "timezone": account.timezone,
        "status": account.status,
        "instructions": account.instructions,
        "numbers": list(account.numbers.filter(released_at__isnull=True)),
        "opening": {
            "is_open": status.is_open,
            "reason": status.reason,
            "label": status.label,
            "next_change": status.next_change,
        },
    }


@api.get("/accounts/{slug}/directory", response={200: list[CollaboratorOut], 403: ErrorOut,
                                                 404: ErrorOut}, tags=["directory"])
def get_directory(request: HttpRequest, slug: str):  # type: ignore[no-untyped-def]
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_ACCOUNT)
    now = timezone.now()
    out = []
    for c in (
        Collaborator.objects.filter(account=account, is_active=True)
        .select_related("service", "account")
        .prefetch_related("transfer_windows", "absences__replacement")
    ):
        absence = c.current_absence(now)
        out.append(
            CollaboratorOut(
                id=c.pk,
                name=str(c),
                job_title=c.job_title,
                service=c.service.name if c.service else None,
                specialties=c.specialty_list,
                keywords=c.keyword_list,
                direct_line=c.direct_line,
                mobile=c.mobile,
                email=c.email,
                transfer_mode=c.transfer_mode,
                transfer_now=c.decide_transfer(at=now).verdict.value,
                absence=None if absence is None else {
                    "kind": absence.kind,
                    "until": absence.ends_at,
                    "replacement": str(absence.replacement) if absence.replacement else None,
                },
            )
        )
    return out


@api.get("/accounts/{slug}/contacts", response={200: list[ContactOut], 403: ErrorOut,
                                                404: ErrorOut}, tags=["contacts"])
def list_contacts(request: HttpRequest, slug: str, q: str = "", limit: int = 100,
                  offset: int = 0):  # type: ignore[no-untyped-def]
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_CONTACTS)
    limit = max(1, min(limit, 500))
    offset = max(0, offset)
    contacts = Contact.objects.filter(account=account).prefetch_related("numbers")
    if q:
        contacts = contacts.filter(last_name__icontains=q) | contacts.filter(company__icontains=q)
    page = list(contacts.order_by("pk")[offset : offset + limit])
    trail.record(request.user, Action.LIST, account=account, object_type="contacts.contact",
                 object_repr=f"{len(page)} contacts", request=request, via="api", query=q)
    return [_contact_out(c) for c in page]


@api.post("/accounts/{slug}/identify", response={200: IdentifyOut, 403: ErrorOut, 404: ErrorOut,
                                                 422: ErrorOut}, tags=["contacts"])
def identify_caller(request: HttpRequest, slug: str, payload: IdentifyIn):  # type: ignore[no-untyped-def]
    account = policy.get_account_or_404(request.user, slug, Perm.IDENTIFY_CALLER)
    result = identify(payload.called, payload.caller)
    if result.account is None or result.account.pk != account.pk:
        return 422, {"detail": "The number called does not belong to this account."}
    trail.record(request.user, Action.IDENTIFY, account=account, object_type="contacts.contact",
                 object_repr=", ".join(str(c) for c in result.contacts)[:200] or "unknown",
                 request=request, via="api", caller=result.caller or "withheld")
    return {
        "account": account.slug,
        "caller": result.caller,
        "known": result.known,
        "contacts": [_contact_out(c) for c in result.contacts],
    }
