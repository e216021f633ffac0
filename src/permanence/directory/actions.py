"""Named domain actions on the directory: absences and their replacements. Pages, the API and the
back-office call these; they validate, write in one transaction and leave an audit event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from permanence.accounts import periods
from permanence.accounts.actions import period_error
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.directory.models import Absence, AbsenceKind, Collaborator


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
