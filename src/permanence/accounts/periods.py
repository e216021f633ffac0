"""Periods that take effect at a chosen time: dated instructions, absences, rotas.

Pure Python (no Django). A period is a half-open interval [starts, ends) of
aware instants. The client types local wall-clock times in the account's time
zone; ``local_instant`` turns one into an instant and refuses a time that does
not exist (the hour skipped when clocks go forward) rather than guessing.
A time that exists twice (the hour repeated when clocks go back) is the first
of the two, as RFC 5545 reads it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

LONGEST = timedelta(days=366)
"""The longest dated period: beyond a year it is a standing rule, not a dated one."""


class PeriodError(ValueError):
    """A period the client must correct; ``code`` names the fault for translations."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Phase(enum.StrEnum):
    COMING = "coming"
    CURRENT = "current"
    PAST = "past"


@dataclass(frozen=True, slots=True)
class Period:
    starts: datetime
    ends: datetime

    def __post_init__(self) -> None:
        if self.starts.tzinfo is None or self.ends.tzinfo is None:
            raise PeriodError("naive", "A period's start and end must carry their time zone.")
        if self.ends <= self.starts:
            raise PeriodError("order", "The end must come after the start.")
        if self.ends - self.starts > LONGEST:
            raise PeriodError("too_long", "A dated period lasts a year at most.")

    def phase(self, at: datetime) -> Phase:
        if at < self.starts:
            return Phase.COMING
        if at < self.ends:
            return Phase.CURRENT
        return Phase.PAST

    def contains(self, at: datetime) -> bool:
        return self.phase(at) is Phase.CURRENT


def local_instant(text: str, tz: tzinfo) -> datetime:
    """The instant (in UTC) of the local time ``text`` (``YYYY-MM-DDTHH:MM`` or
    ``YYYY-MM-DD HH:MM``) in ``tz``.

    Raises PeriodError ``format`` for anything else and ``gap`` for a local time
    that the clock change skips.
    """
    text = text.strip()
    try:
        naive = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise PeriodError("format", f"Not a date and time: {text[:40]!r}.") from None
    if naive.tzinfo is not None:
        raise PeriodError("format", "Give the local time without a time zone.")
    local = naive.replace(tzinfo=tz, fold=0)
    try:
        instant = local.astimezone(UTC)
        back = instant.astimezone(tz).replace(tzinfo=None)
    except OverflowError:  # 0001-01-01 00:00 east of UTC, 9999-12-31 23:59 west of it
        raise PeriodError("format", f"Out of range: {text[:40]!r}.") from None
    if back != naive:
        raise PeriodError("gap", f"{naive:%d/%m/%Y %H:%M} does not exist here: the clocks go forward then.")
    return instant


def check_new(period: Period, now: datetime) -> None:
    """A period being written must not be over already (history is not rewritten)."""
    if period.ends <= now:
        raise PeriodError("over", "This period is already over.")
