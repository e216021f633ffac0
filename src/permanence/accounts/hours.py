"""Opening hours: is an account open at a given instant, since when, until when.

Pure core (no Django). An account's hours are a weekly pattern of local time
ranges, date-range exceptions that replace the pattern (closures, special
openings) and public holidays. Instants are timezone-aware; local times are
read in the account's zone.

Local times that do not exist or exist twice (daylight-saving changes) follow
RFC 5545, as calendars do: a time skipped by the spring change is read with the
offset before the change (02:30 on the last Sunday of March becomes 03:30), a
repeated time in autumn is its first occurrence. A range ending at 00:00 ends at
midnight at the end of its day (24:00). Ranges stay within one day; an
overnight service is two ranges (20:00-24:00, then 00:00-02:00 the next day),
and the two are merged into one opening when they touch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Literal

import holidays as holidays_lib

HORIZON_DAYS = 400
"""How far ``status_at`` looks for the next or previous change of state."""

Reason = Literal["weekly", "exception", "holiday"]
Interval = tuple[datetime, datetime]
HolidayLookup = Callable[[date], "str | None"]

MIDNIGHT = time(0)
MINUTES_PER_DAY = 24 * 60


class HoursError(ValueError):
    """Opening hours that cannot be understood; the message says why.

    ``code`` and ``params`` let a user interface say it in its own language.
    """

    def __init__(self, message: str, code: str = "invalid", **params: str) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


_TIME_RE = re.compile(r"^\s*(\d{1,2})\s*(?:[h:H]\s*(\d{2})?)?\s*$")
_RANGE_SPLIT_RE = re.compile(r"\s*(?:-|–|—|à)\s*")


def parse_time(text: str) -> time:
    """Read a local time: ``9h``, ``9h30``, ``09:30``; ``24:00`` is midnight at day's end."""
    match = _TIME_RE.match(text)
    if not match:
        raise HoursError(
            f"“{text.strip()}” is not a time (write 9h30 or 09:30).", "not_a_time", text=text.strip()
        )
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour == 24 and minute == 0:
        return MIDNIGHT
    if hour > 23 or minute > 59:
        raise HoursError(f"“{text.strip()}” is not a time of day.", "not_a_time", text=text.strip())
    return time(hour, minute)


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


@dataclass(frozen=True, order=True)
class TimeRange:
    """From ``start`` to ``end`` in local time, same day; ``end`` 00:00 means 24:00."""

    start: time
    end: time

    def __post_init__(self) -> None:
        for value in (self.start, self.end):
            if value.tzinfo is not None:
                raise HoursError("Opening times are local times, without a time zone.")
            if value.second or value.microsecond:
                raise HoursError("Opening times are given to the minute.", "seconds")
        if self.end_minutes <= self.start_minutes:
            raise HoursError(
                f"The range {self} closes before it opens; "
                "split a range that crosses midnight into two days.",
                "closes_before_opens",
                range=str(self),
            )

    @property
    def start_minutes(self) -> int:
        return _minutes(self.start)

    @property
    def end_minutes(self) -> int:
        return MINUTES_PER_DAY if self.end == MIDNIGHT else _minutes(self.end)

    @classmethod
    def parse(cls, text: str) -> TimeRange:
        """Read ``9h-12h30``, ``09:00-12:30``, ``14h à 18h``."""
        parts = _RANGE_SPLIT_RE.split(text.strip())
        if len(parts) != 2 or not all(parts):
            raise HoursError(
                f"“{text.strip()}” is not a range (write 09:00-12:30).", "not_a_range", text=text.strip()
            )
        return cls(parse_time(parts[0]), parse_time(parts[1]))

    def format(self, separator: str = "-") -> str:
        end = "24:00" if self.end == MIDNIGHT else f"{self.end:%H:%M}"
        return f"{self.start:%H:%M}{separator}{end}"

    def __str__(self) -> str:
        return self.format()


def parse_ranges(text: str) -> tuple[TimeRange, ...]:
    """Read comma- or semicolon-separated ranges; empty text means no range (closed)."""
    ranges = tuple(
        TimeRange.parse(part) for part in re.split(r"[,;]", text) if part.strip()
    )
    check_no_overlap(ranges)
    return ranges


def check_no_overlap(ranges: Sequence[TimeRange]) -> None:
    """Refuse ranges of one day that overlap: a typing mistake, not an intent."""
    ordered = sorted(ranges)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.start_minutes < before.end_minutes:
            raise HoursError(
                f"The ranges {before} and {after} overlap.", "overlap", first=str(before), second=str(after)
            )


@dataclass(frozen=True)
class HoursException:
    """From ``start`` to ``end`` (dates, inclusive) the day's ranges are ``ranges``.

    No range means closed those days. A later exception in a schedule's list
    wins over an earlier one on the days they share. Overlapping ranges are
    merged (input forms refuse them, see ``parse_ranges``).
    """

    start: date
    end: date
    ranges: tuple[TimeRange, ...] = ()
    label: str = ""

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise HoursError(f"The exception “{self.label}” ends before it starts.")

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


def _no_holidays(day: date) -> str | None:
    return None


@dataclass(frozen=True)
class Schedule:
    """An account's hours: ``weekly`` maps Monday=0 .. Sunday=6 to that day's ranges."""

    tz: tzinfo
    weekly: Mapping[int, tuple[TimeRange, ...]]
    exceptions: tuple[HoursException, ...] = ()
    holidays: HolidayLookup = field(default=_no_holidays)
    closed_on_holidays: bool = True

    def __post_init__(self) -> None:
        for weekday in self.weekly:
            if weekday not in range(7):
                raise HoursError(f"Weekday {weekday} is not between 0 (Monday) and 6 (Sunday).")

    def day_rule(self, day: date) -> tuple[tuple[TimeRange, ...], Reason, str]:
        """The ranges that apply on a local date, why, and the label to show."""
        for exception in reversed(self.exceptions):
            if exception.covers(day):
                return tuple(sorted(exception.ranges)), "exception", exception.label
        if self.closed_on_holidays:
            name = self.holidays(day)
            if name:
                return (), "holiday", name
        return tuple(sorted(self.weekly.get(day.weekday(), ()))), "weekly", ""

    def day_intervals(self, day: date) -> list[Interval]:
        """The open intervals of one local date as aware instants, in order."""
        intervals: list[Interval] = []
        for time_range in self.day_rule(day)[0]:
            start = _local(day, time_range.start_minutes, self.tz)
            end = _local(day, time_range.end_minutes, self.tz)
            if end > start:  # a range lying wholly in a spring-forward gap is empty
                intervals.append((start, end))
        return intervals


def _local(day: date, minutes: int, tz: tzinfo) -> datetime:
    """The instant (in UTC) of local time ``minutes`` after midnight on ``day``.

    Gaps and folds follow RFC 5545, which is what ``fold=0`` gives. The result
    is in UTC because Python compares and subtracts two datetimes that share a
    tzinfo by their wall clocks, which is wrong across a daylight-saving change.
    """
    if minutes == MINUTES_PER_DAY:
        local = datetime.combine(day + timedelta(days=1), MIDNIGHT, tzinfo=tz)
    else:
        local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz)
    return local.astimezone(UTC)


def _forward(schedule: Schedule, first_day: date, days: int) -> Iterator[Interval]:
    """Merged open intervals from local date ``first_day`` onwards."""
    pending: Interval | None = None
    for offset in range(days):
        for start, end in schedule.day_intervals(first_day + timedelta(days=offset)):
            if pending is None:
                pending = (start, end)
            elif start <= pending[1]:
                pending = (pending[0], max(pending[1], end))
            else:
                yield pending
                pending = (start, end)
    if pending is not None:
        yield pending


def _backward(schedule: Schedule, last_day: date, days: int) -> Iterator[Interval]:
    """Merged open intervals from local date ``last_day`` backwards, latest first."""
    pending: Interval | None = None
    for offset in range(days):
        for start, end in reversed(schedule.day_intervals(last_day - timedelta(days=offset))):
            if pending is None:
                pending = (start, end)
            elif end >= pending[0]:
                pending = (min(start, pending[0]), pending[1])
            else:
                yield pending
                pending = (start, end)
    if pending is not None:
        yield pending


@dataclass(frozen=True)
class OpeningStatus:
    """Whether an account is open at an instant, and when that started and ends.

    ``since`` and ``next_change`` are None when no change was found within
    ``HORIZON_DAYS`` (an account always closed, or open round the clock).
    ``reason`` says which rule governs the local day: the weekly hours, an
    exception, or a public holiday; ``label`` is the exception's or holiday's name.
    Instants are in UTC (convert with the account's zone to display them).
    """

    is_open: bool
    reason: Reason
    label: str
    since: datetime | None
    next_change: datetime | None

    @property
    def next_open(self) -> datetime | None:
        return None if self.is_open else self.next_change

    @property
    def next_close(self) -> datetime | None:
        return self.next_change if self.is_open else None


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise HoursError(f"{name} must carry a time zone.")


def status_at(schedule: Schedule, at: datetime) -> OpeningStatus:
    """Open or closed at instant ``at``, with when that state began and when it ends."""
    _require_aware(at, "The instant")
    at = at.astimezone(UTC)
    local = at.astimezone(schedule.tz)
    today = local.date()
    _, reason, label = schedule.day_rule(today)
    horizon_end = _local(today + timedelta(days=HORIZON_DAYS), 0, schedule.tz)
    horizon_start = _local(today - timedelta(days=HORIZON_DAYS - 1), 0, schedule.tz)

    following = next((iv for iv in _forward(schedule, today, HORIZON_DAYS) if iv[1] > at), None)
    preceding = next(
        (iv for iv in _backward(schedule, today, HORIZON_DAYS) if iv[0] <= at), None
    )
    is_open = following is not None and following[0] <= at
    if is_open:
        assert following is not None and preceding is not None
        next_change = None if following[1] >= horizon_end else following[1]
        since = None if preceding[0] <= horizon_start else preceding[0]
    else:
        next_change = following[0] if following is not None else None
        since = preceding[1] if preceding is not None else None
    return OpeningStatus(
        is_open=is_open,
        reason=reason,
        label=label,
        since=since,
        next_change=next_change,
    )


def open_intervals(schedule: Schedule, start: datetime, end: datetime) -> list[Interval]:
    """The merged open intervals overlapping [start, end), clipped to it, in UTC."""
    _require_aware(start, "The start")
    _require_aware(end, "The end")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return []
    first = start.astimezone(schedule.tz).date() - timedelta(days=1)
    last = end.astimezone(schedule.tz).date()
    days = (last - first).days + 1
    result: list[Interval] = []
    for iv_start, iv_end in _forward(schedule, first, days):
        if iv_end <= start or iv_start >= end:
            continue
        result.append((max(iv_start, start), min(iv_end, end)))
    return result


def check_holiday_calendar(country: str, subdivision: str | None) -> None:
    """Raise HoursError unless a public-holiday calendar exists for country and region."""
    try:
        entity = holidays_lib.country_holidays(country)
    except NotImplementedError:
        raise HoursError(f"No public holiday calendar for country “{country}”.") from None
    if subdivision and subdivision not in entity.subdivisions:
        raise HoursError(
            f"“{subdivision}” is not a region of {country} for public holidays "
            f"(known: {', '.join(entity.subdivisions)})."
        )


@lru_cache(maxsize=64)
def public_holidays(
    country: str = "FR", subdivision: str | None = None, language: str = "fr"
) -> HolidayLookup:
    """A lookup date -> holiday name (or None), e.g. ``public_holidays("FR", "57")``
    for Alsace-Moselle's Good Friday and Saint-Étienne."""
    check_holiday_calendar(country, subdivision)
    calendar = holidays_lib.country_holidays(country, subdiv=subdivision, language=language)

    def lookup(day: date) -> str | None:
        name = calendar.get(day)
        return str(name) if name else None

    return lookup
