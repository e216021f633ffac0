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
