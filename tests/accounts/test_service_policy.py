"""An account's service settings are checked: default recipients required and valid, an on-call number
when calls are forwarded, a maximum wait always set."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from permanence.accounts.models import Account


def problems(account: Account) -> dict[str, list[str]]:
    try:
        account.full_clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


@pytest.mark.django_db
def test_an_active_account_needs_default_recipients_that_are_addresses_or_numbers():
    account = Account(slug="sans", name="Sans", greeting="Bonjour")
    assert "default_recipients" in problems(account)
    account.default_recipients = "accueil@sans.example; 06 12 34 56 78"
    assert problems(account) == {}
    assert account.recipient_list() == ["accueil@sans.example", "+33612345678"]
    account.default_recipients = "accueil@sans.example, Madame Dupont"
    assert "Madame Dupont" in problems(account)["default_recipients"][0]
    account.default_recipients, account.status = "", "closed"  # a terminated account sends nothing
    assert problems(account) == {}


@pytest.mark.django_db
def test_forwarding_needs_an_on_call_number_and_the_maximum_wait_is_bounded():
    account = Account(slug="renvoi", name="Renvoi", greeting="Bonjour", default_recipients="a@b.fr",
                      after_hours="forward")  # fmt: skip
    assert "on_call_number" in problems(account)
    account.on_call_number = "06 12 34 56 78"
    assert problems(account) == {}
    assert account.max_wait_seconds == 120
    account.max_wait_seconds = 5
    assert "max_wait_seconds" in problems(account)
    account.max_wait_seconds = 7200
    assert "max_wait_seconds" in problems(account)
