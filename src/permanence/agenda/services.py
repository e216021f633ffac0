"""Slot search and booking on the database: the collaborators' schedules and busy times fed to the
pure ``slots`` core, and bookings that can never overlap.

``book`` is transactional. On PostgreSQL the exclusion constraint refuses an
overlapping booking whatever the race; on SQLite the transaction takes the
write lock at its start (IMMEDIATE), so the check made inside it holds until
the commit. The loser of a race gets ``SlotTaken`` with the next free slots.
"""

from __future__ import annotations

import logging
import random
import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from permanence.accounts import hours
from permanence.agenda import slots
from permanence.agenda.models import (
    Appointment,
    AppointmentType,
    AvailabilityException,
    ExternalEvent,
    WorkingHours,
)
from permanence.directory.models import Absence, Collaborator

logger = logging.getLogger(__name__)


# No appointment, and no stored busy time from a calendar, blocks more than this (a type lasts at most a
# day plus a day of buffer each side; calendar events are stored day by day): reading the busy times of
# a window can then start from the window's start minus this, along the index.
LONGEST_BLOCK = timedelta(days=3)


class BookingError(ValueError):
    """A booking that cannot be made; the message says why (shown to the secretary)."""


class _Overlap(Exception):
    pass


class SlotTaken(BookingError):
    """Someone else took the slot meanwhile; ``alternatives`` are the next free ones."""

    def __init__(self, message: str, alternatives: list[slots.Slot]) -> None:
        super().__init__(message)
        self.alternatives = alternatives


def schedule_of(collaborator: Collaborator, base: hours.Schedule | None = None) -> hours.Schedule:
    """The collaborator's working hours; without any, the account's opening hours (``base``: the
    account's schedule when the caller already has it)."""
    return schedules_of([collaborator.pk], base or collaborator.account.schedule())[collaborator.pk]


def schedules_of(collaborator_ids: Sequence[int], base: hours.Schedule) -> dict[int, hours.Schedule]:
    """The schedules of several collaborators of one account (``base``: its opening hours), in two
    queries whatever their number."""
    weekly: dict[int, dict[int, list[hours.TimeRange]]] = {pk: {} for pk in collaborator_ids}
    ranges = WorkingHours.objects.filter(collaborator_id__in=collaborator_ids).order_by("weekday", "start")
    for pk, row_pk, weekday, begins, ends in ranges.values_list(
        "collaborator_id", "pk", "weekday", "start", "end"
    ):
        try:
            weekly[pk].setdefault(weekday, []).append(hours.TimeRange(begins, ends))
        except hours.HoursError as error:
            logger.error("collaborator %s: working range %s ignored: %s", pk, row_pk, error)
    exceptions: dict[int, list[hours.HoursException]] = {
        pk: [] if weekly[pk] else list(base.exceptions) for pk in collaborator_ids
    }
    rows = AvailabilityException.objects.filter(collaborator_id__in=collaborator_ids).order_by(
        "created_at", "pk"
    )
    for pk, row_pk, first, last, text, label in rows.values_list(
        "collaborator_id", "pk", "start_date", "end_date", "ranges", "label"
    ):
        try:
            day = hours.parse_ranges(text)
        except hours.HoursError as error:
            logger.error("collaborator %s: exception %s read as a day off: %s", pk, row_pk, error)
            day = ()
        exceptions[pk].append(hours.HoursException(first, last, day, label))
    return {
        pk: hours.Schedule(
            tz=base.tz,
            weekly={d: tuple(r) for d, r in weekly[pk].items()} if weekly[pk] else base.weekly,
            exceptions=tuple(exceptions[pk]),
            holidays=base.holidays,
            closed_on_holidays=base.closed_on_holidays,
        )
        for pk in collaborator_ids
    }


def busy_times(
    collaborator: Collaborator,
    start: datetime,
    end: datetime,
    *,
    ignore: Appointment | None = None,
    own_calendar: bool = True,
) -> list[tuple[datetime, datetime]]:
    """Booked appointments (with their buffers), absences and, with ``own_calendar``, the events of the
    collaborator's synced calendar overlapping [start, end)."""
    return busy_by_person([collaborator.pk], start, end, ignore=ignore, own_calendar=own_calendar)[
        collaborator.pk
    ]


def busy_by_person(
    collaborator_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    ignore: Appointment | None = None,
    own_calendar: bool = True,
) -> dict[int, list[tuple[datetime, datetime]]]:
    """``busy_times`` of several collaborators, in three queries whatever their number."""
    busy: dict[int, list[tuple[datetime, datetime]]] = {pk: [] for pk in collaborator_ids}
    booked = Appointment.objects.filter(
        collaborator_id__in=collaborator_ids,
        status=Appointment.Status.BOOKED,
        blocked_from__lt=end,
        blocked_from__gte=start - LONGEST_BLOCK,
        blocked_until__gt=start,
    )
    if ignore is not None:
        booked = booked.exclude(pk=ignore.pk)
    for pk, begins, ends in booked.values_list("collaborator_id", "blocked_from", "blocked_until"):
        busy[pk].append((begins, ends))
    absences = Absence.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=start),
        collaborator_id__in=collaborator_ids,
        starts_at__lt=end,
    )
    for pk, begins, ends in absences.values_list("collaborator_id", "starts_at", "ends_at"):
        busy[pk].append((begins, ends or end))
    if own_calendar:
        external = ExternalEvent.objects.filter(
            link__collaborator_id__in=collaborator_ids,
            link__is_active=True,
            start__lt=end,
            start__gte=start - LONGEST_BLOCK,
            end__gt=start,
        )
        for pk, begins, ends in external.values_list("link__collaborator_id", "start", "end"):
            busy[pk].append((begins, ends))
    return busy


def _allowed(appointment_type: AppointmentType, collaborator: Collaborator | None) -> Any:
    """The active collaborators who take this type (only ``collaborator``, if given), in order."""
    people = appointment_type.collaborators.filter(is_active=True)
    if collaborator is not None:
        people = people.filter(pk=collaborator.pk)
    return people.order_by("last_name", "first_name", "pk")


def candidates(
    appointment_type: AppointmentType, collaborator: Collaborator | None = None
) -> list[Collaborator]:
    return list(_allowed(appointment_type, collaborator).select_related("account"))


def search(
    appointment_type: AppointmentType,
    *,
    collaborator: Collaborator | None = None,
    now: datetime | None = None,
    after: datetime | None = None,
    count: int = 5,
    preference: slots.Preference | None = None,
    ignore: Appointment | None = None,
) -> list[slots.Slot]:
    """The first free slots of this type, for one collaborator or any allowed one.

    The busy times are read for the first two days, then four times further, and so on up to the
    horizon, each window ending at a local midnight: the first slots are usually near, and a slot
    inside a window depends only on the busy times that overlap it, so the answer is the one a
    search over the whole horizon would give."""
    now = now or timezone.now()
    preference = preference or slots.Preference()
    core = appointment_type.as_core()
    account = appointment_type.account
    base = account.schedule()  # read once for every candidate
    keys = list(_allowed(appointment_type, collaborator).values_list("pk", flat=True))
    if not keys:
        return []
    schedules = schedules_of(keys, base)
    loaded_from = min(now, after or now) - core.buffer_before - core.duration
    earliest = max(now + core.min_notice, after or now)
    zone = base.tz
    busy: dict[int, list[tuple[datetime, datetime]]] = {pk: [] for pk in keys}
    span = timedelta(days=2 if len(keys) < 5 else 0)  # many people: the first slots are near
    while True:
        last_day = (preference.day or (earliest + span).astimezone(zone).date()) + timedelta(days=1)
        limit = min(core.horizon, datetime.combine(last_day, time(0), tzinfo=zone) - now)
        loaded_until = now + limit + core.duration + core.buffer_after
        if loaded_until > loaded_from:  # only the part not read yet (an interval astride is read twice)
            for pk, more in busy_by_person(keys, loaded_from, loaded_until, ignore=ignore).items():
                busy[pk].extend(more)
            loaded_from = loaded_until
        found = slots.find_slots(
            replace(core, horizon=limit),
            [slots.Person(str(pk), schedules[pk], busy[pk]) for pk in keys],
            now=now,
            after=after,
            count=count,
            preference=preference,
        )
        if len(found) >= count or limit >= core.horizon or preference.day is not None:
            return found
        span = max(span, timedelta(days=1)) * 4


@dataclass(frozen=True)
class Caller:
    name: str = ""
    phone: str = ""
    email: str = ""


def _check_slot(
    appointment_type: AppointmentType, collaborator: Collaborator, start: datetime, now: datetime
) -> tuple[datetime, datetime, datetime, datetime]:
    core = appointment_type.as_core()
    if start.tzinfo is None:
        raise BookingError("The start must carry a time zone.")
    end = start + core.duration
    if not appointment_type.is_active:
        raise BookingError("This appointment type is no longer offered.")
    if collaborator.account_id != appointment_type.account_id:
        raise BookingError("This collaborator belongs to another account.")
    if not appointment_type.collaborators.filter(pk=collaborator.pk).exists():
        raise BookingError("This collaborator does not take this type of appointment.")
    if start < now + core.min_notice:
        raise BookingError("Too late to book this slot (minimum notice).")
    if start > now + core.horizon:
        raise BookingError("This slot is beyond the booking horizon.")
    working = hours.open_intervals(schedule_of(collaborator), start, end)
    if not working or working[0] != (start, end):
        raise BookingError("The collaborator does not work at this time.")
    return start, end, start - core.buffer_before, end + core.buffer_after


def _taken(
    appointment_type: AppointmentType, collaborator: Collaborator, start: datetime, now: datetime
) -> SlotTaken:
    alternatives = search(appointment_type, collaborator=collaborator, now=now, after=start, count=5)
    if not alternatives:
        alternatives = search(appointment_type, now=now, after=start, count=5)
    return SlotTaken("This slot has just been taken.", alternatives)


def book(
    appointment_type: AppointmentType,
    collaborator: Collaborator,
    start: datetime,
    *,
    caller: Caller = Caller(),
    place: str = "",
    notes: str = "",
    answers: dict[str, Any] | None = None,
    call: Any = None,
    by: Any = None,
    source: str = Appointment.Source.DESK,
    now: datetime | None = None,
    notify: bool = True,
) -> Appointment:
    """Book the slot at ``start``, or raise SlotTaken (with the next free slots) or BookingError.
    The caller's confirmation is queued with the booking (``notify``)."""
    now = now or timezone.now()
    start, end, blocked_from, blocked_until = _check_slot(appointment_type, collaborator, start, now)
    places = appointment_type.place_list or ["office"]
    if place and place not in places:
        raise BookingError("This place is not offered for this type of appointment.")

    def write() -> Appointment:
        if busy_times(collaborator, blocked_from, blocked_until):
            raise _Overlap
        booked = Appointment.objects.create(
            account=collaborator.account,
            collaborator=collaborator,
            appointment_type=appointment_type,
            start=start,
            end=end,
            blocked_from=blocked_from,
            blocked_until=blocked_until,
            place=place or places[0],
            caller_name=caller.name[:200],
            caller_phone=caller.phone[:20],
            caller_email=caller.email[:254],
            notes=notes,
            answers=answers or {},
            call=call,
            created_by=by,
            source=source,
            reminder_sent_at=_reminder_needless(appointment_type, start, now),
        )
        if notify:
            from permanence.agenda import notify as notices

            notices.confirm(booked)
        _sync_soon(booked)
        return booked

    return _write(write, lambda: _taken(appointment_type, collaborator, start, now), collaborator.pk)


def _sync_soon(appointment: Appointment) -> None:
    from permanence.agenda import tasks

    tasks.soon(appointment.collaborator_id)


def _reminder_needless(kind: AppointmentType, start: datetime, now: datetime) -> datetime | None:
    """Booked within the reminder's notice (or no reminder at all): the confirmation is enough."""
    if not kind.reminder_hours or not kind.reminder_text.strip():
        return now
    return now if start - timedelta(hours=kind.reminder_hours) <= now else None


def _write(
    write: Callable[[], Appointment], taken: Callable[[], SlotTaken], collaborator_id: int
) -> Appointment:
    """Run a booking write in its own transaction; an overlap (found by the write's check, or by the
    PostgreSQL exclusion constraint) raises ``taken()``.

    The collaborator's row is locked first, so that writes to one agenda queue up: without it,
    PostgreSQL settles two clashing inserts by aborting one with "deadlock detected", and under many
    at once a booking could run out of retries. A deadlock that still happens is run again."""
    for attempt in range(5):
        try:
            with transaction.atomic():
                list(Collaborator.objects.select_for_update().filter(pk=collaborator_id).values_list("pk"))
                return write()
        except OperationalError as exc:
            if "deadlock detected" not in str(exc) or attempt == 4:
                raise
            clock.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
        except (_Overlap, IntegrityError) as exc:
            if isinstance(exc, IntegrityError) and "appointment_no_double_booking" not in str(exc):
                raise
            raise taken() from None
    raise AssertionError("unreachable")


def cancel(
    appointment: Appointment, *, by: Any = None, notify: bool = True, now: datetime | None = None
) -> Appointment:
    """Cancelled; the caller is told unless the appointment is already over."""
    with transaction.atomic():
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if locked.status == Appointment.Status.CANCELLED:
            return locked
        locked.status = Appointment.Status.CANCELLED
        locked.sequence += 1
        locked.save(update_fields=["status", "sequence", "updated"])
        if notify and locked.end > (now or timezone.now()):
            from permanence.agenda import notify as notices

            notices.cancelled(locked)
        _sync_soon(locked)
        return locked


def reschedule(
    appointment: Appointment, start: datetime, *, now: datetime | None = None, notify: bool = True
) -> Appointment:
    """Move an appointment to another start (same collaborator and type), or raise SlotTaken."""
    now = now or timezone.now()
    if appointment.appointment_type is None:
        raise BookingError("An appointment from a calendar is moved in that calendar.")
    kind = appointment.appointment_type
    start, end, blocked_from, blocked_until = _check_slot(kind, appointment.collaborator, start, now)

    def write() -> Appointment:
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if locked.status != Appointment.Status.BOOKED:
            raise BookingError("A cancelled appointment cannot be moved; book a new one.")
        if busy_times(locked.collaborator, blocked_from, blocked_until, ignore=locked):
            raise _Overlap
        locked.start, locked.end = start, end
        locked.blocked_from, locked.blocked_until = blocked_from, blocked_until
        locked.sequence += 1
        locked.reminder_sent_at = _reminder_needless(kind, start, now)
        locked.save()
        if notify:
            from permanence.agenda import notify as notices

            notices.confirm(locked, moved=True)
        _sync_soon(locked)
        return locked

    return _write(
        write, lambda: _taken(kind, appointment.collaborator, start, now), appointment.collaborator_id
    )


def move_from_calendar(appointment: Appointment, start: datetime, end: datetime) -> Appointment:
    """The collaborator moved the appointment in their own calendar: take the new times if no other
    appointment is there (their own events are their choice), else raise SlotTaken. No notice or
    working-hours rule: the collaborator decided. The caller is told."""
    kind = appointment.appointment_type
    before = timedelta(minutes=kind.buffer_before_minutes) if kind else timedelta(0)
    after = timedelta(minutes=kind.buffer_after_minutes) if kind else timedelta(0)
    if end <= start:
        raise BookingError("The appointment would end before it starts.")
    if end - start > timedelta(days=1):
        raise BookingError("An appointment lasts at most a day.")

    def write() -> Appointment:
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if locked.status != Appointment.Status.BOOKED:
            raise BookingError("This appointment is cancelled.")
        if busy_times(locked.collaborator, start - before, end + after, ignore=locked, own_calendar=False):
            raise _Overlap
        locked.start, locked.end = start, end
        locked.blocked_from, locked.blocked_until = start - before, end + after
        locked.sequence += 1
        if kind is not None:
            locked.reminder_sent_at = _reminder_needless(kind, start, timezone.now())
        locked.save()
        if locked.end > timezone.now():
            from permanence.agenda import notify as notices

            notices.confirm(locked, moved=True)
        return locked

    return _write(
        write, lambda: SlotTaken("Another appointment is already there.", []), appointment.collaborator_id
    )


def appointments_of(collaborator: Collaborator, start: datetime, end: datetime) -> Sequence[Appointment]:
    return list(
        Appointment.objects.filter(
            collaborator=collaborator, status=Appointment.Status.BOOKED, start__lt=end, end__gt=start
        ).select_related("appointment_type")
    )
