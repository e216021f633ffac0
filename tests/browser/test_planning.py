"""The staffing page in a real browser: the operator picks an account and a target, reads the plan."""

from __future__ import annotations

from datetime import time

import pytest
from django.utils import timezone

pytestmark = pytest.mark.browser


def test_the_operator_plans_a_week(page, personas, alpha, beta):
    from browser.conftest import screenshot, sign_in
    from permanence.accounts.models import WeeklyHours
    from permanence.calls import history

    for account, per_week, seed in ((alpha, 300, 1), (beta, 120, 2)):
        for weekday in range(6):
            closes = time(12) if weekday == 5 else time(19)
            WeeklyHours.objects.create(account=account, weekday=weekday, opens=time(8), closes=closes)
        today = timezone.now().astimezone(account.tz).date()
        history.generate(
            account, weeks=9, until=today, calls_per_week=per_week, secretaries=[personas["secretary"].pk],
            seed=seed,
        )  # fmt: skip
    sign_in(page, "admin")
    page.wait_for_load_state()
    page.get_by_role("link", name="Effectifs").click()
    page.get_by_test_id("staffing-summary").wait_for()
    everyone = float(
        page.get_by_test_id("calls-forecast").inner_text().replace("\u202f", "").replace(" ", "")
    )
    assert 300 < everyone < 600  # both accounts
    page.get_by_label("Compte").select_option(alpha.slug)
    page.get_by_label("Taux de service").fill("90")
    page.get_by_role("button", name="Planifier").click()
    page.wait_for_url("**account=" + alpha.slug + "**")
    alone = float(page.get_by_test_id("calls-forecast").inner_text().replace("\u202f", "").replace(" ", ""))
    assert 200 < alone < everyone
    assert "%" in page.get_by_test_id("wape").inner_text()
    assert page.locator("svg.chart rect").count() > 300  # a week of half-hours
    assert page.locator("details[open] table tbody tr").count() > 10  # Monday's busy half-hours
    screenshot(page, "staffing")
