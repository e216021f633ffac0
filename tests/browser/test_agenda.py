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
