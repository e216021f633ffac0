"""Privacy (GDPR): how long each account keeps its callers' data (``RetentionPolicy``), the legal holds that
suspend its deletion (``LegalHold``), and the register of the requests of data subjects (``DataRequest``:
access, erasure, rectification). See docs/privacy.md."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from permanence.accounts.models import Account

# What the worker purges, each with its own period (``PRIVACY_RETENTION_<KIND>_MONTHS`` by default).
KINDS = ("calls", "messages", "appointments", "contacts")
FALLBACK_MONTHS = {"calls": 12, "messages": 12, "appointments": 12, "contacts": 36}
MAX_MONTHS = 120
DUE_SOON = timedelta(days=7)  # a request whose answer is due within this is highlighted


def add_months(moment: datetime, months: int) -> datetime:
    """The same local time ``months`` later (or earlier, if negative); the 31st becomes the month's last
    day when the month is shorter (a request received on 31 January is due on 28 or 29 February)."""
    local = timezone.localtime(moment)
    index = local.year * 12 + local.month - 1 + months
    year, month = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    return local.replace(year=year, month=month + 1, day=day)


def default_months(kind: str) -> int:
    return int(getattr(settings, f"PRIVACY_RETENTION_{kind.upper()}_MONTHS", FALLBACK_MONTHS[kind]))


def _months_field(label: Any, help_text: Any) -> Any:
    return models.PositiveSmallIntegerField(
        label, null=True, blank=True, help_text=help_text,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_MONTHS)],
    )  # fmt: skip


class RetentionPolicy(models.Model):
    """An account's retention periods, in months; empty: the operator's default (settings). Made the
    first time the account changes one (``for_account`` otherwise gives an unsaved one)."""

    account = models.OneToOneField(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="retention_policy"
    )
    calls_months = _months_field(
        _("calls: the caller's number and the scenario's answers (months)"),
        _("The call, its times and its outcome stay, for the figures."),
    )
    messages_months = _months_field(
        _("messages: subject, text, recipients, fields (months)"),
        _("The message stays, for the figures, without its content."),
    )
    appointments_months = _months_field(
        _("appointments: the caller's name, phone, e-mail and notes (months after the appointment)"),
        _("The appointment stays in the collaborator's agenda, without the caller."),
    )
    contacts_months = _months_field(
        _("contacts not seen for (months)"),
        _("No call from their numbers and not edited for that long: the contact is deleted."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("retention policy")
        verbose_name_plural = _("retention policies")

    def __str__(self) -> str:
        return f"{self.account}: " + ", ".join(f"{kind} {self.months(kind)}" for kind in KINDS)

    def months(self, kind: str) -> int:
        chosen = getattr(self, f"{kind}_months")
        return int(chosen) if chosen else default_months(kind)

    @classmethod
    def for_account(cls, account: Account | int) -> RetentionPolicy:
        account_id = account.pk if isinstance(account, Account) else account
        found = cls.objects.filter(account_id=account_id).first()
        return found if found is not None else cls(account_id=account_id)


class LegalHold(models.Model):
    """Suspends the deletion (retention purge, erasure) of an account's data: all of it, or what concerns
    one caller (a phone number, an e-mail address, a contact), until lifted. A hold on a contact keeps the
    numbers and e-mail the contact had when it was set (``contact_numbers``, ``contact_emails``): they stay
    held when the contact is corrected or deleted. A hold set by the operator's staff (``by_operator``) is
    lifted by them only."""

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="legal_holds"
    )
    whole_account = models.BooleanField(_("the whole account"), default=False)
    phone = models.CharField(_("phone number"), max_length=20, blank=True)  # E.164
    email = models.EmailField(_("e-mail"), blank=True)  # lower case
    # a lifted hold keeps naming its contact (``contact_name``) once the contact is gone
    contact = models.ForeignKey(
        "contacts.Contact", verbose_name=_("contact"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    contact_name = models.CharField(_("contact"), max_length=300, blank=True)
    contact_numbers: Any = models.JSONField(_("the contact's numbers"), default=list, blank=True)  # E.164
    contact_emails: Any = models.JSONField(_("the contact's e-mails"), default=list, blank=True)  # lower case
    reason = models.TextField(_("reason"))
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("set by"), null=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    set_at = models.DateTimeField(_("set"), default=timezone.now)
    by_operator = models.BooleanField(_("set by the answering service"), default=False)
    lifted_at = models.DateTimeField(_("lifted"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("lifted by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip

    class Meta:
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")
        ordering = ["-set_at", "-pk"]
        indexes = [models.Index(fields=["account", "lifted_at"], name="legal_hold_active")]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.target()}"

    def target(self) -> str:
        if self.whole_account:
            return str(_("the whole account"))
        contact = self.contact_name
        if contact and (self.contact_numbers or self.contact_emails):
            contact += f" ({', '.join([*self.contact_numbers, *self.contact_emails])})"
        return ", ".join(t for t in (self.phone, self.email, contact) if t)


class DataRequest(models.Model):
    """A data subject's request, in the register: what they asked, who they are (their phone number,
    e-mail or contact), by when the answer is due (one month after receipt: GDPR art. 12(3)), and how it
    was handled. ``account`` empty: about every account (the operator's)."""

    class Kind(models.TextChoices):
        ACCESS = "access", _("Access")
        ERASURE = "erasure", _("Erasure")
        RECTIFICATION = "rectification", _("Rectification")

    class Status(models.TextChoices):
        OPEN = "open", _("To handle")
        DONE = "done", _("Answered")
        REFUSED = "refused", _("Refused")

    account = models.ForeignKey(
        Account, verbose_name=_("account"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="data_requests",
    )  # fmt: skip
    kind = models.CharField(_("request"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("name given"), max_length=200, blank=True)
    phone = models.CharField(_("phone number"), max_length=20, blank=True)  # E.164
    email = models.EmailField(_("e-mail"), blank=True)  # lower case
    contact = models.ForeignKey(
        "contacts.Contact", verbose_name=_("contact"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    due_at = models.DateTimeField(_("answer due"))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("handled by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip
    handled_at = models.DateTimeField(_("handled"), null=True, blank=True)
    exported_at = models.DateTimeField(_("exported"), null=True, blank=True)
    erased_at = models.DateTimeField(_("erased"), null=True, blank=True)
    result: Any = models.JSONField(_("result"), default=dict, blank=True)  # the last erasure's report

    class Meta:
        verbose_name = _("data subject's request")
        verbose_name_plural = _("data subjects' requests")
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["status", "due_at"], name="data_request_due")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.subject_label()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.due_at:
            self.due_at = add_months(self.received_at, 1)
        super().save(*args, **kwargs)

    def subject_label(self) -> str:
        return " · ".join(str(t) for t in (self.name, self.phone, self.email) if t) or str(self.contact or "")

    def deadline(self, now: datetime | None = None) -> str:
        """"late", "soon" (due within a week) or "" (in time, or answered)."""
        if self.status != self.Status.OPEN:
            return ""
        now = now or timezone.now()
        if now > self.due_at:
            return "late"
        return "soon" if self.due_at - now <= DUE_SOON else ""
