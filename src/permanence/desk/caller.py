"""The caller at the desk: their contact card and last calls, each reading audited once per call."""

from __future__ import annotations

from typing import Any

from permanence.audit import trail
from permanence.audit.models import Action, AuditEvent
from permanence.calls.models import Call
from permanence.contacts.models import Contact, ContactNumber


def card(call: Call) -> list[Contact]:
    """The account's contacts with the caller's number."""
    if not call.caller:
        return []
    ids = ContactNumber.objects.filter(account=call.account, number=call.caller).values("contact_id")
    return list(Contact.objects.filter(account=call.account, pk__in=ids))


def history(call: Call) -> list[Call]:
    """The caller's last calls to this account, with the messages they produced."""
    if not call.caller:
        return []
    return list(
        Call.objects.filter(account=call.account, caller=call.caller, training=False)
        .exclude(pk=call.pk)
        .prefetch_related("messages")
        .order_by("-arrived_at")[:5]
    )


def audit_reads(user: Any, call: Call, contacts: list[Contact], past: list[Call], *, ip: str | None) -> None:
    """The caller's card and past calls shown to a secretary: audited once per call and reader (the
    page is drawn again at each step), one row per contact card and one for the history. ``ip``: the
    reader's address, for the trail."""
    if not contacts and not past:
        return
    seen = AuditEvent.objects.filter(
        actor_id=user.pk, action=Action.VIEW, object_type="calls.call", object_id=str(call.pk),
        detail__what="caller",
    )
    if seen.exists():
        return
    for contact in contacts:
        trail.record(user, Action.VIEW, contact, ip=ip, via="desk", call=call.pk, what="caller card")
    trail.record(user, Action.VIEW, call, ip=ip, via="desk", what="caller", history=[c.pk for c in past])
