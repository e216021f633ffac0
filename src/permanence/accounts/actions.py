"""Named domain actions on accounts. Views and commands call these; they validate,
write in one transaction and leave an audit event."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from permanence.accounts.models import Account, PhoneNumber
from permanence.accounts.phones import PhoneNumberError, display, normalize
from permanence.audit import trail
from permanence.audit.models import Action


def assign_number(
    account: Account, raw: str, *, label: str = "", actor: Any = None, move: bool = False
) -> PhoneNumber:
    """Give ``account`` the number ``raw`` (any spelling).

    A number belongs to one account at a time. If another account holds it, this
    fails unless ``move`` is set, in which case the other account's row is closed
    (kept for history) and a new one opened.
    """
    try:
        number = normalize(raw, settings.PHONE_DEFAULT_REGION)
    except PhoneNumberError as exc:
        raise ValidationError({"number": str(exc)}) from None
    with transaction.atomic():
        current = (
            PhoneNumber.objects.select_for_update()
            .filter(number=number, released_at__isnull=True)
            .select_related("account")
            .first()
        )
        if current is not None:
            if current.account_id == account.pk:
                return current
            if not move:
                raise ValidationError(
                    {"number": _("%(number)s already belongs to %(account)s.")
                     % {"number": display(number), "account": current.account}}
                )
            release_number(current, actor=actor)
        phone = PhoneNumber.objects.create(account=account, number=number, label=label)
        trail.record(actor, Action.CREATE, phone, account=account, number=number)
    return phone


def release_number(phone: PhoneNumber, *, actor: Any = None) -> PhoneNumber:
    """Close the number's assignment; the row stays as history."""
    if phone.released_at is None:
        phone.released_at = timezone.now()
        phone.save(update_fields=["released_at"])
        trail.record(actor, Action.UPDATE, phone, released=True)
    return phone
