"""At the desk, the scenario's appointment step shows the free slots; the one picked is booked with
the call and written into the call report; a slot taken meanwhile gives the next ones."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from permanence.agenda.models import Appointment, AppointmentType
from permanence.calls import services as call_services
from permanence.calls.lifecycle import Kind
from permanence.directory.models import Collaborator
from permanence.scenarios.models import Scenario, ScenarioVersion

SOURCE = """
language: permanence/1
title: Rendez-vous
start: book
fields:
  name: {type: text, label: Nom}
steps:
  book:
    appointment: consultation
    with: anne-alphonse
    say: "Je vous propose un rendez-vous."
    on: {no_slot: sorry, declined: sorry}
  sorry:
    say: "Nous vous rappellerons."
    next: bye
  bye:
    end: information
"""


def setup(alpha, secretary, training=False):
    scenario = Scenario.objects.create(account=alpha, name="RDV")
    ScenarioVersion.objects.create(scenario=scenario, number=1, status="published", source=SOURCE, digest="x")
    anne = Collaborator.objects.get(account=alpha)
    kind = AppointmentType.objects.create(
        account=alpha, name="Consultation", min_notice_minutes=0, horizon_days=30
    )
    kind.collaborators.add(anne)
    call = call_services.call_arrived("01 45 00 00 01", "0612345678", account=alpha, training=training)
    call_services.record(call, Kind.OFFERED, secretary=secretary)
    call_services.record(call, Kind.ANSWERED, secretary=secretary)
    return call, anne


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_slot_picked_is_booked_with_the_call(personas, alpha):
    secretary = personas["secretary"]
    call, anne = setup(alpha, secretary)
    desk = signed_in(secretary)
    page = desk.get(f"/desk/calls/{call.pk}/").content.decode()
    assert 'data-testid="slots"' in page and "avec Maître Anne Alphonse" in page
    first = page.split('name="slot_pick" value="')[1].split('"')[0]
    # someone books that very slot first (another secretary, the API...)
    kind = AppointmentType.objects.get(account=alpha)
    from datetime import datetime

    taken_start = datetime.fromisoformat(first.split("|")[0])
    Appointment.objects.create(
        account=alpha,
        collaborator=anne,
        appointment_type=kind,
        start=taken_start,
        end=taken_start + timedelta(minutes=30),
        blocked_from=taken_start,
        blocked_until=taken_start + timedelta(minutes=30),
    )
    refused = desk.post(f"/desk/calls/{call.pk}/", {"result": "booked", "slot_pick": first}, follow=True)
    assert "Ce créneau vient d&#x27;être pris : choisissez-en un autre." in refused.content.decode()
    second = refused.content.decode().split('name="slot_pick" value="')[1].split('"')[0]
    assert second != first
    desk.post(f"/desk/calls/{call.pk}/", {"result": "booked", "slot_pick": second})
    booked = Appointment.objects.get(call=call)
    assert booked.collaborator == anne and booked.caller_phone == "+33612345678"
    assert booked.start == datetime.fromisoformat(second.split("|")[0])
    assert booked.start > timezone.now()
    call.refresh_from_db()
    assert call.run.outcome == "appointment"


def test_a_training_call_books_nothing(personas, alpha):
    secretary = personas["secretary"]
    call, _anne = setup(alpha, secretary, training=True)
    desk = signed_in(secretary)
    page = desk.get(f"/desk/calls/{call.pk}/").content.decode()
    pick = page.split('name="slot_pick" value="')[1].split('"')[0]
    desk.post(f"/desk/calls/{call.pk}/", {"result": "booked", "slot_pick": pick})
    assert not Appointment.objects.exists()
    call.refresh_from_db()
    assert call.run.outcome == "appointment"


def test_without_an_appointment_type_the_slot_is_typed_by_hand(personas, alpha):
    secretary = personas["secretary"]
    call, _anne = setup(alpha, secretary)
    AppointmentType.objects.all().delete()
    page = signed_in(secretary).get(f"/desk/calls/{call.pk}/").content.decode()
    assert 'data-testid="slots-problem"' in page and 'name="slot"' in page
