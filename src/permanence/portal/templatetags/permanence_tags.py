"""Template helpers. ``user|can:"export_contacts"`` asks the policy module (links only:
views check again)."""

from __future__ import annotations

from typing import Any

from django import template

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
