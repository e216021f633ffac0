"""A technical assistant fixes a scenario, sends it; the client admin approves; it is published."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page: Any, username: str) -> None:
    from browser.conftest import sign_in as sign_in_page

    sign_in_page(page, username)
    page.wait_for_url(re.compile(r"/(a/[a-z-]+/)?$"))


def test_edit_fix_send_approve_publish(page, personas, alpha):
    from browser.conftest import screenshot
    from permanence.scenarios.models import ScenarioVersion, Status

    version = ScenarioVersion.objects.get(scenario__account=alpha)  # the new account's draft
    url = f"/a/alpha/scenarios/{version.scenario_id}/v/1/"
    sign_in(page, "assistant")
    page.goto(url)
    source = page.locator("#source")
    text = source.input_value()
    broken = text.replace("next: qualify\n", "next: qualifier\n", 1)
    assert broken != text
    source.fill(broken)
    # the live check shows the error at its line, without saving
    problem = page.get_by_test_id("problems").locator("li.error").first
    problem.wait_for()
    line = broken.splitlines().index("    next: qualifier") + 1
    assert f"ligne {line}, colonne 11" in problem.inner_text()
    assert "Il n’y a pas d’étape « qualifier »" in problem.inner_text()
    screenshot(page, "scenario-error")
    problem.locator("button.goto").click()
    selected = page.evaluate(
        "() => { const a = document.getElementById('source');"
        " return a.value.substring(a.selectionStart, a.selectionEnd); }"
    )
    assert selected == "qualifier"
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_load_state()
    assert "erreur(s) à corriger" in page.locator(".flash").inner_text()
    # fix it: the drawing comes back, with the outcomes
    page.locator("#source").fill(text)
    page.get_by_test_id("problems").get_by_text("Aucun problème trouvé.").wait_for()
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_load_state()
    svg = page.locator("#drawing svg")
    svg.wait_for()
    drawn = svg.text_content()
    assert "Transfert" in drawn and "Appel" in drawn and "Transférer à : personne demandée" in drawn
    screenshot(page, "scenario-editor")
    page.get_by_role("button", name="Envoyer au client pour validation").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("status").inner_text() == "Envoyé au client"

    page.context.clear_cookies()
    sign_in(page, "client_admin")
    page.goto(url)
    page.locator("#drawing svg").wait_for()
    assert page.get_by_test_id("approval").is_visible()
    screenshot(page, "scenario-approval")
    page.get_by_role("button", name="Valider ce scénario").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("status").inner_text() == "En service"
    version.refresh_from_db()
    assert version.status == Status.PUBLISHED and version.approved_by.username == "client_admin"
