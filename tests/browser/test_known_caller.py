"""A known caller at the desk: type, name and company come filled in from the contact, marked as known,
and the secretary corrects the company without asking the rest again."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def known_world(personas: dict[str, Any], alpha: Any) -> Any:
    from factories import make_contact
    from permanence.accounts.models import WeeklyHours
    from permanence.scenarios.models import ScenarioVersion

    WeeklyHours.objects.filter(account=alpha).delete()
    for day in range(7):  # open round the clock: the test does not depend on the hour
        WeeklyHours.objects.create(account=alpha, weekday=day, opens=time(0), closes=time(0))
    alpha.closed_on_holidays = False
    alpha.save()
    ScenarioVersion.objects.filter(scenario__account=alpha).update(status="published")  # the switchboard
    return make_contact(alpha, ("+33622334455",), first_name="Claire", last_name="Garnier",
                        company="Garnier Conseil", tags="vip, Client")


def submit(page: Any, key: str = "Enter") -> None:
    with page.expect_navigation():
        page.keyboard.press(key)
    page.wait_for_load_state("domcontentloaded")


def test_a_known_callers_type_name_and_company_are_filled_in_and_the_company_corrected(
    page: Any, personas: dict[str, Any], alpha: Any, known_world: Any
) -> None:
    from browser.conftest import screenshot, sign_in
    from permanence.calls import services
    from permanence.scenarios.models import Run

    sign_in(page, "secretary")
    page.wait_for_url(re.compile(r"/$"))
    page.goto("/desk/")
    page.get_by_role("button", name="Disponible").click()
    page.get_by_test_id("status").filter(has_text="Disponible").wait_for()
    call = services.call_arrived("01 45 00 00 01", "06 22 33 44 55")
    page.get_by_test_id("offer").wait_for(state="visible")
    submit(page)  # answer
    page.wait_for_url(re.compile(rf"/desk/calls/{call.pk}/$"))
    submit(page)  # the greeting is said

    # the caller type: the contact's "Client" tag, chosen already and marked as known, not to be asked
    kind = page.locator("fieldset[data-field=caller_type]")
    kind.get_by_test_id("known-caller_type").wait_for()
    assert kind.locator("input[value=client]").is_checked()
    assert kind.get_attribute("data-known") == "1"
    assert "C'est à quel sujet" not in kind.inner_text()  # its question is not said to a known caller
    assert kind.locator("input:checked").count() == 1
    screenshot(page, "desk-known-caller-type")
    submit(page)  # Enter keeps it

    # name, company and number: filled in, editable; the secretary corrects the company
    name, company = page.locator("input[name=name]"), page.locator("input[name=company]")
    assert name.input_value() == "Claire Garnier" and company.input_value() == "Garnier Conseil"
    assert page.locator("input[name=phone]").input_value() == "06 22 33 44 55"
    for field in ("name", "company", "phone"):
        assert page.get_by_test_id(f"known-{field}").is_visible()
    assert name.is_editable() and company.is_editable()
    company.fill("Garnier & Associés")
    screenshot(page, "desk-known-caller")
    submit(page)  # Enter in the field: the values as shown

    page.locator("input[name=q]").wait_for()  # the lookup: nothing asked again on the way
    call.refresh_from_db()
    state = Run.objects.get(pk=call.run_id).state
    assert state["step"] == "find"
    assert state["answers"] == {
        "caller_type": "client",
        "name": "Claire Garnier",
        "company": "Garnier & Associés",
        "phone": "+33622334455",
    }
    body = page.get_by_test_id("body").input_value()
    assert "Société : Garnier & Associés" in body and "Garnier Conseil" not in body
    assert "Claire Garnier" in page.get_by_test_id("subject").input_value()


def test_an_unknown_caller_is_asked_as_before(page: Any, personas: dict[str, Any], alpha: Any,
                                              known_world: Any) -> None:
    from browser.conftest import sign_in
    from permanence.calls import services

    sign_in(page, "secretary")
    page.wait_for_url(re.compile(r"/$"))
    page.goto("/desk/")
    page.get_by_role("button", name="Disponible").click()
    page.get_by_test_id("status").filter(has_text="Disponible").wait_for()
    call = services.call_arrived("01 45 00 00 01", "06 99 88 77 66")
    page.get_by_test_id("offer").wait_for(state="visible")
    submit(page)
    page.wait_for_url(re.compile(rf"/desk/calls/{call.pk}/$"))
    submit(page)
    kind = page.locator("fieldset[data-field=caller_type]")
    assert "C'est à quel sujet" in kind.inner_text()
    assert kind.locator("input:checked").count() == 0 and kind.get_attribute("data-known") is None
    page.keyboard.press("1")  # Client
    submit(page)
    assert page.locator("input[name=name]").input_value() == ""
    assert page.locator("input[name=company]").input_value() == ""
    assert page.get_by_test_id("known-name").count() == 0
    assert page.get_by_test_id("known-phone").is_visible()  # the number is known, the person is not
    assert page.locator("input[name=phone]").input_value() == "06 99 88 77 66"
