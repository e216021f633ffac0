"""On-call rotas (*astreintes*): who of a service is on call at an instant.

Pure Python (no Django). A rota takes its members in turn, one week each, the
turn handed over on a weekday at a local time (Monday 08:00, say), counted in
the account's local calendar so that a daylight-saving change moves no turn.
It covers some times only: always, nights, weekends, public holidays (any
mix); outside them nobody is on call. A swap or a replacement is an override:
for its period, within the covered times, its person is on call instead of the
turn's.

The covered times, in local time (``night_start`` and ``night_end``, 19:00
and 08:00 by default): *nights*, every day from night_start to the next
night_end; *weekends*, from Friday night_start to Monday night_end; *public
holidays*, from the eve's night_start to the next day's night_end.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

WEEK = 7
MAX_SPAN = timedelta(days=400)  # the longest stretch ``turns`` lays out


class RotaError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Cover(enum.StrEnum):
    ALWAYS = "always"
    NIGHTS = "nights"
    WEEKENDS = "weekends"
    HOLIDAYS = "holidays"


@dataclass(frozen=True, slots=True)
class Override:
    """``member`` is on call from ``starts`` to ``ends`` (a swap, a replacement)."""

    starts: datetime
    ends: datetime
    member: int


@dataclass(frozen=True, slots=True)
class Turn:
    starts: datetime
    ends: datetime
    member: int
    override: bool = False


@dataclass(frozen=True)
class Rota:
    members: tuple[int, ...]  # in turn; the first from ``first_day``
    tz: tzinfo
    first_day: date  # the local day of the first handover; its weekday is the handover day
    handover: time = time(8, 0)
    covers: frozenset[Cover] = frozenset({Cover.ALWAYS})
    night_start: time = time(19, 0)
    night_end: time = time(8, 0)
    overrides: tuple[Override, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.covers:
            raise RotaError("no_cover", "Say when the rota applies: always, nights, weekends or holidays.")
        if self.night_start == self.night_end:
            raise RotaError("night", "The night must start and end at different times.")
        for o in self.overrides:
            if o.ends <= o.starts:
                raise RotaError("order", "A swap's end must come after its start.")


def _local(at: datetime, tz: tzinfo) -> datetime:
    if at.tzinfo is None:
        raise RotaError("naive", "An instant must carry its time zone.")
    return at.astimezone(tz)


def _instant(day: date, moment: time, tz: tzinfo) -> datetime:
    """The instant of a local wall time (the hour skipped in spring: its first valid reading)."""
    return datetime.combine(day, moment, tzinfo=tz).astimezone(UTC)


def turn_member(rota: Rota, at: datetime) -> int | None:
    """Whose turn it is at ``at`` by rotation alone (covered or not); None before the first turn."""
    if not rota.members:
        return None
    local = _local(at, rota.tz)
    day = local.date() if local.time() >= rota.handover else local.date() - timedelta(days=1)
    days = (day - rota.first_day).days
    if days < 0:
        return None
    return rota.members[(days // WEEK) % len(rota.members)]


def _in_night(local: datetime, start: time, end: time) -> bool:
    t = local.time()
    return t >= start or t < end if start > end else start <= t < end


def covered(rota: Rota, at: datetime, is_holiday: Callable[[date], bool] = lambda d: False) -> bool:
    """Whether the rota applies at ``at``."""
    local = _local(at, rota.tz)
    if Cover.ALWAYS in rota.covers:
        return True
    if Cover.NIGHTS in rota.covers and _in_night(local, rota.night_start, rota.night_end):
        return True
    evening = local.time() >= rota.night_start
    morning = local.time() < rota.night_end
    weekday = local.weekday()
    if Cover.WEEKENDS in rota.covers and (
        weekday in (5, 6) or (weekday == 4 and evening) or (weekday == 0 and morning)
    ):
        return True
    if Cover.HOLIDAYS in rota.covers:
        today = local.date()
        if is_holiday(today):
            return True
        if evening and is_holiday(today + timedelta(days=1)):
            return True
        if morning and is_holiday(today - timedelta(days=1)):
            return True
    return False


def on_call(rota: Rota, at: datetime, is_holiday: Callable[[date], bool] = lambda d: False) -> int | None:
    """Who is on call at ``at``: the latest override covering it, else the turn's member; None when the
    rota does not apply then (or has nobody)."""
    if not covered(rota, at, is_holiday):
        return None
    current = [o for o in rota.overrides if o.starts <= at < o.ends]
    if current:
        return max(current, key=lambda o: o.starts).member
    return turn_member(rota, at)


def _boundaries(rota: Rota, start: datetime, end: datetime) -> Iterator[datetime]:
    """Every instant in [start, end) where the answer may change: handovers, cover edges, overrides."""
    yield start
    local = _local(start, rota.tz)
    day = local.date() - timedelta(days=1)
    last = _local(end, rota.tz).date() + timedelta(days=1)
    moments = {rota.handover, time(0, 0), rota.night_start, rota.night_end}
    while day <= last:
        for moment in moments:
            instant = _instant(day, moment, rota.tz)
            if start < instant < end:
                yield instant
        day += timedelta(days=1)
    for o in rota.overrides:
        for instant in (o.starts, o.ends):
            if start < instant < end:
                yield instant


def turns(rota: Rota, start: datetime, end: datetime,
          is_holiday: Callable[[date], bool] = lambda d: False) -> list[Turn]:
    """Who is on call from ``start`` to ``end``, as consecutive stretches (gaps: nobody); for the
    calendar view. At most ``MAX_SPAN`` long."""
    if end <= start:
        return []
    if end - start > MAX_SPAN:
        raise RotaError("too_long", "Show a rota over a year at most.")
    cuts = sorted(set(_boundaries(rota, start, end)))
    out: list[Turn] = []
    for i, cut in enumerate(cuts):
        until = cuts[i + 1] if i + 1 < len(cuts) else end
        member = on_call(rota, cut, is_holiday)
        if member is None:
            continue
        override = any(o.starts <= cut < o.ends for o in rota.overrides)
        if out and out[-1].member == member and out[-1].ends == cut and out[-1].override == override:
            out[-1] = Turn(out[-1].starts, until, member, override)
        else:
            out.append(Turn(cut, until, member, override))
    return out
