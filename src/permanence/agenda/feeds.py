"""The private iCalendar feed of a collaborator's appointments (RFC 5545), for Google Calendar,
Outlook or any client that subscribes to an address. Built with the ``icalendar`` library."""

from __future__ import annotations

from datetime import datetime, timedelta

import icalendar
from django.db import transaction
from django.utils import timezone

from permanence.agenda.models import Appointment, CalendarFeed, Place
from permanence.directory.models import Collaborator

PAST = timedelta(days=31)
FUTURE = timedelta(days=366)
PRODID = "-//Permanence//Agenda//FR"


def issue(collaborator: Collaborator) -> CalendarFeed:
    """A new private address; the previous ones stop working."""
    with transaction.atomic():
        CalendarFeed.objects.filter(collaborator=collaborator, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        return CalendarFeed.objects.create(collaborator=collaborator)


def revoke(collaborator: Collaborator) -> int:
    return CalendarFeed.objects.filter(collaborator=collaborator, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def active(token: str) -> CalendarFeed | None:
    return (
        CalendarFeed.objects.filter(token=token, revoked_at__isnull=True)
        .select_related("collaborator__account")
        .first()
    )


def _document(name: str, zone: str) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if name:
        cal.add("x-wr-calname", name)
        cal.add("x-wr-timezone", zone)
    return cal


def event_of(appointment: Appointment) -> icalendar.Event:
    """The appointment as an iCalendar event (UID ``<uid>@permanence``, SEQUENCE bumped on every change)."""
    event = icalendar.Event()
    event.add("uid", f"{appointment.uid}@permanence")
    event.add("dtstamp", appointment.updated)
    event.add("created", appointment.created)
    event.add("last-modified", appointment.updated)
    event.add("sequence", appointment.sequence)
    event.add("dtstart", appointment.start)
    event.add("dtend", appointment.end)
    kind = appointment.appointment_type.name if appointment.appointment_type else "Rendez-vous"
    event.add("summary", f"{kind} · {appointment.caller_name}" if appointment.caller_name else kind)
    event.add("location", str(dict(Place.choices).get(appointment.place, appointment.place)))
    # a sensitive answer never leaves: the desk keeps them out of ``answers``; those the account names are
    # left out here too (an appointment booked before they were)
    hidden = set(appointment.account.sensitive_field_list())
    lines = [
        f"Appelant : {appointment.caller_name}" if appointment.caller_name else "",
        f"Téléphone : {appointment.caller_phone}" if appointment.caller_phone else "",
        f"E-mail : {appointment.caller_email}" if appointment.caller_email else "",
        *(f"{key} : {value}" for key, value in appointment.answers.items() if key not in hidden),
        appointment.notes,
    ]
    event.add("description", "\n".join(line for line in lines if line))
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    return event


def single(appointment: Appointment) -> bytes:
    """One appointment as its own iCalendar object (what a CalDAV server stores per event)."""
    cal = _document("", "")
    cal.add_component(event_of(appointment))
    return bytes(cal.to_ical())


def calendar(collaborator: Collaborator, now: datetime | None = None) -> bytes:
    """The booked appointments from a month ago to a year ahead, as an iCalendar document."""
    now = now or timezone.now()
    account = collaborator.account
    cal = _document(f"{collaborator} · {account.name}", account.timezone)
    rows = Appointment.objects.filter(
        collaborator=collaborator,
        status=Appointment.Status.BOOKED,
        end__gt=now - PAST,
        start__lt=now + FUTURE,
    ).select_related("appointment_type", "account")
    for appointment in rows.order_by("start"):
        cal.add_component(event_of(appointment))
    return bytes(cal.to_ical())
