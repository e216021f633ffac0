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


BY_MOTIVE = """
language: permanence/1
title: Rendez-vous selon le motif
start: why
fields:
  motive: {type: text, label: Motif, say: "C'est à quel sujet ?"}
steps:
  why:
    ask: [motive]
    next: book
  book:
    appointment: ""
    say: "Je vous propose un rendez-vous."
    on: {no_slot: bye, declined: bye}
  bye:
    end: information
"""


def test_the_type_is_chosen_from_the_callers_motive_and_can_be_changed(personas, alpha):
    from permanence.scenarios.engine import checker

    secretary = personas["secretary"]
    anne = Collaborator.objects.get(account=alpha)
    first = AppointmentType.objects.create(
        account=alpha,
        name="Premier rendez-vous",
        motives="divorce, séparation, licenciement",
        min_notice_minutes=0,
        duration_minutes=60,
    )
    follow_up = AppointmentType.objects.create(
        account=alpha,
        name="Suivi de dossier",
        motives="suivi, point sur le dossier",
        min_notice_minutes=0,
    )
    for kind in (first, follow_up):
        kind.collaborators.add(anne)
    info = checker.AccountInfo(
        "alpha", appointment_types=frozenset({"premier_rendez_vous", "suivi_de_dossier"})
    )
    assert checker.check(BY_MOTIVE, info).ok
    scenario = Scenario.objects.create(account=alpha, name="RDV")
    ScenarioVersion.objects.create(
        scenario=scenario, number=1, status="published", source=BY_MOTIVE, digest="x"
    )
    call = call_services.call_arrived("01 45 00 00 01", "0612345678", account=alpha)
    call_services.record(call, Kind.OFFERED, secretary=secretary)
    call_services.record(call, Kind.ANSWERED, secretary=secretary)
    desk = signed_in(secretary)
    desk.post(f"/desk/calls/{call.pk}/", {"motive": "C'est pour une séparaton avec mon mari"})  # sic
    page = desk.get(f"/desk/calls/{call.pk}/").content.decode()
    assert 'data-testid="by-motive"' in page
    assert f'<option value="{first.pk}" selected>' in page
    assert f'|{first.pk}"' in page  # the slots shown are of that type
    # The secretary switches to the other type: its slots, and the booking is of that type.
    page = desk.get(f"/desk/calls/{call.pk}/?type={follow_up.pk}").content.decode()
    assert f'<option value="{follow_up.pk}" selected>' in page and 'data-testid="by-motive"' not in page
    picked = page.split('name="slot_pick" value="')[1].split('"')[0]
    assert picked.endswith(f"|{follow_up.pk}")
    desk.post(f"/desk/calls/{call.pk}/", {"result": "booked", "slot_pick": picked})
    assert Appointment.objects.get(call=call).appointment_type == follow_up


def test_no_type_is_guessed_from_an_unrelated_motive(alpha):
    from permanence.agenda import desk as agenda_desk

    kinds = [
        AppointmentType.objects.create(
            account=alpha, name="Premier rendez-vous", motives="divorce, séparation"
        ),
        AppointmentType.objects.create(account=alpha, name="Suivi de dossier", motives="suivi"),
    ]
    assert agenda_desk.type_by_motive(kinds, {"motive": "une question de facturation"}) is None
    assert agenda_desk.type_by_motive(kinds, {"motive": "Divorce", "urgent": True}) == kinds[0]
    screen = {"kind": "appointment", "appointment_type": ""}
    offer = agenda_desk.offer(alpha, screen, {"motive": "facture"})
    assert (
        offer.kind is None
        and offer.problem == "Choisissez le type de rendez-vous."
        and offer.types == sorted(kinds, key=lambda k: k.name)
    )
