"""Two secretaries at the desk: a call is offered, answered and run by keyboard to a message."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk_world(personas, alpha, beta):
    from factories import make_user
    from permanence.accounts.models import WeeklyHours
    from permanence.directory.models import Collaborator
    from permanence.scenarios.models import ScenarioVersion
    from permanence.users.models import Role, Training

    WeeklyHours.objects.filter(account=alpha).delete()
    for day in range(7):  # open round the clock: the test does not depend on the hour
        WeeklyHours.objects.create(account=alpha, weekday=day, opens=time(0), closes=time(0))
    alpha.closed_on_holidays = False
    alpha.save()
    Collaborator.objects.filter(account=alpha).update(email="anne@alpha.example")
    ScenarioVersion.objects.filter(scenario__account=alpha).update(status="published")  # the switchboard
    second = make_user("secretary2", Role.SECRETARY)
    Training.objects.create(secretary=second, account=alpha)
    return second


def ready(page: Any, username: str) -> None:
    from browser.conftest import sign_in

    sign_in(page, username)
    page.wait_for_url(re.compile(r"/$"))
    page.goto("/desk/")
    page.get_by_role("button", name="Disponible").click()
    page.get_by_test_id("status").filter(has_text="Disponible").wait_for()


def test_offer_answer_transfer_refused_then_message(page, second_page, personas, alpha, desk_world):
    from browser.conftest import screenshot
    from permanence.calls import services
    from permanence.calls.models import Call, CallEvent
    from permanence.messaging.models import Message

    ready(page, "secretary")  # ready first: idle the longest, she gets the call
    ready(second_page, "secretary2")
    services.set_status(personas["secretary_beta"], "ready")  # ready too, but not trained on Alpha
    call = services.call_arrived("01 45 00 00 01", "06 11 11 11 11")
    offer = page.get_by_test_id("offer")
    offer.wait_for(state="visible")
    assert "Cabinet Alpha" in offer.inner_text()
    assert second_page.get_by_test_id("offer").is_hidden()
    screenshot(page, "desk-offer")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/desk/calls/{call.pk}/$"))
    assert "Cabinet Alpha, bonjour" in page.get_by_test_id("greeting").inner_text()
    assert "Albert Client" in page.get_by_test_id("screen-pop").inner_text()  # the caller, identified
    page.keyboard.press("Enter")  # the greeting is said
    page.get_by_text("Type d'appelant").wait_for()
    page.keyboard.press("1")  # Client
    page.keyboard.press("Enter")
    page.locator("input[name=name]").fill("Albert Client")
    page.keyboard.press("Enter")
    page.locator("input[name=q]").fill("alfonse")
    page.keyboard.press("Enter")  # searches
    page.get_by_test_id("matches").wait_for()
    page.locator("body").click(position={"x": 5, "y": 5})
    page.get_by_role("button", name=re.compile("Suivant")).click()
    page.get_by_test_id("transfer-to").wait_for()
    page.reload()  # a reload mid-call resumes where it was
    assert "Maître Anne Alphonse" in page.get_by_test_id("transfer-to").inner_text()
    screenshot(page, "desk-transfer")
    page.get_by_role("button", name=re.compile("Appeler la personne")).click()
    page.get_by_test_id("transferring").wait_for()
    page.get_by_role("button", name=re.compile("Refusé")).click()
    page.locator("textarea[name=subject]").fill("Rappeler au sujet de l'audience")
    page.keyboard.press("Tab")
    page.keyboard.press("2")  # urgent: no
    page.get_by_role("button", name=re.compile("Suivant")).click()
    page.get_by_test_id("outcome").wait_for()
    assert page.get_by_test_id("recipients").input_value() == "anne@alpha.example"
    assert "Rappeler au sujet de l'audience" in page.get_by_test_id("body").input_value()
    screenshot(page, "desk-message")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r"/desk/$"))
    message = Message.objects.get(call=call)
    assert message.recipients == ["anne@alpha.example"] and message.status == "queued"
    assert "Rappeler au sujet de l'audience" in message.body and "Albert Client" in message.subject
    call.refresh_from_db()
    assert call.state == "done" and call.outcome == "message"
    assert list(call.events.values_list("kind", flat=True)) == [
        "arrived",
        "queued",
        "offered",
        "answered",
        "transfer_requested",
        "transfer_result",
        "ended",
        "wrapped_up",
    ]
    # the secretary not trained on Alpha never had its call
    assert not CallEvent.objects.filter(secretary=personas["secretary_beta"]).exists()
    assert Call.objects.filter(offered_to=personas["secretary_beta"]).count() == 0


def submit(page: Any, key: str = "Enter") -> None:
    """Press a key that submits the step, and wait for the next step's page (scripts included)."""
    with page.expect_navigation():
        page.keyboard.press(key)
    page.wait_for_load_state("domcontentloaded")


def test_a_message_call_needs_no_mouse(page, personas, alpha, desk_world):
    from permanence.calls import services
    from permanence.messaging.models import Message

    ready(page, "secretary")
    call = services.call_arrived("01 45 00 00 01", None)  # number withheld
    page.get_by_test_id("offer").wait_for(state="visible")
    submit(page)  # answer
    page.wait_for_url(re.compile(rf"/desk/calls/{call.pk}/$"))
    submit(page)  # greeting said
    page.keyboard.press("2")  # Prospect
    submit(page)
    page.keyboard.type("Paul Martin")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.type("06 22 33 44 55")
    submit(page)
    page.keyboard.type("quelqu'un d'inconnu")
    submit(page)  # searches: nobody matches
    assert "Personne ne correspond" in page.get_by_test_id("matches").inner_text()
    submit(page)  # next: not in the directory
    page.keyboard.type("Demande de devis")
    page.keyboard.press("Tab")
    page.keyboard.press("1")  # urgent: yes
    submit(page)
    page.get_by_test_id("outcome").wait_for()
    submit(page, "Control+Enter")
    page.wait_for_url(re.compile(r"/desk/$"))
    message = Message.objects.get(call=call)  # nobody named: the account's default recipients
    assert message.urgent is True and message.recipients == ["accueil@alpha.example"]
    assert "Demande de devis" in message.body and "Paul Martin" in message.subject
    assert "06 22 33 44 55" in message.body


def test_letters_typed_in_a_field_or_a_radio_group_never_act_on_the_call(page, personas, alpha, desk_world):
    from browser.conftest import sign_in
    from permanence.calls import services
    from permanence.calls.models import Call

    sign_in(page, "secretary")
    page.wait_for_url(re.compile(r"/$"))
    page.goto("/desk/")
    page.locator("input[name=reason]").fill("rendez-vous")  # an "r" typed in a field: not "ready"
    assert page.get_by_test_id("status").inner_text() != "Disponible"
    page.locator("body").click(position={"x": 5, "y": 5})
    with page.expect_navigation():
        page.keyboard.press("Alt+r")  # becoming ready has its own key
    page.get_by_test_id("status").filter(has_text="Disponible").wait_for()
    call = services.call_arrived("01 45 00 00 01", None)
    services.dispatch()
    page.get_by_test_id("offer").wait_for(state="visible")
    submit(page)  # answer
    submit(page)  # greeting said
    page.get_by_label(re.compile("Prospect")).check()  # the focus is in the radio group
    page.keyboard.press("h")
    page.keyboard.press("t")
    submit(page)
    page.locator("input[name=name]").wait_for()
    page.locator("input[name=name]").press_sequentially("Il souhaite parler à Thomas")
    assert page.locator("input[name=name]").input_value() == "Il souhaite parler à Thomas"
    assert Call.objects.get(pk=call.pk).state == "talking"
    assert not call.events.filter(kind="on_hold").exists()
    with page.expect_navigation():
        page.keyboard.press("Alt+h")  # the shortcut, on purpose
    page.get_by_role("button", name=re.compile("Reprendre")).wait_for()
    assert Call.objects.get(pk=call.pk).state == "on_hold"


def test_the_operators_live_view(page, personas, alpha):
    from browser.conftest import screenshot, sign_in
    from permanence.calls import services

    for caller in ("06 11 22 33 44", "06 55 66 77 88", None):
        services.call_arrived("01 45 00 00 01", caller, account=alpha)
    sign_in(page, "admin")
    page.wait_for_load_state()
    page.get_by_role("link", name="Supervision").click()
    page.get_by_test_id("queue").wait_for()
    assert page.get_by_test_id("waiting-count").inner_text() == "3"
    page.wait_for_timeout(5500)  # the table refreshes itself
    assert page.get_by_test_id("waiting-count").inner_text() == "3"
    screenshot(page, "supervision")
