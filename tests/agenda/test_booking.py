"""Slot search and booking on the database: schedules, busy times, no double booking, the loser gets
the next free slots. Account Alpha works Monday-Friday 09:00-18:00, Paris; 2026-12-07 is a Monday."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from factories import office_hours
from permanence.agenda import services
from permanence.agenda.models import Appointment, AppointmentType, AvailabilityException, WorkingHours
from permanence.agenda.slots import Preference
from permanence.directory.models import Absence, Collaborator


@pytest.fixture
def alpha(alpha):
    """Office hours (Monday to Friday 9:00-18:00, closed on public holidays): these tests are about them."""
    return office_hours(alpha)


PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 7, 8, tzinfo=PARIS)


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def local(slots):
    return [s.start.astimezone(PARIS).strftime("%a %d %H:%M") for s in slots]


@pytest.fixture
def anne(alpha):
    return Collaborator.objects.get(account=alpha, last_name="Alphonse")


@pytest.fixture
def consultation(alpha, anne):
    kind = AppointmentType.objects.create(
        account=alpha,
        name="Consultation",
        duration_minutes=30,
        buffer_after_minutes=10,
        min_notice_minutes=0,
        horizon_days=30,
        places="office, video",
    )
    kind.collaborators.add(anne)
    return kind


def test_search_uses_the_accounts_hours_then_the_collaborators_own(alpha, anne, consultation):
    assert local(services.search(consultation, now=NOW, count=2)) == ["Mon 07 09:00", "Mon 07 09:30"]
    WorkingHours.objects.create(collaborator=anne, weekday=0, start=time(14), end=time(16))
    assert local(services.search(consultation, now=NOW, count=2)) == ["Mon 07 14:00", "Mon 07 14:30"]
    AvailabilityException.objects.create(
        collaborator=anne, start_date=date(2026, 12, 7), end_date=date(2026, 12, 7)
    )
    assert local(services.search(consultation, now=NOW, count=1)) == ["Mon 14 14:00"]


def test_absences_and_bookings_are_busy(alpha, anne, consultation):
    Absence.objects.create(
        collaborator=anne, kind="meeting", starts_at=paris(2026, 12, 7, 9), ends_at=paris(2026, 12, 7, 10)
    )
    assert local(services.search(consultation, now=NOW, count=1)) == ["Mon 07 10:00"]
    booked = services.book(
        consultation, anne, paris(2026, 12, 7, 10), caller=services.Caller("Jean Dupont", "+33612345678"),
        now=NOW,
    )
    assert (booked.blocked_from, booked.blocked_until) == (paris(2026, 12, 7, 10), paris(2026, 12, 7, 10, 40))
    assert booked.place == "office" and booked.status == "booked"
    # 10:30 would start inside the 10-minute buffer: the next one is 11:00
    assert local(services.search(consultation, now=NOW, count=1)) == ["Mon 07 11:00"]


def test_the_loser_gets_the_next_free_slots(alpha, anne, consultation):
    services.book(consultation, anne, paris(2026, 12, 7, 9), now=NOW)
    with pytest.raises(services.SlotTaken) as taken:
        services.book(consultation, anne, paris(2026, 12, 7, 9), now=NOW)
    assert local(taken.value.alternatives) == [
        "Mon 07 10:00",
        "Mon 07 10:30",
        "Mon 07 11:00",
        "Mon 07 11:30",
        "Mon 07 12:00",
    ]
    with pytest.raises(services.SlotTaken):  # 09:30 overlaps the 10 minutes after 09:00-09:30
        services.book(consultation, anne, paris(2026, 12, 7, 9, 30), now=NOW)
    assert Appointment.objects.count() == 1


def test_bookings_outside_the_rules_are_refused_clearly(alpha, beta, anne, consultation):
    def refused(start, match, kind=consultation, who=anne, **kw):
        with pytest.raises(services.BookingError, match=match):
            services.book(kind, who, start, now=NOW, **kw)

    refused(paris(2026, 12, 12, 10), "does not work")  # a Saturday
    refused(paris(2026, 12, 7, 17, 45), "does not work")  # would end after 18:00
    refused(paris(2027, 1, 20, 10), "horizon")
    refused(paris(2026, 12, 7, 7), "minimum notice")
    refused(datetime(2026, 12, 7, 10), "time zone")
    refused(paris(2026, 12, 7, 10), "place", place="home")
    bruno = Collaborator.objects.get(account=beta)
    refused(paris(2026, 12, 7, 10), "another account", who=bruno)
    other = Collaborator.objects.create(account=alpha, last_name="Autre")
    refused(paris(2026, 12, 7, 10), "does not take", who=other)
    consultation.is_active = False
    consultation.save()
    refused(paris(2026, 12, 7, 10), "no longer offered")
    assert not Appointment.objects.exists()


def test_cancel_frees_the_slot_and_reschedule_moves_it(alpha, anne, consultation):
    first = services.book(consultation, anne, paris(2026, 12, 7, 9), now=NOW)
    second = services.book(consultation, anne, paris(2026, 12, 7, 10), now=NOW)
    with pytest.raises(services.SlotTaken):
        services.reschedule(second, paris(2026, 12, 7, 9), now=NOW)
    moved = services.reschedule(second, paris(2026, 12, 7, 11), now=NOW)
    assert moved.start == paris(2026, 12, 7, 11) and moved.sequence == 1
    # moving onto its own time, shifted a little, is not a clash with itself
    assert services.reschedule(moved, paris(2026, 12, 7, 11, 15), now=NOW).sequence == 2
    cancelled = services.cancel(first)
    assert cancelled.status == "cancelled" and cancelled.sequence == 1
    assert local(services.search(consultation, now=NOW, count=1)) == ["Mon 07 09:00"]
    with pytest.raises(services.BookingError, match="cancelled"):
        services.reschedule(cancelled, paris(2026, 12, 7, 15), now=NOW)


def test_any_collaborator_and_preferences(alpha, anne, consultation):
    bob = Collaborator.objects.create(account=alpha, last_name="Berger", first_name="Bob")
    consultation.collaborators.add(bob)
    services.book(consultation, anne, paris(2026, 12, 7, 9), now=NOW)
    slots = services.search(consultation, now=NOW, count=3)
    # Anne (Alphonse) comes before Bob (Berger) on equal starts; she is busy until 09:40
    assert [(s.person, local([s])[0]) for s in slots] == [
        (str(bob.pk), "Mon 07 09:00"),
        (str(bob.pk), "Mon 07 09:30"),
        (str(anne.pk), "Mon 07 10:00"),
    ]
    afternoon = services.search(
        consultation, collaborator=anne, now=NOW, count=1, preference=Preference("afternoon")
    )
    assert local(afternoon) == ["Mon 07 12:00"]  # the account works through lunch


@pytest.mark.django_db(transaction=True)
def test_fifty_threads_never_double_book(alpha, anne, consultation):
    if connection.vendor != "postgresql":
        pytest.skip("the no-double-booking constraint is PostgreSQL's; CI runs this test there")
    from django.db import connections

    # 50 requests for starts 5 minutes apart from 09:00: each 30-minute appointment (+10 min buffer)
    # overlaps its neighbours; whatever the order, the bookings that succeed never overlap, and
    # every refused one overlaps a booking that succeeded.
    starts = [paris(2026, 12, 7, 9) + timedelta(minutes=5 * i) for i in range(50)]
    barrier = threading.Barrier(len(starts))
    outcome: dict[datetime, str] = {}

    def attempt(start: datetime) -> None:
        try:
            barrier.wait()
            services.book(consultation, anne, start, now=NOW)
            outcome[start] = "booked"
        except services.SlotTaken as taken:
            outcome[start] = "taken" if taken.alternatives else "taken, no alternative"
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome[start] = repr(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(start,)) for start in starts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcome) == 50 and set(outcome.values()) <= {"booked", "taken"}, set(outcome.values())
    rows = list(Appointment.objects.filter(status="booked").order_by("start"))
    assert {a.start for a in rows} == {s for s, o in outcome.items() if o == "booked"}
    for before, after in zip(rows, rows[1:], strict=False):
        assert before.blocked_until <= after.blocked_from, "two bookings overlap"
    for start, result in outcome.items():
        if result == "taken":
            end = start + timedelta(minutes=40)
            assert any(a.blocked_from < end and start < a.blocked_until for a in rows), (
                f"{start} refused for nothing"
            )
    # a booking starting at s refuses the starts within 40 minutes either side: at most 15 of the 50
    assert len(rows) >= 4
    assert all(a.start.astimezone(UTC) >= NOW.astimezone(UTC) for a in rows)


def test_the_database_itself_refuses_an_overlap_on_postgresql(alpha, anne, consultation):
    if connection.vendor != "postgresql":
        pytest.skip("the no-double-booking constraint is PostgreSQL's; CI runs this test there")
    from django.db import IntegrityError, transaction

    def row(start, **kw):
        return Appointment.objects.create(
            account=alpha,
            collaborator=anne,
            start=start,
            end=start + timedelta(minutes=30),
            blocked_from=start,
            blocked_until=start + timedelta(minutes=40),
            **kw,
        )

    row(paris(2026, 12, 7, 9))
    with pytest.raises(IntegrityError, match="appointment_no_double_booking"), transaction.atomic():
        row(paris(2026, 12, 7, 9, 35))  # inside the first one's buffer: written past the service
    row(paris(2026, 12, 7, 9, 40))  # touching is fine
    row(paris(2026, 12, 7, 9, 15), status="cancelled")  # a cancelled one blocks nothing
