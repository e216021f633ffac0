"""Named domain actions on the directory's people and services, written by the client: a collaborator
(details, service, transfer rules) added or changed now or at a chosen time, a person who leaves, a
service made, renamed or removed. Pages, the API, the back-office and the worker's due changes all go
through these: they validate, refuse what would break a scenario, a rota or an escalation (with the
list of uses, ``permanence.where_used``), write in one transaction and leave an audit event.

A collaborator's details travel as a plain dict of ``FIELDS``: the page's form, the API's JSON and a
planned change (``DirectoryChange.data``) all speak it. A change gives only the fields that change; they
are laid over the person's values when the change is applied, so two planned changes of different fields
compose.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from permanence.accounts import hours
from permanence.accounts.models import Account, hours_error
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.directory import rules
from permanence.directory.models import (
    ChangeKind,
    ChangeStatus,
    Collaborator,
    DirectoryChange,
    Service,
    TransferWindow,
    unknown_caller_types_error,
)

TEXT_FIELDS = ("title", "first_name", "last_name", "job_title", "specialties", "keywords", "direct_line",
               "mobile", "email", "instructions", "transfer_mode")
FLAG_FIELDS = ("transfer_urgent_only", "transfer_urgent_bypass")
#: every field of a collaborator's details; ``windows`` maps a weekday ("0" = Monday) to its ranges as
#: typed ("09:00-12:00, 14:00-18:00"; empty: no transfer that day under conditions)
FIELDS = frozenset({*TEXT_FIELDS, *FLAG_FIELDS, "service", "caller_types", "windows"})
PLAN_AHEAD = timedelta(days=366)


def _ref(first_name: str, last_name: str) -> str:
    return slugify(f"{first_name} {last_name}")


def snapshot(person: Collaborator | None) -> dict[str, Any]:
    """The person's details in the form of ``FIELDS`` (a blank person for None)."""
    if person is None:
        return {**dict.fromkeys(TEXT_FIELDS, ""), "transfer_mode": rules.TransferMode.ALWAYS.value,
                **dict.fromkeys(FLAG_FIELDS, False), "service": None, "caller_types": [],
                "windows": {str(day): "" for day in range(7)}}
    ranges: dict[int, list[hours.TimeRange]] = {day: [] for day in range(7)}
    for window in person.transfer_windows.all():
        ranges[window.weekday].append(hours.TimeRange(window.start, window.end))
    return _fields(person, ranges)


def _fields(person: Collaborator, windows: dict[int, Any]) -> dict[str, Any]:
    return {
        **{name: getattr(person, name) for name in TEXT_FIELDS},
        **{name: bool(getattr(person, name)) for name in FLAG_FIELDS},
        "service": person.service_id,
        "caller_types": list(person.caller_type_codes) + list(person.unknown_caller_types),
        "windows": {str(day): ", ".join(r.format() for r in windows.get(day, ())) for day in range(7)},
    }


def _read_windows(raw: Any, errors: dict[str, Any]) -> dict[int, tuple[hours.TimeRange, ...]]:
    if not isinstance(raw, dict) or not set(map(str, raw)) <= {str(day) for day in range(7)}:
        errors["windows"] = _("Give the transfer hours by weekday, 0 (Monday) to 6 (Sunday).")
        return {}
    by_day = {str(day): str(text or "") for day, text in raw.items()}
    parsed: dict[int, tuple[hours.TimeRange, ...]] = {}
    for day in range(7):
        try:
            parsed[day] = hours.parse_ranges(by_day.get(str(day), ""))
        except hours.HoursError as error:
            errors[f"windows_{day}"] = hours_error(error)
    return parsed


def check_collaborator(account: Account, data: dict[str, Any], person: Collaborator | None = None,
                       base: dict[str, Any] | None = None,
                       ) -> tuple[Collaborator, dict[int, tuple[hours.TimeRange, ...]]]:
    """The person as they would be with ``data`` laid over their details (a new person for None; ``base``:
    the details to start from, by default the person's today), unsaved, with their transfer windows;
    ValidationError by field for anything wrong. ``windows`` given for some days leaves the other days
    as they were; words of ``caller_types`` that are no caller type (kept from before the shared list)
    are refused only when ``caller_types`` is given."""
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise ValidationError(_("Unknown fields: %(fields)s.") % {"fields": ", ".join(unknown)})
    start = base if base is not None else snapshot(person)
    merged = {**start, **data}
    if isinstance(data.get("windows"), dict):
        merged["windows"] = {**start["windows"], **{str(day): text for day, text in data["windows"].items()}}
    errors: dict[str, Any] = {}
    # the stored row (any field not in FIELDS kept as it is), or a new person
    candidate = Collaborator.objects.get(pk=person.pk) if person else Collaborator(account=account)
    for name in TEXT_FIELDS:
        setattr(candidate, name, str(merged[name] if merged[name] is not None else "").strip())
    for name in FLAG_FIELDS:
        setattr(candidate, name, bool(merged[name]))
    service = merged["service"]
    candidate.service = None
    if service not in (None, ""):
        try:
            candidate.service = Service.objects.get(account=account, pk=int(service))
        except (TypeError, ValueError, Service.DoesNotExist):
            errors["service"] = _("Pick a service of this account.")
    types = merged["caller_types"]
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        errors["caller_types"] = _("Give the caller types as a list.")
    else:
        codes, unknown_types = rules.parse_caller_types(", ".join(types))
        if unknown_types and "caller_types" in data:
            errors["caller_types"] = unknown_caller_types_error(unknown_types)
        candidate.transfer_caller_types = ", ".join([*codes, *unknown_types])  # old words kept as they were
    windows = _read_windows(merged["windows"], errors)
    try:
        candidate.full_clean(exclude=["account", "service", "transfer_caller_types"])
    except ValidationError as error:
        for name, problems in error.message_dict.items():
            if name != "transfer_caller_types":  # the model's check of the old words: decided above
                errors.setdefault(name, " ".join(problems))
    if person is not None and "last_name" not in errors:
        try:
            check_rename(person, candidate.first_name, candidate.last_name)
        except ValidationError as refused:
            errors["last_name"] = " ".join(refused.messages)
    if errors:
        raise ValidationError(errors)
    return candidate, windows


def check_rename(person: Collaborator, first_name: str, last_name: str) -> None:
    """A new name is refused while scenarios name the person by the old one (they would lose them)."""
    if _ref(first_name, last_name) == _ref(person.first_name, person.last_name):
        return
    from permanence import where_used  # where_used reads the scenarios, which read the directory

    named = [use.text for use in where_used.of_collaborator(person) if use.kind == "scenario"]
    if named:
        raise ValidationError(_("The scenarios name this person by their name: %(uses)s. Change the "
                                "scenarios in the same publication, or keep the name.") % {
                                    "uses": "; ".join(named)})


def _differences(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    changed = [name for name in after if before.get(name) != after[name]]
    return {name: before.get(name) for name in changed}, {name: after[name] for name in changed}


def save_collaborator(account: Account, data: dict[str, Any], person: Collaborator | None = None, *,
                      actor: Any = None, request: Any = None, **detail: Any) -> Collaborator:
    """Add a person to the directory (``person`` None) or change theirs, now."""
    with transaction.atomic():
        if person is not None:
            person = Collaborator.objects.select_for_update().get(pk=person.pk, account=account)
        candidate, windows = check_collaborator(account, data, person)
        before = snapshot(person) if person is not None else None
        candidate.save()
        TransferWindow.objects.filter(collaborator=candidate).delete()
        TransferWindow.objects.bulk_create(
            TransferWindow(collaborator=candidate, weekday=day, start=r.start, end=r.end)
            for day, ranges in windows.items() for r in ranges)
        after = snapshot(candidate)
        if before is None:
            trail.record(actor, Action.CREATE, candidate, account=account, request=request, after=after,
                         **detail)
        else:
            old, new = _differences(before, after)
            if new:
                trail.record(actor, Action.UPDATE, candidate, account=account, request=request,
                             before=old, after=new, **detail)
    return candidate


def check_leave(person: Collaborator) -> None:
    from permanence import where_used

    uses = where_used.of_collaborator(person)
    if uses:
        raise ValidationError(_("%(person)s is still in use: %(uses)s. Change these first.") % {
            "person": person, "uses": "; ".join(use.text for use in uses)})


def leave(person: Collaborator, *, actor: Any = None, request: Any = None, **detail: Any) -> Collaborator:
    """The person leaves the directory (kept for the history: calls and messages still name them);
    refused while a scenario, rota, replacement or appointment type uses them. Their planned changes
    are cancelled."""
    with transaction.atomic():
        person = Collaborator.objects.select_for_update().get(pk=person.pk)
        if not person.is_active:
            raise ValidationError(_("%(person)s has already left the directory.") % {"person": person})
        check_leave(person)
        person.is_active = False
        person.save(update_fields=["is_active"])
        trail.record(actor, Action.UPDATE, person, account=person.account_id, request=request,
                     before={"is_active": True}, after={"is_active": False}, **detail)
        DirectoryChange.objects.filter(collaborator=person, status=ChangeStatus.PENDING).update(
            status=ChangeStatus.CANCELLED, done_at=timezone.now(),
            outcome=_("The person left the directory."))
    return person


def rejoin(person: Collaborator, *, actor: Any = None, request: Any = None) -> Collaborator:
    """A person who left is back in the directory."""
    with transaction.atomic():
        person = Collaborator.objects.select_for_update().get(pk=person.pk)
        if person.is_active:
            raise ValidationError(_("%(person)s is in the directory.") % {"person": person})
        person.is_active = True
        person.save(update_fields=["is_active"])
        trail.record(actor, Action.UPDATE, person, account=person.account_id, request=request,
                     before={"is_active": False}, after={"is_active": True})
    return person


# Changes at a chosen time -------------------------------------------------------------------


def _change_detail(change: DirectoryChange) -> dict[str, Any]:
    return {"kind": change.kind, "effective_at": change.effective_at.isoformat(), "data": change.data,
            "collaborator": change.collaborator_id}


def projected(person: Collaborator, at: datetime) -> dict[str, Any]:
    """The person's details as they will be just before ``at``: today's, with the changes planned to
    take effect before it laid over them in order."""
    details = snapshot(person)
    earlier = DirectoryChange.objects.filter(collaborator=person, kind=ChangeKind.CHANGE,
                                             status=ChangeStatus.PENDING, effective_at__lt=at)
    for change in earlier.order_by("effective_at", "pk"):
        data = dict(change.data)
        if isinstance(data.get("windows"), dict):
            data["windows"] = {**details["windows"], **data["windows"]}
        details.update(data)
    return details


def plan_change(account: Account, kind: str, effective_at: datetime, data: dict[str, Any] | None = None,
                person: Collaborator | None = None, *, actor: Any = None, request: Any = None,
                now: datetime | None = None) -> DirectoryChange:
    """Write a change of the directory to take effect at ``effective_at``: checked now as it would be
    applied now, checked again when due. A change keeps only the fields that differ."""
    now = now or timezone.now()
    data = dict(data or {})
    if kind not in ChangeKind.values:
        raise ValidationError(_("Unknown kind of change."))
    if timezone.is_naive(effective_at) or effective_at <= now:
        raise ValidationError({"effective_at": _("Pick a time to come, or apply the change now.")})
    if effective_at > now + PLAN_AHEAD:
        raise ValidationError({"effective_at": _("A change is planned a year ahead at most.")})
    if kind != ChangeKind.ADD and (person is None or person.account_id != account.pk):
        raise ValidationError(_("Pick the person this change is about."))
    if kind == ChangeKind.ADD:
        data = _fields(*check_collaborator(account, data))  # as stored: numbers in E.164, type codes
        person = None
    elif kind == ChangeKind.CHANGE:
        assert person is not None
        before = projected(person, effective_at)  # with the changes planned before this one
        after = _fields(*check_collaborator(account, data, person, base=before))
        data = {name: value for name, value in after.items() if before[name] != value}
        if not data:
            raise ValidationError(_("Nothing changes: the details are the same."))
    else:
        assert person is not None
        if not person.is_active:
            raise ValidationError(_("%(person)s has already left the directory.") % {"person": person})
        check_leave(person)
        data = {}
    with transaction.atomic():
        change = DirectoryChange.objects.create(
            account=account, collaborator=person, kind=kind, data=data, effective_at=effective_at,
            created_by=actor if getattr(actor, "is_authenticated", False) else None)
        trail.record(actor, Action.CREATE, change, account=account, request=request,
                     after=_change_detail(change))
    return change


def cancel_change(change: DirectoryChange, *, actor: Any = None, request: Any = None) -> DirectoryChange:
    with transaction.atomic():
        change = DirectoryChange.objects.select_for_update().get(pk=change.pk)
        if change.status != ChangeStatus.PENDING:
            raise ValidationError(_("This change is no longer planned (%(status)s).") % {
                "status": change.get_status_display()})
        change.status = ChangeStatus.CANCELLED
        change.done_at = timezone.now()
        change.save(update_fields=["status", "done_at"])
        trail.record(actor, Action.UPDATE, change, account=change.account_id, request=request,
                     before={"status": ChangeStatus.PENDING}, after={"status": ChangeStatus.CANCELLED})
    return change


def _apply(change: DirectoryChange) -> None:
    planned = {"planned_change": change.pk,
               "planned_by": change.created_by.get_username() if change.created_by else None}
    if change.kind == ChangeKind.ADD:
        person = save_collaborator(change.account, change.data, **planned)
        change.collaborator = person
    elif change.kind == ChangeKind.CHANGE:
        assert change.collaborator is not None
        save_collaborator(change.account, change.data, change.collaborator, **planned)
    else:
        assert change.collaborator is not None
        leave(change.collaborator, **planned)


def apply_due(now: datetime | None = None) -> int:
    """Apply the planned changes whose time has come, oldest first (the worker's ``directory`` step);
    safe to run twice at once. A change that no longer holds (the person is now on a rota, the service
    was removed) is refused with the reason, shown on the directory page. Returns how many applied."""
    now = now or timezone.now()
    done = 0
    due = DirectoryChange.objects.filter(status=ChangeStatus.PENDING, effective_at__lte=now)
    for pk in list(due.order_by("effective_at", "pk").values_list("pk", flat=True)):
        with transaction.atomic():
            change = (DirectoryChange.objects.select_for_update(of=("self",))
                      .filter(pk=pk, status=ChangeStatus.PENDING)
                      .select_related("account", "collaborator", "created_by").first())
            if change is None:
                continue  # applied or cancelled meanwhile
            try:
                with transaction.atomic():
                    _apply(change)
            except ValidationError as refused:
                change.status = ChangeStatus.REFUSED
                change.outcome = " ".join(refused.messages)
            else:
                change.status = ChangeStatus.APPLIED
                done += 1
            change.done_at = timezone.now()
            change.save(update_fields=["status", "outcome", "done_at", "collaborator"])
            trail.record(None, Action.UPDATE, change, account=change.account_id,
                         before={"status": ChangeStatus.PENDING},
                         after={"status": change.status, "outcome": change.outcome})
    return done


# Services ---------------------------------------------------------------------------------------


def check_service_name(account: Account, name: str, service: Service | None = None) -> None:
    """A name given, unique in the account, and for a rename, not one that what names the service
    by its name (a scenario by its slug, an escalation step by its exact name) would lose."""
    if not name:
        raise ValidationError({"name": _("Give the service a name.")})
    if len(name) > 120:
        raise ValidationError({"name": _("A service's name is 120 characters at most.")})
    others = Service.objects.filter(account=account).exclude(pk=service.pk if service else None)
    if any(slugify(other.name) == slugify(name) for other in others):
        raise ValidationError({"name": _("This account already has a service of that name.")})
    if service is None or name == service.name:
        return
    from permanence import where_used

    blocking = [use.text for use in where_used.of_service(service)
                if use.kind == "escalation"
                or (use.kind == "scenario" and slugify(name) != slugify(service.name))]
    if blocking:
        raise ValidationError({"name": _(
            "The service is named by its name in: %(uses)s. Change these first, or keep the name.") % {
                "uses": "; ".join(blocking)}})


def save_service(account: Account, name: str, description: str = "", service: Service | None = None, *,
                 actor: Any = None, request: Any = None) -> Service:
    """Make a service or rename it; a new name must not break what names the service by its name."""
    name = " ".join((name or "").split())
    description = (description or "").strip()
    check_service_name(account, name, service)
    with transaction.atomic():
        before = None
        if service is not None:
            service = Service.objects.select_for_update().get(pk=service.pk, account=account)
            before = {"name": service.name, "description": service.description}
            service.name, service.description = name, description
            service.save()
        else:
            service = Service.objects.create(account=account, name=name, description=description)
        after = {"name": service.name, "description": service.description}
        if before is None:
            trail.record(actor, Action.CREATE, service, account=account, request=request, after=after)
        elif before != after:
            old, new = _differences(before, after)
            trail.record(actor, Action.UPDATE, service, account=account, request=request,
                         before=old, after=new)
    return service


def remove_service(service: Service, *, actor: Any = None, request: Any = None) -> None:
    """Remove a service nobody and nothing uses (else refused with the list)."""
    from permanence import where_used

    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=service.pk)
        uses = [use.text for use in where_used.of_service(service)]
        members = list(service.collaborators.filter(is_active=True))
        if members:
            uses.append(_("Its collaborators: %(people)s") % {"people": ", ".join(map(str, members))})
        if uses:
            raise ValidationError(
                _("The service “%(name)s” is still in use: %(uses)s. Change these first.")
                % {"name": service.name, "uses": "; ".join(uses)})
        trail.record(actor, Action.DELETE, service, account=service.account_id, request=request,
                     before={"name": service.name, "description": service.description})
        service.delete()
