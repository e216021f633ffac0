"""The voice menu's page: read by those who see the account's scenarios, checked with line and column and
saved (audited) by those who write them; the back-office refuses a menu with errors too."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from permanence.audit.models import AuditEvent

GOOD = """language: permanence-ivr/1
start: accueil
menus:
  accueil:
    say: "Rendez-vous, tapez 1."
    options:
      1: {queue: Rendez-vous}
"""


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_assistant_checks_then_saves_a_menu_and_the_client_reads_it(personas, alpha, beta):
    assistant = signed_in(personas["assistant"])
    page = assistant.get("/a/alpha/voice-menu/").content.decode()
    assert "permanence-ivr/1" in page and "Aucun menu vocal." in page  # an example to start from

    wrong = GOOD.replace("{queue", "{goto: nulle_part, queue")
    broken = assistant.post("/a/alpha/voice-menu/", {"source": wrong, "save": "1"})
    assert broken.status_code == 400
    text = broken.content.decode()
    assert "7:10" in text and "Une option fait exactement une chose" in text and "nulle_part" in text  # kept
    alpha.refresh_from_db()
    assert alpha.ivr_source == ""

    checked = assistant.post("/a/alpha/voice-menu/", {"source": GOOD, "check": "1"})
    assert checked.status_code == 200 and 'data-testid="no-problem"' in checked.content.decode()
    alpha.refresh_from_db()
    assert alpha.ivr_source == ""  # checked, not saved
    assert assistant.post("/a/alpha/voice-menu/", {"source": GOOD, "save": "1"}).status_code == 302
    alpha.refresh_from_db()
    assert alpha.ivr_source == GOOD
    assert AuditEvent.objects.filter(object_type="accounts.account", action="update",
                                     detail__fields=["ivr_source"]).exists()  # fmt: skip

    client = signed_in(personas["client_user"])
    shown = client.get("/a/alpha/voice-menu/").content.decode()
    assert 'data-testid="menu-accueil"' in shown and "readonly" in shown
    assert client.post("/a/alpha/voice-menu/", {"source": "", "save": "1"}).status_code == 403
    assert signed_in(personas["client_admin_beta"]).get("/a/alpha/voice-menu/").status_code == 404

    assert assistant.post("/a/alpha/voice-menu/", {"source": "  ", "save": "1"}).status_code == 302
    alpha.refresh_from_db()
    assert alpha.ivr_source == ""  # emptied: no menu


def test_the_back_office_refuses_a_menu_with_errors_saying_where(alpha):
    alpha.ivr_source = GOOD.replace("start: accueil", "start: ailleurs")
    with pytest.raises(ValidationError) as refused:
        alpha.full_clean()
    assert any(m.startswith("2:8 ") for m in refused.value.message_dict["ivr_source"])


SCENARIO = """
language: permanence/1
title: Accueil
start: ask
fields:
  motive: {type: text, label: Motif, say: "C'est à quel sujet ?", prefill: call.motive}
  name: {type: text, label: Nom, say: "C'est de la part de ?"}
steps:
  ask:
    ask: [motive, name]
    next: bye
  bye:
    end: information
"""


def test_the_callers_choice_in_the_menu_is_the_scenarios_first_answer_not_asked_again(personas, alpha):
    from permanence.calls import services
    from permanence.calls.lifecycle import Kind
    from scenario_helpers import put_in_service

    put_in_service(alpha, "Accueil", SCENARIO, personas["client_admin"])
    call = services.call_arrived("01 45 00 00 01", "0611111111", account=alpha,
                                 menu={"action": "queue", "motive": "Rendez-vous", "keys": "1"})  # fmt: skip
    services.record(call, Kind.OFFERED, secretary=personas["secretary"])
    services.record(call, Kind.ANSWERED, secretary=personas["secretary"])
    page = signed_in(personas["secretary"]).get(f"/desk/calls/{call.pk}/").content.decode()
    assert 'data-testid="voice-menu"' in page and "Rendez-vous" in page
    assert 'value="Rendez-vous"' in page  # filled in, as a known answer
