from __future__ import annotations

from django.core.management.base import CommandError

from permanence.accounts.models import Account


def get_account(slug: str) -> Account:
    try:
        return Account.objects.get(slug=slug)
    except Account.DoesNotExist:
        raise CommandError(f"No account with the short name {slug!r}.") from None
