"""Template helpers. ``user|can:"export_contacts"`` asks the policy module (links only:
views check again)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import pgettext_lazy

from permanence import policy
from permanence.accounts.phones import display

register = template.Library()


@register.filter
def can(user: Any, perm: str) -> bool:
    try:
        return policy.has_perm(user, policy.Perm(perm))
    except ValueError:
        return False


@register.filter
def phone(number: str | None) -> str:
    return display(number) if number else ""


@register.filter
def get_item(row: dict[str, Any], key: str) -> Any:
    return row.get(key)


#: a call's outcome or state in words (the codes are for machines)
CALL_WORDS = {
    "transfer": pgettext_lazy("call outcome", "Transfer"),
    "appointment": pgettext_lazy("call outcome", "Appointment"),
    "message": pgettext_lazy("call outcome", "Message"),
    "information": pgettext_lazy("call outcome", "Information given"),
    "refusal": pgettext_lazy("call outcome", "Turned away"),
    "done": pgettext_lazy("call state", "Handled"),
    "abandoned": pgettext_lazy("call state", "Hung up while waiting"),
    "diverted": pgettext_lazy("call state", "Sent to the fallback (maximum wait)"),
    "not_served": pgettext_lazy("call state", "Closed: not served"),
    "queued": pgettext_lazy("call state", "Waiting"),
    "offered": pgettext_lazy("call state", "Ringing"),
    "talking": pgettext_lazy("call state", "In conversation"),
    "on_hold": pgettext_lazy("call state", "On hold"),
    "transferring": pgettext_lazy("call state", "Being transferred"),
    "wrap_up": pgettext_lazy("call state", "Wrap-up"),
}


@register.filter
def call_word(code: str | None) -> str:
    """``{{ call.outcome|default:call.state|call_word }}``: the outcome or state in words."""
    return str(CALL_WORDS.get(code or "", code or ""))


@register.filter
def iso_date(value: str | None) -> Any:
    """An ISO 8601 instant kept as text (e.g. in an audit event's detail) as a datetime."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


@register.filter
def euros(value: Any) -> str:
    """An amount in euros the French way (or English): 1 234,50 €."""
    if value in (None, ""):
        return ""
    from decimal import Decimal

    from babel.numbers import format_currency
    from django.utils.translation import get_language

    locale = "en" if get_language() == "en" else "fr_FR"
    return str(format_currency(Decimal(str(value)), "EUR", locale=locale))
