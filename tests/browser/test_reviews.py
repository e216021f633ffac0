"""A supervisor reviews a call of the week's sample in Chromium with the scorecard; the secretary sees
the review at her desk."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_supervisor_reviews_a_call_and_the_secretary_sees_it(
    page: Any, second_page: Any, personas: Any, alpha: Any
):
    from django.db import transaction
    from django.utils import timezone

    from browser.conftest import screenshot, sign_in
    from permanence.calls import services
    from permanence.calls.lifecycle import Kind
    from permanence.messaging import outbox
    from permanence.reporting.models import CallReview

    secretary = personas["secretary"]
    at = timezone.now() - timedelta(hours=1)
    call = services.call_arrived("01 45 00 00 01", "0611111111", account=alpha, at=at)
    services.record(call, Kind.OFFERED, at=at, secretary=secretary)
    services.record(call, Kind.ANSWERED, at=at + timedelta(seconds=4), secretary=secretary)
    services.record(call, Kind.ENDED, at=at + timedelta(seconds=80))
    services.record(call, Kind.WRAPPED_UP, at=at + timedelta(seconds=100))
    with transaction.atomic():
        outbox.queue_message(alpha, subject="Appel de M. Durand",
                             body="Rappeler M. Durand au 06 11 11 11 11.",
                             recipients=["a@alpha.example"], author=secretary, call=call)

    sign_in(page, "assistant")
    page.goto("/reports/reviews/")
    page.get_by_test_id(f"review-{call.pk}").click()
    assert "Appel de M. Durand" in page.get_by_test_id("the-call").inner_text()
    for code in ("greeting", "identification", "message", "courtesy"):
        page.get_by_test_id(f"{code}-2").check()
    page.get_by_test_id("scenario-1").check()
    page.get_by_test_id("comment").fill("Pensez à reformuler la demande.")
    screenshot(page, "review-scorecard")
    page.get_by_test_id("save-review").click()
    page.wait_for_url("**/reports/reviews/")
    assert "86 %" in page.get_by_test_id(f"done-{call.pk}").inner_text()
    screenshot(page, "reviews-list")
    assert CallReview.objects.get(call=call).comment == "Pensez à reformuler la demande."

    sign_in(second_page, "secretary")
    second_page.goto("/desk/")
    mine = second_page.get_by_test_id("my-reviews").inner_text()
    assert "86 %" in mine and "reformuler" in mine
