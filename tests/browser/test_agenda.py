"""A secretary books at the desk from the slots shown; the client sees it in the week of the agenda."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SOURCE = """
language: permanence/1
title: Rendez-vous
start: book
fields:
  name: {type: text, label: Nom, say: "C'est de la part de ?"}
steps:
  book:
    appointment: consultation
    with: anne-alphonse
    say: "Je vous propose un rendez-vous."
    on: {no_slot: bye, declined: bye}
  bye:
    end: information
"""


def test_booking_at_the_desk_then_the_week_page(page, second_page, personas, alpha):
    from browser.conftest import screenshot, sign_in
    from permanence.agenda.models import Appointment, AppointmentType
    from permanence.calls import services as call_services
    from permanence.calls.lifecycle import Kind
    from permanence.directory.models import Collaborator
    from permanence.scenarios.models import Scenario, ScenarioVersion

    scenario = Scenario.objects.create(account=alpha, name="RDV")
    ScenarioVersion.objects.create(scenario=scenario, number=1, status="published", source=SOURCE, digest="x")
    anne = Collaborator.objects.get(account=alpha)
    kind = AppointmentType.objects.create(account=alpha, name="Consultation", min_notice_minutes=0)
    kind.collaborators.add(anne)
    secretary = personas["secretary"]
    call = call_services.call_arrived("01 45 00 00 01", "0612345678", account=alpha)
    call_services.record(call, Kind.OFFERED, secretary=secretary)
    call_services.record(call, Kind.ANSWERED, secretary=secretary)

    sign_in(page, "secretary")
    page.wait_for_url(re.compile(r"/"))
    page.goto(f"/desk/calls/{call.pk}/")
    choices = page.get_by_test_id("slots").locator("label")
    assert choices.count() == 6 and "avec Maître Anne Alphonse" in choices.first.inner_text()
    screenshot(page, "desk-slots")
    choices.nth(1).click()
    picked = page.get_by_test_id("slots").locator("input:checked").get_attribute("value")
    page.get_by_role("button", name=re.compile("Réserver ce créneau")).click()
    page.wait_for_load_state()
    booked = Appointment.objects.get(call=call)
    assert booked.start == datetime.fromisoformat(picked.split("|")[0])

    sign_in(second_page, "client_admin")
    second_page.wait_for_url(re.compile(r"/a/alpha/$"))
    second_page.get_by_role("link", name="Agenda").click()
    monday = booked.start.astimezone(alpha.tz).date()
    iso = monday.isocalendar()
    second_page.goto(f"/a/alpha/agenda/?week={iso.year}-W{iso.week:02d}&collaborator={anne.pk}")
    assert "+33612345678" not in second_page.content()  # numbers are written nationally
    assert "06 12 34 56 78" in second_page.get_by_test_id(f"appointment-{booked.pk}").inner_text()
    second_page.get_by_role("button", name="Créer l'adresse").click()
    second_page.wait_for_load_state()
    assert "/agenda/feed/" in second_page.get_by_test_id("feed-url").input_value()
    screenshot(second_page, "agenda-week")
    # The day of the appointment, hour by hour, everyone side by side.
    day = booked.start.astimezone(alpha.tz).date()
    second_page.get_by_test_id(f"day-{day:%Y-%m-%d}").get_by_role("link").click()
    second_page.wait_for_url(re.compile(r"day="))
    second_page.get_by_test_id(f"appointment-{booked.pk}").wait_for()
    second_page.goto(f"/a/alpha/agenda/?day={day:%Y-%m-%d}")
    assert second_page.get_by_test_id(f"appointment-{booked.pk}").is_visible()
    assert second_page.get_by_test_id(f"column-{anne.pk}").is_visible()
    screenshot(second_page, "agenda-day")


def test_linking_a_calendar_then_what_the_sync_reports(page, personas, alpha, radicale, settings):
    import uuid
    from datetime import timedelta

    import caldav
    from django.utils import timezone

    from browser.conftest import screenshot, sign_in
    from permanence.agenda import services
    from permanence.agenda.models import AppointmentType, SyncIssue
    from permanence.directory.models import Collaborator

    settings.CALENDAR_ALLOW_PRIVATE_ADDRESSES = True  # Radicale runs on 127.0.0.1
    anne = Collaborator.objects.get(account=alpha)
    kind = AppointmentType.objects.create(account=alpha, name="Consultation", min_notice_minutes=0)
    kind.collaborators.add(anne)
    slots = services.search(kind, count=3, now=timezone.now() + timedelta(days=1))
    booked = services.book(kind, anne, slots[0].start, caller=services.Caller("Jean Dupont", "+33612345678"))
    there = (
        caldav.DAVClient(url=radicale, username="anne", password="secret")
        .principal()
        .make_calendar(name="Cabinet", cal_id=uuid.uuid4().hex)
    )
    there.save_event(dtstart=slots[2].start, dtend=slots[2].end, summary="Dentiste", uid="dentist")

    sign_in(page, "client_admin")
    page.wait_for_url(re.compile(r"/a/alpha/$"))
    iso = slots[0].start.astimezone(alpha.tz).isocalendar()
    page.goto(f"/a/alpha/agenda/?week={iso.year}-W{iso.week:02d}&collaborator={anne.pk}")
    card = page.get_by_test_id("calendar-link")
    card.get_by_label("Adresse de l'agenda").fill(str(there.url))
    card.get_by_label("Identifiant").fill("anne")
    card.get_by_label("Mot de passe").fill("secret")
    card.get_by_role("button", name="Connecter").click()
    page.wait_for_load_state()
    assert "1 rendez-vous écrit(s)" in page.content()
    assert page.get_by_test_id("link-state").inner_text().startswith("synchronisé")
    assert f"{booked.uid}@permanence" in there.event_by_uid(f"{booked.uid}@permanence").data
    if slots[2].start.astimezone(alpha.tz).isocalendar()[:2] == iso[:2]:
        assert page.get_by_test_id("busy").count() == 1

    # The collaborator deletes the appointment in their calendar: cancelled here, and said so.
    there.event_by_uid(f"{booked.uid}@permanence").delete()
    page.get_by_role("button", name="Synchroniser maintenant").click()
    page.wait_for_load_state()
    issue = SyncIssue.objects.get()
    row = page.get_by_test_id(f"issue-{issue.pk}")
    assert "Supprimé dans l'agenda du collaborateur : annulé" in row.inner_text()
    assert "06 12 34 56 78" in row.inner_text()
    screenshot(page, "agenda-calendar-sync")
    row.get_by_role("button", name="Fait").click()
    page.wait_for_load_state()
    assert page.get_by_test_id(f"issue-{issue.pk}").count() == 0


def test_the_client_admin_sets_up_a_type_and_working_hours(page, personas, alpha):
    from browser.conftest import screenshot, sign_in
    from permanence.agenda.models import AppointmentType, AvailabilityException, WorkingHours
    from permanence.directory.models import Collaborator

    anne = Collaborator.objects.get(account=alpha)
    sign_in(page, "client_admin")
    page.wait_for_url(re.compile(r"/a/alpha/$"))
    page.goto("/a/alpha/agenda/")
    page.get_by_test_id("settings-link").click()
    page.get_by_role("link", name="Nouveau type de rendez-vous").click()
    form = page.get_by_test_id("type-form")
    form.get_by_label("Nom").fill("Première consultation")
    form.get_by_label("Durée (minutes)").fill("45")
    form.get_by_label("Battement après (minutes)").fill("15")
    form.get_by_label(str(anne)).check()
    form.get_by_role("button", name="Enregistrer").click()
    page.wait_for_load_state()
    kind = AppointmentType.objects.get(account=alpha)
    assert kind.code == "premiere_consultation" and kind.buffer_after_minutes == 15
    assert "premiere_consultation" in page.get_by_test_id(f"type-{kind.pk}").inner_text()

    page.get_by_test_id(f"person-{anne.pk}").get_by_role("link", name="Modifier").click()
    week = page.get_by_test_id("week-form")
    week.get_by_label("Lundi").fill("9h-12h, 14h-18h")
    week.get_by_label("Mardi").fill("10:00-09:00")
    week.get_by_role("button", name="Enregistrer").click()
    page.wait_for_load_state()
    assert "ferme avant d’ouvrir" in page.get_by_test_id("week-form").inner_text()
    assert not WorkingHours.objects.filter(collaborator=anne).exists()  # nothing half-saved
    page.get_by_test_id("week-form").get_by_label("Mardi").fill("")
    page.get_by_test_id("week-form").get_by_role("button", name="Enregistrer").click()
    page.wait_for_load_state()
    assert WorkingHours.objects.filter(collaborator=anne).count() == 2
    exceptions = page.get_by_test_id("exceptions")
    exceptions.get_by_label("Du").first.fill("2027-02-01")
    exceptions.get_by_label("Au (inclus)").fill("2027-02-05")
    exceptions.get_by_label("Libellé").fill("Congés d'hiver")
    exceptions.get_by_role("button", name="Ajouter").click()
    page.wait_for_load_state()
    assert AvailabilityException.objects.get(collaborator=anne).label == "Congés d'hiver"
    screenshot(page, "agenda-hours")
    page.get_by_role("link", name="← Réglages de l'agenda").click()
    assert "lun" in page.get_by_test_id(f"person-{anne.pk}").inner_text().lower()
    screenshot(page, "agenda-settings")
