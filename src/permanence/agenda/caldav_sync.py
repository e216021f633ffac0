"""Two-way sync between the agenda and a collaborator's own calendar (``CalendarLink``).

One sync = pull, then push:

- **pull**: the objects changed there since the last sync token (RFC 6578; a full listing on the first
  sync, when the token has expired, and once a week, so that recurring events are expanded further and
  anything missed is caught). Events of the collaborator become busy times here (``ExternalEvent``,
  one row per occurrence, times only). Our own appointments (UID ``<uid>@permanence``) that were
  changed there: moved → moved here if no other appointment is in the way (the caller is told), else
  kept here and written back; deleted or cancelled there → cancelled here (the caller is told).
  An event there that overlaps an appointment is reported.
- **push**: the appointments created or changed here since they were last written there are written
  (the same address every time: ``<uid>.ics``), cancelled ones are deleted there.

Whatever the sync settles on its own or cannot settle is recorded as a ``SyncIssue``, shown on the
agenda page until someone marks it seen. Every step is idempotent: a sync cut short is done again by
the next one from the last saved token.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

import icalendar
import recurring_ical_events
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from permanence.agenda import calendars, feeds, services
from permanence.agenda.models import Appointment, CalendarLink, ExternalEvent, RemoteCopy, SyncIssue

logger = logging.getLogger(__name__)

WINDOW_PAST = timedelta(days=1)
WINDOW_FUTURE = timedelta(days=400)
FULL_EVERY = timedelta(days=7)
LEASE = timedelta(minutes=5)
OWN_SUFFIX = "@permanence"


@dataclass
class Report:
    pulled: int = 0
    pushed: int = 0
    deleted: int = 0
    issues: int = 0
    error: str = ""
    skipped: bool = False


def remote_of(link: CalendarLink) -> calendars.RemoteCalendar:
    return calendars.connect(link.kind, link.url, link.username, link.password)


def relink(link: CalendarLink) -> None:
    """The link now points to another calendar (or asks to start over): forget what was read from and
    written to the previous one, so that the next sync reads everything and writes every booking."""
    with transaction.atomic():
        link.events.all().delete()
        link.copies.all().delete()
        CalendarLink.objects.filter(pk=link.pk).update(
            sync_token="", last_full_sync_at=None, last_error="", failures=0
        )


def _claim(link: CalendarLink, now: datetime) -> bool:
    """One sync of a link at a time (the worker's periodic sync and one asked after a booking)."""
    return bool(
        CalendarLink.objects.filter(pk=link.pk, is_active=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + LEASE)
    )


def sync(
    link: CalendarLink, *, now: datetime | None = None, remote: calendars.RemoteCalendar | None = None
) -> Report:
    now = now or timezone.now()
    report = Report()
    if not _claim(link, now):
        report.skipped = True
        return report
    try:
        remote = remote or remote_of(link)
        _pull(link, remote, now, report)
        _push(link, remote, now, report)
    except calendars.CalendarError as exc:
        report.error = str(exc)
        logger.warning("calendar link %s: %s", link.pk, exc)
    finally:
        fields: dict[str, Any] = {"lease_until": None, "last_sync_at": timezone.now()}
        if report.error:
            fields.update(last_error=report.error, failures=F("failures") + 1)
        else:
            fields.update(last_error="", failures=0)
        CalendarLink.objects.filter(pk=link.pk).update(**fields)
    return report


def sync_due(now: datetime | None = None) -> int:
    """Sync the links whose turn has come (the worker calls this); after failures, less often."""
    now = now or timezone.now()
    every = timedelta(seconds=settings.CALENDAR_SYNC_SECONDS)
    done = 0
    for link in CalendarLink.objects.filter(is_active=True).select_related("collaborator__account"):
        wait = every * min(2**link.failures, 12)
        if link.last_sync_at is None or link.last_sync_at + wait <= now:
            sync(link, now=now)
            done += 1
    return done


# -- pull ---------------------------------------------------------------------------------------


def _pull(link: CalendarLink, remote: calendars.RemoteCalendar, now: datetime, report: Report) -> None:
    full = not link.sync_token or link.last_full_sync_at is None or now - link.last_full_sync_at >= FULL_EVERY
    changes = remote.changes("" if full else link.sync_token)
    zone = link.collaborator.account.tz
    for obj in changes.objects:
        if obj.data is None:
            _gone(link, obj.href, now, report)
        else:
            _arrived(link, obj, zone, now, report)
    if changes.complete:
        listed = {obj.href for obj in changes.objects if obj.data is not None}
        known = set(link.events.values_list("href", flat=True)) | set(
            link.copies.values_list("href", flat=True)
        )
        for href in sorted(known - listed):
            _gone(link, href, now, report)
    link.sync_token = changes.token
    fields = ["sync_token"]
    if changes.complete:
        link.last_full_sync_at = now
        fields.append("last_full_sync_at")
    link.save(update_fields=fields)


def _issue(
    link: CalendarLink,
    kind: str,
    report: Report,
    *,
    appointment: Appointment | None = None,
    href: str = "",
    detail: str = "",
    once: bool = False,
) -> None:
    if (
        once
        and SyncIssue.objects.filter(
            link=link, kind=kind, appointment=appointment, href=href, resolved_at__isnull=True
        ).exists()
    ):
        return
    SyncIssue.objects.create(link=link, kind=kind, appointment=appointment, href=href, detail=detail[:2000])
    report.issues += 1


def _aware(value: date | datetime, zone: tzinfo) -> datetime:
    if not isinstance(value, datetime):  # an all-day event: from the local midnight
        return datetime.combine(value, time(0), tzinfo=zone)
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _times(component: Any, zone: tzinfo) -> tuple[datetime, datetime] | None:
    if "DTSTART" not in component:
        return None
    raw_start = component.decoded("DTSTART")
    start = _aware(raw_start, zone)
    if "DTEND" in component:
        end = _aware(component.decoded("DTEND"), zone)
    elif "DURATION" in component:
        end = start + component.decoded("DURATION")
    elif not isinstance(raw_start, datetime):
        end = _aware(raw_start + timedelta(days=1), zone)
    else:
        end = start
    return (start, end) if end > start else None


def _busy(cal: icalendar.Calendar, zone: tzinfo, now: datetime) -> list[tuple[datetime, datetime]]:
    """The busy occurrences of the object's events within the sync window."""
    busy = []
    for component in recurring_ical_events.of(cal).between(now - WINDOW_PAST, now + WINDOW_FUTURE):
        if component.name != "VEVENT":
            continue
        if str(component.get("STATUS", "")).upper() == "CANCELLED":
            continue
        if str(component.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue  # marked "free" there
        times = _times(component, zone)
        if times is not None:
            busy.extend(_by_day(*times, zone))
    return sorted(busy)


def _by_day(start: datetime, end: datetime, zone: tzinfo) -> list[tuple[datetime, datetime]]:
    """A long event (a week of leave) as one busy time per local day: no stored busy time is longer
    than a day (``services.LONGEST_BLOCK``)."""
    pieces = []
    while start < end:
        midnight = datetime.combine(start.astimezone(zone).date() + timedelta(days=1), time(0), tzinfo=zone)
        pieces.append((start, min(end, midnight)))
        start = midnight
    return pieces


def _own_appointment(link: CalendarLink, uid: str) -> Appointment | None:
    if not uid.endswith(OWN_SUFFIX):
        return None
    try:
        key = uuid.UUID(uid[: -len(OWN_SUFFIX)])
    except ValueError:
        return None
    return (
        Appointment.objects.filter(uid=key, collaborator=link.collaborator)
        .select_related("appointment_type", "account", "collaborator")
        .first()
    )


def _arrived(
    link: CalendarLink, obj: calendars.RemoteObject, zone: tzinfo, now: datetime, report: Report
) -> None:
    assert obj.data is not None
    try:
        cal = icalendar.Calendar.from_ical(obj.data)
        events = list(cal.walk("VEVENT"))
        busy = _busy(cal, zone, now)
    except Exception as exc:  # whatever a calendar client wrote: reported, never fatal to the sync
        with transaction.atomic():
            link.events.filter(href=obj.href).delete()
            _issue(link, SyncIssue.Kind.UNREADABLE, report, href=obj.href, detail=str(exc)[:300], once=True)
        return
    report.pulled += 1
    own = _own_appointment(link, str(events[0].get("UID", ""))) if events else None
    if own is not None:
        _own_changed(link, own, obj, events[0], zone, report)
        return
    with transaction.atomic():
        link.events.filter(href=obj.href).delete()
        ExternalEvent.objects.bulk_create(
            ExternalEvent(link=link, href=obj.href, etag=obj.etag, start=start, end=end)
            for start, end in busy
        )
        booked = (
            list(
                Appointment.objects.filter(
                    collaborator=link.collaborator,
                    status=Appointment.Status.BOOKED,
                    start__lt=max(end for _start, end in busy),
                    end__gt=busy[0][0],
                )
            )
            if busy
            else []
        )  # read once for all the occurrences (a daily event has hundreds)
        for start, end in busy:
            for appointment in (a for a in booked if a.start < end and a.end > start):
                _issue(
                    link,
                    SyncIssue.Kind.OVERLAP,
                    report,
                    appointment=appointment,
                    href=obj.href,
                    detail=f"{start.astimezone(zone):%Y-%m-%d %H:%M}–{end.astimezone(zone):%H:%M}",
                    once=True,
                )


def _own_changed(
    link: CalendarLink,
    appointment: Appointment,
    obj: calendars.RemoteObject,
    event: Any,
    zone: tzinfo,
    report: Report,
) -> None:
    copy, _ = RemoteCopy.objects.get_or_create(
        link=link, appointment=appointment, defaults={"href": obj.href, "sequence": -1}
    )
    copy.href, copy.etag = obj.href, obj.etag
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        copy.save()
        _gone(link, obj.href, timezone.now(), report)
        return
    times = _times(event, zone)
    if appointment.status != Appointment.Status.BOOKED or times is None:
        copy.save()  # cancelled here: the push deletes it there
        return
    there = times
    written = (copy.written_start, copy.written_end)
    if there == written or there == (appointment.start, appointment.end):
        copy.written_start, copy.written_end = there
        copy.save()
        return
    label = f"{there[0].astimezone(zone):%Y-%m-%d %H:%M}–{there[1].astimezone(zone):%H:%M}"
    if copy.sequence not in (-1, appointment.sequence):
        # Changed here too since it was last written: this side stands (the caller was told it).
        copy.save()
        _issue(link, SyncIssue.Kind.EDITED_BOTH, report, appointment=appointment, href=obj.href, detail=label)
        return
    try:
        moved = services.move_from_calendar(appointment, *there)
    except services.BookingError:
        copy.sequence = -1  # write this side's times back there
        copy.save()
        _issue(
            link, SyncIssue.Kind.MOVE_REFUSED, report, appointment=appointment, href=obj.href, detail=label
        )
        return
    copy.sequence = moved.sequence
    copy.written_start, copy.written_end = there
    copy.save()
    _issue(link, SyncIssue.Kind.MOVED, report, appointment=moved, href=obj.href, detail=label)


def _gone(link: CalendarLink, href: str, now: datetime, report: Report) -> None:
    link.events.filter(href=href).delete()
    copy = link.copies.filter(href=href).select_related("appointment").first()
    if copy is None:
        return
    appointment = copy.appointment
    copy.delete()
    if appointment.status == Appointment.Status.BOOKED and appointment.end > now:
        services.cancel(appointment)
        _issue(
            link,
            SyncIssue.Kind.CANCELLED,
            report,
            appointment=appointment,
            href=href,
            detail=str(_("To tell the caller, if the message did not reach them.")),
        )


# -- push ---------------------------------------------------------------------------------------


def _push(link: CalendarLink, remote: calendars.RemoteCalendar, now: datetime, report: Report) -> None:
    written = dict(link.copies.values_list("appointment_id", "sequence"))
    pending = (
        Appointment.objects.filter(
            collaborator=link.collaborator, status=Appointment.Status.BOOKED, end__gt=now - WINDOW_PAST
        )
        .select_related("appointment_type", "account")
        .order_by("start")
    )
    for appointment in pending:
        if written.get(appointment.pk) == appointment.sequence:
            continue
        href = remote.put(f"{appointment.uid}.ics", feeds.single(appointment))
        RemoteCopy.objects.update_or_create(
            link=link,
            appointment=appointment,
            defaults={
                "href": href,
                "sequence": appointment.sequence,
                "written_start": appointment.start,
                "written_end": appointment.end,
            },
        )
        report.pushed += 1
    for copy in link.copies.filter(appointment__status=Appointment.Status.CANCELLED):
        remote.delete(copy.href)
        copy.delete()
        report.deleted += 1
