"""Billing (docs/billing.md): each account's plan (effective-dated), what it does not bill (seed 002's
exclusions), its service-level promise, the invoices and credit notes with every line's calls and every
call's decision, and the client's disputes. The rating itself is the pure core ``billing.rating``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from permanence.accounts.models import Account
from permanence.billing import rating, sla

ZERO = Decimal(0)


def _money(label: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("default", ZERO)
    return models.DecimalField(
        label, max_digits=12, decimal_places=4, validators=[MinValueValidator(ZERO)], **kwargs
    )


def _amount(label: Any, **kwargs: Any) -> Any:
    return models.DecimalField(label, max_digits=14, decimal_places=2, default=ZERO, **kwargs)


def _share(label: Any, help_text: Any) -> Any:
    return models.DecimalField(
        label,
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=help_text,
        validators=[MinValueValidator(ZERO), MaxValueValidator(Decimal(1))],
    )


class BillingProfile(models.Model):
    """Whom an account's invoices are addressed to, and what the operator does not bill it (seed 002)."""

    account = models.OneToOneField(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="billing_profile"
    )
    legal_name = models.CharField(
        _("legal name"), max_length=200, blank=True, help_text=_("Empty: the account's name.")
    )
    address = models.TextField(_("address"), blank=True, help_text=_("One line per line."))
    postcode = models.CharField(_("postcode"), max_length=10, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country (ISO code)"), max_length=2, default="FR",
                               validators=[RegexValidator(r"^[A-Z]{2}$", _("Two capital letters, e.g. FR."))])
    vat_id = models.CharField(
        _("VAT number"), max_length=20, blank=True,
        validators=[RegexValidator(r"^[A-Z]{2}[0-9A-Z]{2,18}$", _("Country code then number, e.g. FR…"))],
    )
    siret = models.CharField(_("SIRET"), max_length=14, blank=True,
                             validators=[RegexValidator(r"^[0-9]{14}$", _("Fourteen digits."))])
    email = models.EmailField(_("invoices sent to"), blank=True)
    # the exclusions (``rating.Rules``)
    exclude_not_answered = models.BooleanField(_("do not bill calls not answered"), default=True)
    short_abandon_seconds = models.PositiveIntegerField(
        _("short abandon: waited less than (seconds)"), default=5, validators=[MaxValueValidator(600)]
    )
    exclude_cold_calls = models.BooleanField(_("do not bill cold calls"), default=True)
    exclude_wrong_numbers = models.BooleanField(_("do not bill wrong numbers"), default=True)
    hung_up_before_seconds = models.PositiveIntegerField(
        _("do not bill answered calls shorter than (seconds)"),
        default=10,
        validators=[MaxValueValidator(600)],
    )
    exclude_callbacks = models.BooleanField(_("do not bill the service's call-backs"), default=True)
    repeat_within_seconds = models.PositiveIntegerField(
        _("do not bill a caller calling again within (seconds)"),
        default=120,
        validators=[MaxValueValidator(86400)],
        help_text=_("After the end of their previous answered call: a line cut, a caller calling back."),
    )

    class Meta:
        verbose_name = _("billing profile")
        verbose_name_plural = _("billing profiles")

    def __str__(self) -> str:
        return str(self.account)

    def rules(self) -> rating.Rules:
        return rating.Rules(
            not_answered=self.exclude_not_answered,
            short_abandon_seconds=self.short_abandon_seconds,
            cold_call=self.exclude_cold_calls,
            wrong_number=self.exclude_wrong_numbers,
            hung_up_before_seconds=self.hung_up_before_seconds,
            callbacks=self.exclude_callbacks,
            repeat_within_seconds=self.repeat_within_seconds,
        )

    def clean(self) -> None:
        if self.short_abandon_seconds % 5:
            raise ValidationError({"short_abandon_seconds": _("A multiple of 5 seconds (as the figures).")})

    @classmethod
    def for_account(cls, account: Account) -> BillingProfile:
        found = cls.objects.filter(account=account).first()
        return found or cls(account=account)


class Plan(models.Model):
    """An account's plan from a date (local): the next plan's date ends it. A change within a month is
    prorated by days."""

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="plans"
    )
    starts_on = models.DateField(_("applies from"))
    name = models.CharField(_("name"), max_length=100, blank=True)
    monthly_fee = _money(_("monthly fee (excl. VAT)"))
    included_calls = models.PositiveIntegerField(_("calls included"), default=0)
    included_minutes = models.PositiveIntegerField(_("minutes included"), default=0)
    per_call = _money(_("per call beyond"))
    per_minute = _money(_("per started minute beyond"))
    after_hours_surcharge = _money(_("surcharge per call outside opening hours"))
    holiday_surcharge = _money(_("surcharge per call on a public holiday"))
    per_email = _money(_("per e-mail"))
    per_sms_part = _money(_("per SMS (each part)"))
    per_webhook = _money(_("per webhook"))
    per_push = _money(_("per notification (app)"))
    per_appointment = _money(_("per appointment booked"))
    minimum = _money(_("monthly minimum"))
    cap = models.DecimalField(
        _("monthly cap"),
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(ZERO)],
    )

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["account", "starts_on"]
        constraints = [models.UniqueConstraint(fields=["account", "starts_on"], name="plan_one_per_day")]

    def __str__(self) -> str:
        return f"{self.account} — {self.name or self.starts_on}"

    def clean(self) -> None:
        if self.cap is not None and self.minimum and self.minimum > self.cap:
            raise ValidationError({"cap": _("The cap is below the monthly minimum.")})

    def as_core(self) -> rating.PlanPeriod:
        return rating.PlanPeriod(
            start=self.starts_on,
            plan=rating.Plan(
                monthly_fee=self.monthly_fee,
                included_calls=self.included_calls,
                included_minutes=self.included_minutes,
                per_call=self.per_call,
                per_minute=self.per_minute,
                after_hours_surcharge=self.after_hours_surcharge,
                holiday_surcharge=self.holiday_surcharge,
                per_message={
                    "email": self.per_email,
                    "digest": self.per_email,
                    "sms": self.per_sms_part,
                    "webhook": self.per_webhook,
                    "push": self.per_push,
                },
                per_appointment=self.per_appointment,
                minimum=self.minimum,
                cap=self.cap,
            ),
        )


class ServicePromise(models.Model):
    """What the contract promises (seed 003): the service level, the abandonment and the messages' delivery;
    a month that misses one may cost the operator a penalty, rated into the invoice."""

    account = models.OneToOneField(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="service_promise"
    )
    answer_within_seconds = models.PositiveIntegerField(
        _("answered within (seconds)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(600)],
        help_text=_("A multiple of 5."),
    )
    answer_share = _share(_("share of calls answered in time"), _("For example 0.90 for 90 %."))
    max_abandon_rate = _share(_("abandonment rate at most"), _("For example 0.05 for 5 %."))
    delivery_within_minutes = models.PositiveIntegerField(
        _("messages delivered within (minutes)"), null=True, blank=True
    )
    delivery_share = _share(_("share of messages delivered in time"), _("For example 0.95 for 95 %."))
    penalty_per_miss = _money(_("penalty per promise missed"))
    penalty_percent = _share(
        _("penalty per promise missed (share of the monthly fee)"), _("For example 0.05 for 5 %.")
    )

    class Meta:
        verbose_name = _("service promise")
        verbose_name_plural = _("service promises")

    def __str__(self) -> str:
        return str(self.account)

    def clean(self) -> None:
        if self.answer_within_seconds is not None and self.answer_within_seconds % 5:
            raise ValidationError({"answer_within_seconds": _("A multiple of 5 seconds.")})
        if (self.answer_within_seconds is None) != (self.answer_share is None):
            raise ValidationError({"answer_share": _("Give both the time and the share, or neither.")})
        if (self.delivery_within_minutes is None) != (self.delivery_share is None):
            raise ValidationError({"delivery_share": _("Give both the time and the share, or neither.")})

    def as_core(self, short_abandon_seconds: int) -> sla.Promise:
        return sla.Promise(
            answer_within_seconds=self.answer_within_seconds,
            answer_share=self.answer_share,
            max_abandon_rate=self.max_abandon_rate,
            delivery_within_minutes=self.delivery_within_minutes,
            delivery_share=self.delivery_share,
            penalty_per_miss=self.penalty_per_miss,
            penalty_percent=self.penalty_percent or ZERO,
            short_abandon_seconds=short_abandon_seconds,
        )


class IssuedError(Exception):
    """An issued invoice does not change: a correction is a credit note."""


class Invoice(models.Model):
    """An invoice or a credit note of an account for a month. A draft is made again at each run; issuing
    gives it the next number of its series (no gap: numbers are taken in the issuing transaction, and an
    issued document is never changed nor deleted)."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Invoice")
        CREDIT_NOTE = "credit_note", _("Credit note")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ISSUED = "issued", _("Issued")

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="invoices"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.INVOICE)
    month = models.DateField(_("month"))  # its first day
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.DRAFT)
    number = models.CharField(_("number"), max_length=20, null=True, blank=True, unique=True)
    issue_date = models.DateField(_("date"), null=True, blank=True)
    due_date = models.DateField(_("due"), null=True, blank=True)
    issued_at = models.DateTimeField(_("issued"), null=True, blank=True)
    # an issued row never changes, not even when its author is deleted (the audit trail names them)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
        related_name="+",
    )
    net = _amount(_("total excl. VAT"))
    vat_rate = models.DecimalField(_("VAT rate"), max_digits=5, decimal_places=4, default=Decimal("0.2"))
    vat = _amount(_("VAT"))
    gross = _amount(_("total incl. VAT"))
    buyer: Any = models.JSONField(_("client"), default=dict)  # the billing profile as it was
    # the operator's details, terms and legal mentions as they were when issued: the document never changes
    seller: Any = models.JSONField(_("operator"), default=dict, blank=True)
    sla: Any = models.JSONField(_("service levels"), default=dict, blank=True)  # the month's report
    corrects = models.ForeignKey(
        "self",
        verbose_name=_("corrects"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_notes",
    )
    created = models.DateTimeField(_("prepared"), default=timezone.now)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-month", "account", "kind", "pk"]
        indexes = [models.Index(fields=["month", "status"], name="invoice_month_status")]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "month"],
                condition=models.Q(status="draft", kind="invoice"),
                name="invoice_one_draft",
            ),
            models.CheckConstraint(condition=~models.Q(status="issued") | models.Q(number__isnull=False),
                                   name="invoice_issued_numbered"),
            # a credit note per invoice it corrects
            models.UniqueConstraint(
                fields=["account", "month", "corrects"],
                condition=models.Q(status="draft", kind="credit_note"),
                name="credit_note_one_draft",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"{self.get_kind_display()} {self.account} {self.month:%Y-%m} ({_('draft')})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Only a draft is saved; ``issuing=True`` once, by ``services.issue``, to turn a draft into an
        issued document."""
        issuing = kwargs.pop("issuing", False)
        if self.pk:
            stored = Invoice.objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored == self.Status.ISSUED:
                raise IssuedError(f"{self.number} is issued: a correction is a credit note.")
        if self.status == self.Status.ISSUED and (not issuing or not self.number):
            raise IssuedError("an invoice is issued by billing.services.issue only, with its number")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if Invoice.objects.filter(pk=self.pk, status=self.Status.ISSUED).exists():
            raise IssuedError(f"{self.number} is issued: it is kept.")
        return super().delete(*args, **kwargs)

    @property
    def issued(self) -> bool:
        return self.status == self.Status.ISSUED


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    code = models.CharField(max_length=40)
    label = models.CharField(_("label"), max_length=300)
    period_start = models.DateField()
    period_end = models.DateField()  # exclusive
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=4)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=4)
    amount = _amount(_("amount excl. VAT"))
    kind = models.CharField(max_length=12, blank=True)  # what ``items`` are: call, delivery, appointment
    items: Any = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position")]

    def __str__(self) -> str:
        return f"{self.invoice} #{self.position} {self.code}"

    @property
    def last_day(self) -> Any:
        """The period's last day (``period_end`` is the day after)."""
        from datetime import timedelta

        return self.period_end - timedelta(days=1)


class Decision(models.Model):
    """Why an item of the month (a call, a delivery, an appointment) was billed or not: the rule that decided,
    the facts it read, and the lines it is on."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="decisions")
    kind = models.CharField(max_length=12)
    item = models.BigIntegerField()
    billed = models.BooleanField()
    rule = models.CharField(max_length=20)
    values: Any = models.JSONField(default=dict, blank=True)
    lines: Any = models.JSONField(default=list, blank=True)  # line codes

    class Meta:
        indexes = [models.Index(fields=["kind", "item"], name="decision_item")]

    def __str__(self) -> str:
        return f"{self.kind} {self.item}: {self.rule}"


class Counter(models.Model):
    """The last number of a series (a prefix and a year): taken under a row lock when issuing."""

    series = models.CharField(max_length=20, unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.series}: {self.last}"


class Dispute(models.Model):
    """A client's objection to a billed call ("a wrong number"); the operator accepts it (a credit note with
    the next month's run) or refuses it with an answer."""

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("dispute", "Open")
        ACCEPTED = "accepted", _("Accepted")
        REFUSED = "refused", _("Refused")

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="disputes"
    )
    invoice = models.ForeignKey(
        Invoice, verbose_name=_("invoice"), on_delete=models.PROTECT, related_name="disputes"
    )
    call = models.ForeignKey("calls.Call", verbose_name=_("call"), on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("reason"))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    answer = models.TextField(_("answer"), blank=True)
    amount = _amount(_("credit (excl. VAT)"))
    created = models.DateTimeField(_("sent"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    credit_note = models.ForeignKey(
        Invoice,
        verbose_name=_("credit note"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credited_disputes",
    )

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["invoice", "call"], name="dispute_one_per_call")]

    def __str__(self) -> str:
        return f"{self.invoice} — {self.call_id} ({self.status})"
