"""Billing pages. The client's (``/a/<slug>/invoices/``, ``Perm.VIEW_INVOICES``): issued invoices and credit
notes, each line's calls with why each was billed or not, the service-level report, the PDF, and the
disputes (``Perm.DISPUTE_CALLS``). The operator's (``/billing/``, ``Perm.MANAGE_BILLING``): the month's run,
the drafts (seen through the same pages), issuing, the accounting CSV, and the disputes to decide."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from permanence import policy
from permanence.accounts.models import Account
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.billing import documents, services
from permanence.billing.models import Decision, Dispute, Invoice, InvoiceLine
from permanence.calls.models import Call
from permanence.policy import Perm
from permanence.portal.access import member_required

PAGE = 100  # items per page of a line's detail


def _decisions(request: HttpRequest, invoice: Invoice) -> Any:
    """The invoice's decisions the reader sees: training calls are the operator's own business."""
    rows = Decision.objects.filter(invoice=invoice)
    return rows if policy.has_perm(request.user, Perm.MANAGE_BILLING) else rows.exclude(rule="training")


def _invoice(request: HttpRequest, slug: str, pk: int, perm: Perm = Perm.VIEW_INVOICES) -> Invoice:
    """An invoice of the account within reach; a draft only for those who bill."""
    account = policy.get_account_or_404(request.user, slug, perm)
    invoice = get_object_or_404(Invoice.objects.select_related("account", "corrects"), pk=pk, account=account)
    if not invoice.issued and not policy.has_perm(request.user, Perm.MANAGE_BILLING):
        raise Http404
    return invoice


def _sla_rows(invoice: Invoice) -> list[dict[str, Any]]:
    names = {
        "service_level": _("Calls answered in time"),
        "abandon_rate": _("Abandonment rate"),
        "delivery": _("Messages delivered in time"),
    }
    return [
        {**check, "label": names.get(check["name"], check["name"])}
        for check in (invoice.sla or {}).get("checks", [])
    ]


@member_required
@require_GET
def invoice_list(request: HttpRequest, slug: str) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_INVOICES)
    rows = Invoice.objects.filter(account=account)
    if not policy.has_perm(request.user, Perm.MANAGE_BILLING):
        rows = rows.filter(status=Invoice.Status.ISSUED)
    disputes = Dispute.objects.filter(account=account).select_related("invoice", "call", "credit_note")[:200]
    return render(
        request,
        "billing/invoices.html",
        {
            "account": account,
            "invoices": rows.order_by("-month", "kind", "-pk")[:240],
            "disputes": disputes,
        },
    )


@member_required
@require_GET
def invoice_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    invoice = _invoice(request, slug, pk)
    lines = list(invoice.lines.order_by("position"))
    excluded = (
        _decisions(request, invoice).filter(billed=False)
        .values("kind", "rule")
        .annotate(n=Count("pk"))
        .order_by("kind", "rule")
    )
    return render(
        request,
        "billing/invoice.html",
        {
            "account": invoice.account,
            "invoice": invoice,
            "lines": lines,
            "excluded": [
                {**row, "label": services.RULE_LABELS.get(row["rule"], row["rule"])} for row in excluded
            ],
            "sla": _sla_rows(invoice),
            "sla_met": (invoice.sla or {}).get("met"),
            "disputes": invoice.disputes.select_related("call").order_by("-created"),
            "credited": invoice.credited_disputes.select_related("call", "invoice").order_by("pk"),
            "can_bill": policy.has_perm(request.user, Perm.MANAGE_BILLING),
        },
    )


def _items_page(request: HttpRequest, invoice: Invoice, decisions: Any, title: str) -> HttpResponse:
    """Items (calls, deliveries, appointments) with their decisions, a page at a time; calls with their
    times and the dispute form."""
    page = Paginator(decisions.order_by("kind", "item"), PAGE).get_page(request.GET.get("page"))
    call_ids = [d.item for d in page if d.kind == "call"]
    calls = {c.pk: c for c in Call.objects.filter(pk__in=call_ids, account=invoice.account)}
    disputed = dict(
        Dispute.objects.filter(invoice=invoice, call_id__in=call_ids).values_list("call_id", "status")
    )
    zone = invoice.account.tz
    rows = []
    for decision in page:
        call = calls.get(decision.item) if decision.kind == "call" else None
        talk = wait = None
        if call is not None and call.arrived_at:
            if call.answered_at:
                wait = (call.answered_at - call.arrived_at).total_seconds()
                if call.ended_at:
                    talk = (call.ended_at - call.answered_at).total_seconds()
            elif call.ended_at:
                wait = (call.ended_at - call.arrived_at).total_seconds()
        rows.append(
            {
                "decision": decision,
                "call": call,
                "wait": wait,
                "talk": talk,
                "when": timezone.localtime(call.arrived_at, zone) if call and call.arrived_at else None,
                "rule": services.RULE_LABELS.get(decision.rule, decision.rule),
                "lines": [services.line_label(code) for code in decision.lines],
                "disputed": disputed.get(decision.item) if call else None,
            }
        )
    trail.record(
        request.user,
        Action.LIST,
        object_type="billing.invoice",
        object_id=str(invoice.pk),
        object_repr=str(invoice),
        account=invoice.account_id,
        request=request,
        items=len(rows),
    )
    can_dispute = (
        invoice.issued
        and invoice.kind == Invoice.Kind.INVOICE
        and policy.allowed(request.user, Perm.DISPUTE_CALLS, invoice.account)
    )
    return render(
        request,
        "billing/items.html",
        {
            "account": invoice.account,
            "invoice": invoice,
            "title": title,
            "rows": rows,
            "page": page,
            "can_dispute": can_dispute,
        },
    )


@member_required
@require_GET
def invoice_line(request: HttpRequest, slug: str, pk: int, position: int) -> HttpResponse:
    invoice = _invoice(request, slug, pk)
    line = get_object_or_404(InvoiceLine, invoice=invoice, position=position)
    decisions = _decisions(request, invoice).filter(kind=line.kind or "-", item__in=line.items)
    return _items_page(request, invoice, decisions, line.label)


@member_required
@require_GET
def invoice_excluded(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    invoice = _invoice(request, slug, pk)
    decisions = _decisions(request, invoice).filter(billed=False)
    rule = request.GET.get("rule", "")
    if rule:
        decisions = decisions.filter(rule=rule)
    title = _("Not billed") + (f" — {services.RULE_LABELS[rule]}" if rule in services.RULE_LABELS else "")
    return _items_page(request, invoice, decisions, title)


@member_required
@require_GET
def invoice_pdf(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    invoice = _invoice(request, slug, pk)
    if not invoice.issued:
        raise Http404
    try:
        data = services.pdf(invoice)
    except (documents.DocumentError, services.BillingError) as exc:
        messages.error(request, str(exc))
        return redirect("invoice", invoice.account.slug, invoice.pk)
    trail.record(request.user, Action.EXPORT, invoice, request=request, format="factur-x")
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    return response


@member_required
@require_POST
def dispute_call(request: HttpRequest, slug: str, pk: int, call: int) -> HttpResponse:
    invoice = _invoice(request, slug, pk, Perm.DISPUTE_CALLS)
    try:
        services.dispute(invoice, call, request.user, request.POST.get("reason", ""), request=request)
    except services.BillingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Your dispute is sent: the answering service answers it here."))
    back = request.POST.get("back", "")
    if back.startswith(f"/a/{invoice.account.slug}/invoices/{invoice.pk}/") and "//" not in back:
        return redirect(back)
    return redirect("invoice", invoice.account.slug, invoice.pk)


# -- the operator ----------------------------------------------------------------------------------------


def _operator(request: HttpRequest) -> None:
    if not (request.user.is_staff and policy.has_perm(request.user, Perm.MANAGE_BILLING)):
        raise PermissionDenied


def _back(month: date) -> HttpResponse:
    """To the operator's page of that month."""
    return redirect(f"{reverse('billing')}?month={month:%Y-%m}")


def _month(request: HttpRequest, source: Any) -> date:
    """The month asked for; by default the last one over (the one to bill)."""
    text = source.get("month", "")
    if not text:
        return (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    return services.parse_month(text)


@member_required
@require_GET
def operator(request: HttpRequest) -> HttpResponse:
    _operator(request)
    try:
        month = _month(request, request.GET)
    except services.BillingError as exc:
        messages.error(request, str(exc))
        return redirect("billing")
    rows = Invoice.objects.filter(month=month).select_related("account").order_by("account__slug", "kind")
    totals = rows.filter(kind=Invoice.Kind.INVOICE).aggregate(net=Sum("net"), gross=Sum("gross"))
    open_disputes = Dispute.objects.filter(status=Dispute.Status.OPEN).count()
    without_plan = Account.objects.exclude(plans__starts_on__lte=month).order_by("slug")[:50]
    return render(
        request,
        "billing/operator.html",
        {
            "month": month,
            "month_text": f"{month:%Y-%m}",
            "invoices": rows,
            "drafts": sum(1 for r in rows if not r.issued),
            "totals": totals,
            "open_disputes": open_disputes,
            "without_plan": without_plan,
        },
    )


@member_required
@require_POST
def operator_run(request: HttpRequest) -> HttpResponse:
    _operator(request)
    try:
        month = _month(request, request.POST)
        result = services.run(month, actor=request.user)
    except services.BillingError as exc:
        messages.error(request, str(exc))
        return redirect("billing")
    messages.success(
        request,
        ngettext("%(n)s draft prepared for %(month)s.", "%(n)s drafts prepared for %(month)s.",
                 len(result.drafts)) % {"n": len(result.drafts), "month": f"{month:%Y-%m}"},
    )
    return _back(month)


@member_required
@require_POST
def operator_issue(request: HttpRequest) -> HttpResponse:
    _operator(request)
    try:
        month = _month(request, request.POST)
    except services.BillingError as exc:
        messages.error(request, str(exc))
        return redirect("billing")
    chosen = [pk for pk in request.POST.getlist("invoice") if pk.isascii() and pk.isdigit() and len(pk) < 19]
    drafts = Invoice.objects.filter(month=month, status=Invoice.Status.DRAFT)
    if request.POST.getlist("invoice"):
        drafts = drafts.filter(pk__in=[int(pk) for pk in chosen])
    try:
        result = services.issue(
            month, actor=request.user, invoices=list(drafts.order_by("account__slug", "kind"))
        )
    except services.BillingError as exc:
        messages.error(request, str(exc))
        return _back(month)
    issued = result.issued
    for invoice, why in result.refused:
        messages.error(request, _("%(account)s: not issued: %(why)s") % {"account": invoice.account.name,
                                                                       "why": why})  # fmt: skip
    if issued:
        messages.success(
            request,
            _("%(n)s documents issued: %(numbers)s.")
            % {"n": len(issued), "numbers": ", ".join(sorted(i.number or "" for i in issued)[:12])
               + (" …" if len(issued) > 12 else "")},
        )
    elif not result.refused:
        messages.error(request, _("No draft to issue."))
    return _back(month)


@member_required
@require_GET
def operator_csv(request: HttpRequest) -> HttpResponse:
    _operator(request)
    try:
        month = _month(request, request.GET)
    except services.BillingError as exc:
        messages.error(request, str(exc))
        return redirect("billing")
    try:
        issued = services.issued_documents(month)
        text = documents.accounting_csv([doc for _invoice, doc in issued])
    except documents.DocumentError as exc:
        messages.error(request, str(exc))
        return _back(month)
    trail.record(
        request.user,
        Action.EXPORT,
        object_type="billing.month",
        object_id=f"{month:%Y-%m}",
        object_repr=f"{month:%Y-%m}",
        request=request,
        format="csv",
        documents=len(issued),
    )
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="ventes-{month:%Y-%m}.csv"'
    return response


@member_required
@require_GET
def disputes(request: HttpRequest) -> HttpResponse:
    _operator(request)
    status = request.GET.get("status", Dispute.Status.OPEN)
    rows = Dispute.objects.select_related("account", "invoice", "call", "created_by", "credit_note")
    if status in Dispute.Status.values:
        rows = rows.filter(status=status)
    return render(
        request,
        "billing/disputes.html",
        {
            "disputes": rows.order_by("created")[:300],
            "status": status,
            "statuses": Dispute.Status.choices,
            "open": Dispute.objects.filter(status=Dispute.Status.OPEN).count(),
        },
    )


@member_required
@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    _operator(request)
    disputed = get_object_or_404(Dispute, pk=pk)
    accept = request.POST.get("decision") == "accept"
    if request.POST.get("decision") not in ("accept", "refuse"):
        messages.error(request, _("Accept or refuse the dispute."))
        return redirect("billing_disputes")
    try:
        decided = services.decide(
            disputed, request.user, accept=accept, answer=request.POST.get("answer", ""), request=request
        )
    except services.BillingError as exc:
        messages.error(request, str(exc))
    else:
        if decided.status == Dispute.Status.ACCEPTED and not decided.amount:
            messages.success(request, _("Accepted: the month costs the same without this call, nothing to "
                                        "credit."))  # fmt: skip
        elif decided.status == Dispute.Status.ACCEPTED:
            messages.success(
                request,
                _("Accepted: a credit of %(amount)s € goes on the next credit note.")
                % {"amount": decided.amount},
            )
        else:
            messages.success(request, _("Refused: the client reads your answer."))
    return redirect("billing_disputes")
