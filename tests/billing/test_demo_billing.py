"""The README's commands on the demo history: `permanence billing run`, `issue` and `export` for last
month, each PDF a valid Factur-X (EN 16931 schema) and every call of the month on a line or excluded."""

from __future__ import annotations

import io
from datetime import datetime, time, timedelta
from pathlib import Path

from django.core.management import call_command
from django.utils import timezone

from permanence.accounts.models import Account
from permanence.billing.models import Decision, Invoice
from permanence.calls.lifecycle import OVER
from permanence.calls.models import Call


def test_billing_last_month_of_the_demo_history(db, tmp_path: Path):
    from facturx import get_xml_from_pdf, xml_check_xsd

    call_command("load_demo", stdout=io.StringIO())
    month = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    text = f"{month:%Y-%m}"
    out = io.StringIO()
    call_command("billing", "run", "--month", text, stdout=out)
    assert "3 drafts" in out.getvalue()
    call_command("billing", "issue", "--month", text, stdout=io.StringIO())
    call_command("billing", "export", "--month", text, "--output", str(tmp_path), stdout=io.StringIO())

    invoices = list(Invoice.objects.filter(month=month, status="issued").order_by("number"))
    assert len(invoices) == 3
    for invoice in invoices:
        _name, xml = get_xml_from_pdf((tmp_path / f"{invoice.number}.pdf").read_bytes(), check_xsd=False)
        assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
        assert f"<ram:GrandTotalAmount>{invoice.gross}</ram:GrandTotalAmount>".encode() in xml
        assert sum(line.amount for line in invoice.lines.all()) == invoice.net
        # every call of the month (the account's local month) has a decision; a billed one is on its lines
        zone = invoice.account.tz
        start = datetime.combine(month, time(0), tzinfo=zone)
        end = datetime.combine((month + timedelta(days=32)).replace(day=1), time(0), tzinfo=zone)
        calls = set(Call.objects.filter(account=invoice.account, arrived_at__gte=start, arrived_at__lt=end,
                                        state__in=[s.value for s in OVER]).values_list("pk", flat=True))
        decided = dict(Decision.objects.filter(invoice=invoice, kind="call").values_list("item", "billed"))
        assert set(decided) == calls and calls
        on_lines = {item for line in invoice.lines.filter(kind="call") for item in line.items}
        assert on_lines == {pk for pk, billed in decided.items() if billed}
    medical = Invoice.objects.get(month=month, account__slug="cabinet-medical-tilleuls")
    assert {check["name"] for check in medical.sla["checks"]} == {"service_level", "abandon_rate", "delivery"}
    plumber = Invoice.objects.get(month=month, account__slug="plomberie-girard")
    fee = plumber.lines.get(code="fee")
    assert fee.period_start == month.replace(day=15) and fee.quantity < 1  # the plan changed on the 15th
    law = Invoice.objects.get(month=month, account__slug="cabinet-durand")
    assert law.decisions.filter(rule__in=["cold_call", "wrong_number"]).exists()
    assert (tmp_path / f"ventes-{text}.csv").exists()
    assert Account.objects.count() == 3
