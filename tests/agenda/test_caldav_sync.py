"""Two-way CalDAV sync against a real Radicale server started here on 127.0.0.1.

The Radicale server is started by ``conftest.radicale``; each test gets its own calendar on it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlsplit

import caldav
import icalendar
import pytest
from django.utils import timezone

from permanence.agenda import caldav_sync, calendars, services
from permanence.agenda.models import Appointment, AppointmentType, CalendarLink, ExternalEvent, SyncIssue
from permanence.directory.models import Collaborator
from permanence.messaging.models import Message

USER = "durand"


@pytest.fixture
def there(radicale: str) -> caldav.Calendar:
    """A fresh calendar of the collaborator on the Radicale server, as the collaborator's own client
    (Thunderbird, a phone…) sees it."""
    client = caldav.DAVClient(url=radicale, username=USER, password="secret")
    return client.principal().make_calendar(name="Travail", cal_id=uuid.uuid4().hex)


@pytest.fixture
def kind(alpha):
    anne = Collaborator.objects.get(account=alpha)
    kind = AppointmentType.objects.create(
        account=alpha, name="Consultation", min_notice_minutes=0, horizon_days=30, buffer_after_minutes=10
    )
    kind.collaborators.add(anne)
    return kind


@pytest.fixture
def link(kind, there, settings) -> CalendarLink:
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # Radicale's address (connections are filtered)
    link = CalendarLink(collaborator=kind.collaborators.get(), url=str(there.url), username=USER)
    link.password = "secret"
    link.save()
    return link


def sync(link: CalendarLink) -> caldav_sync.Report:
    link.refresh_from_db()
    report = caldav_sync.sync(link)
    assert not report.error, report.error
    return report


def first_slots(kind, count=3):
    """Free slots two hours apart or more (booking one leaves the next free, buffer included)."""
    found = []
    # from 08:00 two days on, whatever the hour the suite runs (a slot at midnight would look like an
    # all-day event's start)
    zone = kind.account.tz
    morning = datetime.combine(timezone.now().astimezone(zone).date() + timedelta(days=2), time(8), zone)
    for slot in services.search(kind, count=40, now=morning):
        if not found or slot.start >= found[-1].start + timedelta(hours=2):
            found.append(slot)
    assert len(found) >= count
    return found[:count]


def book(kind, slot, **caller):
    person = Collaborator.objects.get(pk=int(slot.person))
    return services.book(kind, person, slot.start, caller=services.Caller(**caller))


def events_there(there: caldav.Calendar) -> dict[str, icalendar.cal.Component]:
    found = {}
    for obj in there.get_objects_by_sync_token(load_objects=True):
        if obj.data:
            event = icalendar.Calendar.from_ical(obj.data).walk("VEVENT")[0]
            found[str(event["UID"])] = event
    return found


def put_event(there, start: datetime, end: datetime, *, uid: str | None = None, extra: str = "") -> str:
    uid = uid or uuid.uuid4().hex
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Phone//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261201T000000Z\r\n"
        f"DTSTART:{start.astimezone(UTC):%Y%m%dT%H%M%SZ}\r\n"
        f"DTEND:{end.astimezone(UTC):%Y%m%dT%H%M%SZ}\r\nSUMMARY:Dentiste\r\n{extra}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    there.save_event(text)
    return uid


def test_a_booking_appears_there_with_its_details(kind, link, there):
    slot = first_slots(kind, 1)[0]
    booked = book(kind, slot, name="Jean Dupont", phone="06 12 34 56 78")
    report = sync(link)
    assert report.pushed == 1
    event = events_there(there)[f"{booked.uid}@permanence"]
    assert event.decoded("DTSTART") == booked.start
    assert event.decoded("DTEND") == booked.end
    assert str(event["SUMMARY"]) == "Consultation · Jean Dupont"
    assert "06 12 34 56 78" in str(event["DESCRIPTION"])
    assert sync(link).pushed == 0  # written once, not at every sync


def test_an_event_there_blocks_the_slot_here(kind, link, there):
    slot = first_slots(kind, 1)[0]
    put_event(there, slot.start + timedelta(minutes=5), slot.start + timedelta(minutes=20))
    assert sync(link).pulled == 1
    assert ExternalEvent.objects.filter(link=link).count() == 1
    assert slot.start not in [s.start for s in first_slots(kind)]
    with pytest.raises(services.SlotTaken) as taken:
        book(kind, slot)
    assert taken.value.alternatives[0].start == slot.end  # the next one on the grid


def test_recurring_all_day_and_free_events(kind, link, there):
    slot = first_slots(kind, 1)[0]
    zone = kind.account.tz
    local = slot.start.astimezone(zone)
    weekly = put_event(
        there, slot.start, slot.start + timedelta(minutes=30), extra="RRULE:FREQ=WEEKLY;COUNT=3\r\n"
    )
    put_event(  # marked "free" in the calendar: does not block
        there,
        slot.start + timedelta(days=1),
        slot.start + timedelta(days=1, hours=1),
        extra="TRANSP:TRANSPARENT\r\n",
    )
    day_off = (local + timedelta(days=2)).date()
    there.save_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//T//EN\r\nBEGIN:VEVENT\r\nUID:off\r\n"
        f"DTSTAMP:20261201T000000Z\r\nDTSTART;VALUE=DATE:{day_off:%Y%m%d}\r\n"
        f"DTEND;VALUE=DATE:{day_off + timedelta(days=1):%Y%m%d}\r\nSUMMARY:Congé\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    sync(link)
    rows = list(ExternalEvent.objects.filter(link=link).order_by("start").values_list("start", flat=True))
    assert [r for r in rows if r.astimezone(zone).time() == local.time()] == [
        slot.start,
        slot.start + timedelta(days=7),
        slot.start + timedelta(days=14),
    ]
    assert datetime.combine(day_off, datetime.min.time(), tzinfo=zone) in rows
    assert len(rows) == 4 and weekly
    assert not services.busy_times(
        link.collaborator, slot.start + timedelta(days=1), slot.start + timedelta(days=1, hours=1)
    )


def test_edits_propagate_both_ways(kind, link, there):
    first, second, third = first_slots(kind)
    booked = book(kind, first, name="Jean Dupont", email="jean@example.fr")
    sync(link)
    # Moved here: moved there, with a higher SEQUENCE.
    moved = services.reschedule(booked, second.start)
    sync(link)
    event = events_there(there)[f"{booked.uid}@permanence"]
    assert event.decoded("DTSTART") == second.start and int(event["SEQUENCE"]) == moved.sequence
    # Moved there by the collaborator: moved here, the caller told, the office told.
    obj = there.event_by_uid(f"{booked.uid}@permanence")
    component = obj.icalendar_component
    length = component.decoded("DTEND") - component.decoded("DTSTART")
    component["DTSTART"].dt = third.start
    component["DTEND"].dt = third.start + length
    obj.save()
    Message.objects.all().delete()
    sync(link)
    booked.refresh_from_db()
    assert (booked.start, booked.end) == (third.start, third.start + length)
    assert booked.blocked_until == booked.end + timedelta(minutes=10)
    assert Message.objects.get().fields["notice"] == "moved"
    assert SyncIssue.objects.get(link=link).kind == SyncIssue.Kind.MOVED
    assert sync(link).pushed == 0  # the move came from there: nothing to write back


def test_a_move_there_onto_another_appointment_is_refused_and_undone(kind, link, there):
    first, second, _ = first_slots(kind)
    one = book(kind, first)
    other = book(kind, second)
    sync(link)
    obj = there.event_by_uid(f"{one.uid}@permanence")
    obj.icalendar_component["DTSTART"].dt = other.start
    obj.icalendar_component["DTEND"].dt = other.end
    obj.save()
    sync(link)
    one.refresh_from_db()
    assert one.start == first.start  # kept here
    issue = SyncIssue.objects.get(link=link)
    assert issue.kind == SyncIssue.Kind.MOVE_REFUSED and issue.appointment == one
    assert events_there(there)[f"{one.uid}@permanence"].decoded("DTSTART") == first.start  # written back


def test_changed_on_both_sides_this_side_stands_and_is_reported(kind, link, there):
    first, second, third = first_slots(kind)
    booked = book(kind, first)
    sync(link)
    obj = there.event_by_uid(f"{booked.uid}@permanence")
    obj.icalendar_component["DTSTART"].dt = third.start
    obj.icalendar_component["DTEND"].dt = third.start + (booked.end - booked.start)
    obj.save()
    services.reschedule(booked, second.start)
    sync(link)
    booked.refresh_from_db()
    assert booked.start == second.start
    assert SyncIssue.objects.get(link=link).kind == SyncIssue.Kind.EDITED_BOTH
    assert events_there(there)[f"{booked.uid}@permanence"].decoded("DTSTART") == second.start


def test_an_edited_event_there_moves_the_busy_time(kind, link, there):
    first, second, _ = first_slots(kind)
    uid = put_event(there, first.start, first.end)
    sync(link)
    obj = there.event_by_uid(uid)
    obj.icalendar_component["DTSTART"].dt = second.start
    obj.icalendar_component["DTEND"].dt = second.end
    obj.save()
    sync(link)
    assert list(ExternalEvent.objects.filter(link=link).values_list("start", "end")) == [
        (second.start, second.end)
    ]
    assert book(kind, first).start == first.start  # free again


def test_deleting_works_both_ways(kind, link, there):
    first, second, _ = first_slots(kind)
    here = book(kind, first)
    there_by_us = book(kind, second, name="Marie Curie", phone="06 11 22 33 44")
    uid = put_event(there, second.end + timedelta(hours=2), second.end + timedelta(hours=3))
    sync(link)
    assert len(events_there(there)) == 3
    # Cancelled here: deleted there.
    services.cancel(here)
    assert sync(link).deleted == 1
    assert f"{here.uid}@permanence" not in events_there(there)
    # Deleted there: cancelled here (the caller told, the office told); an event deleted there frees
    # its time.
    there.event_by_uid(f"{there_by_us.uid}@permanence").delete()
    there.event_by_uid(uid).delete()
    Message.objects.all().delete()
    sync(link)
    there_by_us.refresh_from_db()
    assert there_by_us.status == Appointment.Status.CANCELLED
    issue = SyncIssue.objects.get(link=link)
    assert issue.kind == SyncIssue.Kind.CANCELLED and issue.appointment == there_by_us
    assert Message.objects.get().fields["notice"] == "cancelled"
    assert not ExternalEvent.objects.filter(link=link).exists()
    assert events_there(there) == {}


def test_incremental_then_full_after_an_expired_token(kind, link, there):
    slot = first_slots(kind, 1)[0]
    put_event(there, slot.start, slot.end)
    put_event(there, slot.start + timedelta(days=1), slot.end + timedelta(days=1))
    assert sync(link).pulled == 2
    assert sync(link).pulled == 0  # nothing changed there: nothing read
    put_event(there, slot.start + timedelta(days=2), slot.end + timedelta(days=2))
    assert sync(link).pulled == 1  # only what changed
    # The server forgot the token: a full listing, same result, no duplicate.
    CalendarLink.objects.filter(pk=link.pk).update(sync_token="http://radicale.org/ns/sync/expired")
    assert sync(link).pulled == 3
    assert ExternalEvent.objects.filter(link=link).count() == 3


def test_an_event_there_over_an_appointment_is_reported_not_dropped(kind, link, there):
    slot = first_slots(kind, 1)[0]
    booked = book(kind, slot)
    put_event(there, slot.start, slot.end)
    sync(link)
    sync(link)
    issue = SyncIssue.objects.get(link=link)  # once, not at every sync
    assert issue.kind == SyncIssue.Kind.OVERLAP and issue.appointment == booked
    booked.refresh_from_db()
    assert booked.status == Appointment.Status.BOOKED


def test_unreadable_event_and_unreachable_server(kind, link, there):
    # Radicale refuses malformed events; other servers store what clients write: the sync reports it.
    report = caldav_sync.Report()
    bad = calendars.RemoteObject(
        str(there.url) + "bad.ics",
        '"1"',
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:bad\r\nDTSTART:20261305T250000Z\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n",
    )
    caldav_sync._arrived(link, bad, kind.account.tz, timezone.now(), report)
    caldav_sync._arrived(link, bad, kind.account.tz, timezone.now(), report)
    issue = SyncIssue.objects.get(link=link)  # once
    assert issue.kind == SyncIssue.Kind.UNREADABLE and issue.href.endswith("bad.ics")
    CalendarLink.objects.filter(pk=link.pk).update(url="http://127.0.0.1:9/nowhere/")
    link.refresh_from_db()
    report = caldav_sync.sync(link)
    link.refresh_from_db()
    assert report.error == "Lecture de l'agenda : le serveur est injoignable."
    assert link.last_error == report.error and link.failures == 1


def test_one_sync_at_a_time(kind, link):
    assert caldav_sync._claim(link, timezone.now())
    assert caldav_sync.sync(link).skipped


def test_a_booking_queues_a_sync_and_the_command_syncs(kind, link, there):
    from io import StringIO

    from django.core.management import CommandError, call_command
    from django_tasks_db.models import DBTaskResult

    booked = book(kind, first_slots(kind, 1)[0])
    queued = DBTaskResult.objects.filter(task_path="permanence.agenda.tasks.sync_calendar")
    assert [row.args_kwargs["args"] for row in queued] == [[link.pk]]
    out = StringIO()
    call_command("sync_calendars", "--account", "alpha", stdout=out)
    assert "written 1" in out.getvalue()
    assert f"{booked.uid}@permanence" in events_there(there)
    with pytest.raises(CommandError, match="No calendar linked"):
        call_command("sync_calendars", "--account", "beta", stdout=out)


def test_the_password_is_stored_encrypted(link):
    stored = CalendarLink.objects.get(pk=link.pk)
    assert "secret" not in stored.password_encrypted and stored.password == "secret"


def test_a_week_of_leave_is_stored_day_by_day_and_blocks_every_day(kind, link, there):
    slot = first_slots(kind, 1)[0]
    zone = kind.account.tz
    first = slot.start.astimezone(zone).date() + timedelta(days=1)
    there.save_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//T//T//EN\r\nBEGIN:VEVENT\r\nUID:leave\r\n"
        f"DTSTAMP:20261201T000000Z\r\nDTSTART;VALUE=DATE:{first:%Y%m%d}\r\n"
        f"DTEND;VALUE=DATE:{first + timedelta(days=7):%Y%m%d}\r\nSUMMARY:Congés\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    sync(link)
    rows = list(ExternalEvent.objects.filter(link=link).order_by("start").values_list("start", "end"))
    assert [start.astimezone(zone).date() for start, _ in rows] == [
        first + timedelta(days=i) for i in range(7)
    ]
    assert all(end - start <= timedelta(hours=25) for start, end in rows)
    later = services.search(kind, now=slot.start + timedelta(days=1), count=1)[0]
    assert later.start.astimezone(zone).date() >= first + timedelta(days=7)


def test_an_appointment_type_lasts_at_most_a_day(kind):
    from django.core.exceptions import ValidationError

    kind.buffer_after_minutes = 24 * 60 + 1
    with pytest.raises(ValidationError, match="1440"):
        kind.full_clean()


# -- where the server may connect (permanence.outbound): names resolve to 127.0.0.2, allowed by the
# operator's list, or 127.0.0.3, refused as any address that is not public (tests/outbound_peers.py)

NOT_ALLOWED = "Reading the calendar: address not allowed: not a public address."


def test_a_name_that_resolves_elsewhere_after_saving_is_refused_when_syncing(
    kind, there, radicale, fake_dns, loopback_peers
):
    """DNS rebinding: the address was checked when saved, and is checked again on every connection."""
    from django.utils import translation

    from outbound_peers import ALLOWED, REFUSED
    from permanence.agenda.forms import CalendarLinkForm

    peers = loopback_peers
    peers.upstream = ("127.0.0.1", int(radicale.rstrip("/").rsplit(":", 1)[1]))  # both pass on to Radicale
    fake_dns["calendar.test"] = ALLOWED
    url = str(there.url).replace(radicale.rstrip("/"), f"http://calendar.test:{peers.port}")
    data = {"url": url, "username": USER, "password": "secret"}
    anne = kind.collaborators.get()
    form = CalendarLinkForm(data, instance=CalendarLink(collaborator=anne))
    assert form.is_valid(), form.errors
    link = form.save()
    day = timezone.now().date() + timedelta(days=2)
    start = datetime.combine(day, time(9), UTC)
    there.save_event(dtstart=start, dtend=start + timedelta(hours=1), summary="Dentiste", uid="dentist")

    sync(link)  # the allowed address, end to end
    assert ExternalEvent.objects.filter(link=link).count() == 1
    assert ("REPORT", urlsplit(url).path) in peers.arrived(ALLOWED)

    fake_dns["calendar.test"] = REFUSED
    with translation.override("en"):
        report = caldav_sync.sync(link)
        refused = CalendarLinkForm(data, instance=CalendarLink(collaborator=anne))
        assert not refused.is_valid() and refused.errors["url"] == [
            "This address is on a private network; the operator must allow such addresses."
        ]
    link.refresh_from_db()
    assert report.error == NOT_ALLOWED and link.last_error == NOT_ALLOWED and link.failures == 1
    assert peers.arrived(REFUSED) == []  # never connected to


def test_a_redirect_to_a_refused_address_is_refused(kind, fake_dns, loopback_peers):
    from django.utils import translation

    from outbound_peers import ALLOWED, REFUSED

    peers = loopback_peers
    fake_dns.update({"calendar.test": ALLOWED, "inside.test": REFUSED})
    peers.redirects["/durand/travail/"] = f"http://inside.test:{peers.port}/durand/travail/"
    link = CalendarLink(
        collaborator=kind.collaborators.get(),
        url=f"http://calendar.test:{peers.port}/durand/travail/",
        username=USER,
    )
    link.save()
    with translation.override("en"):
        report = caldav_sync.sync(link)
    assert report.error == NOT_ALLOWED
    assert peers.arrived(ALLOWED) and peers.arrived(REFUSED) == []


SENSITIVE_SCENARIO = """
language: permanence/1
title: Rendez-vous médical
start: ask
fields:
  name: {type: text, label: Nom}
  reason: {type: long_text, label: Motif médical, sensitive: true}
  detail: {type: text, label: Précisions}
  floor: {type: text, label: Étage}
steps:
  ask:
    ask: [name, reason, detail, floor]
    next: book
  book:
    appointment: consultation
    with: anne-alphonse
    say: "Je vous propose un rendez-vous."
    on: {no_slot: bye, declined: bye}
  bye:
    end: information
"""
REASON, DETAIL = "Douleurs thoraciques depuis hier soir", "Suivi cardiologique du patient"


def test_a_desk_booking_sends_no_sensitive_answer_to_the_feed_nor_the_calendar(personas, kind, link, there):
    """The scenario's ``sensitive: true`` answers and those the account names stay in Permanence (the
    message keeps them behind its link): not in the appointment's answers, nor in the private iCalendar
    feed (no sign-in), nor in the event the sync writes into the collaborator's own calendar."""
    from django.test import Client

    from permanence.agenda import feeds
    from permanence.calls import services as call_services
    from permanence.calls.lifecycle import Kind
    from permanence.scenarios.models import Scenario, ScenarioVersion

    alpha = kind.account
    alpha.sensitive_fields = "detail"
    alpha.save()
    scenario = Scenario.objects.create(account=alpha, name="RDV")
    ScenarioVersion.objects.create(scenario=scenario, number=1, status="published", source=SENSITIVE_SCENARIO,
                                   digest="x")
    secretary = personas["secretary"]
    call = call_services.call_arrived("01 45 00 00 01", "0612345678", account=alpha)
    call_services.record(call, Kind.OFFERED, secretary=secretary)
    call_services.record(call, Kind.ANSWERED, secretary=secretary)
    desk = Client()
    desk.force_login(secretary)
    url = f"/desk/calls/{call.pk}/"
    desk.post(url, {"name": "Jean Dupont", "reason": REASON, "detail": DETAIL, "floor": "3e étage"})
    picked = desk.get(url).content.decode().split('name="slot_pick" value="')[1].split('"')[0]
    desk.post(url, {"result": "booked", "slot_pick": picked})
    booked = Appointment.objects.get(call=call)
    assert booked.answers == {"name": "Jean Dupont", "floor": "3e étage"}

    feed = Client().get(f"/agenda/feed/{feeds.issue(booked.collaborator).token}.ics").content.decode()
    [event] = icalendar.Calendar.from_ical(feed).walk("VEVENT")
    assert "floor : 3e étage" in str(event["DESCRIPTION"])
    assert sync(link).pushed == 1
    there_event = events_there(there)[f"{booked.uid}@permanence"]
    assert "floor : 3e étage" in str(there_event["DESCRIPTION"])
    raw = [obj.data for obj in there.get_objects_by_sync_token(load_objects=True)]
    for text in (feed, str(there_event["DESCRIPTION"]), *raw):
        text = text.replace("\r\n ", "")  # long lines are folded
        assert "thoraciques" not in text and "cardiologique" not in text
