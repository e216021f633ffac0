"""Transfer rules and availability of a collaborator. Pure core: no Django import.

A collaborator's card says whether a call may be put through:

* ``always``;
* ``never`` (take a message);
* ``conditional``: every condition that is set must hold: the local time falls in
  one of the windows, the caller type is one of the listed ones, the call is
  urgent (``urgent_only``). ``urgent_bypass`` lets an urgent call through even
  when the windows or caller types say no.

Absence (leave, meeting...) is checked first: an absent collaborator is not put
through; the replacement, if any, is offered instead.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time


class TransferMode(enum.StrEnum):
    ALWAYS = "always"
    CONDITIONAL = "conditional"
    NEVER = "never"


@dataclass(frozen=True)
class Window:
    """A weekly window in local time; ``end`` 00:00 means midnight at the end of the day."""

    weekday: int
    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        if local.weekday() != self.weekday:
            return False
        moment = local.time().replace(tzinfo=None)
        return self.start <= moment and (self.end == time(0) or moment < self.end)


@dataclass(frozen=True)
class TransferRule:
    mode: TransferMode = TransferMode.ALWAYS
    windows: tuple[Window, ...] = ()
    caller_types: frozenset[str] = field(default_factory=frozenset)
    urgent_only: bool = False
    urgent_bypass: bool = False


@dataclass(frozen=True)
class Absence:
    kind: str
    starts_at: datetime
    ends_at: datetime | None  # None: until further notice
    replacement_id: int | None = None
    note: str = ""

    def covers(self, instant: datetime) -> bool:
        return self.starts_at <= instant and (self.ends_at is None or instant < self.ends_at)


class Verdict(enum.StrEnum):
    PUT_THROUGH = "put_through"
    TAKE_MESSAGE = "take_message"
    ABSENT = "absent"


@dataclass(frozen=True)
class TransferDecision:
    verdict: Verdict
    reasons: tuple[str, ...]  # machine-readable reasons, e.g. ("outside_windows",)
    absence: Absence | None = None
    replacement_id: int | None = None

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.PUT_THROUGH


def current_absence(absences: Iterable[Absence], instant: datetime) -> Absence | None:
    """The absence in force at ``instant``; when several overlap, the one that started last."""
    covering = [a for a in absences if a.covers(instant)]
    return max(covering, key=lambda a: a.starts_at) if covering else None


def decide_transfer(
    rule: TransferRule,
    *,
    local_time: datetime,
    caller_type: str | None = None,
    urgent: bool = False,
    absences: Iterable[Absence] = (),
) -> TransferDecision:
    """May a call be put through to this collaborator now?

    ``local_time`` is the instant in the account's time zone (aware).
    """
    absence = current_absence(absences, local_time)
    if absence is not None:
        return TransferDecision(
            Verdict.ABSENT, ("absent",), absence=absence, replacement_id=absence.replacement_id
        )
    if rule.mode is TransferMode.ALWAYS:
        return TransferDecision(Verdict.PUT_THROUGH, ())
    if rule.mode is TransferMode.NEVER:
        return TransferDecision(Verdict.TAKE_MESSAGE, ("never",))
    failed: list[str] = []
    if rule.windows and not any(w.contains(local_time) for w in rule.windows):
        failed.append("outside_windows")
    if rule.caller_types and caller_type not in rule.caller_types:
        failed.append("caller_type")
    if rule.urgent_only and not urgent:
        failed.append("not_urgent")
    if not failed or (urgent and rule.urgent_bypass):
        return TransferDecision(Verdict.PUT_THROUGH, ("urgent_bypass",) if failed else ())
    return TransferDecision(Verdict.TAKE_MESSAGE, tuple(failed))
