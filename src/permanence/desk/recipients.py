"""Who a message from the desk goes to: the people the scenario names, else the account's default
recipients; each one checked against the account's known people (``outbox.not_allowed``)."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from permanence.accounts.models import Account, parse_recipients
from permanence.calls.services import CallError
from permanence.messaging import outbox
from permanence.scenarios.engine.runtime import ReportReady
from permanence.textlists import parse_list


def named(account: Account, report: ReportReady | None, draft_to: Iterable[str]) -> tuple[str, bool]:
    """Who the message goes to: the people the scenario names (its ready report's recipients, or the
    report's ``to``), else the account's default recipients. Returns the list as typed in the field, and
    whether it is the account's default."""
    names: list[str] = []
    for recipient in report.recipients if report else ():
        if recipient.default:
            names += defaults(account)
        elif recipient.email or recipient.name:
            names.append(recipient.email or recipient.name)
    names += [t for t in draft_to if t]
    unique = list(dict.fromkeys(n for n in names if n))
    if unique:
        return ", ".join(unique), False
    return ", ".join(defaults(account)), True


def defaults(account: Account) -> list[str]:
    """The account's default recipients; none when what is stored is not valid any more (the
    back-office refuses that; the desk then asks the secretary for a recipient rather than failing)."""
    try:
        return account.recipient_list()
    except ValidationError:
        return []


def who_gets_it(account: Account, recipients: str) -> list[dict[str, str]]:
    """Each address with the collaborator it belongs to (as the outbox reads it), for the secretary to
    check before sending."""
    out = []
    for address in parse_list(recipients):
        reached = outbox.channel_of(address)
        person = outbox.collaborator(account, *reached) if reached else None
        out.append({"address": address, "name": str(person) if person else ""})
    return out


def checked(account: Account, typed: str, also: list[str] | None = None) -> list[str]:
    """The recipients typed, each an e-mail address or a phone number; none: the account's default.
    Each must be allowed (``outbox.not_allowed``: the directory, the account's default and other
    allowed recipients, those the scenario names: ``also``). Raises CallError with a sentence when one
    is neither address nor number, is not allowed, or when nobody at all would get it."""
    try:
        out = parse_recipients(typed)
    except ValidationError as exc:
        raise CallError(" ".join(exc.messages)) from None
    refused = outbox.not_allowed(account, out, also or [])
    if refused:
        raise CallError(
            _("“%(value)s” is neither a person of this account's directory nor one of its allowed "
              "recipients: choose someone from the directory, or ask the account's manager to allow "
              "this address.") % {"value": refused[0]}
        )
    if not out:
        out = defaults(account)
    if not out:
        raise CallError(
            _("Nobody would get this message: type a recipient (the account has no default recipient).")
        )
    return out
