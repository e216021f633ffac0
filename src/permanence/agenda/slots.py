"""Slot search: the first free slots of an appointment type, for one collaborator or any allowed one.
Pure core: no Django import.

Availability is a collaborator's ``accounts.hours.Schedule`` (weekly ranges,
per-date exceptions for leave or extra hours, public holidays, in the
account's zone: DST handled there) minus their busy times (appointments,
stored with their own buffers, and events of their own calendar).

A slot of ``duration`` must lie inside working hours; its buffers (before and
after: preparation, travel) may run outside them but must not overlap a busy
time. Slots start on a grid of ``step`` from the start of each working range
(09:00, 09:30, 10:00...), at or after ``now + min_notice``, and no later than
``now + horizon``.

Preferences: a part of the day (morning: starts before 12:00 local;
afternoon: from 12:00), a given local date, and "no gaps" (seed 002): within a
day, slots adjacent to an existing appointment (touching it, buffers
included) come first, and snug starts off the grid (right after an
appointment, or ending right before one) are offered too. An earlier day
always comes before a later one.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from permanence.accounts.hours import Schedule

Interval = tuple[datetime, datetime]
NOON = time(12)
PartOfDay = Literal["any", "morning", "afternoon"]


class SlotError(ValueError):
    """A search that cannot be made; the message says why."""


@dataclass(frozen=True)
class AppointmentType:
    duration: timedelta
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    min_notice: timedelta = timedelta(0)
    horizon: timedelta = timedelta(days=60)
    step: timedelta | None = None  # None: the duration

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0):
            raise SlotError("An appointment lasts more than zero minutes.")
        if self.step is not None and self.step <= timedelta(0):
            raise SlotError("The step between slots must be positive.")
        if min(self.buffer_before, self.buffer_after, self.min_notice) < timedelta(0):
            raise SlotError("Buffers and notice cannot be negative.")
        if self.horizon <= timedelta(0):
            raise SlotError("The horizon must be positive.")

    @property
    def grid(self) -> timedelta:
        return self.step or self.duration


@dataclass(frozen=True)
class Person:
    """A collaborator: ``busy`` holds UTC intervals, any order, overlapping allowed."""

    key: str
    schedule: Schedule
    busy: Sequence[Interval] = ()
    _starts: list[datetime] = field(init=False, repr=False, compare=False)
    _ends: list[datetime] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        merged: list[Interval] = []
        for start, end in sorted(self.busy):
            _aware(start, "A busy time")
            _aware(end, "A busy time")
            if end <= start:
                continue
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        object.__setattr__(self, "_starts", [s for s, _ in merged])
        object.__setattr__(self, "_ends", [e for _, e in merged])

    def free(self, start: datetime, end: datetime) -> bool:
        """Is [start, end) clear of every busy time?"""
        index = bisect.bisect_right(self._ends, start)  # the first block ending after ``start``
        return index == len(self._starts) or self._starts[index] >= end

    def touches(self, start: datetime, end: datetime) -> bool:
        """Does [start, end) begin where a busy block ends, or end where one begins?"""
        at_end = bisect.bisect_left(self._ends, start)
        at_start = bisect.bisect_left(self._starts, end)
        return (at_end < len(self._ends) and self._ends[at_end] == start) or (
            at_start < len(self._starts) and self._starts[at_start] == end
        )

    def busy_within(self, start: datetime, end: datetime) -> Iterator[Interval]:
        index = bisect.bisect_right(self._ends, start)
        while index < len(self._starts) and self._starts[index] < end:
            yield self._starts[index], self._ends[index]
            index += 1


@dataclass(frozen=True)
class Preference:
    part_of_day: PartOfDay = "any"
    day: date | None = None  # a local date
    no_gaps: bool = False


@dataclass(frozen=True, order=True)
class Slot:
    start: datetime
    end: datetime
    person: str
    adjacent: bool = False


def _aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise SlotError(f"{what} must carry a time zone.")


def _day_candidates(
    kind: AppointmentType,
    person: Person,
    working: list[Interval],
    earliest: datetime,
    latest: datetime,
    pref: Preference,
) -> list[Slot]:
    """The free slots of one person within the working intervals of one local date, in start order."""
    found: dict[datetime, Slot] = {}
    before, after, length = kind.buffer_before, kind.buffer_after, kind.duration
    for work_start, work_end in working:
        starts: list[datetime] = []
        first = work_start
        if first < earliest:  # jump to the first grid point at or after ``earliest``
            steps = -(-(earliest - first) // kind.grid)
            first = work_start + steps * kind.grid
        moment = first
        while moment + length <= work_end and moment <= latest:
            starts.append(moment)
            moment += kind.grid
        if pref.no_gaps:  # snug starts around appointments within this working range
            for busy_start, busy_end in person.busy_within(work_start - after, work_end + before):
                starts.append(busy_end + before)  # right after it
                starts.append(busy_start - after - length)  # ending right before it
        for start in starts:
            end = start + length
            if start < work_start or end > work_end or start < earliest or start > latest:
                continue
            if not person.free(start - before, end + after):
                continue
            local = start.astimezone(person.schedule.tz)
            if pref.part_of_day == "morning" and local.time() >= NOON:
                continue
            if pref.part_of_day == "afternoon" and local.time() < NOON:
                continue
            adjacent = person.touches(start - before, end + after)
            found[start] = Slot(start, end, person.key, adjacent)
    return sorted(found.values())


def find_slots(
    kind: AppointmentType,
    people: Sequence[Person],
    *,
    now: datetime,
    after: datetime | None = None,
    count: int = 5,
    preference: Preference = Preference(),
) -> list[Slot]:
    """The first ``count`` free slots from ``after`` (default: now), across ``people`` (in the given
    order on equal starts), honouring minimum notice, horizon and preferences."""
    _aware(now, "The current instant")
    if after is not None:
        _aware(after, "The search start")
    if count < 1:
        raise SlotError("Ask for at least one slot.")
    if not people:
        return []
    now = now.astimezone(UTC)
    earliest = max(now + kind.min_notice, (after or now).astimezone(UTC))
    latest = now + kind.horizon
    if earliest > latest:
        return []
    order = {person.key: index for index, person in enumerate(people)}
    zone = people[0].schedule.tz
    first_day = earliest.astimezone(zone).date() - timedelta(days=1)  # zones may differ by a day
    last_day = latest.astimezone(zone).date() + timedelta(days=1)
    if preference.day is not None:
        first_day = max(first_day, preference.day - timedelta(days=1))
        last_day = min(last_day, preference.day + timedelta(days=1))
    result: list[Slot] = []
    day = first_day
    while day <= last_day and len(result) < count:
        working: dict[int, list[Interval]] = {}  # colleagues often share one schedule
        for person in people:
            if id(person.schedule) not in working:
                working[id(person.schedule)] = person.schedule.day_intervals(day)
        per_person = [
            [
                slot
                for slot in _day_candidates(
                    kind, person, working[id(person.schedule)], earliest, latest, preference
                )
                if preference.day is None
                or slot.start.astimezone(person.schedule.tz).date() == preference.day
            ]
            for person in people
        ]
        merged = list(heapq.merge(*per_person, key=lambda s: (s.start, order[s.person])))
        if preference.no_gaps:
            merged.sort(key=lambda s: (not s.adjacent, s.start, order[s.person]))
        result.extend(merged[: count - len(result)])
        day += timedelta(days=1)
    return result
