"""The monthly run on real rows: drafts with every line's calls and every call's decision, issuing with
gapless numbers, issued invoices that never change, disputes and credit notes, the service-level report
and its penalty, the commands and the Factur-X export, the desk's "not to bill", privacy's erasure."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone, translation
from pypdf import PdfReader

from billing_helpers import MONTH, PARIS, answered_call, issued_invoice, plan
from permanence.audit.models import AuditEvent
from permanence.billing import documents, services
from permanence.billing.models import Decision, Dispute, Invoice, IssuedError, ServicePromise
from permanence.calls.lifecycle import Kind
from permanence.calls.models import Call, CallEvent

D = Decimal


def at(day: int, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, second, tzinfo=PARIS)


def with_events(call: Call) -> Call:
    """The call's events, as the desk would have written them (the rollups read them)."""
    events = [(Kind.ARRIVED, call.arrived_at), (Kind.QUEUED, call.arrived_at)]
    if call.answered_at:
        events += [
            (Kind.OFFERED, call.answered_at),
            (Kind.ANSWERED, call.answered_at),
            (Kind.ENDED, call.ended_at),
            (Kind.WRAPPED_UP, call.ended_at + timedelta(seconds=5)),
        ]
    else:
        events += [(Kind.CALLER_HUNG_UP, call.ended_at)]
    for seq, (kind, when) in enumerate(events, start=1):
        CallEvent.objects.create(call=call, seq=seq, kind=kind, at=when)
    return call


def abandoned_call(account, when: datetime, wait: int) -> Call:
    return Call.objects.create(
        account=account,
        called="+33145000001",
        caller="+33622222222",
        state="abandoned",
        arrived_at=when,
        ended_at=when + timedelta(seconds=wait),
    )


def test_a_month_rated_into_a_draft_where_each_line_names_its_calls_and_each_call_its_rule(alpha):
    plan(alpha, monthly_fee=D("100"), included_calls=1, per_call=D("1.50"))
    billed_1 = answered_call(alpha, at(5))
    billed_2 = answered_call(alpha, at(6), caller="+33633333333")
    short = abandoned_call(alpha, at(7), wait=3)  # under the 5 s of a short abandon
    left = abandoned_call(alpha, at(7, 11), wait=90)
    wrong = answered_call(
        alpha, at(8), caller="+33644444444", nuisance="wrong_number", nuisance_reason="Cherchait la pharmacie"
    )
    cold = answered_call(
        alpha, at(8, 11), caller="+33655555555", nuisance="cold_call", nuisance_reason="Vente de panneaux"
    )
    training = answered_call(alpha, at(9), training=True)
    callback = answered_call(alpha, at(9, 11), direction="outbound")
    early = answered_call(alpha, at(12), caller="+33666666666", talk=4)  # under the 10 s default
    # the same caller as billed_2, 60 s after its end: a line cut, called again (120 s by default)
    repeat = answered_call(alpha, billed_2.ended_at + timedelta(seconds=60), caller="+33633333333")
    next_month = answered_call(alpha, datetime(2026, 10, 31, 23, 30, tzinfo=PARIS) + timedelta(hours=1))

    result = services.run(MONTH, accounts=[alpha])

    [draft] = result.drafts
    assert draft.status == "draft" and draft.number is None
    lines = {line.code: line for line in draft.lines.all()}
    assert lines["fee"].amount == D("100.00")
    assert lines["calls_included"].items == [billed_1.pk] and lines["calls_included"].amount == 0
    assert lines["calls"].items == [billed_2.pk] and lines["calls"].amount == D("1.50")
    assert (draft.net, draft.vat, draft.gross) == (D("101.50"), D("20.30"), D("121.80"))
    assert sum(line.amount for line in lines.values()) == draft.net
    rules = dict(Decision.objects.filter(invoice=draft, kind="call").values_list("item", "rule"))
    assert rules == {
        billed_1.pk: "billed",
        billed_2.pk: "billed",
        short.pk: "short_abandon",
        left.pk: "not_answered",
        wrong.pk: "wrong_number",
        cold.pk: "cold_call",
        training.pk: "training",
        callback.pk: "callback",
        early.pk: "hung_up_early",
        repeat.pk: "repeat",
    }
    assert next_month.pk not in rules  # 00:30 on 1 November in Paris
    assert AuditEvent.objects.filter(object_type="billing.run", object_id="2026-10").exists()


def test_issuing_numbers_without_gaps_and_an_issued_invoice_never_changes(alpha, beta):
    for account in (alpha, beta):
        plan(account)
        answered_call(account, at(5))
    services.run(MONTH)
    issued = services.issue(MONTH).issued
    year = timezone.localdate().year
    assert [i.number for i in issued] == [f"F{year}-000001", f"F{year}-000002"]
    audited = AuditEvent.objects.filter(object_type="billing.invoice", action="create")
    assert sorted(e.detail["number"] for e in audited) == [i.number for i in issued]  # issuing is audited
    assert all(
        i.issue_date == timezone.localdate() and i.due_date == i.issue_date + timedelta(days=30)
        for i in issued
    )
    first = Invoice.objects.get(number=f"F{year}-000001")
    first.net = D("1")
    with pytest.raises(IssuedError):
        first.save()
    with pytest.raises(IssuedError):
        first.delete()
    again = services.run(MONTH, accounts=[alpha])  # issued: the run leaves it alone
    assert again.drafts == [] and again.skipped[0][0] == alpha
    assert Invoice.objects.get(pk=first.pk).net == D("100.00") + D("1.50")
    assert services.issue(MONTH).issued == []  # nothing left to issue


def test_a_dispute_accepted_becomes_a_credit_note_with_the_next_run(personas, alpha):
    invoice, call = issued_invoice(alpha)
    client = personas["client_admin"]
    with pytest.raises(services.BillingError):
        services.dispute(invoice, call.pk, client, "   ")  # a reason is required
    made = services.dispute(invoice, call.pk, client, "C'était un faux numéro")
    with pytest.raises(services.BillingError):
        services.dispute(invoice, call.pk, client, "Encore")  # once per call
    with pytest.raises(services.BillingError):
        services.decide(made, personas["admin"], accept=False, answer="")  # a refusal says why
    decided = services.decide(made, personas["admin"], accept=True, answer="D'accord")
    assert decided.status == "accepted" and decided.amount == D("1.50")  # the call's price beyond the plan
    with pytest.raises(services.BillingError):
        services.decide(made, personas["admin"], accept=False, answer="Non")  # decided once
    assert AuditEvent.objects.filter(object_type="billing.dispute", object_id=str(made.pk)).count() == 2

    november = services.run(date(2026, 11, 1), accounts=[alpha])
    [note] = [i for i in november.drafts if i.kind == "credit_note"]
    assert note.corrects == invoice and (note.net, note.gross) == (D("1.50"), D("1.80"))
    [line] = note.lines.all()
    assert line.code == "dispute" and line.items == [call.pk] and invoice.number in line.label
    assert "faux numéro" not in line.label  # the client's words stay off the accounting document
    [issued_note] = [i for i in services.issue(date(2026, 11, 1)).issued if i.kind == "credit_note"]
    assert issued_note.number == f"A{timezone.localdate().year}-000001"
    assert Dispute.objects.get(pk=made.pk).credit_note == issued_note
    assert services.run(date(2026, 12, 1), accounts=[alpha]).drafts[-1].kind == "invoice"  # credited once


def test_a_call_not_billed_cannot_be_disputed(personas, alpha):
    invoice, _call = issued_invoice(alpha)
    other = answered_call(alpha, at(20))  # after the run: on no invoice
    with pytest.raises(services.BillingError):
        services.dispute(invoice, other.pk, personas["client_admin"], "Pourquoi ?")


def test_the_service_level_report_and_its_penalty_go_on_the_invoice(alpha):
    from permanence.reporting import rollups

    plan(alpha, monthly_fee=D("200"), per_call=D("1"))
    ServicePromise.objects.create(
        account=alpha,
        answer_within_seconds=20,
        answer_share=D("0.80"),
        max_abandon_rate=D("0.50"),
        penalty_per_miss=D("10"),
    )
    calls = [
        with_events(answered_call(alpha, at(5, 9 + n), wait=wait, caller=f"+3361111110{n}"))
        for n, wait in enumerate((5, 10, 60))
    ]
    rollups.add([c.pk for c in calls])
    [draft] = services.run(MONTH, accounts=[alpha]).drafts
    checks = {c["name"]: c for c in draft.sla["checks"]}
    assert checks["service_level"]["met"] is False and D(checks["service_level"]["measured"]) == D("0.6667")
    assert checks["abandon_rate"]["met"] is True
    assert draft.sla["met"] is False
    penalty = draft.lines.get(code="sla")
    assert penalty.amount == D("-10.00")
    assert draft.net == D("200.00") + D("3.00") - D("10.00")


def test_commands_run_issue_and_export_factur_x(alpha, tmp_path: Path):
    from facturx import get_facturx_level, get_xml_from_pdf, xml_check_xsd

    plan(alpha)
    answered_call(alpha, at(5))
    answered_call(alpha, at(6), caller="+33699999999")
    call_command("billing", "run", "--month", "2026-10")
    call_command("billing", "issue", "--month", "2026-10")
    call_command("billing", "export", "--month", "2026-10", "--output", str(tmp_path))
    [invoice] = Invoice.objects.filter(account=alpha, status="issued")
    pdf = tmp_path / f"{invoice.number}.pdf"
    filename, xml = get_xml_from_pdf(pdf.read_bytes(), check_xsd=False)
    assert filename == "factur-x.xml"
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert get_facturx_level(__import__("lxml.etree").etree.fromstring(xml)) == "en16931"
    assert invoice.number.encode() in xml and b"103.00" in xml  # 100 + 2 calls at 1.50
    csv_text = (tmp_path / "ventes-2026-10.csv").read_text(encoding="utf-8-sig")
    assert invoice.number in csv_text
    with pytest.raises(CommandError, match="octobre"):
        call_command("billing", "run", "--month", "octobre")
    with pytest.raises(CommandError, match="No draft"):
        call_command("billing", "issue", "--month", "2026-10")
    with pytest.raises(CommandError, match="2026-09"):
        call_command("billing", "export", "--month", "2026-09", "--output", str(tmp_path))


def test_a_month_not_begun_is_refused(alpha):
    plan(alpha)
    with pytest.raises(services.BillingError):
        services.run(date(2999, 1, 1))


def test_erasure_keeps_what_an_issued_invoice_accounts_for(personas, alpha):
    from permanence.privacy import erasure
    from permanence.privacy.subjects import Person, Selection

    invoice, call = issued_invoice(alpha)
    Call.objects.filter(pk=call.pk).update(nuisance="", nuisance_reason="")
    wrong = answered_call(alpha, at(25), nuisance="wrong_number", nuisance_reason="M. Martin, numéro voisin")
    plan(alpha)
    report = erasure.erase(Selection(Person(numbers=frozenset({"+33611111111"})), [alpha.pk]))
    kept = [k for k in report["kept"] if k["code"] == "invoice"]
    assert [k["id"] for k in kept] == [call.pk] and kept[0]["section"] == "calls"
    assert Call.objects.get(pk=call.pk).caller == ""  # the number goes all the same
    assert Call.objects.get(pk=wrong.pk).nuisance_reason == ""  # on no issued invoice: erased
    assert Invoice.objects.get(pk=invoice.pk).decisions.filter(item=call.pk).exists()


def test_a_month_not_over_is_not_issued(alpha):
    plan(alpha)
    today = timezone.localdate()
    services.run(today.replace(day=1), accounts=[alpha])  # a preview of the month so far
    with pytest.raises(services.BillingError):
        services.issue(today.replace(day=1))
    assert not Invoice.objects.filter(status="issued").exists()


def test_a_draft_whose_document_cannot_be_made_keeps_no_number(alpha, beta):
    from permanence.billing.models import BillingProfile

    for account in (alpha, beta):
        plan(account)
        answered_call(account, at(5))
    BillingProfile.objects.create(account=alpha, country="fr")  # saved around the form's check
    services.run(MONTH)
    result = services.issue(MONTH)
    assert [i.account for i in result.issued] == [beta]
    assert result.issued[0].number == f"F{timezone.localdate().year}-000001"  # no number lost on alpha
    [(refused, why)] = result.refused
    assert refused.account == alpha and "fr" in why
    assert Invoice.objects.get(pk=refused.pk).status == "draft"


def test_an_issued_document_keeps_the_operators_details_of_the_day_it_was_issued(alpha, settings):
    invoice, _call = issued_invoice(alpha)
    before = services.document(invoice)
    settings.BILLING_SELLER_NAME = "Autre Société SAS"
    settings.BILLING_PAYMENT_DAYS = 60
    from django.utils import translation

    with translation.override("en"):
        after = services.document(Invoice.objects.get(pk=invoice.pk))
    assert after.seller == before.seller and after.seller.name != "Autre Société SAS"
    assert after.payment_terms == before.payment_terms and "30" in after.payment_terms
    with pytest.raises(IssuedError):
        Invoice.objects.filter(pk=invoice.pk).first().save(issuing=True)  # issuing happens once


def test_a_disputed_call_is_credited_what_the_month_costs_less_without_it(personas, alpha):
    plan(alpha, monthly_fee=D("100"), included_calls=1, per_call=D("10"), cap=D("115"))
    first = answered_call(alpha, at(5))
    second = answered_call(alpha, at(6), caller="+33622222222")
    third = answered_call(alpha, at(7), caller="+33633333333")
    services.run(MONTH, accounts=[alpha])
    [invoice] = services.issue(MONTH).issued
    assert invoice.net == D("115.00")  # 100 + 2 x 10, capped
    client, admin = personas["client_admin"], personas["admin"]
    # without the included call, the second takes its place: still two calls beyond? no, one: 110
    included = services.decide(services.dispute(invoice, first.pk, client, "Erreur"), admin, accept=True,
                               answer="")
    assert included.amount == D("5.00")  # 115 -> 110
    capped = services.decide(services.dispute(invoice, second.pk, client, "Erreur"), admin, accept=True,
                             answer="")
    assert capped.amount == D("10.00")  # 110 -> 100 (the third call is now the included one)
    last = services.decide(services.dispute(invoice, third.pk, client, "Erreur"), admin, accept=True,
                           answer="")
    assert last.amount == D("0.00")  # the fee stays whatever the calls


def test_credit_notes_one_per_invoice_corrected(personas, alpha):
    plan(alpha)
    october = answered_call(alpha, at(5))
    november = answered_call(alpha, datetime(2026, 11, 5, 10, tzinfo=PARIS), caller="+33622222222")
    for month in (MONTH, date(2026, 11, 1)):
        services.run(month, accounts=[alpha])
        services.issue(month)
    client, admin = personas["client_admin"], personas["admin"]
    for call in (october, november):
        invoice = Invoice.objects.get(decisions__item=call.pk, decisions__kind="call", kind="invoice")
        services.decide(services.dispute(invoice, call.pk, client, "Erreur"), admin, accept=True, answer="")
    notes = [i for i in services.run(date(2026, 12, 1), accounts=[alpha]).drafts if i.kind == "credit_note"]
    assert sorted(n.corrects.month for n in notes) == [MONTH, date(2026, 11, 1)]
    assert all(n.net == D("1.50") for n in notes)


def test_a_penalty_never_takes_the_invoice_below_zero(alpha):
    plan(alpha, monthly_fee=D("10"), per_call=D("0"))
    ServicePromise.objects.create(account=alpha, max_abandon_rate=D("0.10"), penalty_per_miss=D("50"))
    from permanence.reporting import rollups

    calls = [with_events(abandoned_call(alpha, at(5, 9 + n), wait=60)) for n in range(3)]
    rollups.add([c.pk for c in calls])
    [draft] = services.run(MONTH, accounts=[alpha]).drafts
    assert draft.sla["met"] is False and draft.lines.get(code="sla").amount == D("-10.00")
    assert draft.net == D("0.00")


def test_the_database_refuses_to_change_an_issued_invoice(alpha):
    from django.db import DatabaseError, transaction

    from permanence.billing.models import InvoiceLine

    invoice, call = issued_invoice(alpha)
    attempts = [
        lambda: Invoice.objects.filter(pk=invoice.pk).update(net=D("1")),
        lambda: Invoice.objects.filter(pk=invoice.pk)._raw_delete(Invoice.objects.db),
        lambda: InvoiceLine.objects.filter(invoice=invoice).update(amount=D("0")),
        lambda: InvoiceLine.objects.filter(invoice=invoice)._raw_delete(InvoiceLine.objects.db),
        lambda: Decision.objects.filter(invoice=invoice).update(billed=False),
        lambda: Decision.objects.filter(invoice=invoice, item=call.pk)._raw_delete(Decision.objects.db),
    ]
    for attempt in attempts:
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    assert Invoice.objects.get(pk=invoice.pk).net == D("101.50")
    assert Decision.objects.filter(invoice=invoice, item=call.pk, billed=True).exists()
    draft = Invoice.objects.create(account=alpha, month=date(2026, 9, 1))
    Invoice.objects.filter(pk=draft.pk).update(net=D("2"))  # a draft changes freely
    draft.delete()


def test_the_database_refuses_new_or_moved_rows_on_an_issued_invoice(alpha):
    from django.db import DatabaseError, transaction

    from permanence.billing.models import InvoiceLine

    invoice, call = issued_invoice(alpha)
    draft = Invoice.objects.create(account=alpha, month=date(2026, 9, 1))
    line = InvoiceLine.objects.create(invoice=draft, position=1, code="fee", label="x",
                                      period_start=draft.month, period_end=date(2026, 10, 1), quantity=1,
                                      unit_price=1, amount=1)
    attempts = [
        lambda: InvoiceLine.objects.create(invoice=invoice, position=99, code="fee", label="x",
                                           period_start=MONTH, period_end=MONTH, quantity=1, unit_price=1,
                                           amount=1),
        lambda: Decision.objects.create(invoice=invoice, kind="call", item=0, billed=True, rule="billed"),
        lambda: InvoiceLine.objects.filter(pk=line.pk).update(invoice=invoice, position=98),
    ]
    for attempt in attempts:
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    assert invoice.lines.count() == Invoice.objects.get(pk=invoice.pk).lines.count() == 2


def test_the_user_who_issued_an_invoice_can_be_deleted(personas, alpha):
    plan(alpha)
    answered_call(alpha, at(5))
    services.run(MONTH, accounts=[alpha])
    [invoice] = services.issue(MONTH, actor=personas["admin"]).issued
    personas["admin"].delete()
    assert Invoice.objects.get(pk=invoice.pk).number == invoice.number


def test_an_invoice_is_issued_with_its_number_only(alpha):
    draft = Invoice.objects.create(account=alpha, month=date(2026, 9, 1))
    draft.status = "issued"
    with pytest.raises(IssuedError):
        draft.save(issuing=True)


def test_a_credit_never_exceeds_what_the_invoice_charged(personas, alpha):
    from permanence.reporting import rollups

    plan(alpha, monthly_fee=D("0"), per_call=D("1.50"))
    ServicePromise.objects.create(account=alpha, max_abandon_rate=D("0.10"), penalty_per_miss=D("50"))
    billed = answered_call(alpha, at(5))
    calls = [with_events(abandoned_call(alpha, at(6, 9 + n), wait=60)) for n in range(3)]
    rollups.add([c.pk for c in calls])
    services.run(MONTH, accounts=[alpha])
    [invoice] = services.issue(MONTH).issued
    assert invoice.net == D("0.00")  # the penalty took it all
    made = services.dispute(invoice, billed.pk, personas["client_admin"], "Erreur")
    assert services.decide(made, personas["admin"], accept=True, answer="").amount == D("0.00")


def test_a_month_changed_since_its_invoice_is_credited_by_hand(personas, alpha):
    invoice, call = issued_invoice(alpha)
    plan(alpha, per_call=D("9"))  # the price changed after the invoice
    made = services.dispute(invoice, call.pk, personas["client_admin"], "Erreur")
    with pytest.raises(services.BillingError):
        services.decide(made, personas["admin"], accept=True, answer="")
    assert Dispute.objects.get(pk=made.pk).status == "open"


def test_an_earlier_months_run_takes_no_later_dispute(personas, alpha):
    invoice, call = issued_invoice(alpha)
    services.decide(services.dispute(invoice, call.pk, personas["client_admin"], "Erreur"), personas["admin"],
                    accept=True, answer="")
    may = services.run(date(2026, 5, 1), accounts=[alpha])
    assert not [i for i in may.drafts if i.kind == "credit_note"]
    november = services.run(date(2026, 11, 1), accounts=[alpha])
    assert [i.corrects for i in november.drafts if i.kind == "credit_note"] == [invoice]


def _pdf_text(document: documents.Document) -> str:
    pages = PdfReader(io.BytesIO(documents.pdf(document))).pages
    return "\n".join(page.extract_text() for page in pages).replace("\u202f", " ").replace("\xa0", " ")


def test_an_english_account_gets_its_invoice_in_english_whatever_the_page_and_keeps_it(alpha):
    alpha.language = "en"
    alpha.save(update_fields=["language"])
    with translation.override("fr"):  # the operator's page is French
        invoice, _call = issued_invoice(alpha)
        document = services.document(invoice)
    assert invoice.buyer["language"] == "en" and document.language == "en"
    assert document.payment_terms == "Payment within 30 days."  # not "Paiement à 30 jours."
    text = _pdf_text(document)
    assert "Amount due" in text and "Net à payer" not in text
    alpha.language = "fr"
    alpha.save(update_fields=["language"])
    with translation.override("fr"):  # issued: the same document, whatever the account says now
        assert services.document(Invoice.objects.get(pk=invoice.pk)) == document


def test_a_french_accounts_invoice_is_french_on_an_english_page(alpha):
    with translation.override("en"):
        invoice, _call = issued_invoice(alpha)
        document = services.document(invoice)
    assert document.language == "fr" and document.payment_terms == "Paiement à 30 jours."
    assert "Net à payer" in _pdf_text(document)
