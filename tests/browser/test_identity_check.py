"""A secretary verifies a known caller's identity: a wrong answer is asked again, the right one (written
another way) verifies; on the next call, wrong answers until the attempts run out give "not verified".
What she typed is in no stored row: not the message, the run, the call's events nor the audit trail.
The patient's reason (a sensitive field) is on her screen, not in the message: the client reads it
after signing in, through the message's link, and the reading is audited."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCENARIO = """
language: permanence/1
title: Cabinet médical Alpha
start: welcome
fields:
  name: {type: text, label: Nom, prefill: caller.name}
  reason: {type: long_text, label: Motif médical, sensitive: true}
steps:
  welcome:
    say: "Cabinet Alpha, bonjour."
    next:
      - {if: caller.known, goto: check}
      - else: take
  check:
    verify: identity
    say: "Pour vérifier votre identité : votre nom et l'adresse e-mail de votre dossier ?"
    next:
      - {if: identity.verified, goto: take}
      - else: refused
  take:
    ask: [name, reason]
    next: message
  refused:
    say: "Je ne peux pas vous renseigner ; je transmets votre demande au cabinet."
    next: message
  message:
    message: [account]
"""
STORED = "claire.garnier@garnier-conseil.fr"
WRONG = ("Dupontel", "c.dupontel@exemple.org")
RIGHT = ("  GARNIER ", "Claire.Garnier@Garnier-Conseil.FR")
REASON = "Douleurs thoraciques depuis hier soir"


@pytest.fixture
def medical(personas: dict[str, Any], alpha: Any) -> Any:
    from factories import make_contact
    from scenario_helpers import put_in_service

    alpha.identity_fields = "last_name, email"
    alpha.save()
    make_contact(alpha, ("+33622334455",), first_name="Claire", last_name="Garnier", email=STORED)
    put_in_service(alpha, "Médical", SCENARIO, personas["admin"])
    return alpha


def submit(page: Any, key: str = "Enter") -> None:
    with page.expect_navigation():
        page.keyboard.press(key)
    page.wait_for_load_state("domcontentloaded")


def answer_identity(page: Any, last_name: str, address: str) -> None:
    page.get_by_test_id("identity-last_name").fill(last_name)
    page.get_by_test_id("identity-email").fill(address)
    with page.expect_navigation():
        page.get_by_test_id("identity-submit").click()
    page.wait_for_load_state("domcontentloaded")


def take_call(page: Any) -> Any:
    from permanence.calls import services

    page.goto("/desk/")
    ready = page.get_by_role("button", name="Disponible")
    if ready.is_enabled():  # after a call she is ready again already
        ready.click()
    page.get_by_test_id("status").filter(has_text="Disponible").wait_for()
    call = services.call_arrived("01 45 00 00 01", "06 22 33 44 55")
    page.get_by_test_id("offer").wait_for(state="visible")
    submit(page)  # answer
    page.wait_for_url(re.compile(rf"/desk/calls/{call.pk}/$"))
    submit(page)  # the greeting is said
    page.get_by_test_id("identity-check").wait_for()
    return call


def stored_rows() -> str:
    """Every row where what was typed could have gone."""
    from permanence.audit.models import AuditEvent
    from permanence.calls.models import CallEvent
    from permanence.messaging.models import Message
    from permanence.scenarios.models import Run

    rows = [json.dumps(r.state, ensure_ascii=False) for r in Run.objects.all()]
    rows += [json.dumps([m.subject, m.body, m.fields], ensure_ascii=False) for m in Message.objects.all()]
    rows += [json.dumps(e.detail, ensure_ascii=False) for e in CallEvent.objects.all()]
    rows += [json.dumps([a.detail, a.object_repr], ensure_ascii=False) for a in AuditEvent.objects.all()]
    return "\n".join(rows)


def test_a_caller_verified_then_another_call_not_verified_and_nothing_typed_is_kept(
    page: Any, second_page: Any, personas: dict[str, Any], medical: Any
) -> None:
    from browser.conftest import screenshot, sign_in
    from permanence.audit.models import AuditEvent
    from permanence.messaging.models import Message
    from permanence.scenarios.models import Run

    sign_in(page, "secretary")
    page.wait_for_url(re.compile(r"/$"))

    # 1. a wrong answer, asked again; then the right one, written another way: verified
    call = take_call(page)
    assert STORED not in page.content()  # compared with, never shown
    screenshot(page, "desk-identity-check")
    answer_identity(page, *WRONG)
    page.get_by_test_id("identity-failed").wait_for()
    assert "2" in page.get_by_test_id("identity-failed").inner_text()  # attempts left
    assert page.get_by_test_id("identity-last_name").input_value() == ""  # never shown again
    assert all(value not in page.content() for value in WRONG)
    screenshot(page, "desk-identity-failed")
    answer_identity(page, *RIGHT)
    page.locator("textarea[name=reason]").wait_for()
    page.locator("textarea[name=reason]").fill(REASON)
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("Suivant")).click()
    page.get_by_test_id("outcome").wait_for()
    assert REASON in page.get_by_test_id("sensitive-answers").inner_text()  # on her screen
    body = page.get_by_test_id("body").input_value()
    assert REASON not in body and "Identité : vérifiée" in body
    screenshot(page, "desk-sensitive-answers")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r"/desk/$"))
    message = Message.objects.get(call=call)
    assert REASON not in message.body and message.fields["reason"] == REASON
    call.refresh_from_db()
    assert Run.objects.get(pk=call.run_id).state["identity"] == {"checked": True, "verified": True,
                                                                 "attempts": 2}

    # 2. the next call: wrong answers until the attempts run out, "not verified"
    second = take_call(page)
    for attempt in range(3):
        answer_identity(page, WRONG[0] + str(attempt), WRONG[1])
    page.get_by_test_id("say").filter(has_text="Je ne peux pas vous renseigner").wait_for()
    submit(page)
    page.get_by_test_id("outcome").wait_for()
    assert "Identité : non vérifiée" in page.get_by_test_id("body").input_value()
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r"/desk/$"))
    second.refresh_from_db()
    assert Run.objects.get(pk=second.run_id).state["identity"] == {"checked": True, "verified": False,
                                                                   "attempts": 3}

    # what she typed is nowhere: the messages, the runs, the calls' events, the audit trail
    rows = stored_rows()
    for value in (*WRONG, *(WRONG[0] + str(n) for n in range(3)), *(v.strip() for v in RIGHT), STORED):
        assert value not in rows, value

    # the client reads the reason after signing in, through the message's link; the reading is audited
    sign_in(second_page, "client_admin")  # a collaborator reads only what is addressed to her
    second_page.wait_for_url(re.compile(r"/a/alpha/"))
    second_page.goto("/a/alpha/messages/")
    second_page.get_by_test_id(f"sensitive-link-{message.pk}").click()
    second_page.get_by_test_id("sensitive-reason").wait_for()
    assert second_page.get_by_test_id("sensitive-reason").inner_text() == REASON
    screenshot(second_page, "message-sensitive-fields")
    read = AuditEvent.objects.filter(action="view", object_type="messaging.message",
                                     object_id=str(message.pk), detail__what="sensitive fields")
    assert [row.actor_name for row in read] == ["client_admin"]
