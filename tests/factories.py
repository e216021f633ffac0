"""Small factories for tests: one call builds a valid object."""

from __future__ import annotations

from datetime import time
from typing import Any

PASSWORD = "correct horse battery staple"


def make_account(slug: str, **fields: Any) -> Any:
    from permanence.accounts.models import Account, WeeklyHours

    fields.setdefault("name", slug.title())
    fields.setdefault("greeting", f"{fields['name']}, bonjour")
    account = Account.objects.create(slug=slug, **fields)
    for day in range(5):
        WeeklyHours.objects.create(account=account, weekday=day, opens=time(9), closes=time(18))
    return account


def make_user(username: str, role: str, account: Any = None, **fields: Any) -> Any:
    from permanence.users.models import User

    user = User(username=username, role=role, account=account, **fields)
    user.set_password(PASSWORD)
    user.save()
    return user


def make_contact(account: Any, numbers: tuple[str, ...] = (), **fields: Any) -> Any:
    from permanence.contacts.models import Contact, ContactNumber

    fields.setdefault("last_name", "Martin")
    contact = Contact.objects.create(account=account, **fields)
    for number in numbers:
        ContactNumber.objects.create(contact=contact, account=account, number=number)
    return contact
