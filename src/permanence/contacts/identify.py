"""Caller identification: from the number called and the caller's number, who is it?"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from permanence.accounts.models import Account
from permanence.accounts.phones import try_normalize
from permanence.contacts.models import Contact, ContactNumber


@dataclass
class Identification:
    called: str | None  # E.164, None if not a valid number
    caller: str | None  # E.164, None if withheld or not a valid number
    account: Account | None
    contacts: list[Contact] = field(default_factory=list)
    # Recent calls and messages of this caller to this account, newest first.
    # Empty until the calls capability records calls.
    history: list[Any] = field(default_factory=list)

    @property
    def known(self) -> bool:
        return bool(self.contacts)

    @property
    def withheld(self) -> bool:
        return self.caller is None


def account_for_number(called: str | None) -> Account | None:
    e164 = try_normalize(called, settings.PHONE_DEFAULT_REGION)
    if e164 is None:
        return None
    return Account.objects.filter(numbers__number=e164, numbers__released_at__isnull=True).first()


def identify(called_number: str | None, caller_number: str | None) -> Identification:
    """Match the called number to its account and the caller to that account's contacts.

    Both numbers may come in any national or international spelling; a withheld
    or malformed caller number gives an unknown caller, never an error.
    """
    region = settings.PHONE_DEFAULT_REGION
    called = try_normalize(called_number, region)
    caller = try_normalize(caller_number, region)
    account = account_for_number(called) if called else None
    contacts: list[Contact] = []
    if account is not None and caller is not None:
        # Through the (account, number) index of the numbers, not a scan of the contacts.
        # The account is checked again on each contact (belt and braces on tenancy).
        matching = ContactNumber.objects.filter(account=account, number=caller)
        contacts = [
            contact
            for contact in Contact.objects.filter(pk__in=matching.values("contact_id"))
            .prefetch_related("numbers")
            .order_by("last_name", "first_name", "pk")
            if contact.account_id == account.pk
        ]
    return Identification(called=called, caller=caller, account=account, contacts=contacts)
