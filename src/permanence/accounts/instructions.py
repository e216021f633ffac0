"""Which instructions (*consignes*) the desk shows, and which are new to the secretary.

The standing text is shown on every call; a dated instruction only inside its
period (never before, never after, never once withdrawn). One is *new* to a
secretary until her first call of the account after it was written or changed:
it is highlighted throughout that call, and no longer on the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from permanence.accounts.models import Account, Instruction, InstructionReading


@dataclass(frozen=True)
class Shown:
    text: str
    new: bool
    instruction: Instruction | None = None  # None: the standing text


def in_force(account: Account, at: datetime) -> QuerySet[Instruction]:
    return Instruction.objects.filter(
        account=account, withdrawn_at__isnull=True, starts_at__lte=at, ends_at__gt=at
    ).order_by("starts_at", "pk")


def new_on_call(readings: QuerySet[Any], call_id: int, now: datetime, changed_at: datetime | None = None,
                **reading: Any) -> bool:
    """Whether what ``readings`` (one row per thing and person) tracks is new to the person on this call:
    the first time she sees it (recorded now, with the call), again after it changed, and throughout
    that call; not on the next one. Shared by the instructions and the scenario's changes."""
    seen = readings.first()
    if seen is None:
        try:
            with transaction.atomic():
                readings.model.objects.create(call_id=call_id, seen_at=now, **reading)
        except IntegrityError:  # the same page loaded twice at once: the other load recorded it
            pass
        return True
    if changed_at is not None and seen.seen_at < changed_at:
        readings.filter(pk=seen.pk).update(seen_at=now, call_id=call_id)
        return True
    return bool(seen.call_id == call_id)


def _new_to(user: Any, account: Account, instruction: Instruction | None, changed_at: datetime | None,
            call_id: int, now: datetime) -> bool:
    mine = InstructionReading.objects.filter(account=account, user=user, instruction=instruction)
    return new_on_call(mine, call_id, now, changed_at, account=account, user=user, instruction=instruction)


def at_desk(account: Account, user: Any = None, *, call_id: int | None = None,
            at: datetime | None = None) -> list[Shown]:
    """What the desk shows now; with ``user`` and ``call_id``, which items are new to her."""
    at = at or timezone.now()
    track = user is not None and getattr(user, "is_authenticated", False) and call_id is not None
    shown: list[Shown] = []
    if account.instructions.strip():
        # a text never changed through the actions (older than them) is not news
        new = track and account.instructions_changed_at is not None and _new_to(
            user, account, None, account.instructions_changed_at, call_id or 0, at)
        shown.append(Shown(account.instructions, bool(new)))
    for instruction in in_force(account, at):
        new = track and _new_to(user, account, instruction, instruction.changed_at, call_id or 0, at)
        shown.append(Shown(instruction.text, bool(new), instruction))
    return shown
