"""The billing pages with the test client: the desk's "not to bill", the call log's billing column, the
invoice's explanation, the operator's month, and bad input answered with a message (never a 500)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.test import Client

from billing_helpers import issued_invoice, plan
from permanence.billing.models import Dispute, Invoice
from permanence.calls.models import Call, CallEvent


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def desk_call(personas):
    from permanence.calls import services

    secretary = personas["secretary"]
    services.set_status(secretary, "ready")
    call = services.call_arrived("01 45 00 00 01", "06 11 11 11 11")
    services.dispatch()
    services.accept(call, secretary)
    return call, signed_in(secretary)


def test_the_secretary_says_a_call_is_not_to_bill_with_the_reason(personas, alpha):
    call, page = desk_call(personas)
    screen = page.get(f"/desk/calls/{call.pk}/").content.decode()
    assert 'data-testid="nuisance-kind"' in screen and 'value="wrong_number"' in screen
    refused = page.post(f"/desk/calls/{call.pk}/finish", {"nuisance": "wrong_number", "force": "1"})
    assert refused.status_code == 400  # a reason is required
    assert '<option value="wrong_number" selected>' in refused.content.decode()  # her pick is kept
    no_kind = page.post(f"/desk/calls/{call.pk}/finish", {"nuisance_reason": "Démarchage", "force": "1"})
    assert no_kind.status_code == 400 and 'value="Démarchage"' in no_kind.content.decode()
    junk = page.post(f"/desk/calls/{call.pk}/finish", {"nuisance": "free_lunch", "nuisance_reason": "x",
                                                        "force": "1"})  # fmt: skip
    assert junk.status_code == 400
    assert Call.objects.get(pk=call.pk).state == "talking"  # nothing happened meanwhile
    done = page.post(f"/desk/calls/{call.pk}/finish",
                     {"nuisance": "wrong_number", "nuisance_reason": "Cherchait la pharmacie", "force": "1"})
    assert done.status_code == 302
    stored = Call.objects.get(pk=call.pk)
    assert (stored.nuisance, stored.nuisance_reason) == ("wrong_number", "Cherchait la pharmacie")
    wrapped = CallEvent.objects.get(call=call, kind="wrapped_up")
    assert wrapped.detail["nuisance"] == "wrong_number"
    assert "reason" not in wrapped.detail  # the reason stays on the call, where privacy erases it


def test_the_call_log_shows_each_calls_billing_to_those_who_see_invoices(personas, alpha):
    invoice, call = issued_invoice(alpha)
    url = "/a/alpha/calls/?from=2026-10-01&to=2026-10-31"
    admin_page = signed_in(personas["client_admin"]).get(url).content.decode()
    assert f'data-testid="billing-{call.pk}"' in admin_page and invoice.number in admin_page
    user_page = signed_in(personas["client_user"]).get(url).content.decode()
    assert f'data-testid="call-{call.pk}"' in user_page
    assert f'data-testid="billing-{call.pk}"' not in user_page


def test_a_line_lists_its_calls_and_the_dispute_form(personas, alpha):
    invoice, call = issued_invoice(alpha)
    page = signed_in(personas["client_admin"])
    position = invoice.lines.get(code="calls").position
    listed = page.get(f"/a/alpha/invoices/{invoice.pk}/lines/{position}/").content.decode()
    assert f'data-testid="item-call-{call.pk}"' in listed and f'data-testid="dispute-{call.pk}"' in listed
    detail = page.get(f"/a/alpha/invoices/{invoice.pk}/").content.decode()
    assert 'data-testid="explain-calls"' in detail and invoice.number in detail
    pdf = page.get(f"/a/alpha/invoices/{invoice.pk}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_the_dispute_form_refuses_junk_and_only_redirects_within_the_invoice(personas, alpha, beta):
    invoice, call = issued_invoice(alpha)
    _other, beta_call = issued_invoice(beta)
    page = signed_in(personas["client_admin"])
    url = f"/a/alpha/invoices/{invoice.pk}/calls/{call.pk}/dispute"
    empty = page.post(url, {"reason": ""}, follow=True)
    assert empty.status_code == 200 and not Dispute.objects.exists()
    elsewhere = page.post(url, {"reason": "Faux numéro", "back": "https://evil.example/"})
    assert elsewhere.status_code == 302 and elsewhere["Location"] == f"/a/alpha/invoices/{invoice.pk}/"
    assert Dispute.objects.get().call == call
    stranger = page.post(f"/a/alpha/invoices/{invoice.pk}/calls/{beta_call.pk}/dispute", {"reason": "x"})
    assert stranger.status_code == 302 and Dispute.objects.count() == 1  # not on this invoice: refused


def test_the_operator_month_page_and_bad_months(personas, alpha):
    plan(alpha, monthly_fee=Decimal("80"))
    page = signed_in(personas["admin"])
    assert page.post("/billing/run", {"month": "2026-10"}).status_code == 302
    month = page.get("/billing/?month=2026-10").content.decode()
    assert 'data-testid="row-alpha-invoice"' in month and "80,00" in month
    for junk in ("2026-13", "abc", "20260-1", "2026-10-01"):
        response = page.post("/billing/run", {"month": junk}, follow=True)
        assert response.status_code == 200
    assert page.get("/billing/?month=nope", follow=True).status_code == 200
    assert page.get("/billing/export.csv?month=nope", follow=True).status_code == 200
    assert page.post("/billing/disputes/999999/decide", {"decision": "accept"}).status_code == 404
    assert list(Invoice.objects.filter(account=alpha).values_list("month", flat=True)) == [date(2026, 10, 1)]
