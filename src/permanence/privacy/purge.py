"""The retention purge (the worker's ``retention`` loop, step ``privacy``): what is past its account's
period is emptied of the caller's data (calls, messages, appointments: the rows stay, so the figures keep
their counts) or deleted (contacts not seen for the period). Recordings and voicemails go by their own
periods (``calls.retention``).

In bounded batches (``LIMIT`` rows per kind and turn, oldest first; the next turn goes on), one
transaction and one audit row per account and kind, with the count. Safe to run twice at once: a batch's
rows are locked and skipped by the other run (PostgreSQL), and a row is marked by one run only. An
account under a legal hold is left alone; under a hold on a caller, what concerns the caller is."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from permanence.accounts.models import Account
from permanence.agenda.models import Appointment
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.calls.lifecycle import OVER
from permanence.calls.models import Call
from permanence.contacts.models import Contact, ContactNumber
from permanence.messaging.models import Message
from permanence.privacy import anonymise, holds
from permanence.privacy.models import KINDS, RetentionPolicy, add_months
from permanence.privacy.subjects import Selection

log = logging.getLogger(__name__)
LIMIT = 500


def _calls(account_id: int, cutoff: datetime) -> QuerySet[Any]:
    # not the calls over but not yet counted in the figures (the rollups' sweep needs their number for
    # first-call resolution): they are counted within a turn of that sweep
    return (
        Call.objects.filter(account_id=account_id, purged_at__isnull=True, arrived_at__lt=cutoff)
        .exclude(state__in=OVER, training=False, rolled_up_at__isnull=True)
        .order_by("arrived_at", "pk")
    )


def _messages(account_id: int, cutoff: datetime) -> QuerySet[Any]:
    return (
        Message.objects.filter(account_id=account_id, purged_at__isnull=True, created__lt=cutoff)
        .exclude(deliveries__status__in=anonymise.SENDING)
        .order_by("created", "pk")
    )


def _appointments(account_id: int, cutoff: datetime) -> QuerySet[Any]:
    return Appointment.objects.filter(account_id=account_id, purged_at__isnull=True, end__lt=cutoff).order_by(
        "end", "pk"
    )


def _contacts(account_id: int, cutoff: datetime) -> QuerySet[Any]:
    """Not edited since the cutoff, and no call from one of their numbers since."""
    callers = Call.objects.filter(account_id=account_id, arrived_at__gte=cutoff).values("caller")
    seen = ContactNumber.objects.filter(contact=OuterRef("pk"), number__in=callers)
    return (
        Contact.objects.filter(account_id=account_id, updated_at__lt=cutoff)
        .filter(~Exists(seen))
        .order_by("updated_at", "pk")
    )


DUE: dict[str, Callable[[int, datetime], QuerySet[Any]]] = {
    "calls": _calls, "messages": _messages, "appointments": _appointments, "contacts": _contacts,
}  # fmt: skip


def _apply(kind: str, ids: list[int], now: datetime) -> int:
    if kind == "contacts":
        return anonymise.contacts(ids)
    return int(getattr(anonymise, kind)(ids, now))


def _claim(due: QuerySet[Any], limit: int) -> list[int]:
    """The batch's ids, locked until the transaction ends; rows another run has locked are skipped."""
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True, of=("self",))
    return list(due.values_list("pk", flat=True)[:limit])


def purge_account(account_id: int, kind: str, now: datetime, limit: int = LIMIT,
                  held: tuple[bool, Selection | None] | None = None) -> int:  # fmt: skip
    """One batch of one kind for one account; how many rows were emptied or deleted."""
    whole, selection = held if held is not None else holds.for_account(account_id)
    if whole or limit <= 0:
        return 0
    months = RetentionPolicy.for_account(account_id).months(kind)
    cutoff = add_months(now, -months)
    due = DUE[kind](account_id, cutoff)
    if selection is not None:
        due = due.exclude(pk__in=getattr(selection, kind)().values("pk"))
    with transaction.atomic():
        ids = _claim(due, limit)
        if not ids:
            return 0
        done = _apply(kind, ids, now)
        if done:
            trail.record(None, Action.DELETE, object_type="privacy.purge", account=account_id, kind=kind,
                         count=done, months=months, before=cutoff.isoformat())  # fmt: skip
    return done


def purge_due(now: datetime | None = None, limit: int = LIMIT) -> int:
    """Every account's data past its periods, at most ``limit`` rows of each kind this turn."""
    now = now or timezone.now()
    total = 0
    accounts = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    held = {account_id: holds.for_account(account_id) for account_id in accounts}
    for kind in KINDS:
        done = 0
        for account_id in accounts:
            if done >= limit:
                break
            done += purge_account(account_id, kind, now, limit - done, held[account_id])
        if done:
            log.info("%d %s past their retention period emptied", done, kind)
        total += done
    return total
