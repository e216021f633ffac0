"""The monthly run: each account's calls, deliveries and appointments read as the rating core's items, rated
against its plans, kept as a draft invoice with every line's items and every item's decision; issuing
(gapless numbers), credit notes for accepted disputes, the service-level report, the documents (Factur-X
PDF, accounting CSV). Audited."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from permanence.accounts.models import Account, client_language
from permanence.agenda.models import Appointment
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.billing import documents, rating, sla
from permanence.billing.models import (
    BillingProfile,
    Counter,
    Decision,
    Dispute,
    Invoice,
    InvoiceLine,
    Plan,
    ServicePromise,
)
from permanence.calls.lifecycle import OVER
from permanence.calls.models import Call
from permanence.messaging.models import Delivery, Message

ZERO = Decimal(0)
DELIVERED = (Delivery.Status.SENT, Delivery.Status.DELIVERED, Delivery.Status.ACKNOWLEDGED)
NOT_DELIVERED = (Delivery.Status.DEAD,)  # the others are still being tried: rated when they end

LINE_LABELS: dict[str, Any] = {
    "fee": gettext_lazy("Monthly fee"),
    "calls_included": gettext_lazy("Calls included in the plan"),
    "calls": gettext_lazy("Calls beyond the plan"),
    "minutes_included": gettext_lazy("Minutes included in the plan"),
    "minutes": gettext_lazy("Minutes beyond the plan (started minutes)"),
    "after_hours": gettext_lazy("Surcharge: calls outside opening hours"),
    "holiday": gettext_lazy("Surcharge: calls on public holidays"),
    "messages:email": gettext_lazy("Messages by e-mail"),
    "messages:digest": gettext_lazy("Messages by e-mail (digests)"),
    "messages:sms": gettext_lazy("Messages by SMS (parts)"),
    "messages:webhook": gettext_lazy("Messages by webhook"),
    "messages:push": gettext_lazy("Messages by notification (app)"),
    "appointments": gettext_lazy("Appointments booked"),
    "minimum": gettext_lazy("Monthly minimum"),
    "cap": gettext_lazy("Monthly cap"),
    "sla": gettext_lazy("Service level not met: penalty"),
    "dispute": gettext_lazy("Disputed call accepted"),
}
RULE_LABELS: dict[str, Any] = {
    "billed": gettext_lazy("billed"),
    "training": gettext_lazy("training call: never billed"),
    "callback": gettext_lazy("a call-back the service made"),
    "not_answered": gettext_lazy("not answered"),
    "short_abandon": gettext_lazy("short abandon: the caller hung up while waiting"),
    "cold_call": gettext_lazy("cold call (said by the secretary)"),
    "wrong_number": gettext_lazy("wrong number (said by the secretary)"),
    "hung_up_early": gettext_lazy("the caller hung up before the conversation"),
    "repeat": gettext_lazy("the caller called again just after a call"),
    "not_delivered": gettext_lazy("not delivered"),
}


class BillingError(Exception):
    """A refusal with a message for the operator (bad month, nothing to issue…)."""


def parse_month(text: str) -> date:
    match = re.fullmatch(r"(\d{4})-(\d{2})", (text or "").strip())
    if not match or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= 2999:
        raise BillingError(_("“%(text)s” is not a month: write YYYY-MM, e.g. 2026-11.") % {"text": text})
    return date(int(match[1]), int(match[2]), 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def line_label(code: str, label: str = "") -> str:
    if label:
        return label
    if code in LINE_LABELS:
        return str(LINE_LABELS[code])
    if code.startswith("messages:"):
        return _("Messages by %(channel)s") % {"channel": code.split(":", 1)[1]}
    return code


# -- reading the month -------------------------------------------------------------------------------------


def _open_checker(account: Account) -> Any:
    """(is after hours, is a holiday) of an instant, with the local days' intervals cached."""
    schedule = account.schedule()
    zone = account.tz
    days: dict[date, tuple[list[Any], bool]] = {}

    def check(at: datetime) -> tuple[bool, bool]:
        day = at.astimezone(zone).date()
        if day not in days:
            days[day] = (schedule.day_intervals(day), bool(schedule.holidays(day)))
        intervals, holiday = days[day]
        return (not any(start <= at < end for start, end in intervals)), holiday

    return check


def call_items(account: Account, start: datetime, end: datetime, context: timedelta) -> list[rating.CallItem]:
    check = _open_checker(account)
    rows = (
        Call.objects.filter(
            account=account,
            arrived_at__gte=start - context,
            arrived_at__lt=end,
            state__in=[s.value for s in OVER],
        )
        .order_by("arrived_at", "pk")
        .values_list(
            "pk", "arrived_at", "answered_at", "ended_at", "direction", "training", "caller", "nuisance"
        )
    )
    items = []
    for pk, arrived, answered, ended, direction, training, caller, nuisance in rows.iterator(chunk_size=5000):
        after_hours, holiday = check(arrived)
        items.append(
            rating.CallItem(
                id=pk,
                arrived_at=arrived,
                answered_at=answered,
                ended_at=ended,
                outbound=direction == Call.Direction.OUTBOUND,
                training=training,
                caller=caller,
                nuisance=nuisance,
                after_hours=after_hours,
                holiday=holiday,
            )
        )
    return items


def delivery_items(account: Account, start: datetime, end: datetime) -> list[rating.DeliveryItem]:
    rows = (
        Delivery.objects.filter(
            message__account=account,
            message__created__gte=start,
            message__created__lt=end,
            status__in=[*DELIVERED, *NOT_DELIVERED],
        )
        .order_by("message__created", "pk")
        .values_list(
            "pk",
            "message__created",
            "channel",
            "parts",
            "status",
            "message__status",
            "message__call__training",
        )
    )
    return [
        rating.DeliveryItem(
            id=pk,
            at=at,
            channel=channel,
            parts=max(1, parts) if channel == "sms" else 1,
            delivered=status in DELIVERED,
            training=bool(on_training_call) or message_status == Message.Status.TRAINING,
        )
        for pk, at, channel, parts, status, message_status, on_training_call in rows.iterator(chunk_size=5000)
    ]


def appointment_items(account: Account, start: datetime, end: datetime) -> list[rating.AppointmentItem]:
    rows = Appointment.objects.filter(
        appointment_type__account=account, created__gte=start, created__lt=end, call__isnull=False
    ).values_list("pk", "created")
    return [rating.AppointmentItem(id=pk, at=at) for pk, at in rows.order_by("created", "pk")]


def delivery_seconds(account: Account, start: datetime, end: datetime) -> list[float]:
    """How long each delivered message of the month took to go (its creation to its first delivery)."""
    rows = (
        Delivery.objects.filter(
            message__account=account,
            message__created__gte=start,
            message__created__lt=end,
            sent_at__isnull=False,
        )
        .exclude(message__call__training=True)
        .values_list("message__created", "sent_at")
    )
    return [max(0.0, (sent - created).total_seconds()) for created, sent in rows]


def sla_report(
    account: Account,
    month: date,
    start: datetime,
    end: datetime,
    promise: ServicePromise,
    fee: Decimal,
    short_abandon: int,
) -> sla.Report:
    from permanence.reporting import kpis, rollups

    figures = kpis.Figures()
    for part in rollups.read("account", account.pk, "day", start, end, account.tz).values():
        figures.add(part)
    return sla.evaluate(promise.as_core(short_abandon), figures, delivery_seconds(account, start, end), fee)


def sla_json(report: sla.Report) -> dict[str, Any]:
    return {
        "met": report.met,
        "penalty": str(report.penalty),
        "checks": [
            {
                "name": c.name,
                "target": str(c.target),
                "measured": None if c.measured is None else str(c.measured),
                "met": c.met,
                "penalty": str(c.penalty),
            }
            for c in report.checks
        ],
    }


# -- the run ---------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    drafts: list[Invoice]
    skipped: list[tuple[Account, str]]  # no plan, nothing to bill…


def _buyer(account: Account) -> dict[str, Any]:
    profile = BillingProfile.for_account(account)
    return {
        "name": profile.legal_name or account.name,
        "address": [line.strip() for line in profile.address.splitlines() if line.strip()],
        "postcode": profile.postcode,
        "city": profile.city,
        "country": profile.country or "FR",
        "vat_id": profile.vat_id,
        "siret": profile.siret,
        "email": profile.email,
        "reference": account.slug,
        "language": client_language(account),  # of the documents: the client reads them
    }


def _vat_rate() -> Decimal:
    return Decimal(str(getattr(settings, "BILLING_VAT_RATE", "0.20")))


def _lock(account: Account) -> None:
    Account.objects.select_for_update().filter(pk=account.pk).values_list("pk", flat=True).first()


def _drop_drafts(account: Account, month: date) -> None:
    drafts = Invoice.objects.filter(account=account, month=month, status=Invoice.Status.DRAFT)
    Dispute.objects.filter(credit_note__in=drafts).update(credit_note=None)
    drafts.delete()


#: the language of the documents drafted before accounts had a language of their own
DOCUMENT_LANGUAGE = "fr"


def invoice_language(invoice: Invoice) -> str:
    """The language of an invoice's texts (lines, document): the account's when it was drafted, kept with
    the buyer's details so that an issued document never changes."""
    language = invoice.buyer.get("language") if isinstance(invoice.buyer, dict) else None
    return str(language or DOCUMENT_LANGUAGE)


def _document_label(line: rating.Line, language: str) -> str:
    with translation.override(language):
        if line.code == "calls" and not line.unit_price and not line.label:
            return _("Calls handled")  # a plan priced by the minute: the calls, at no price of their own
        return line_label(line.code, line.label)


def _store(
    account: Account,
    month: date,
    kind: str,
    result: rating.Rating,
    *,
    sla_data: dict[str, Any],
    corrects: Invoice | None = None,
    vat_rate: Decimal | None = None,
) -> Invoice:
    vat_rate = _vat_rate() if vat_rate is None else vat_rate
    net, vat, gross = rating.totals(result.lines, vat_rate)
    invoice = Invoice.objects.create(
        account=account,
        kind=kind,
        month=month,
        net=net,
        vat_rate=vat_rate,
        vat=vat,
        gross=gross,
        buyer=_buyer(account),
        sla=sla_data,
        corrects=corrects,
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=n,
            code=line.code,
            label=_document_label(line, invoice_language(invoice))[:300],
            period_start=line.period_start,
            period_end=line.period_end,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
            kind=line.kind,
            items=list(line.items),
        )
        for n, line in enumerate(result.lines, start=1)
    )
    Decision.objects.bulk_create(
        (
            Decision(
                invoice=invoice,
                kind=d.kind,
                item=d.id,
                billed=d.billed,
                rule=d.rule,
                values=_jsonable(d.values),
                lines=list(d.lines),
            )
            for d in result.decisions
        ),
        batch_size=2000,
    )
    return invoice


def _jsonable(values: Any) -> dict[str, Any]:
    out = {}
    for key, value in dict(values).items():
        out[key] = value if isinstance(value, (int, float, str, bool)) or value is None else str(value)
    return out


def rate_account(
    account: Account, month: date, *, without: frozenset[int] = frozenset(), with_sla: bool = True
) -> tuple[rating.Rating, dict[str, Any]] | None:
    """The month of an account rated (None without a plan covering the month's first day). ``without``:
    calls left out (disputes accepted: what the month costs without them). A service-level penalty never
    takes the invoice below zero."""
    periods = [
        plan.as_core() for plan in Plan.objects.filter(account=account, starts_on__lt=next_month(month))
    ]
    if not any(period.start <= month for period in periods):
        return None
    profile = BillingProfile.for_account(account)
    rules = profile.rules()
    start, end = rating.month_bounds(month, account.tz)
    context = timedelta(seconds=rules.repeat_within_seconds + 86400)
    adjustments: list[rating.Adjustment] = []
    sla_data: dict[str, Any] = {}
    promise = ServicePromise.objects.filter(account=account).first() if with_sla else None
    if promise is not None:
        latest = max((p for p in periods if p.start <= month), key=lambda p: p.start)
        fee = latest.plan.monthly_fee
        report = sla_report(account, month, start, end, promise, fee, profile.short_abandon_seconds)
        sla_data = sla_json(report)
        if report.penalty:
            adjustments.append(rating.Adjustment("sla", str(LINE_LABELS["sla"]), -report.penalty))
    calls = [c for c in call_items(account, start, end, context) if c.id not in without]
    deliveries = delivery_items(account, start, end)
    appointments = appointment_items(account, start, end)

    def rated(adjusted: list[rating.Adjustment]) -> rating.Rating:
        return rating.rate(
            month,
            account.tz,
            periods,
            rules,
            calls=calls,
            deliveries=deliveries,
            appointments=appointments,
            adjustments=adjusted,
        )

    result = rated(adjustments)
    if result.total < 0:  # the penalty is at most what the month costs
        penalty = adjustments[0].amount - result.total
        result = rated([rating.Adjustment("sla", adjustments[0].label, penalty)] if penalty else [])
    return result, sla_data


def run(month: date, *, accounts: Iterable[Account] | None = None, actor: Any = None) -> RunResult:
    """Draft invoices of the month (made again if drafts exist; issued ones are never touched), and a draft
    credit note per account for the disputes accepted since its last credit note."""
    if month > timezone.localdate().replace(day=1):
        raise BillingError(_("%(month)s has not begun: nothing to bill yet.") % {"month": f"{month:%Y-%m}"})
    result = RunResult([], [])
    chosen = list(accounts) if accounts is not None else list(Account.objects.order_by("slug"))
    for account in chosen:
        with transaction.atomic():
            _lock(account)  # one run or issue of an account at a time (no draft deleted as it is issued)
            if Invoice.objects.filter(
                account=account, month=month, kind=Invoice.Kind.INVOICE, status=Invoice.Status.ISSUED
            ).exists():
                result.skipped.append((account, _("already issued")))
                continue
            _drop_drafts(account, month)
            try:
                with translation.override(client_language(account)):
                    rated = rate_account(account, month)
            except (rating.RatingError, sla.SlaError) as exc:  # one account's bad plan stops only its own
                result.skipped.append((account, _("cannot be rated: %(error)s") % {"error": exc}))
            else:
                if rated is None:
                    result.skipped.append((account, _("no plan for this month")))
                else:
                    rated_month, sla_data = rated
                    draft = _store(account, month, Invoice.Kind.INVOICE, rated_month, sla_data=sla_data)
                    result.drafts.append(draft)
            with translation.override(client_language(account)):
                result.drafts += _credit_notes(account, month)
    trail.record(
        actor,
        Action.CREATE,
        object_type="billing.run",
        object_id=f"{month:%Y-%m}",
        object_repr=f"{month:%Y-%m}",
        drafts=len(result.drafts),
    )
    return result


def _credit_notes(account: Account, month: date) -> list[Invoice]:
    """The accepted disputes not yet on a credit note, as draft credit notes of this month: one per invoice
    they correct (at that invoice's VAT rate)."""
    disputes = list(
        Dispute.objects.filter(
            account=account,
            status=Dispute.Status.ACCEPTED,
            credit_note=None,
            amount__gt=0,
            invoice__month__lt=month,  # with a later month's run: never on an earlier month's credit note
        )
        .select_related("invoice", "call")
        .order_by("invoice__number", "pk")
    )
    by_invoice: dict[int, list[Dispute]] = {}
    for disputed in disputes:
        by_invoice.setdefault(disputed.invoice_id, []).append(disputed)
    notes = []
    for group in by_invoice.values():
        corrected = group[0].invoice
        lines = tuple(
            rating.Line(
                code="dispute",
                period_start=corrected.month,
                period_end=next_month(corrected.month),
                quantity=Decimal(1),
                unit_price=d.amount,
                amount=d.amount,
                kind="call",
                items=(d.call_id,),
                label=_("Call of %(when)s disputed (invoice %(number)s)")
                % {
                    "when": timezone.localtime(d.call.arrived_at, account.tz).strftime("%d/%m/%Y %H:%M")
                    if d.call.arrived_at
                    else "?",
                    "number": corrected.number,
                },
            )
            for d in group
        )
        note = _store(
            account,
            month,
            Invoice.Kind.CREDIT_NOTE,
            rating.Rating(lines=lines, decisions=()),
            sla_data={},
            corrects=corrected,
            vat_rate=corrected.vat_rate,
        )
        Dispute.objects.filter(pk__in=[d.pk for d in group]).update(credit_note=note)
        notes.append(note)
    return notes


# -- issuing ---------------------------------------------------------------------------------------------


def _next_number(kind: str, year: int) -> str:
    prefix = (
        getattr(settings, "BILLING_CREDIT_NOTE_PREFIX", "A")
        if kind == Invoice.Kind.CREDIT_NOTE
        else getattr(settings, "BILLING_INVOICE_PREFIX", "F")
    )
    series = f"{prefix}{year}"
    Counter.objects.get_or_create(series=series)
    counter = Counter.objects.select_for_update().get(series=series)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{series}-{counter.last:06d}"


@dataclass
class IssueResult:
    issued: list[Invoice]
    refused: list[tuple[Invoice, str]]  # drafts whose document could not be made: fix, run again, issue


def _seller_snapshot() -> dict[str, Any]:
    """The operator's details, terms and mentions now: kept with a document as it is issued."""
    return {
        "name": settings.BILLING_SELLER_NAME,
        "address": [line.strip() for line in str(settings.BILLING_SELLER_ADDRESS).split("|") if line.strip()],
        "postcode": settings.BILLING_SELLER_POSTCODE,
        "city": settings.BILLING_SELLER_CITY,
        "country": settings.BILLING_SELLER_COUNTRY,
        "vat_id": settings.BILLING_SELLER_VAT_ID,
        "siret": settings.BILLING_SELLER_SIRET,
        "email": settings.BILLING_SELLER_EMAIL,
        "iban": getattr(settings, "BILLING_SELLER_IBAN", ""),
        "payment_days": int(getattr(settings, "BILLING_PAYMENT_DAYS", 30)),
        "mentions": [
            m.strip() for m in str(getattr(settings, "BILLING_LEGAL_MENTIONS", "")).split("|") if m.strip()
        ],
    }


def issue(month: date, *, actor: Any = None, invoices: Sequence[Invoice] | None = None) -> IssueResult:
    """Issue the month's drafts (or those given) once the month is over: each document is first made with a
    provisional number (a draft whose Factur-X cannot be made is refused, with the reason, and keeps no
    number); then it gets the next number of its series, a date, a due date and the operator's details as
    they are, in one transaction with its account locked; an issued document does not change any more."""
    if month >= timezone.localdate().replace(day=1):
        raise BillingError(
            _("%(month)s is not over: its invoices are issued once it has ended.")
            % {"month": f"{month:%Y-%m}"}
        )
    drafts = (
        list(invoices)
        if invoices is not None
        else list(
            Invoice.objects.filter(month=month, status=Invoice.Status.DRAFT).order_by(
                "account__slug", "kind", "pk"
            )
        )
    )
    result = IssueResult([], [])
    today = timezone.localdate()
    seller = _seller_snapshot()
    for draft in drafts:
        with transaction.atomic():
            _lock(draft.account)
            invoice = (
                Invoice.objects.select_for_update(of=("self",))
                .select_related("account", "corrects")
                .filter(pk=draft.pk, month=month)
                .first()
            )
            if invoice is None or invoice.status != Invoice.Status.DRAFT:
                continue
            invoice.issue_date = today
            invoice.due_date = today + timedelta(days=seller["payment_days"])
            invoice.seller = seller
            try:
                with translation.override(invoice_language(invoice)):
                    documents.facturx_xml(_document(invoice, provisional=f"{invoice.kind}-{invoice.pk}"))
            except documents.DocumentError as exc:
                result.refused.append((invoice, str(exc)))
                continue
            invoice.number = _next_number(invoice.kind, today.year)
            invoice.status = Invoice.Status.ISSUED
            invoice.issued_at = timezone.now()
            invoice.issued_by = actor if getattr(actor, "is_authenticated", False) else None
            invoice.save(issuing=True)
            trail.record(
                actor,
                Action.CREATE,
                invoice,
                number=invoice.number,
                net=str(invoice.net),
                gross=str(invoice.gross),
            )
            result.issued.append(invoice)
    return result


# -- disputes --------------------------------------------------------------------------------------------


def call_value(invoice: Invoice, call_id: int) -> Decimal:
    """What a call cost on an invoice: the month rated again without it (and without the calls already
    credited on that invoice), the difference, the invoice's penalty applied to both sides. So a call within
    the allowance frees a place for the next one, a month at its minimum or its cap costs the same without
    it, and the credits never exceed what the invoice charged. The month must rate as the invoice did
    (same plan, same rules, same items): otherwise a ``BillingError`` says to credit by hand."""
    if not Decision.objects.filter(invoice=invoice, kind="call", item=call_id, billed=True).exists():
        return ZERO
    accepted = Dispute.objects.filter(invoice=invoice, status=Dispute.Status.ACCEPTED).exclude(
        call_id=call_id
    )
    credited = frozenset(accepted.values_list("call_id", flat=True))
    changed = BillingError(
        _(
            "The month no longer rates as the invoice did (its plan, rules or calls changed): "
            "credit this call by hand."
        )
    )
    try:
        now = rate_account(invoice.account, invoice.month, with_sla=False)
        before = rate_account(invoice.account, invoice.month, without=credited, with_sla=False)
        after = rate_account(invoice.account, invoice.month, without=credited | {call_id}, with_sla=False)
    except (rating.RatingError, sla.SlaError) as exc:
        raise BillingError(_("cannot be rated: %(error)s") % {"error": exc}) from None
    if now is None or before is None or after is None:
        raise changed
    stored = [
        (line.code, line.amount, line.items)
        for line in invoice.lines.exclude(code="sla").order_by("position")
    ]
    if stored != [(line.code, line.amount, list(line.items)) for line in now[0].lines]:
        raise changed
    penalty = -sum((line.amount for line in invoice.lines.filter(code="sla")), ZERO)
    value = max(ZERO, before[0].total - penalty) - max(ZERO, after[0].total - penalty)
    already = sum(accepted.values_list("amount", flat=True), ZERO)
    return max(ZERO, min(value, invoice.net - already))


def dispute(invoice: Invoice, call_id: int, user: Any, reason: str, *, request: Any = None) -> Dispute:
    reason = (reason or "").replace("\x00", "").strip()
    if not reason:
        raise BillingError(_("Say why this call should not be billed."))
    if len(reason) > 2000:
        raise BillingError(_("The reason is too long (2,000 characters at most)."))
    if not invoice.issued or invoice.kind != Invoice.Kind.INVOICE:
        raise BillingError(_("Only an issued invoice's calls can be disputed."))
    if not Decision.objects.filter(invoice=invoice, kind="call", item=call_id, billed=True).exists():
        raise BillingError(_("This call is not billed on this invoice."))
    with transaction.atomic():
        if Dispute.objects.filter(invoice=invoice, call_id=call_id).exists():
            raise BillingError(_("This call is already disputed."))
        made = Dispute.objects.create(
            account=invoice.account, invoice=invoice, call_id=call_id, reason=reason, created_by=user
        )
        trail.record(user, Action.CREATE, made, request=request, invoice=invoice.number, call=call_id)
    return made


def decide(disputed: Dispute, user: Any, *, accept: bool, answer: str, request: Any = None) -> Dispute:
    answer = (answer or "").replace("\x00", "").strip()
    if not accept and not answer:
        raise BillingError(_("A refusal needs an answer to the client."))
    with transaction.atomic():
        current = Dispute.objects.select_for_update().get(pk=disputed.pk)
        if current.status != Dispute.Status.OPEN:
            raise BillingError(_("This dispute is already decided."))
        current.status = Dispute.Status.ACCEPTED if accept else Dispute.Status.REFUSED
        current.answer = answer[:2000]
        current.amount = call_value(current.invoice, current.call_id) if accept else ZERO
        current.decided_at = timezone.now()
        current.decided_by = user
        current.save()
        trail.record(
            user, Action.UPDATE, current, request=request, status=current.status, amount=str(current.amount)
        )
    return current


# -- documents -------------------------------------------------------------------------------------------


def _party(data: dict[str, Any]) -> documents.Party:
    return documents.Party(
        name=data.get("name", ""),
        address_lines=tuple(data.get("address", [])),
        postcode=data.get("postcode", ""),
        city=data.get("city", ""),
        country=data.get("country", "FR"),
        vat_id=data.get("vat_id", ""),
        siret=data.get("siret", ""),
        email=data.get("email", ""),
    )


def document(invoice: Invoice) -> documents.Document:
    """An issued invoice as its document: the operator's details and terms as they were when it was issued,
    the texts in the account's language when it was drafted (the same document whoever downloads it,
    whenever)."""
    if not invoice.issued:
        raise BillingError(_("A draft has no document: issue it first."))
    with translation.override(invoice_language(invoice)):
        return _document(invoice)


def _document(invoice: Invoice, provisional: str = "") -> documents.Document:
    seller = invoice.seller or _seller_snapshot()
    month_end = next_month(invoice.month)
    lines = []
    for line in invoice.lines.order_by("position"):
        note = ""
        if line.period_start != invoice.month or line.period_end != month_end:
            note = _("from %(start)s to %(end)s") % {
                "start": f"{line.period_start:%d/%m/%Y}",
                "end": f"{line.period_end - timedelta(days=1):%d/%m/%Y}",
            }
        lines.append(
            documents.DocumentLine(
                label=line.label,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
                note=note,
            )
        )
    assert invoice.issue_date and invoice.due_date
    return documents.Document(
        number=invoice.number or provisional,
        kind=invoice.kind,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        period_start=invoice.month,
        period_end=month_end - timedelta(days=1),
        seller=_party(seller),
        buyer=_party(invoice.buyer),
        lines=tuple(lines),
        vat_rate=invoice.vat_rate,
        net=invoice.net,
        vat=invoice.vat,
        gross=invoice.gross,
        preceding_invoice=(invoice.corrects.number or "") if invoice.corrects else "",
        buyer_reference=invoice.buyer.get("reference") or invoice.account.slug,
        payment_terms=_("Payment within %(days)s days.") % {"days": seller.get("payment_days", 30)},
        iban=seller.get("iban", ""),
        legal_mentions=tuple(seller.get("mentions", [])),
        language=invoice_language(invoice),
    )


def pdf(invoice: Invoice) -> bytes:
    return documents.pdf(document(invoice))


def issued_documents(month: date) -> list[tuple[Invoice, documents.Document]]:
    """The month's issued invoices and credit notes with their documents, by number."""
    issued = Invoice.objects.filter(month=month, status=Invoice.Status.ISSUED).select_related(
        "account", "corrects"
    )
    return [(invoice, document(invoice)) for invoice in issued.order_by("number")]


def export(month: date, output: Path) -> list[Path]:
    """One Factur-X PDF per issued document of the month and the accounting CSV, written into ``output``."""
    issued = issued_documents(month)
    if not issued:
        raise BillingError(_("No issued invoice for %(month)s.") % {"month": f"{month:%Y-%m}"})
    output.mkdir(parents=True, exist_ok=True)
    written = []
    docs = []
    for invoice, doc in issued:
        docs.append(doc)
        path = output / f"{invoice.number}.pdf"
        path.write_bytes(documents.pdf(doc))
        written.append(path)
    csv_path = output / f"ventes-{month:%Y-%m}.csv"
    csv_path.write_text(documents.accounting_csv(docs), encoding="utf-8-sig")
    written.append(csv_path)
    return written
