"""The private iCalendar feed, parsed back with ``icalendar``."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import icalendar
from django.test import Client

from permanence.agenda import feeds, services
from permanence.agenda.models import AppointmentType
from permanence.directory.models import Collaborator

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 7, 8, tzinfo=PARIS)


def test_feed_lists_booked_appointments_and_is_revocable(alpha, settings):
    anne = Collaborator.objects.get(account=alpha)
    kind = AppointmentType.objects.create(account=alpha, name="Consultation", min_notice_minutes=0)
    kind.collaborators.add(anne)
    booked = services.book(
        kind,
        anne,
        datetime(2026, 12, 7, 10, tzinfo=PARIS),
        now=NOW,
        caller=services.Caller("Jean Dupont", "+33612345678", "jean@example.fr"),
        answers={"motif": "divorce"},
    )
    services.cancel(services.book(kind, anne, datetime(2026, 12, 7, 11, tzinfo=PARIS), now=NOW))
    feed = feeds.issue(anne)
    response = Client().get(f"/agenda/feed/{feed.token}.ics")
    assert response.status_code == 200 and response["Content-Type"] == "text/calendar; charset=utf-8"
    parsed = icalendar.Calendar.from_ical(response.content)
    assert str(parsed["prodid"]) == feeds.PRODID and str(parsed["version"]) == "2.0"
    assert str(parsed["x-wr-calname"]) == "Maître Anne Alphonse · Cabinet Alpha"
    [event] = parsed.walk("VEVENT")  # the cancelled one is gone
    assert str(event["uid"]) == f"{booked.uid}@permanence"
    assert event.decoded("dtstart") == datetime(2026, 12, 7, 10, tzinfo=PARIS)
    assert event.decoded("dtend") == datetime(2026, 12, 7, 10, 30, tzinfo=PARIS)
    assert str(event["summary"]) == "Consultation · Jean Dupont"
    assert str(event["location"]) == "Au cabinet"
    assert str(event["description"]) == (
        "Appelant : Jean Dupont\nTéléphone : +33612345678\nE-mail : jean@example.fr\nmotif : divorce"
    )
    assert int(event["sequence"]) == 0 and str(event["status"]) == "CONFIRMED"

    services.reschedule(booked, datetime(2026, 12, 7, 15, tzinfo=PARIS), now=NOW)
    moved = icalendar.Calendar.from_ical(Client().get(f"/agenda/feed/{feed.token}.ics").content)
    [event] = moved.walk("VEVENT")
    assert event.decoded("dtstart") == datetime(2026, 12, 7, 15, tzinfo=PARIS) and int(event["sequence"]) == 1

    renewed = feeds.issue(anne)  # the old address stops working
    assert Client().get(f"/agenda/feed/{feed.token}.ics").status_code == 404
    assert Client().get(f"/agenda/feed/{renewed.token}.ics").status_code == 200
    feeds.revoke(anne)
    assert Client().get(f"/agenda/feed/{renewed.token}.ics").status_code == 404
    assert Client().get("/agenda/feed/nonsense.ics").status_code == 404


def test_the_accounts_sensitive_fields_are_left_out_of_an_appointment_booked_before(alpha):
    """An appointment whose answers hold a field the account names sensitive (booked before the desk kept
    them out): the feed leaves it out."""
    alpha.sensitive_fields = "motif"
    alpha.save()
    anne = Collaborator.objects.get(account=alpha)
    kind = AppointmentType.objects.create(account=alpha, name="Consultation", min_notice_minutes=0)
    kind.collaborators.add(anne)
    services.book(kind, anne, datetime(2026, 12, 7, 10, tzinfo=PARIS), now=NOW,
                  caller=services.Caller("Jean Dupont", "+33612345678", ""),
                  answers={"motif": "divorce", "etage": "3"})
    feed = feeds.issue(anne)
    ics = Client().get(f"/agenda/feed/{feed.token}.ics").content
    [event] = icalendar.Calendar.from_ical(ics).walk("VEVENT")
    assert str(event["description"]) == "Appelant : Jean Dupont\nTéléphone : +33612345678\netage : 3"
