"""The client admin writes its directory in Chromium: a person added with transfer hours, and a change of
another's transfer rule planned for a chosen time, which the desk follows once it is due."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _to_the_lookup(page: Any) -> None:
    """A training call of Alpha, up to the step that searches the directory."""
    page.goto("/desk/")
    page.locator("form[action='/desk/training'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/desk/calls/\d+/$"))
    page.get_by_role("button", name=re.compile("Suivant")).click()
    page.locator("input[name=caller_type][value=client]").check()
    page.get_by_role("button", name=re.compile("Suivant")).click()
    page.locator("input[name=name]").fill("Jean Dupont")
    page.locator("input[name=phone]").fill("06 12 34 56 78")
    page.get_by_role("button", name=re.compile("Suivant")).click()


def _desk_search(page: Any, name: str) -> str:
    page.locator("#lookup-q").fill(name)
    page.locator("#lookup-search").click()
    return str(page.get_by_test_id("matches").inner_text())


def test_the_client_writes_its_directory_and_a_planned_change_reaches_the_desk_when_due(
    page: Any, second_page: Any, personas: Any, alpha: Any
):
    from django.utils import timezone

    from browser.conftest import screenshot, sign_in
    from permanence.directory import people
    from permanence.directory.models import Collaborator, DirectoryChange
    from permanence.scenarios.models import ScenarioVersion

    ScenarioVersion.objects.filter(scenario__account=alpha).update(status="published")
    anne = Collaborator.objects.get(account=alpha)
    sign_in(page, "client_admin")
    page.goto("/a/alpha/directory/")
    page.get_by_test_id("new-service-name").fill("Comptabilité")
    page.get_by_test_id("add-service").click()
    page.get_by_test_id("new-collaborator").click()
    page.get_by_test_id("first_name").fill("Chloé")
    page.get_by_test_id("last_name").fill("Martin")
    page.get_by_test_id("service").select_option(label="Comptabilité")
    page.get_by_test_id("direct_line").fill("01 45 00 00 13")
    page.get_by_test_id("mode-conditional").check()
    for day in range(5):
        page.get_by_test_id(f"windows-{day}").fill("09:00-18:00")
    page.get_by_test_id("windows-2").fill("9h-midi")  # a typo first: refused, nothing lost
    page.get_by_test_id("save").click()
    assert page.get_by_test_id("error-windows_2").is_visible()
    assert page.get_by_test_id("last_name").input_value() == "Martin"
    screenshot(page, "directory-person-refused")
    page.get_by_test_id("windows-2").fill("09:00-12:00")
    page.get_by_test_id("save").click()
    page.wait_for_url(re.compile(r"/a/alpha/directory/\d+/$"))
    chloe = Collaborator.objects.get(account=alpha, last_name="Martin")
    assert chloe.service.name == "Comptabilité" and chloe.direct_line == "+33145000013"

    # Anne stops taking calls from tomorrow 08:00: planned, not yet in force
    tomorrow = timezone.localtime() + timedelta(days=1)
    page.goto(f"/a/alpha/directory/{anne.pk}/")
    page.get_by_test_id("mode-never").check()
    page.get_by_test_id("when-at").check()
    page.get_by_test_id("effective-at").fill(tomorrow.strftime("%Y-%m-%dT08:00"))
    page.get_by_test_id("save").click()
    page.wait_for_url("**/a/alpha/directory/")
    change = DirectoryChange.objects.get(collaborator=anne)
    assert page.get_by_test_id(f"change-{change.pk}").is_visible()
    screenshot(page, "directory-client")

    sign_in(second_page, "secretary")
    _to_the_lookup(second_page)
    assert "Toujours transférer" in _desk_search(second_page, "alphonse")
    people.apply_due(change.effective_at)  # the worker's step, once the time has come
    assert "Jamais : prendre un message" in _desk_search(second_page, "alphonse")
    assert "Sous conditions" in _desk_search(second_page, "martin")
    screenshot(second_page, "directory-desk")
