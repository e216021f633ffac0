"""Legal holds: what the retention purge and the erasure must leave alone, and why. Set and lifted here
(audited); read by ``privacy.purge``, ``privacy.erasure`` and ``calls.retention``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from permanence.accounts.models import Account
from permanence.accounts.phones import PhoneNumberError, normalize
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.contacts.models import Contact
from permanence.privacy.models import LegalHold
from permanence.privacy.subjects import Person, Selection


def active(accounts: Any) -> Any:
    return LegalHold.objects.filter(account__in=accounts, lifted_at__isnull=True).select_related("contact")


def person(hold: LegalHold) -> Person:
    return Person.of([hold.phone], [hold.email], [hold.contact_id] if hold.contact_id else [])


def for_account(account_id: int) -> tuple[bool, Selection | None]:
    """(the whole account is held, what the holds on callers select), for the purge."""
    holds = list(active([account_id]))
    if any(h.whole_account for h in holds):
        return True, None
    numbers = {h.phone for h in holds if h.phone}
    emails = {h.email for h in holds if h.email}
    contacts = {h.contact_id for h in holds if h.contact_id}
    held = Person.of(numbers, emails, contacts)
    return False, (Selection(held, [account_id]) if held else None)


def clean_phone(text: str) -> str:
    """A phone number as typed, in E.164; a ValidationError for a person otherwise."""
    try:
        return normalize(text, settings.PHONE_DEFAULT_REGION)
    except PhoneNumberError:
        raise ValidationError({"phone": _("This is not a valid phone number.")}) from None


def clean_email(text: str) -> str:
    value = text.strip().lower()
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError({"email": _("This is not a valid e-mail address.")}) from None
    return value


def contact_of(account: Account, raw: str) -> Contact:
    try:
        return Contact.objects.get(account=account, pk=int(raw))
    except (ValueError, Contact.DoesNotExist):
        raise ValidationError({"contact": _("Choose one of the account's contacts.")}) from None


def place(account: Account, *, whole_account: bool, phone: str = "", email: str = "", contact: str = "",
          reason: str, actor: Any, request: HttpRequest | None = None) -> LegalHold:  # fmt: skip
    """Set a hold (validated: a reason, and the whole account or at least one caller's identifier)."""
    errors: dict[str, str] = {}
    hold = LegalHold(account=account, whole_account=whole_account, reason=reason.strip(), set_by=actor)
    if not hold.reason:
        errors["reason"] = _("Say why the data must be kept.")
    if not whole_account:
        for name, value, clean in (("phone", phone, clean_phone), ("email", email, clean_email)):
            if value.strip():
                try:
                    setattr(hold, name, clean(value))
                except ValidationError as error:
                    errors[name] = error.message_dict[name][0]
        if contact.strip():
            try:
                hold.contact = contact_of(account, contact)
                hold.contact_name = str(hold.contact)[:300]
            except ValidationError as error:
                errors["contact"] = error.message_dict["contact"][0]
        if not errors and not (hold.phone or hold.email or hold.contact):
            errors["phone"] = _("Give a phone number, an e-mail or a contact, or hold the whole account.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        hold.save()
        trail.record(actor, Action.CREATE, hold, request=request, reason=hold.reason, target=hold.target())
    return hold


def lift(hold: LegalHold, *, actor: Any, request: HttpRequest | None = None) -> bool:
    """Lift a hold (once: False if it already was)."""
    with transaction.atomic():
        lifted = LegalHold.objects.filter(pk=hold.pk, lifted_at__isnull=True).update(
            lifted_at=timezone.now(), lifted_by=actor
        )
        if lifted:
            trail.record(actor, Action.UPDATE, hold, request=request, lifted=True, target=hold.target())
    hold.refresh_from_db()
    return bool(lifted)
