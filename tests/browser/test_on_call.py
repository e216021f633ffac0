"""The client admin writes the on-call rota of its emergency service: the desk shows who is on call,
the scenario's on_call(...) proposes them, and a call after hours is forwarded to them."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCENARIO = """\
language: permanence/1
title: Astreinte
start: start
fields:
  wanted: {type: person, label: Personne demandée}
steps:
  start:
    say: "{{ account.greeting }}."
    next: astreinte
  astreinte:
    say: "Je vous passe le médecin d'astreinte."
    lookup: wanted
    on_call: urgences
    on: {found: passer, not_found: personne}
  passer:
    transfer: wanted
    line: mobile
    on: {other: personne}
  personne:
    message: [account]
"""


def test_a_rota_written_by_the_client_answers_on_call_at_the_desk_and_after_hours(
    page: Any, second_page: Any, personas: Any, alpha: Any
):
    from django.utils import timezone

    from browser.conftest import screenshot, sign_in
    from permanence.accounts.models import AfterHours
    from permanence.calls import admission, services
    from permanence.directory.models import Collaborator, Rota, Service
    from scenario_helpers import put_in_service

    urgences = Service.objects.create(account=alpha, name="Urgences")
    anne = Collaborator.objects.get(account=alpha)
    anne.mobile, anne.service = "+33611000001", urgences
    anne.save()
    bruno = Collaborator.objects.create(account=alpha, first_name="Bruno", last_name="Durand", title="Dr",
                                        mobile="+33611000002", service=urgences)
    today = timezone.localdate()
    week_start = today - timedelta(days=today.weekday())  # this Monday: Anne's week, then Bruno's

    sign_in(page, "client_admin")
    page.goto("/a/alpha/on-call/")
    assert page.get_by_test_id("no-rota").is_visible()
    form = page.get_by_test_id("rota-form")
    form.get_by_test_id("service").select_option(label="Urgences")
    form.get_by_test_id("first-day").fill(week_start.isoformat())
    form.locator("input[name=handover]").fill("00:00")
    form.get_by_test_id("cover-always").check()
    form.get_by_test_id("member-1").select_option(label=str(anne))
    form.get_by_test_id("member-2").select_option(label=str(bruno))
    form.get_by_test_id("forwards").check()
    form.get_by_test_id("save-rota").click()
    card = page.get_by_test_id("rota-urgences")
    assert str(anne) in card.get_by_test_id("now").inner_text()
    calendar = card.get_by_test_id("calendar").inner_text()
    assert str(anne) in calendar and str(bruno) in calendar
    screenshot(page, "on-call-client")
    rota = Rota.objects.get(service=urgences)
    assert [m.collaborator for m in rota.members.all()] == [anne, bruno]

    put_in_service(alpha, "Astreinte", SCENARIO, personas["client_admin"])
    sign_in(second_page, "secretary")
    second_page.goto("/desk/")
    second_page.locator("form[action='/desk/training'] button[type=submit]").click()
    second_page.wait_for_url(re.compile(r"/desk/calls/\d+/$"))
    assert "Dr Bruno Durand" not in second_page.get_by_test_id("on-call-now").inner_text()
    assert str(anne) in second_page.get_by_test_id("on-call-now").inner_text()
    second_page.get_by_role("button", name=re.compile("Suivant")).click()
    proposed = second_page.get_by_test_id("on-call-proposed")
    assert str(anne) in proposed.inner_text() and "06 11 00 00 01" in proposed.inner_text()
    screenshot(second_page, "on-call-desk")
    second_page.get_by_role("button", name=re.compile("Suivant")).click()
    assert "06 11 00 00 01" in second_page.get_by_test_id("transfer-to").inner_text()

    # after hours: the account forwards its calls, to whoever is on call
    alpha.weekly_hours.all().delete()
    alpha.after_hours, alpha.on_call_number = AfterHours.FORWARD, "+33699999999"
    alpha.save()
    decision = services.admit(alpha, "+33612345678", timezone.now())
    assert decision.action is admission.Action.FORWARD and decision.forward_to == "+33611000001"
    decision = services.admit(alpha, "+33612345678", timezone.now() + timedelta(days=7))
    assert decision.forward_to == "+33611000002"
