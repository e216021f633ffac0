"""The account's contacts (its CRM): the callers it knows."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from permanence.accounts.fields import PhoneField
from permanence.accounts.models import Account
from permanence.textlists import parse_list

# Tags with a meaning for the desk and the scenarios; others are free labels.
TAG_VIP = "vip"
TAG_BLOCKED = "blocked"
TAG_COLD_CALLER = "cold caller"


class Contact(models.Model):
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="contacts"
    )
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    # What an identity check may ask (``accounts.models.IDENTITY_KEPT``), kept as written: the scenario
    # engine normalises them when it compares (``scenarios.engine.identity``).
    file_number = models.CharField(
        _("file number"), max_length=50, blank=True, help_text=_("The caller's file or customer number.")
    )
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    postcode = models.CharField(_("postcode"), max_length=12, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    tags = models.CharField(
        _("tags"), max_length=300, blank=True, help_text=_("Comma-separated, e.g. “vip, client”.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["last_name", "first_name", "company"]
        indexes = [models.Index(fields=["account", "last_name"])]
        constraints = [
            models.CheckConstraint(
                name="contact_has_a_name",
                condition=~models.Q(first_name="", last_name="", company=""),
                violation_error_message=_("A contact needs a name or a company."),
            )
        ]

    def __str__(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        if name and self.company:
            return f"{name} ({self.company})"
        return name or self.company

    @property
    def tag_list(self) -> list[str]:
        return parse_list(self.tags, lower=True)

    @property
    def is_vip(self) -> bool:
        return TAG_VIP in self.tag_list

    @property
    def is_blocked(self) -> bool:
        return TAG_BLOCKED in self.tag_list


class ContactNumber(models.Model):
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="numbers"
    )
    # Denormalised so that "who is calling this account" is one indexed look-up.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    number = PhoneField(_("number"))
    label = models.CharField(_("label"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("contact number")
        verbose_name_plural = _("contact numbers")
        constraints = [
            models.UniqueConstraint(fields=["contact", "number"], name="contact_number_once")
        ]
        indexes = [models.Index(fields=["account", "number"])]

    def __str__(self) -> str:
        return self.number

    def save(self, *args: object, **kwargs: object) -> None:
        self.account_id = self.contact.account_id
        super().save(*args, **kwargs)  # type: ignore[arg-type]
