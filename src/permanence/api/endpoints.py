"""HTTP API, version 1. Every endpoint authorises through permanence.policy.

OpenAPI description at /api/v1/openapi.json, browsable docs at /api/v1/docs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError

from permanence import policy
from permanence.accounts import actions
from permanence.accounts.models import Instruction
from permanence.agenda import services, slots
from permanence.agenda.models import Appointment, AppointmentType
from permanence.api import idempotency
from permanence.api.auth import ApiKeyBearer, MemberSession
from permanence.api.docs import LocalSwagger
from permanence.api.schemas import (
    OUT_OF_RANGE,
    AccountDetailOut,
    AccountOut,
    AppointmentOut,
    AppointmentTypeOut,
    BookIn,
    CollaboratorOut,
    ContactOut,
    Day,
    ErrorOut,
    FieldErrorsOut,
    IdentifyIn,
    IdentifyOut,
    Instant,
    InstructionIn,
    InstructionOut,
    RescheduleIn,
    SlotOut,
    SlotTakenOut,
    StandingInstructionsIn,
)
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.contacts.identify import identify
from permanence.contacts.models import Contact
from permanence.directory.models import Collaborator
from permanence.policy import Perm
from permanence.portal.forms import field_errors

api = NinjaAPI(
    title="Permanence API",
    version="1",
    description=(
        "Accounts, directory, contacts, instructions and agendas of a telephone answering service.\n\n"
        "**Authentication**: a signed-in session, or an API key of a client account "
        "(`Authorization: Bearer pk_…`, created by the client admin; a read key may only read).\n\n"
        "**Pagination**: the lists take `limit` and `offset`; the answer's `X-Total-Count` header gives "
        "the number of items in all, and `Link: <…>; rel=\"next\"` the next page when there is one.\n\n"
        "**Idempotency**: the POSTs that create something (bookings, instructions, people, services, "
        "absences, swaps) accept an "
        "`Idempotency-Key` header: sent again with the same key and body within 24 hours, the request "
        "gets the first answer back and creates nothing more (another body with the same key: 422)."
        "\n\n**Errors**: a JSON object with `detail`, and `errors` (a message per field) when fields are "
        "wrong. 400: a body that is not JSON, or a date out of range (years 1900 to 2999, UTC offsets "
        "-12:00 to +14:00); 401: no valid session or key; 403: not allowed; 404: no such account, or no "
        "such object in it; 409: the first request with this `Idempotency-Key` is still being answered; "
        "422: invalid input."
    ),
    auth=[ApiKeyBearer(), MemberSession()],
    urls_namespace="api-v1",
    docs=LocalSwagger(),  # Swagger UI from static/vendor/swagger-ui: no CDN
)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Exception):  # type: ignore[no-untyped-def]
    return api.create_response(request, {"detail": "Not found."}, status=404)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: Exception):  # type: ignore[no-untyped-def]
    return api.create_response(request, {"detail": "Sign in first."}, status=401)


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: Exception):  # type: ignore[no-untyped-def]
    return api.create_response(request, {"detail": _("Not allowed.")}, status=403)


def _field(location: tuple[Any, ...] | list[Any]) -> str:
    """``start`` for ("body", "payload", "start"), ``offset`` for ("query", "offset"): where the error is."""
    where, *path = [str(part) for part in location]
    if where == "body":
        path = path[1:]  # the endpoint's argument holding the body
    return ".".join(path) or where


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError):  # type: ignore[no-untyped-def]
    """422 with a message per field; 400 when a date is out of range (``schemas.Instant``)."""
    errors: dict[str, str] = {}
    for error in exc.errors:
        field = _field(error["loc"])
        errors[field] = f"{errors[field]} {error['msg']}" if field in errors else error["msg"]
    out_of_range = [error["msg"] for error in exc.errors if error["type"] == OUT_OF_RANGE]
    if out_of_range:
        return api.create_response(request, {"detail": out_of_range[0], "errors": errors}, status=400)
    return api.create_response(request, {"detail": "Invalid input.", "errors": errors}, status=422)


# What any operation may answer besides its successes (see the description's "Errors").
ERRORS = {400: FieldErrorsOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: FieldErrorsOut}
# The creating POSTs: a repeated Idempotency-Key while the first request is being answered.
IDEMPOTENT = {409: ErrorOut}


def _paginate(request: HttpRequest, response: HttpResponse, total: int, limit: int, offset: int) -> None:
    """The total in ``X-Total-Count``; the next page, if any, in ``Link`` (RFC 8288)."""
    response["X-Total-Count"] = str(total)
    if offset + limit < total:
        query = request.GET.copy()
        query["offset"], query["limit"] = str(offset + limit), str(limit)
        response["Link"] = f'<{request.build_absolute_uri(request.path)}?{query.urlencode()}>; rel="next"'


def _contact_out(contact: Contact) -> ContactOut:
    return ContactOut(
        id=contact.pk,
        first_name=contact.first_name,
        last_name=contact.last_name,
        company=contact.company,
        email=contact.email,
        file_number=contact.file_number,
        birth_date=contact.birth_date,
        postcode=contact.postcode,
        tags=contact.tag_list,
        numbers=[n.number for n in contact.numbers.all()],
    )


@api.get("/accounts", response={200: list[AccountOut], **ERRORS}, tags=["accounts"])
def list_accounts(request: HttpRequest):  # type: ignore[no-untyped-def]
    if not policy.has_perm(request.user, Perm.VIEW_ACCOUNT):
        raise PermissionDenied
    return list(policy.visible_accounts(request.user))


@api.get("/accounts/{slug}", response={200: AccountDetailOut, **ERRORS},
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
        "language": account.language,
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


@api.get("/accounts/{slug}/directory", response={200: list[CollaboratorOut], **ERRORS}, tags=["directory"])
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


@api.get("/accounts/{slug}/contacts", response={200: list[ContactOut], **ERRORS}, tags=["contacts"])
def list_contacts(request: HttpRequest, response: HttpResponse, slug: str, q: str = "",  # type: ignore[no-untyped-def]
                  limit: int = 100, offset: int = 0):
    """Paginated (``limit`` up to 500, ``offset``; ``X-Total-Count``, ``Link``)."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_CONTACTS)
    limit, offset = max(1, min(limit, 500)), max(0, offset)
    contacts = Contact.objects.filter(account=account).prefetch_related("numbers")
    if q:
        contacts = contacts.filter(last_name__icontains=q) | contacts.filter(company__icontains=q)
    _paginate(request, response, contacts.count(), limit, offset)
    page = list(contacts.order_by("pk")[offset : offset + limit])
    trail.record(request.user, Action.LIST, account=account, object_type="contacts.contact",
                 object_repr=f"{len(page)} contacts", request=request, via="api", query=q)
    return [_contact_out(c) for c in page]


@api.post("/accounts/{slug}/identify", response={200: IdentifyOut, **ERRORS}, tags=["contacts"])
def identify_caller(request: HttpRequest, slug: str, payload: IdentifyIn):  # type: ignore[no-untyped-def]
    account = policy.get_account_or_404(request.user, slug, Perm.IDENTIFY_CALLER)
    result = identify(payload.called, payload.caller)
    if result.account is None or result.account.pk != account.pk:
        return Status(422, {"detail": "The number called does not belong to this account."})
    trail.record(request.user, Action.IDENTIFY, account=account, object_type="contacts.contact",
                 object_repr=", ".join(str(c) for c in result.contacts)[:200] or "unknown",
                 request=request, via="api", caller=result.caller or "withheld")
    return {
        "account": account.slug,
        "caller": result.caller,
        "known": result.known,
        "contacts": [_contact_out(c) for c in result.contacts],
    }


# --- Agenda -------------------------------------------------------------------------------------


def _type_or_404(account: Any, type_id: int) -> AppointmentType:
    kind = AppointmentType.objects.filter(account=account, pk=type_id, is_active=True).first()
    if kind is None:
        raise Http404
    return kind


def _collaborator_or_404(account: Any, collaborator_id: int) -> Collaborator:
    person = Collaborator.objects.filter(account=account, pk=collaborator_id, is_active=True).first()
    if person is None:
        raise Http404
    return person


def _appointment_or_404(account: Any, appointment_id: int) -> Appointment:
    appointment = (
        Appointment.objects.filter(account=account, pk=appointment_id)
        .select_related("collaborator__account", "appointment_type")
        .first()
    )
    if appointment is None:
        raise Http404
    return appointment


def _appointment_out(a: Appointment) -> AppointmentOut:
    return AppointmentOut(
        id=a.pk,
        uid=str(a.uid),
        appointment_type=a.appointment_type_id,
        collaborator=a.collaborator_id,
        start=a.start,
        end=a.end,
        status=a.status,
        place=a.place,
        caller_name=a.caller_name,
        caller_phone=a.caller_phone,
        caller_email=a.caller_email,
        notes=a.notes,
        source=a.source,
    )


def _slot_out(slot: slots.Slot) -> SlotOut:
    return SlotOut(start=slot.start, end=slot.end, collaborator=int(slot.person), adjacent=slot.adjacent)


@api.get("/accounts/{slug}/appointment-types", response={200: list[AppointmentTypeOut], **ERRORS},
         tags=["agenda"])
def list_appointment_types(request: HttpRequest, slug: str):  # type: ignore[no-untyped-def]
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_AGENDA)
    kinds = AppointmentType.objects.filter(account=account, is_active=True).prefetch_related("collaborators")
    return [
        AppointmentTypeOut(
            id=k.pk, name=k.name, motives=k.motive_list, duration_minutes=k.duration_minutes,
            places=k.place_list, questions=k.question_list,
            collaborators=sorted(c.pk for c in k.collaborators.all() if c.is_active),
        )
        for k in kinds
    ]


@api.get("/accounts/{slug}/slots", response={200: list[SlotOut], **ERRORS}, tags=["agenda"])
def find_slots(request: HttpRequest, slug: str, appointment_type: int,  # type: ignore[no-untyped-def]
               collaborator: int | None = None, after: Instant | None = None, count: int = 5,
               part_of_day: Literal["any", "morning", "afternoon"] = "any", day: Day | None = None,
               no_gaps: bool = False):
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_AGENDA)
    kind = _type_or_404(account, appointment_type)
    person = _collaborator_or_404(account, collaborator) if collaborator is not None else None
    if after is not None and after.tzinfo is None:
        return Status(422, {"detail": "“after” must carry a time zone, e.g. 2026-12-07T09:00:00+01:00."})
    found = services.search(
        kind, collaborator=person, after=after, count=max(1, min(count, 50)),
        preference=slots.Preference(part_of_day, day, no_gaps),
    )
    return [_slot_out(s) for s in found]


@api.get("/accounts/{slug}/appointments", response={200: list[AppointmentOut], **ERRORS}, tags=["agenda"])
def list_appointments(request: HttpRequest, response: HttpResponse, slug: str,  # type: ignore[no-untyped-def]
                      start: Instant | None = None, end: Instant | None = None,
                      collaborator: int | None = None, include_cancelled: bool = False,
                      limit: int = 500, offset: int = 0):
    """From ``start`` (now) to ``end`` (a month later); paginated (``limit`` up to 1000, ``offset``;
    ``X-Total-Count``, ``Link``)."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_AGENDA)
    limit, offset = max(1, min(limit, 1000)), max(0, offset)
    start = start or timezone.now()
    end = end or start + timedelta(days=31)
    rows = Appointment.objects.filter(account=account, start__lt=end, end__gt=start)
    if collaborator is not None:
        rows = rows.filter(collaborator_id=collaborator)
    if not include_cancelled:
        rows = rows.filter(status=Appointment.Status.BOOKED)
    _paginate(request, response, rows.count(), limit, offset)
    page = list(rows.order_by("start", "pk")[offset : offset + limit])
    trail.record(request.user, Action.LIST, account=account, object_type="agenda.appointment",
                 object_repr=f"{len(page)} appointments", request=request, via="api")
    return [_appointment_out(a) for a in page]


@api.post("/accounts/{slug}/appointments", response={201: AppointmentOut, **ERRORS, 409: SlotTakenOut},
          tags=["agenda"])
def book_appointment(request: HttpRequest, slug: str, payload: BookIn):  # type: ignore[no-untyped-def]
    """With an ``Idempotency-Key`` header, a repeated request books once and gets the same answer."""
    account = policy.get_account_or_404(request.user, slug, Perm.BOOK_APPOINTMENTS)
    return idempotency.run(request, lambda: _book(request, account, payload))


def _book(request: HttpRequest, account: Any, payload: BookIn) -> Any:
    kind = _type_or_404(account, payload.appointment_type)
    person = _collaborator_or_404(account, payload.collaborator)
    try:
        booked = services.book(
            kind, person, payload.start,
            caller=services.Caller(payload.caller.name, payload.caller.phone, payload.caller.email),
            place=payload.place, notes=payload.notes, by=request.user, source=Appointment.Source.API,
        )
    except services.SlotTaken as taken:
        return Status(409, {"detail": str(taken), "alternatives": [_slot_out(s) for s in taken.alternatives]})
    except services.BookingError as refused:
        return Status(422, {"detail": str(refused)})
    trail.record(request.user, Action.CREATE, booked, account=account, request=request, via="api")
    return Status(201, _appointment_out(booked))


@api.post("/accounts/{slug}/appointments/{appointment_id}/reschedule",
          response={200: AppointmentOut, **ERRORS, 409: SlotTakenOut},
          tags=["agenda"])
def reschedule_appointment(request: HttpRequest, slug: str, appointment_id: int,  # type: ignore[no-untyped-def]
                           payload: RescheduleIn):
    account = policy.get_account_or_404(request.user, slug, Perm.BOOK_APPOINTMENTS)
    appointment = _appointment_or_404(account, appointment_id)
    try:
        moved = services.reschedule(appointment, payload.start)
    except services.SlotTaken as taken:
        return Status(409, {"detail": str(taken), "alternatives": [_slot_out(s) for s in taken.alternatives]})
    except services.BookingError as refused:
        return Status(422, {"detail": str(refused)})
    trail.record(request.user, Action.UPDATE, moved, account=account, request=request, via="api")
    return _appointment_out(moved)


@api.post("/accounts/{slug}/appointments/{appointment_id}/cancel",
          response={200: AppointmentOut, **ERRORS}, tags=["agenda"])
def cancel_appointment(request: HttpRequest, slug: str, appointment_id: int):  # type: ignore[no-untyped-def]
    account = policy.get_account_or_404(request.user, slug, Perm.BOOK_APPOINTMENTS)
    cancelled = services.cancel(_appointment_or_404(account, appointment_id), by=request.user)
    trail.record(request.user, Action.UPDATE, cancelled, account=account, request=request, via="api",
                 status="cancelled")
    return _appointment_out(cancelled)


# Instructions (consignes) -----------------------------------------------------------------


def _instruction_out(instruction: Instruction) -> InstructionOut:
    return InstructionOut(
        id=instruction.pk, text=instruction.text, starts_at=instruction.starts_at,
        ends_at=instruction.ends_at, phase=instruction.phase(), withdrawn_at=instruction.withdrawn_at,
        created_at=instruction.created_at,
    )


def _refused(error: DjangoValidationError) -> Any:
    errors = field_errors(error)
    return Status(422, {"detail": " ".join(errors.values()), "errors": errors})


def _aware(payload: InstructionIn) -> None:
    for name in ("starts_at", "ends_at"):
        if getattr(payload, name).tzinfo is None:
            raise HttpError(422, f"{name}: give the UTC offset, e.g. 2026-08-12T09:00:00+02:00.")


def _instruction_or_404(account: Any, instruction_id: int) -> Instruction:
    found = Instruction.objects.filter(account=account, pk=instruction_id).first()
    if found is None:
        raise Http404
    return found


@api.get("/accounts/{slug}/instructions", response={200: list[InstructionOut], **ERRORS},
         tags=["instructions"])
def list_instructions(request: HttpRequest, response: HttpResponse, slug: str,  # type: ignore[no-untyped-def]
                      history: bool = False, limit: int = 100, offset: int = 0):
    """The dated instructions in force and coming; with ``history``, the past and withdrawn ones too.
    The standing instructions are the account's ``instructions``. Paginated (``limit`` up to 500,
    ``offset``; ``X-Total-Count``, ``Link``)."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_ACCOUNT)
    limit, offset = max(1, min(limit, 500)), max(0, offset)
    rows = Instruction.objects.filter(account=account)
    if not history:
        rows = rows.filter(withdrawn_at__isnull=True, ends_at__gt=timezone.now())
    _paginate(request, response, rows.count(), limit, offset)
    return [_instruction_out(i) for i in rows.order_by("starts_at", "pk")[offset : offset + limit]]


@api.post("/accounts/{slug}/instructions", response={201: InstructionOut, **ERRORS, **IDEMPOTENT},
          tags=["instructions"])
def add_instruction(request: HttpRequest, slug: str, payload: InstructionIn):  # type: ignore[no-untyped-def]
    """With an ``Idempotency-Key`` header, a repeated request adds one instruction, same answer."""
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    _aware(payload)
    return idempotency.run(request, lambda: _add_instruction(request, account, payload))


def _add_instruction(request: HttpRequest, account: Any, payload: InstructionIn) -> Any:
    try:
        added = actions.add_instruction(account, payload.text, payload.starts_at, payload.ends_at,
                                        actor=request.user, request=request)
    except DjangoValidationError as error:
        return _refused(error)
    return Status(201, _instruction_out(added))


@api.post("/accounts/{slug}/instructions/standing", response={200: AccountDetailOut, **ERRORS},
          tags=["instructions"])
def set_standing_instructions(request: HttpRequest, slug: str,  # type: ignore[no-untyped-def]
                              payload: StandingInstructionsIn):
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    try:
        actions.set_standing_instructions(account, payload.text, actor=request.user, request=request)
    except DjangoValidationError as error:
        return _refused(error)
    return get_account(request, slug)


@api.post("/accounts/{slug}/instructions/{instruction_id}", response={200: InstructionOut, **ERRORS},
          tags=["instructions"])
def change_instruction(request: HttpRequest, slug: str, instruction_id: int,  # type: ignore[no-untyped-def]
                       payload: InstructionIn):
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    instruction = _instruction_or_404(account, instruction_id)
    _aware(payload)
    try:
        changed = actions.change_instruction(instruction, text=payload.text, starts_at=payload.starts_at,
                                             ends_at=payload.ends_at, actor=request.user, request=request)
    except DjangoValidationError as error:
        return _refused(error)
    return _instruction_out(changed)


@api.post("/accounts/{slug}/instructions/{instruction_id}/withdraw",
          response={200: InstructionOut, **ERRORS},
          tags=["instructions"])
def withdraw_instruction(request: HttpRequest, slug: str, instruction_id: int):  # type: ignore[no-untyped-def]
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    instruction = _instruction_or_404(account, instruction_id)
    try:
        withdrawn = actions.withdraw_instruction(instruction, actor=request.user, request=request)
    except DjangoValidationError as error:
        return _refused(error)
    return _instruction_out(withdrawn)


# The directory's own endpoints register on ``api`` (kept in their module for length).
from permanence.api import directory_endpoints  # noqa: E402, F401
