"""The client admin writes an instruction dated for next week: the desk shows it only then,
highlighted on the secretary's first call."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def training_call(page: Any) -> None:
    page.goto("/desk/")
    page.locator("form[action='/desk/training'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/desk/calls/\d+/$"))


def test_an_instruction_dated_for_next_week_reaches_the_desk_only_then(
    page: Any, second_page: Any, personas: Any, alpha: Any
):
    from django.utils import timezone

    from browser.conftest import screenshot, sign_in
    from permanence.accounts.models import Instruction
    from permanence.audit.models import AuditEvent
    from permanence.calls.models import Call
    from permanence.scenarios.models import ScenarioVersion

    ScenarioVersion.objects.filter(scenario__account=alpha).update(status="published")
    paris = ZoneInfo("Europe/Paris")
    start = (timezone.now() + timedelta(days=7)).astimezone(paris).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(days=2)

    sign_in(page, "client_admin")
    page.goto("/a/alpha/")
    page.get_by_role("link", name="Modifier les consignes").click()
    page.wait_for_url("**/a/alpha/instructions/")
    form = page.get_by_test_id("new-instruction-form")
    form.get_by_test_id("text").fill("Du 12 au 20 août : les urgences au Dr Martin, 06 12 34 56 78.")
    form.get_by_test_id("starts-at").fill(start.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_test_id("ends-at").fill(end.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_test_id("add").click()
    page.wait_for_url("**/a/alpha/instructions/")
    coming = page.get_by_test_id("coming")
    assert "les urgences au Dr Martin" in coming.inner_text()
    assert "Aucune." in page.get_by_test_id("current").inner_text()
    screenshot(page, "instructions-client")
    instruction = Instruction.objects.get(account=alpha)
    assert instruction.starts_at == start and instruction.ends_at == end
    assert AuditEvent.objects.filter(object_type="accounts.instruction", action="create",
                                     actor_name="client_admin").count() == 1

    sign_in(second_page, "secretary")
    training_call(second_page)
    pop = second_page.get_by_test_id("screen-pop")
    assert "Consigne Alpha" in pop.inner_text()
    assert second_page.get_by_test_id(f"instruction-{instruction.pk}").count() == 0
    Call.objects.filter(training=True).update(state="done")

    with time_machine.travel(start + timedelta(hours=1), tick=True):
        sign_in(second_page, "secretary")  # a week later: the session (12 hours) is over
        training_call(second_page)
        shown = second_page.get_by_test_id(f"instruction-{instruction.pk}")
        assert "les urgences au Dr Martin" in shown.inner_text()
        assert "nouvelle" in shown.inner_text()
        screenshot(second_page, "instructions-desk")
        Call.objects.filter(training=True).update(state="done")
    with time_machine.travel(end + timedelta(minutes=1), tick=True):
        sign_in(second_page, "secretary")
        training_call(second_page)
        assert second_page.get_by_test_id(f"instruction-{instruction.pk}").count() == 0
