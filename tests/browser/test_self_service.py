"""The client admin's own pages in Chromium: absences with a replacement, and opening hours."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_absence_written_by_the_client_sends_the_transfer_to_the_replacement(
    page: Any, second_page: Any, personas: Any, alpha: Any
):
    from django.utils import timezone

    from browser.conftest import screenshot, sign_in
    from permanence.directory.models import Absence, Collaborator
    from permanence.scenarios.models import ScenarioVersion

    ScenarioVersion.objects.filter(scenario__account=alpha).update(status="published")
    anne = Collaborator.objects.get(account=alpha)
    bruno = Collaborator.objects.create(account=alpha, first_name="Bruno", last_name="Durand", title="Maître",
                                        direct_line="+33145000012")
    now = timezone.localtime()
    sign_in(page, "client_admin")
    page.goto("/a/alpha/absences/")
    form = page.get_by_test_id("new-absence-form")
    form.get_by_test_id("collaborator").select_option(label=str(anne))
    form.get_by_test_id("kind").select_option("leave")
    form.get_by_test_id("replacement").select_option(label=str(bruno))
    form.get_by_test_id("starts-at").fill((now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    form.get_by_test_id("ends-at").fill((now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"))
    form.get_by_test_id("add").click()
    current = page.get_by_test_id("current")
    assert str(anne) in current.inner_text() and str(bruno) in current.inner_text()
    screenshot(page, "absences-client")
    assert Absence.objects.get(collaborator=anne).replacement == bruno

    sign_in(second_page, "secretary")
    second_page.goto("/desk/")
    second_page.locator("form[action='/desk/training'] button[type=submit]").click()
    second_page.wait_for_url(re.compile(r"/desk/calls/\d+/$"))
    second_page.get_by_role("button", name=re.compile("Suivant")).click()
    second_page.locator("input[name=caller_type][value=client]").check()
    second_page.get_by_role("button", name=re.compile("Suivant")).click()
    second_page.locator("input[name=name]").fill("Jean Dupont")
    second_page.locator("input[name=phone]").fill("06 12 34 56 78")
    second_page.get_by_role("button", name=re.compile("Suivant")).click()
    second_page.locator("#lookup-q").fill("alphonse")
    second_page.locator("#lookup-search").click()
    match = second_page.get_by_test_id("matches")
    assert "absent" in match.inner_text() and str(bruno) in match.get_by_test_id("replaced-by").inner_text()
    screenshot(second_page, "absences-desk")


def test_the_client_sets_its_hours_and_sees_the_coming_days(page: Any, personas: Any, alpha: Any):
    from django.utils import timezone

    from browser.conftest import screenshot, sign_in

    sign_in(page, "client_admin")
    page.goto("/a/alpha/hours/")
    for day in range(5):
        page.get_by_test_id(f"day-{day}").fill("09:00-12:30, 14:00-18:00")
    page.get_by_test_id("day-5").fill("")
    page.get_by_test_id("day-6").fill("")
    page.get_by_test_id("save-week").click()
    page.wait_for_url("**/a/alpha/hours/")
    closure = timezone.localdate() + timedelta(days=3)
    page.get_by_test_id("start-date").fill(closure.isoformat())
    page.get_by_test_id("end-date").fill(closure.isoformat())
    page.get_by_test_id("label").fill("Séminaire du cabinet")
    page.get_by_test_id("add-exception").click()
    day = page.get_by_test_id(f"day-{closure:%Y-%m-%d}")
    assert "fermé" in day.inner_text() and "Séminaire du cabinet" in day.inner_text()
    saturday = next(timezone.localdate() + timedelta(days=i) for i in range(7)
                    if (timezone.localdate() + timedelta(days=i)).weekday() == 5)
    assert "fermé" in page.get_by_test_id(f"day-{saturday:%Y-%m-%d}").inner_text()
    screenshot(page, "hours-client")
