"""Invoices made the real way for the tests: a plan, calls of a past month, the run, the issue."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from permanence.billing import services
from permanence.billing.models import Invoice, Plan
from permanence.calls.models import Call

MONTH = date(2026, 10, 1)
PARIS = ZoneInfo("Europe/Paris")


def answered_call(
    account: Any,
    at: datetime,
    *,
    wait: int = 10,
    talk: int = 120,
    caller: str = "+33611111111",
    **fields: Any,
) -> Call:
    answered = at + timedelta(seconds=wait)
    return Call.objects.create(
        account=account,
        called="+33145000001",
        caller=caller,
        state="done",
        arrived_at=at,
        answered_at=answered,
        ended_at=answered + timedelta(seconds=talk),
        **fields,
    )


def plan(account: Any, **fields: Any) -> Plan:
    defaults = {"monthly_fee": Decimal("100"), "per_call": Decimal("1.50")}
    found, _ = Plan.objects.update_or_create(
        account=account, starts_on=date(2020, 1, 1), defaults={**defaults, **fields}
    )
    return found


def issued_invoice(account: Any, month: date = MONTH) -> tuple[Invoice, Call]:
    """An issued invoice of the account for ``month`` with one call billed beyond a plan (its first line
    is the fee, the call is on the "calls" line); made once."""
    found = Invoice.objects.filter(account=account, month=month, status="issued", kind="invoice").first()
    if found is not None:
        call_id = found.decisions.filter(kind="call", billed=True).values_list("item", flat=True).first()
        return found, Call.objects.get(pk=call_id)
    plan(account)
    call = answered_call(account, datetime(month.year, month.month, 6, 10, 0, tzinfo=PARIS))
    services.run(month, accounts=[account])
    drafts = list(Invoice.objects.filter(account=account, month=month, status="draft"))
    issued = services.issue(month, invoices=drafts).issued
    return next(i for i in issued if i.kind == "invoice"), call
