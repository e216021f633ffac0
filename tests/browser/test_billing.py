"""The dispute of a billed call, end to end in Chromium: the operator prepares and issues October's invoice,
the client admin reads why each call was billed and disputes one, the operator accepts it, and November's
run makes the credit note."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NUMBER = re.compile(r"^F\d{4}-\d{6}$")
CREDIT_NUMBER = re.compile(r"^A\d{4}-\d{6}$")


def _with_events(call: Any) -> Any:
    """An answered call's events, as the desk writes them (the service-level rollups read them)."""
    from permanence.calls.lifecycle import Kind
    from permanence.calls.models import CallEvent

    events = [
        (Kind.ARRIVED, call.arrived_at),
        (Kind.QUEUED, call.arrived_at),
        (Kind.OFFERED, call.answered_at),
        (Kind.ANSWERED, call.answered_at),
        (Kind.ENDED, call.ended_at),
        (Kind.WRAPPED_UP, call.ended_at + timedelta(seconds=5)),
    ]
    for seq, (kind, when) in enumerate(events, start=1):
        CallEvent.objects.create(call=call, seq=seq, kind=kind, at=when)
    return call


def _text(page: Any, test_id: str) -> str:
    return page.get_by_test_id(test_id).inner_text().replace("\u202f", " ").replace("\xa0", " ")


def test_a_client_disputes_a_billed_call_and_the_accepted_dispute_becomes_a_credit_note(
    page: Any, second_page: Any, personas: Any, alpha: Any
):
    from billing_helpers import PARIS, answered_call, plan
    from browser.conftest import screenshot, sign_in
    from permanence.billing.models import Dispute, Invoice, ServicePromise
    from permanence.reporting import rollups

    # October 2026: three calls billed at 1,50 € (none included), one wrong number not billed
    plan(alpha, included_calls=0, per_call=Decimal("1.50"))
    ServicePromise.objects.create(
        account=alpha, answer_within_seconds=20, answer_share=Decimal("0.80"), penalty_per_miss=Decimal("10")
    )
    billed = [
        _with_events(answered_call(alpha, datetime(2026, 10, day, 10, 0, tzinfo=PARIS), caller=caller))
        for day, caller in ((5, "+33611111111"), (6, "+33622222222"), (7, "+33633333333"))
    ]
    wrong = _with_events(
        answered_call(
            alpha,
            datetime(2026, 10, 8, 11, 0, tzinfo=PARIS),
            caller="+33644444444",
            nuisance="wrong_number",
            nuisance_reason="Cherchait la pharmacie",
        )
    )
    rollups.add([c.pk for c in [*billed, wrong]])
    disputed_call = billed[1]

    # the operator prepares October's drafts and issues them
    operator = page
    sign_in(operator, "admin")
    operator.wait_for_url(lambda url: "/login/" not in url)
    operator.goto("/billing/?month=2026-10")
    operator.get_by_test_id("nothing").wait_for()
    operator.get_by_test_id("run").click()
    row = operator.get_by_test_id("row-alpha-invoice")
    row.wait_for()
    assert row.locator(".pill.warn").is_visible()  # a draft, not numbered yet
    assert "104,50" in row.inner_text().replace("\u202f", " ")  # 100 € + 3 × 1,50 €
    draft = Invoice.objects.get(account=alpha, month="2026-10-01", kind="invoice")
    assert draft.status == "draft" and draft.number is None and draft.net == Decimal("104.50")
    screenshot(operator, "billing-month-drafts")
    operator.get_by_test_id("issue").click()
    number_link = row.get_by_role("link", name=NUMBER)
    number_link.wait_for()
    invoice = Invoice.objects.get(pk=draft.pk)
    assert invoice.status == "issued" and number_link.inner_text() == invoice.number
    assert operator.get_by_test_id("issue").count() == 0  # nothing left to issue

    # the client admin reads the invoice: its lines, what was not billed, the service levels
    client = second_page
    sign_in(client, "client_admin")
    client.wait_for_url(re.compile(r"/a/alpha/$"))
    client.locator("nav.tabs a[href='/a/alpha/invoices/']").click()
    client.get_by_test_id(f"open-{invoice.pk}").click()
    client.get_by_test_id("number").wait_for()
    assert client.get_by_test_id("number").inner_text() == invoice.number
    assert _text(client, "amount-calls") == "4,50 €"
    assert _text(client, "net") == "104,50 €"
    assert client.get_by_test_id("excluded-call-wrong_number").locator("td").inner_text() == "1"
    assert client.get_by_test_id("sla").is_visible()
    assert client.get_by_test_id("sla-service_level").locator(".pill.open").is_visible()  # met
    assert "100 %" in _text(client, "sla-service_level")  # every call answered within 20 s
    assert client.get_by_test_id("disputes").count() == 0
    screenshot(client, "billing-client-invoice")

    # what was not billed: the wrong number, with what the secretary wrote, and nothing to dispute
    client.get_by_test_id("excluded-call-wrong_number").get_by_role("link").click()
    not_billed = client.get_by_test_id(f"item-call-{wrong.pk}")
    not_billed.wait_for()
    assert not_billed.get_attribute("data-rule") == "wrong_number"
    assert "Cherchait la pharmacie" in not_billed.inner_text()
    assert not_billed.locator("details").count() == 0
    screenshot(client, "billing-not-billed")
    client.get_by_test_id("back").click()

    # the "calls" line's calls, each with its decision; the dispute of one of them
    client.get_by_test_id("explain-calls").click()
    client.get_by_test_id("items").wait_for()
    for call in billed:
        item = client.get_by_test_id(f"item-call-{call.pk}")
        assert item.get_attribute("data-rule") == "billed"
        assert item.locator(".pill.open").is_visible()
    assert client.get_by_test_id(f"item-call-{wrong.pk}").count() == 0  # not on the "calls" line
    form = client.get_by_test_id(f"dispute-{disputed_call.pk}")
    form.locator("summary").click()
    form.get_by_test_id("reason").fill("Un démarcheur, pas un client")
    screenshot(client, "billing-line-calls-dispute")
    line_url = client.url
    form.get_by_test_id("send-dispute").click()
    disputed_pill = client.get_by_test_id(f"item-call-{disputed_call.pk}").get_by_test_id("disputed")
    disputed_pill.wait_for()
    assert client.url == line_url  # back on the line's calls
    assert client.get_by_test_id(f"dispute-{billed[0].pk}").is_visible()  # the others can still be
    dispute = Dispute.objects.get()
    assert (dispute.invoice_id, dispute.call_id, dispute.status) == (invoice.pk, disputed_call.pk, "open")
    assert dispute.reason == "Un démarcheur, pas un client" and dispute.created_by == personas["client_admin"]
    client.get_by_test_id("back").click()
    client.get_by_test_id("disputes").wait_for()
    assert client.get_by_test_id(f"dispute-{dispute.pk}").get_attribute("data-status") == "open"

    # the operator answers and accepts it
    operator.goto("/billing/disputes/")
    entry = operator.get_by_test_id(f"dispute-{dispute.pk}")
    assert "Un démarcheur, pas un client" in entry.inner_text()
    entry.get_by_test_id("answer").fill("Accordé : un avoir suit.")
    screenshot(operator, "billing-disputes")
    entry.get_by_test_id("accept").click()
    operator.get_by_test_id("none").wait_for()  # no open dispute left
    dispute.refresh_from_db()
    assert dispute.status == "accepted" and dispute.amount == Decimal("1.50")
    assert dispute.answer == "Accordé : un avoir suit." and dispute.decided_by == personas["admin"]
    assert dispute.credit_note is None  # on the next run's credit note

    # the client reads the answer and the credit
    client.reload()
    answered = client.get_by_test_id(f"dispute-{dispute.pk}")
    assert answered.get_attribute("data-status") == "accepted"
    assert "1,50" in answered.inner_text()
    assert _text(client, f"answer-{dispute.pk}") == "Accordé : un avoir suit."

    # November's run makes the credit note of 1,50 €, and issuing numbers it in its own series
    operator.goto("/billing/?month=2026-11")
    operator.get_by_test_id("run").click()
    note_row = operator.get_by_test_id("row-alpha-credit_note")
    note_row.wait_for()
    assert "Avoir" in note_row.inner_text() and "1,50 €" in note_row.inner_text().replace("\xa0", " ")
    note = Invoice.objects.get(account=alpha, kind="credit_note")
    assert note.status == "draft" and note.corrects_id == invoice.pk
    assert (note.net, note.gross) == (Decimal("1.50"), Decimal("1.80"))
    assert [(line.code, line.items, line.amount) for line in note.lines.all()] == [
        ("dispute", [disputed_call.pk], Decimal("1.50"))
    ]
    assert Dispute.objects.get().credit_note_id == note.pk
    operator.get_by_test_id("issue").click()
    note_row.get_by_role("link", name=CREDIT_NUMBER).wait_for()
    note.refresh_from_db()
    assert note.status == "issued" and CREDIT_NUMBER.match(note.number)
    screenshot(operator, "billing-month-credit-note")

    # the client sees the credit note among the invoices, and the dispute with its number
    client.reload()
    client.get_by_test_id(f"dispute-{dispute.pk}").get_by_text(note.number).wait_for()
    screenshot(client, "billing-client-invoice-dispute-accepted")
    client.locator("nav.tabs a[href='/a/alpha/invoices/']").click()
    client.get_by_test_id(f"invoice-{note.pk}").wait_for()
    assert "1,50" in client.get_by_test_id(f"invoice-{note.pk}").inner_text()
