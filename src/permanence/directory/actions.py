"""Named domain actions on the directory: absences and their replacements, on-call rotas. Pages,
the API and the back-office call these; they validate, write in one transaction and leave an audit event."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from permanence.accounts import periods
from permanence.accounts.actions import period_error
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.directory import rota as rota_core
from permanence.directory.models import (
    Absence,
    AbsenceKind,
    Collaborator,
    Rota,
    RotaMember,
    RotaSwap,
    Service,
)


def _snapshot(absence: Absence) -> dict[str, Any]:
    return {
        "collaborator": absence.collaborator_id,
        "kind": absence.kind,
        "starts_at": absence.starts_at.isoformat(),
        "ends_at": absence.ends_at.isoformat() if absence.ends_at else None,
        "replacement": absence.replacement_id,
        "note": absence.note,
    }


def check_absence(collaborator: Collaborator, kind: str, starts_at: datetime, ends_at: datetime | None,
                  replacement: Collaborator | None, now: datetime) -> None:
    """ValidationError by field, or nothing (also the back-office form's check)."""
    if kind not in AbsenceKind.values:
        raise ValidationError({"kind": _("Pick a kind of absence from the list.")})
    if ends_at is not None:
        try:
            period = periods.Period(starts_at, ends_at)
            periods.check_new(period, now)
        except periods.PeriodError as error:
            raise ValidationError({"ends_at": period_error(error)}) from None
    if replacement is not None:
        if replacement.pk == collaborator.pk:
            raise ValidationError({"replacement": _("A collaborator cannot replace themselves.")})
        if replacement.account_id != collaborator.account_id:
            raise ValidationError({"replacement": _("The replacement belongs to another account.")})
        if not replacement.is_active:
            raise ValidationError({"replacement": _("The replacement has left the directory.")})


def add_absence(
    collaborator: Collaborator, kind: str, starts_at: datetime, ends_at: datetime | None, *,
    replacement: Collaborator | None = None, note: str = "", actor: Any = None, request: Any = None,
    now: datetime | None = None,
) -> Absence:
    """The collaborator is away from ``starts_at`` (until ``ends_at``, or until further notice);
    calls asked for them go to ``replacement`` if one is given."""
    now = now or timezone.now()
    check_absence(collaborator, kind, starts_at, ends_at, replacement, now)
    with transaction.atomic():
        absence = Absence.objects.create(
            collaborator=collaborator, kind=kind, starts_at=starts_at, ends_at=ends_at,
            replacement=replacement, note=(note or "").strip()[:200],
        )
        trail.record(actor, Action.CREATE, absence, account=collaborator.account_id, request=request,
                     after=_snapshot(absence))
    return absence


def end_absence(absence: Absence, *, actor: Any = None, request: Any = None,
                now: datetime | None = None) -> Absence | None:
    """Back now: an absence under way ends now; one still to come is cancelled (deleted, audited)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Absence.objects.select_for_update().select_related("collaborator").get(pk=absence.pk)
        before = _snapshot(locked)
        account = locked.collaborator.account_id
        if locked.ends_at is not None and locked.ends_at <= now:
            raise ValidationError(_("This absence is over already."))
        if locked.starts_at > now:
            trail.record(actor, Action.DELETE, locked, account=account, request=request, before=before)
            locked.delete()
            return None
        locked.ends_at = now
        locked.save(update_fields=["ends_at"])
        trail.record(actor, Action.UPDATE, locked, account=account, request=request, before=before,
                     after=_snapshot(locked))
    return locked


# On-call rotas ------------------------------------------------------------------------------


def _rota_snapshot(rota: Rota) -> dict[str, Any]:
    return {
        "service": rota.service_id,
        "covers": rota.covers,
        "first_day": rota.first_day.isoformat(),
        "handover": rota.handover.strftime("%H:%M"),
        "night_start": rota.night_start.strftime("%H:%M"),
        "night_end": rota.night_end.strftime("%H:%M"),
        "forwards_after_hours": rota.forwards_after_hours,
        "members": [m.collaborator_id for m in rota.members.all()],
    }


def save_rota(
    service: Service, *, members: list[Collaborator], covers: list[str], first_day: date,
    handover: time = time(8, 0), night_start: time = time(19, 0), night_end: time = time(8, 0),
    forwards_after_hours: bool = False, actor: Any = None, request: Any = None,
) -> Rota:
    """Create or replace the service's rota: its members in turn and when it applies."""
    errors: dict[str, str] = {}
    if not members:
        errors["members"] = _("Put at least one person in the rota.")
    if len({m.pk for m in members}) != len(members):
        errors["members"] = _("A person appears twice in the rota.")
    if any(m.account_id != service.account_id or not m.is_active for m in members):
        errors["members"] = _("The rota takes people of the account's directory only.")
    known = {c.value for c in rota_core.Cover}
    if not covers or any(c not in known for c in covers):
        errors["covers"] = _("Say when the rota applies: always, nights, weekends or public holidays.")
    if night_start == night_end:
        errors["night_end"] = _("The night must start and end at different times.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        rota = Rota.objects.select_for_update().filter(service=service).first()
        before = _rota_snapshot(rota) if rota else None
        if forwards_after_hours:  # one rota per account takes the after-hours calls
            Rota.objects.filter(account_id=service.account_id, forwards_after_hours=True).exclude(
                service=service).update(forwards_after_hours=False)
        fields = {"covers": ", ".join(c for c in known if c in covers), "first_day": first_day,
                  "handover": handover, "night_start": night_start, "night_end": night_end,
                  "forwards_after_hours": forwards_after_hours}
        if rota is None:
            rota = Rota.objects.create(account_id=service.account_id, service=service, **fields)
        else:
            for name, value in fields.items():
                setattr(rota, name, value)
            rota.save()
        rota.members.all().delete()
        RotaMember.objects.bulk_create(
            RotaMember(rota=rota, collaborator=m, position=i) for i, m in enumerate(members, start=1))
        after = _rota_snapshot(rota)
        if after != before:
            trail.record(actor, Action.CREATE if before is None else Action.UPDATE, rota,
                         account=service.account_id, request=request, before=before, after=after)
    return rota


def add_swap(rota: Rota, collaborator: Collaborator, starts_at: datetime, ends_at: datetime, *,
             reason: str = "", actor: Any = None, request: Any = None,
             now: datetime | None = None) -> RotaSwap:
    """For a period, ``collaborator`` is on call instead of whoever's turn it is."""
    now = now or timezone.now()
    try:
        periods.check_new(periods.Period(starts_at, ends_at), now)
    except periods.PeriodError as error:
        raise ValidationError({"ends_at": period_error(error)}) from None
    if collaborator.account_id != rota.account_id or not collaborator.is_active:
        raise ValidationError({"collaborator": _("The rota takes people of the account's directory only.")})
    with transaction.atomic():
        swap = RotaSwap.objects.create(rota=rota, collaborator=collaborator, starts_at=starts_at,
                                       ends_at=ends_at, reason=(reason or "").strip()[:200])
        trail.record(actor, Action.CREATE, swap, account=rota.account_id, request=request,
                     rota=rota.pk, collaborator=collaborator.pk, starts_at=starts_at.isoformat(),
                     ends_at=ends_at.isoformat(), reason=swap.reason)
    return swap


def remove_swap(swap: RotaSwap, *, actor: Any = None, request: Any = None) -> None:
    with transaction.atomic():
        trail.record(actor, Action.DELETE, swap, account=swap.rota.account_id, request=request,
                     rota=swap.rota_id, collaborator=swap.collaborator_id,
                     starts_at=swap.starts_at.isoformat(), ends_at=swap.ends_at.isoformat())
        swap.delete()
