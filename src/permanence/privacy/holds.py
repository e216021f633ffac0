"""Legal holds: what the retention purge and the erasure must leave alone, and why. Set and lifted here
(audited); read by ``privacy.purge``, ``privacy.erasure`` and ``calls.retention``.

A hold selects widely (``Selection(wide=True)``: every contact sharing one of its identifiers): it keeps
more, never less. A hold on a contact keeps the numbers and e-mail the contact had when it was set, and
those it has now. The operator's staff lift the holds they set; a client admin, the client's."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
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
from permanence.users.models import CLIENT_ROLES

EMAIL_MAX = 254  # the columns' length (RFC 5321's path; ``validate_email`` accepts up to 320)


def active(accounts: Any) -> Any:
    return LegalHold.objects.filter(account__in=accounts, lifted_at__isnull=True).select_related("contact")


def person(hold: LegalHold) -> Person:
    return Person.of([hold.phone, *hold.contact_numbers], [hold.email, *hold.contact_emails],
                     [hold.contact_id] if hold.contact_id else [])  # fmt: skip


def for_account(account_id: int) -> tuple[bool, Selection | None]:
    """(the whole account is held, what the holds on callers select), for the purge."""
    holds = list(active([account_id]))
    if any(h.whole_account for h in holds):
        return True, None
    held = [person(h) for h in holds]
    numbers = {n for p in held for n in p.numbers}
    emails = {e for p in held for e in p.emails}
    contacts = {c for p in held for c in p.contacts}
    everyone = Person.of(numbers, emails, contacts)
    return False, (Selection(everyone, [account_id], wide=True) if everyone else None)


def clean_phone(text: str) -> str:
    """A phone number as typed, in E.164; a ValidationError for a person otherwise."""
    try:
        return normalize(text, settings.PHONE_DEFAULT_REGION)
    except PhoneNumberError:
        raise ValidationError({"phone": _("This is not a valid phone number.")}) from None


def clean_email(text: str) -> str:
    value = text.strip().lower()
    if len(value) > EMAIL_MAX:
        raise ValidationError({"email": _("This e-mail address is too long: at most %(max)d characters.")
                                        % {"max": EMAIL_MAX}})  # fmt: skip
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
    hold = LegalHold(account=account, whole_account=whole_account, reason=reason.strip(), set_by=actor,
                     by_operator=by_operator(actor))  # fmt: skip
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
                hold.contact_numbers = sorted(hold.contact.numbers.values_list("number", flat=True))
                email = hold.contact.email.strip().lower()
                hold.contact_emails = [email] if email else []
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


def by_operator(user: Any) -> bool:
    """The operator's staff (not a client's user)."""
    return getattr(user, "role", None) not in CLIENT_ROLES


def may_lift(hold: LegalHold, user: Any) -> bool:
    """A hold the operator set is lifted by the operator's staff; the client's, by either."""
    return not hold.by_operator or by_operator(user)


def lift(hold: LegalHold, *, actor: Any, request: HttpRequest | None = None) -> bool:
    """Lift a hold (once: False if it already was); PermissionDenied for a client's user and a hold the
    operator set."""
    if not may_lift(hold, actor):
        raise PermissionDenied
    with transaction.atomic():
        lifted = LegalHold.objects.filter(pk=hold.pk, lifted_at__isnull=True).update(
            lifted_at=timezone.now(), lifted_by=actor
        )
        if lifted:
            trail.record(actor, Action.UPDATE, hold, request=request, lifted=True, target=hold.target())
    hold.refresh_from_db()
    return bool(lifted)
