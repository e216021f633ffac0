"""The client's call log: every call of the account with its time, wait, who answered, the
scenario's path, the outcome and the message it produced; searched and filtered."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from permanence import policy
from permanence.accounts.phones import try_normalize
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.calls import lifecycle
from permanence.calls.lifecycle import State
from permanence.calls.models import Call
from permanence.directory.models import Collaborator
from permanence.messaging.models import Message
from permanence.policy import Perm
from permanence.portal.access import member_required

PAGE = 50
MAX_DAYS = 366
STATUSES = ("message", "transfer", "appointment", "information", "refusal", "abandoned", "diverted",
            "not_served")


def _day(raw: str, default: date) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return default


@member_required
@require_GET
def call_log(request: HttpRequest, slug: str) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_MESSAGES)
    today = timezone.localdate(timezone=account.tz)
    start = _day(request.GET.get("from", ""), today - timedelta(days=7))
    end = _day(request.GET.get("to", ""), today)
    notes = []
    if end < start:
        start, end = end, start
    if (end - start).days > MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS)
        notes.append(_("A year at most: the period starts on %(day)s.")
                     % {"day": start.strftime("%d/%m/%Y")})
    since = datetime.combine(start, time(0), tzinfo=account.tz)
    until = datetime.combine(end + timedelta(days=1), time(0), tzinfo=account.tz)
    calls = Call.objects.filter(account=account, training=False, arrived_at__gte=since, arrived_at__lt=until)
    query = request.GET.get("q", "").strip()[:100]
    if query:
        number = try_normalize(query, settings.PHONE_DEFAULT_REGION)
        matches = Q(motive__icontains=query) | Q(messages__subject__icontains=query)
        matches |= Q(messages__body__icontains=query) | (Q(caller=number) if number else Q(pk=None))
        calls = calls.filter(matches)
    person = None
    if request.GET.get("collaborator", "").isdigit():
        person = Collaborator.objects.filter(account=account, pk=int(request.GET["collaborator"])).first()
        if person is not None:
            addresses = [a for a in (person.email, person.mobile, person.direct_line) if a]
            calls = calls.filter(messages__deliveries__address__in=addresses or ["-"])
    if request.GET.get("urgent") == "1":
        calls = calls.filter(Q(urgent=True) | Q(messages__urgent=True))
    status = request.GET.get("status", "")
    if status in ("abandoned", "diverted", "not_served"):
        calls = calls.filter(state=status)
    elif status in STATUSES:
        calls = calls.filter(outcome=status)
    calls = calls.distinct()
    total = calls.count()
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    rows = list(
        calls.select_related("secretary", "run").prefetch_related(
            Prefetch("messages", queryset=Message.objects.filter(parent__isnull=True).order_by("created")))
        .order_by("-arrived_at", "-pk")[(page - 1) * PAGE : page * PAGE]
    )
    trail.record(request.user, Action.LIST, account=account, object_type="calls.call",
                 object_repr=f"{len(rows)} calls", request=request, query=query, status=status,
                 start=start.isoformat(), end=end.isoformat())
    billing = _billing(account, request.user, [c.pk for c in rows])
    return render(request, "portal/calls.html", {
        "account": account,
        "rows": [{**_row(c), "billing": billing.get(c.pk)} for c in rows],
        "shows_billing": billing is not NOT_SHOWN,
        "total": total,
        "page": page,
        "pages": max(1, (total + PAGE - 1) // PAGE),
        "start": start, "end": end, "query": query, "status": status, "person": person,
        "urgent": request.GET.get("urgent") == "1",
        "people": Collaborator.objects.filter(account=account),
        "statuses": STATUSES,
        "notes": notes,
    })


NOT_SHOWN: dict[int, dict[str, Any]] = {}


def _billing(account: Any, user: Any, call_ids: list[int]) -> dict[int, dict[str, Any]]:
    """For those who see the invoices: each call's decision on the issued invoice that accounts for it."""
    if not policy.allowed(user, Perm.VIEW_INVOICES, account):
        return NOT_SHOWN
    from permanence.billing.models import Decision, Invoice
    from permanence.billing.services import RULE_LABELS

    rows = Decision.objects.filter(
        kind="call", item__in=call_ids, invoice__account=account, invoice__kind=Invoice.Kind.INVOICE,
        invoice__status=Invoice.Status.ISSUED,
    ).values_list("item", "billed", "rule", "invoice__number", "invoice_id")
    return {item: {"billed": billed, "rule": RULE_LABELS.get(rule, rule), "number": number, "invoice": pk}
            for item, billed, rule, number, pk in rows}


def _row(call: Call) -> dict[str, Any]:
    # the wait as the figures count it (lifecycle.Summary): to the answer, or to the hang-up of an
    # abandoned or diverted call; none for a call turned away at arrival
    seconds = lifecycle.Summary(
        state=State(call.state), arrived_at=call.arrived_at, answered_at=call.answered_at,
        ended_at=call.ended_at, diverted_to="fallback" if call.state == State.DIVERTED else None,
    ).wait_seconds
    wait = None if seconds is None else int(seconds)
    state = call.run.state if call.run is not None and isinstance(call.run.state, dict) else {}
    path = [str(step) for step in state.get("path", [])] if isinstance(state.get("path"), list) else []
    return {
        "call": call,
        "wait": wait,
        "answered_by": call.secretary.first_name or call.secretary.username if call.secretary else "",
        "path": path,
        "status": call.outcome or call.state,
        "messages": list(call.messages.all()),
    }
