"""The API of the client's own directory: people (now or at a chosen time), services, planned changes,
absences with their replacements, on-call rotas and their swaps. Each write goes through the same named
action as the client's pages (``directory.people``, ``directory.actions``): validated the same way,
refusals as 422 with the errors by field, audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Status
from ninja.errors import HttpError

from permanence import policy
from permanence.api import idempotency
from permanence.api.endpoints import ERRORS, IDEMPOTENT, _paginate, _refused, api
from permanence.api.schemas import (
    AbsenceDetailOut,
    AbsenceIn,
    PersonIn,
    PersonOut,
    PlannedChangeOut,
    RotaOut,
    ServiceIn,
    ServiceOut,
    SwapIn,
    SwapOut,
    WhenIn,
)
from permanence.directory import actions, oncall, people
from permanence.directory.models import (
    Absence,
    ChangeKind,
    ChangeStatus,
    Collaborator,
    DirectoryChange,
    Rota,
    RotaSwap,
    Service,
)
from permanence.policy import Perm


def _in(model: Any, pk: int | None, **scope: Any) -> Any:
    """The row of ``model`` with ``pk`` within the account (404 otherwise, whatever exists elsewhere)."""
    found = model.objects.filter(pk=pk, **scope).first() if pk is not None else None
    if found is None:
        raise Http404
    return found


def _aware(value: datetime | None, name: str) -> None:
    if value is not None and value.tzinfo is None:
        raise HttpError(422, f"{name}: give the UTC offset, e.g. 2026-08-12T09:00:00+02:00.")


def _person_out(person: Collaborator) -> PersonOut:
    return PersonOut(id=person.pk, is_active=person.is_active, **people.snapshot(person))


def _change_out(change: DirectoryChange) -> PlannedChangeOut:
    return PlannedChangeOut(id=change.pk, kind=change.kind, collaborator=change.collaborator_id,
                            data=change.data, effective_at=change.effective_at,
                            status=change.status, outcome=change.outcome)


def _write_person(request: HttpRequest, account: Any, payload: PersonIn, person: Collaborator | None,
                  created: int) -> Any:
    _aware(payload.effective_at, "effective_at")
    data = payload.dict(exclude_unset=True)
    when = data.pop("effective_at", None)
    try:
        if when is None:
            saved = people.save_collaborator(account, data, person, actor=request.user, request=request,
                                             via="api")
            return Status(created, _person_out(saved))
        kind = ChangeKind.ADD if person is None else ChangeKind.CHANGE
        change = people.plan_change(account, kind, when, data, person, actor=request.user, request=request)
    except DjangoValidationError as error:
        return _refused(error)
    return Status(202, _change_out(change))


@api.get("/accounts/{slug}/directory/people/{person_id}", response={200: PersonOut, **ERRORS},
         tags=["directory"])
def get_person(request: HttpRequest, slug: str, person_id: int):  # type: ignore[no-untyped-def]
    """A person's details and transfer rules, as written (those who left too: ``is_active`` false)."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_ACCOUNT)
    return _person_out(_in(Collaborator, person_id, account=account))


@api.post("/accounts/{slug}/directory/people",
          response={201: PersonOut, 202: PlannedChangeOut, **ERRORS, **IDEMPOTENT},
          tags=["directory"])
def add_person(request: HttpRequest, slug: str, payload: PersonIn):  # type: ignore[no-untyped-def]
    """A new person, now (201) or from ``effective_at`` (202: the planned change). Idempotent with an
    ``Idempotency-Key`` header."""
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    return idempotency.run(request, lambda: _write_person(request, account, payload, None, 201))


@api.post("/accounts/{slug}/directory/people/{person_id}",
          response={200: PersonOut, 202: PlannedChangeOut, **ERRORS}, tags=["directory"])
def change_person(request: HttpRequest, slug: str, person_id: int,  # type: ignore[no-untyped-def]
                  payload: PersonIn):
    """Change the fields given (the others stay), now (200) or from ``effective_at`` (202). A new name
    that a scenario would lose is refused (422, with the scenarios)."""
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    person = _in(Collaborator, person_id, account=account)
    return _write_person(request, account, payload, person, 200)


@api.post("/accounts/{slug}/directory/people/{person_id}/leave",
          response={200: PersonOut, 202: PlannedChangeOut, **ERRORS}, tags=["directory"])
def person_leaves(request: HttpRequest, slug: str, person_id: int,  # type: ignore[no-untyped-def]
                  payload: WhenIn):
    """The person leaves the directory now, or at ``effective_at``; refused (422, with the list of uses)
    while a scenario, a rota, a replacement or an appointment type uses them."""
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    person = _in(Collaborator, person_id, account=account)
    _aware(payload.effective_at, "effective_at")
    try:
        if payload.effective_at is None:
            return _person_out(people.leave(person, actor=request.user, request=request, via="api"))
        change = people.plan_change(account, ChangeKind.LEAVE, payload.effective_at, person=person,
                                    actor=request.user, request=request)
    except DjangoValidationError as error:
        return _refused(error)
    return Status(202, _change_out(change))


@api.get("/accounts/{slug}/directory/changes", response={200: list[PlannedChangeOut], **ERRORS},
         tags=["directory"])
def list_planned_changes(request: HttpRequest, response: HttpResponse, slug: str,  # type: ignore[no-untyped-def]
                         history: bool = False, limit: int = 100, offset: int = 0):
    """The changes planned and not yet due; with ``history``, the done, cancelled and refused ones too.
    Paginated."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_ACCOUNT)
    limit, offset = max(1, min(limit, 500)), max(0, offset)
    rows = DirectoryChange.objects.filter(account=account)
    if not history:
        rows = rows.filter(status=ChangeStatus.PENDING)
    _paginate(request, response, rows.count(), limit, offset)
    return [_change_out(c) for c in rows.order_by("effective_at", "pk")[offset: offset + limit]]


@api.post("/accounts/{slug}/directory/changes/{change_id}/cancel", response={200: PlannedChangeOut, **ERRORS},
          tags=["directory"])
def cancel_planned_change(request: HttpRequest, slug: str, change_id: int):  # type: ignore[no-untyped-def]
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    change = _in(DirectoryChange, change_id, account=account)
    try:
        return _change_out(people.cancel_change(change, actor=request.user, request=request))
    except DjangoValidationError as error:
        return _refused(error)


# Services ----------------------------------------------------------------------------------------


def _service_out(service: Service) -> ServiceOut:
    return ServiceOut(id=service.pk, name=service.name, description=service.description)


@api.get("/accounts/{slug}/directory/services", response={200: list[ServiceOut], **ERRORS},
         tags=["directory"])
def list_services(request: HttpRequest, slug: str):  # type: ignore[no-untyped-def]
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_ACCOUNT)
    return [_service_out(s) for s in Service.objects.filter(account=account)]


def _save_service(request: HttpRequest, account: Any, payload: ServiceIn, service: Service | None) -> Any:
    try:
        saved = people.save_service(account, payload.name, payload.description, service, actor=request.user,
                                    request=request)
    except DjangoValidationError as error:
        return _refused(error)
    return Status(201 if service is None else 200, _service_out(saved))


@api.post("/accounts/{slug}/directory/services", response={201: ServiceOut, **ERRORS, **IDEMPOTENT},
          tags=["directory"])
def add_service(request: HttpRequest, slug: str, payload: ServiceIn):  # type: ignore[no-untyped-def]
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    return idempotency.run(request, lambda: _save_service(request, account, payload, None))


@api.post("/accounts/{slug}/directory/services/{service_id}", response={200: ServiceOut, **ERRORS},
          tags=["directory"])
def change_service(request: HttpRequest, slug: str, service_id: int,  # type: ignore[no-untyped-def]
                   payload: ServiceIn):
    """Rename a service or change its description; a name a scenario or an escalation list uses is kept
    (422 with the list)."""
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    return _save_service(request, account, payload, _in(Service, service_id, account=account))


@api.post("/accounts/{slug}/directory/services/{service_id}/remove", response={204: None, **ERRORS},
          tags=["directory"])
def remove_service(request: HttpRequest, slug: str, service_id: int):  # type: ignore[no-untyped-def]
    """Remove a service nothing uses (else 422 with the list of uses)."""
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    service = _in(Service, service_id, account=account)
    try:
        people.remove_service(service, actor=request.user, request=request)
    except DjangoValidationError as error:
        return _refused(error)
    return Status(204, None)


# Absences ----------------------------------------------------------------------------------------


def _absence_out(a: Absence) -> AbsenceDetailOut:
    return AbsenceDetailOut(id=a.pk, collaborator=a.collaborator_id, kind=a.kind, starts_at=a.starts_at,
                            ends_at=a.ends_at, replacement=a.replacement_id, note=a.note)


@api.get("/accounts/{slug}/absences", response={200: list[AbsenceDetailOut], **ERRORS}, tags=["directory"])
def list_absences(request: HttpRequest, slug: str):  # type: ignore[no-untyped-def]
    """The absences in force and coming."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_ACCOUNT)
    rows = (Absence.objects.filter(collaborator__account=account)
            .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=timezone.now())).order_by("starts_at", "pk"))
    return [_absence_out(a) for a in rows]


def _add_absence(request: HttpRequest, account: Any, payload: AbsenceIn) -> Any:
    person = _in(Collaborator, payload.collaborator, account=account, is_active=True)
    replacement = (_in(Collaborator, payload.replacement, account=account)
                   if payload.replacement is not None else None)
    try:
        added = actions.add_absence(person, payload.kind, payload.starts_at, payload.ends_at,
                                    replacement=replacement, note=payload.note, actor=request.user,
                                    request=request)
    except DjangoValidationError as error:
        return _refused(error)
    return Status(201, _absence_out(added))


@api.post("/accounts/{slug}/absences", response={201: AbsenceDetailOut, **ERRORS, **IDEMPOTENT},
          tags=["directory"])
def add_absence(request: HttpRequest, slug: str, payload: AbsenceIn):  # type: ignore[no-untyped-def]
    """The person is away from ``starts_at`` (until ``ends_at``, or until further notice); calls asked
    for them go to ``replacement``. Idempotent with an ``Idempotency-Key`` header."""
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    _aware(payload.starts_at, "starts_at")
    _aware(payload.ends_at, "ends_at")
    return idempotency.run(request, lambda: _add_absence(request, account, payload))


@api.post("/accounts/{slug}/absences/{absence_id}/end", response={200: AbsenceDetailOut, 204: None, **ERRORS},
          tags=["directory"])
def end_absence(request: HttpRequest, slug: str, absence_id: int):  # type: ignore[no-untyped-def]
    """Back now (200, the absence as kept), or an absence not yet started cancelled (204)."""
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    absence = _in(Absence, absence_id, collaborator__account=account)
    try:
        kept = actions.end_absence(absence, actor=request.user, request=request)
    except DjangoValidationError as error:
        return _refused(error)
    return Status(204, None) if kept is None else _absence_out(kept)


# On-call rotas -----------------------------------------------------------------------------------


@api.get("/accounts/{slug}/rotas", response={200: list[RotaOut], **ERRORS}, tags=["directory"])
def list_rotas(request: HttpRequest, slug: str):  # type: ignore[no-untyped-def]
    """Each rota with its members in turn order and the person on call now."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_ACCOUNT)
    now = timezone.now()
    out = []
    for rota in oncall.rotas(account):
        person = rota.on_call(now)
        out.append(RotaOut(service=rota.service_id, service_name=rota.service.name,
                           covers=sorted(c.value for c in rota.cover_set()),
                           members=[m.collaborator_id for m in rota.members.all()],
                           on_call_now=person.pk if person else None,
                           forwards_after_hours=rota.forwards_after_hours))
    return out


def _swap_out(swap: RotaSwap) -> SwapOut:
    return SwapOut(id=swap.pk, collaborator=swap.collaborator_id, starts_at=swap.starts_at,
                   ends_at=swap.ends_at, reason=swap.reason)


def _add_swap(request: HttpRequest, account: Any, rota: Rota, payload: SwapIn) -> Any:
    person = _in(Collaborator, payload.collaborator, account=account, is_active=True)
    try:
        swap = actions.add_swap(rota, person, payload.starts_at, payload.ends_at, reason=payload.reason,
                                actor=request.user, request=request)
    except DjangoValidationError as error:
        return _refused(error)
    return Status(201, _swap_out(swap))


@api.post("/accounts/{slug}/rotas/{service_id}/swaps", response={201: SwapOut, **ERRORS, **IDEMPOTENT},
          tags=["directory"])
def add_swap(request: HttpRequest, slug: str, service_id: int, payload: SwapIn):  # type: ignore[no-untyped-def]
    """``collaborator`` is on call instead of the turn's person from ``starts_at`` to ``ends_at``.
    Idempotent with an ``Idempotency-Key`` header."""
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    rota = Rota.objects.filter(account=account, service_id=service_id).first()
    if rota is None:
        raise Http404
    _aware(payload.starts_at, "starts_at")
    _aware(payload.ends_at, "ends_at")
    return idempotency.run(request, lambda: _add_swap(request, account, rota, payload))


@api.post("/accounts/{slug}/rotas/swaps/{swap_id}/remove", response={204: None, **ERRORS}, tags=["directory"])
def remove_swap(request: HttpRequest, slug: str, swap_id: int):  # type: ignore[no-untyped-def]
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_ACCOUNT)
    swap = _in(RotaSwap, swap_id, rota__account=account)
    actions.remove_swap(swap, actor=request.user, request=request)
    return Status(204, None)
