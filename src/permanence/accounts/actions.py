"""Named domain actions on accounts. Views and commands call these; they validate,
write in one transaction and leave an audit event."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from permanence.accounts import hours, periods
from permanence.accounts.models import (
    INSTRUCTION_MAX_LENGTH,
    Account,
    AfterHours,
    HoursException,
    Instruction,
    PhoneNumber,
    WeeklyHours,
    hours_error,
)
from permanence.accounts.phones import PhoneNumberError, display, normalize
from permanence.audit import trail
from permanence.audit.models import Action

STANDING_MAX_LENGTH = 4000


def assign_number(
    account: Account, raw: str, *, label: str = "", actor: Any = None, move: bool = False
) -> PhoneNumber:
    """Give ``account`` the number ``raw`` (any spelling).

    A number belongs to one account at a time. If another account holds it, this
    fails unless ``move`` is set, in which case the other account's row is closed
    (kept for history) and a new one opened.
    """
    try:
        number = normalize(raw, settings.PHONE_DEFAULT_REGION)
    except PhoneNumberError as exc:
        raise ValidationError({"number": str(exc)}) from None
    with transaction.atomic():
        current = (
            PhoneNumber.objects.select_for_update()
            .filter(number=number, released_at__isnull=True)
            .select_related("account")
            .first()
        )
        if current is not None:
            if current.account_id == account.pk:
                return current
            if not move:
                raise ValidationError(
                    {"number": _("%(number)s already belongs to %(account)s.")
                     % {"number": display(number), "account": current.account}}
                )
            release_number(current, actor=actor)
        phone = PhoneNumber.objects.create(account=account, number=number, label=label)
        trail.record(actor, Action.CREATE, phone, account=account, number=number)
    return phone


def release_number(phone: PhoneNumber, *, actor: Any = None) -> PhoneNumber:
    """Close the number's assignment; the row stays as history."""
    if phone.released_at is None:
        phone.released_at = timezone.now()
        phone.save(update_fields=["released_at"])
        trail.record(actor, Action.UPDATE, phone, released=True)
    return phone


# Instructions (*consignes*): the standing text and the dated ones -------------------------


def period_error(error: periods.PeriodError) -> str:
    return {
        "format": _("Give a date and a time, e.g. 12/08/2026 09:00."),
        "gap": _("This time does not exist in the account's time zone: the clocks go forward then."),
        "order": _("The end must come after the start."),
        "too_long": _("A dated instruction lasts a year at most: write it in the standing instructions."),
        "naive": _("Give a date and a time, e.g. 12/08/2026 09:00."),
        "over": _("This period is already over."),
    }.get(error.code, str(error))


def _clean_text(text: str, limit: int) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    if len(text) > limit:
        raise ValidationError({"text": _("%(limit)d characters at most (this one has %(count)d).")
                               % {"limit": limit, "count": len(text)}})
    return text


def _snapshot(instruction: Instruction) -> dict[str, str]:
    return {
        "text": instruction.text,
        "starts_at": instruction.starts_at.isoformat(),
        "ends_at": instruction.ends_at.isoformat(),
    }


def _period(starts_at: datetime, ends_at: datetime, now: datetime, *, field: str = "ends_at") -> None:
    try:
        periods.check_new(periods.Period(starts_at, ends_at), now)
    except periods.PeriodError as error:
        raise ValidationError({field: period_error(error)}) from None


def check_instruction(text: str, starts_at: datetime, ends_at: datetime, now: datetime) -> str:
    """The instruction's text as kept, or ValidationError by field (also the back-office form's check)."""
    text = _clean_text(text, INSTRUCTION_MAX_LENGTH)
    if not text:
        raise ValidationError({"text": _("Write the instruction.")})
    _period(starts_at, ends_at, now)
    return text


def set_standing_instructions(
    account: Account, text: str, *, actor: Any = None, request: Any = None, now: datetime | None = None
) -> Account:
    """Replace the account's standing instructions (shown on every call)."""
    text = _clean_text(text, STANDING_MAX_LENGTH)
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        before = locked.instructions
        if before == text:
            return locked
        locked.instructions = text
        locked.instructions_changed_at = now or timezone.now()
        locked.save(update_fields=["instructions", "instructions_changed_at"])
        trail.record(actor, Action.UPDATE, locked, account=locked, request=request,
                     field="instructions", before=before, after=text)
    account.instructions = locked.instructions
    account.instructions_changed_at = locked.instructions_changed_at
    return locked


def add_instruction(
    account: Account, text: str, starts_at: datetime, ends_at: datetime, *,
    actor: Any = None, request: Any = None, now: datetime | None = None,
) -> Instruction:
    """A dated instruction, shown at the desk from ``starts_at`` until ``ends_at``."""
    now = now or timezone.now()
    text = check_instruction(text, starts_at, ends_at, now)
    with transaction.atomic():
        instruction = Instruction.objects.create(
            account=account, text=text, starts_at=starts_at, ends_at=ends_at, changed_at=now,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        trail.record(actor, Action.CREATE, instruction, account=account, request=request,
                     after=_snapshot(instruction))
    return instruction


def change_instruction(
    instruction: Instruction, *, text: str, starts_at: datetime, ends_at: datetime,
    actor: Any = None, request: Any = None, now: datetime | None = None,
) -> Instruction:
    """Change an instruction that is not over; the desk highlights it again."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Instruction.objects.select_for_update().get(pk=instruction.pk)
        if locked.phase(now) == "past":
            raise ValidationError(_("This instruction is over: it stays as history. Write a new one."))
        text = check_instruction(text, starts_at, ends_at, now)
        before = _snapshot(locked)
        locked.text, locked.starts_at, locked.ends_at = text, starts_at, ends_at
        after = _snapshot(locked)
        if after == before:
            return locked
        locked.changed_at = now
        locked.save(update_fields=["text", "starts_at", "ends_at", "changed_at"])
        trail.record(actor, Action.UPDATE, locked, account=locked.account_id, request=request,
                     before=before, after=after)
    return locked


def withdraw_instruction(
    instruction: Instruction, *, actor: Any = None, request: Any = None, now: datetime | None = None
) -> Instruction:
    """Take an instruction off the desk at once; it stays in the history."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Instruction.objects.select_for_update().get(pk=instruction.pk)
        if locked.withdrawn_at is not None:
            return locked
        if locked.ends_at <= now:
            raise ValidationError(_("This instruction is over already."))
        locked.withdrawn_at = now
        locked.save(update_fields=["withdrawn_at"])
        trail.record(actor, Action.UPDATE, locked, account=locked.account_id, request=request,
                     before=_snapshot(locked), withdrawn=True)
    return locked


# Opening hours, closures, the after-hours policy --------------------------------------------


def _week_snapshot(account: Account) -> dict[str, str]:
    days: dict[str, list[str]] = {}
    for row in WeeklyHours.objects.filter(account=account).order_by("weekday", "opens"):
        days.setdefault(str(row.weekday), []).append(f"{row.opens:%H:%M}-{row.closes:%H:%M}")
    return {day: ", ".join(ranges) for day, ranges in days.items()}


def set_weekly_hours(account: Account, week: dict[int, str], *, actor: Any = None,
                     request: Any = None) -> None:
    """Replace the weekly hours: for each weekday (0 = Monday) its ranges as typed, e.g.
    "09:00-12:30, 14:00-18:00"; empty: closed that day. All days are checked before any is written."""
    parsed: dict[int, tuple[hours.TimeRange, ...]] = {}
    errors: dict[str, ValidationError] = {}
    for day in range(7):
        try:
            parsed[day] = hours.parse_ranges(week.get(day, "") or "")
        except hours.HoursError as error:
            errors[f"day_{day}"] = hours_error(error)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        Account.objects.select_for_update().get(pk=account.pk)
        before = _week_snapshot(account)
        WeeklyHours.objects.filter(account=account).delete()
        WeeklyHours.objects.bulk_create(
            WeeklyHours(account=account, weekday=day, opens=r.start, closes=r.end)
            for day, ranges in parsed.items() for r in ranges
        )
        after = _week_snapshot(account)
        if after != before:
            trail.record(actor, Action.UPDATE, account, account=account, request=request,
                         field="weekly_hours", before=before, after=after)


def add_hours_exception(
    account: Account, start: date, end: date, ranges: str, label: str = "", *,
    actor: Any = None, request: Any = None, today: date | None = None,
) -> HoursException:
    """An exceptional closure (``ranges`` empty) or opening over ``start``..``end`` (inclusive)."""
    today = today or timezone.localdate(timezone=account.tz)
    if end < start:
        raise ValidationError({"end_date": _("The end date is before the start date.")})
    if end < today:
        raise ValidationError({"end_date": _("This period is already over.")})
    if (end - start).days > 366:
        raise ValidationError({"end_date": _("An exception lasts a year at most.")})
    try:
        hours.parse_ranges(ranges or "")
    except hours.HoursError as error:
        raise ValidationError({"ranges": hours_error(error)}) from None
    with transaction.atomic():
        row = HoursException.objects.create(account=account, start_date=start, end_date=end,
                                            ranges=(ranges or "").strip(), label=(label or "").strip()[:200])
        trail.record(actor, Action.CREATE, row, account=account, request=request,
                     after={"start": start.isoformat(), "end": end.isoformat(), "ranges": row.ranges,
                            "label": row.label})
    return row


def remove_hours_exception(row: HoursException, *, actor: Any = None, request: Any = None,
                           today: date | None = None) -> None:
    """Remove an exception still to come or under way (one that is over stays as history)."""
    today = today or timezone.localdate(timezone=row.account.tz)
    if row.end_date < today:
        raise ValidationError(_("This exception is over: it stays as history."))
    with transaction.atomic():
        trail.record(actor, Action.DELETE, row, account=row.account_id, request=request,
                     before={"start": row.start_date.isoformat(), "end": row.end_date.isoformat(),
                             "ranges": row.ranges, "label": row.label})
        row.delete()


def set_after_hours(account: Account, policy: str, on_call_number: str = "", *, actor: Any = None,
                    request: Any = None) -> Account:
    """What callers get when the account is closed, and the on-call number calls may be forwarded to."""
    if policy not in AfterHours.values:
        raise ValidationError({"after_hours": _("Pick what callers get when the account is closed.")})
    number = ""
    if (on_call_number or "").strip():
        try:
            number = normalize(on_call_number, settings.PHONE_DEFAULT_REGION)
        except PhoneNumberError as exc:
            raise ValidationError({"on_call_number": str(exc)}) from None
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        forwards_to_rota = locked.rotas.filter(forwards_after_hours=True).exists()
        if policy == AfterHours.FORWARD and not number and not forwards_to_rota:
            raise ValidationError(
                {"on_call_number": _("Give the on-call number the calls are forwarded to.")})
        before = {"after_hours": locked.after_hours, "on_call_number": locked.on_call_number}
        locked.after_hours, locked.on_call_number = policy, number
        after = {"after_hours": policy, "on_call_number": number}
        if after != before:
            locked.save(update_fields=["after_hours", "on_call_number"])
            trail.record(actor, Action.UPDATE, locked, account=locked, request=request,
                         field="after_hours", before=before, after=after)
    account.after_hours, account.on_call_number = locked.after_hours, locked.on_call_number
    return locked
