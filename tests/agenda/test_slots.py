"""Slot search, worked out by hand in Europe/Paris (UTC+1 in winter, UTC+2 in summer).

2026-12-07 is a Monday; 2026-12-25 (Friday) is Christmas; 2026-03-29 and
2026-10-25 are the Sundays of the DST changes.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from permanence.accounts.hours import HoursException, Schedule, TimeRange, public_holidays
from permanence.agenda.slots import AppointmentType, Person, Preference, Slot, SlotError, find_slots

PARIS = ZoneInfo("Europe/Paris")
OFFICE = {d: (TimeRange(time(9), time(12)), TimeRange(time(14), time(18))) for d in range(5)}
HALF_HOUR = AppointmentType(duration=timedelta(minutes=30))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


def person(key="durand", busy=(), weekly=None, exceptions=(), holidays=False):
    schedule = Schedule(
        tz=PARIS,
        weekly=OFFICE if weekly is None else weekly,
        exceptions=tuple(exceptions),
        **({"holidays": public_holidays("FR")} if holidays else {}),
    )
    return Person(key, schedule, busy)


def starts(slots):
    return [s.start.astimezone(PARIS).strftime("%a %d %H:%M") for s in slots]


MONDAY_8AM = paris(2026, 12, 7, 8)


def test_first_slots_on_the_grid_of_the_duration():
    slots = find_slots(HALF_HOUR, [person()], now=MONDAY_8AM, count=3)
    assert slots == [
        Slot(paris(2026, 12, 7, 9), paris(2026, 12, 7, 9, 30), "durand"),
        Slot(paris(2026, 12, 7, 9, 30), paris(2026, 12, 7, 10), "durand"),
        Slot(paris(2026, 12, 7, 10), paris(2026, 12, 7, 10, 30), "durand"),
    ]


def test_busy_times_and_the_end_of_a_range():
    busy = [(paris(2026, 12, 7, 9), paris(2026, 12, 7, 11, 15))]
    # 11:15 is off the 30-minute grid; 11:30 fits before noon; then the afternoon
    assert starts(find_slots(HALF_HOUR, [person(busy=busy)], now=MONDAY_8AM, count=3)) == [
        "Mon 07 11:30",
        "Mon 07 14:00",
        "Mon 07 14:30",
    ]


def test_buffers_must_be_free_but_may_leave_working_hours():
    visit = AppointmentType(
        duration=timedelta(minutes=30),
        buffer_before=timedelta(minutes=30),
        buffer_after=timedelta(minutes=15),
    )
    busy = [(paris(2026, 12, 7, 10, 30), paris(2026, 12, 7, 11))]
    # 09:00 (buffer from 08:30: outside hours, allowed); 09:30 ends 10:00 +15 = 10:15 < 10:30: fine;
    # 10:00 would end 10:30 + 15 over the busy time; 11:00 needs 10:30-11:00 free before: no; 11:30 yes
    assert starts(find_slots(visit, [person(busy=busy)], now=MONDAY_8AM, count=4)) == [
        "Mon 07 09:00",
        "Mon 07 09:30",
        "Mon 07 11:30",
        "Mon 07 14:00",
    ]


def test_minimum_notice_and_horizon():
    notice = AppointmentType(duration=timedelta(minutes=30), min_notice=timedelta(hours=2))
    # now 08:50, notice 2 h: nothing before 10:50; the grid gives 11:00
    assert starts(find_slots(notice, [person()], now=paris(2026, 12, 7, 8, 50), count=1)) == ["Mon 07 11:00"]
    short = AppointmentType(duration=timedelta(hours=3), horizon=timedelta(days=2))
    # 3-hour slots on a 3-hour grid: 09:00 and 14:00 each day (12:00 and 17:00 would overrun),
    # Monday and Tuesday; Wednesday 09:00 is past the horizon (Wednesday 08:00)
    assert starts(find_slots(short, [person()], now=MONDAY_8AM, count=10)) == [
        "Mon 07 09:00",
        "Mon 07 14:00",
        "Tue 08 09:00",
        "Tue 08 14:00",
    ]


def test_the_search_can_start_later_and_a_full_agenda_gives_fewer():
    busy = [(paris(2026, 12, 7, 0), paris(2026, 12, 12, 0))]  # the whole week taken
    week = AppointmentType(duration=timedelta(minutes=30), horizon=timedelta(days=7))
    assert starts(find_slots(week, [person(busy=busy)], now=MONDAY_8AM, count=3)) == []
    later = find_slots(HALF_HOUR, [person()], now=MONDAY_8AM, after=paris(2026, 12, 9, 16, 10), count=2)
    assert starts(later) == ["Wed 09 16:30", "Wed 09 17:00"]


def test_public_holidays_and_exceptions():
    # Thursday 24 at 17:45: too late that day; Christmas Friday is closed, the weekend too: Monday 28
    assert starts(
        find_slots(HALF_HOUR, [person(holidays=True)], now=paris(2026, 12, 24, 17, 45), count=1)
    ) == ["Mon 28 09:00"]
    leave = HoursException(date(2026, 12, 7), date(2026, 12, 8), (), "congés")
    saturday = HoursException(
        date(2026, 12, 12), date(2026, 12, 12), (TimeRange(time(10), time(11)),), "extra"
    )
    slots = find_slots(HALF_HOUR, [person(exceptions=[leave, saturday])], now=MONDAY_8AM, count=1)
    assert starts(slots) == ["Wed 09 09:00"]
    after_friday = find_slots(
        HALF_HOUR, [person(exceptions=[leave, saturday])], now=paris(2026, 12, 11, 19), count=3
    )
    assert starts(after_friday) == ["Sat 12 10:00", "Sat 12 10:30", "Mon 14 09:00"]


def test_dst_days():
    night = {6: (TimeRange(time(1), time(5)),)}  # Sundays 01:00-05:00 local
    hour = AppointmentType(duration=timedelta(hours=1))
    # spring: 01:00 CET = 00:00 UTC to 05:00 CEST = 03:00 UTC: three real hours, three slots
    spring = find_slots(
        hour,
        [person(weekly=night)],
        now=paris(2026, 3, 28, 12),
        count=5,
        preference=Preference(day=date(2026, 3, 29)),
    )
    assert [s.start for s in spring] == [utc(2026, 3, 29, 0), utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)]
    assert starts(spring) == ["Sun 29 01:00", "Sun 29 03:00", "Sun 29 04:00"]
    # autumn: 01:00 CEST = 23:00 UTC to 05:00 CET = 04:00 UTC: five real hours, five slots
    autumn = find_slots(
        hour,
        [person(weekly=night)],
        now=paris(2026, 10, 24, 12),
        count=10,
        preference=Preference(day=date(2026, 10, 25)),
    )
    assert [s.start for s in autumn] == [utc(2026, 10, 24, 23) + timedelta(hours=h) for h in range(5)]
    # office hours keep their local time across the change: 09:00 is 07:00 UTC in summer, 08:00 in winter
    summer = find_slots(HALF_HOUR, [person()], now=paris(2026, 10, 23, 19), count=1)
    winter = find_slots(HALF_HOUR, [person()], now=paris(2026, 10, 25, 19), count=1)
    assert summer[0].start == utc(2026, 10, 26, 8) and winter[0].start == utc(2026, 10, 26, 8)
    assert find_slots(HALF_HOUR, [person()], now=paris(2026, 3, 27, 19), count=1)[0].start == utc(
        2026, 3, 30, 7
    )


def test_part_of_day_and_a_given_day():
    afternoon = find_slots(HALF_HOUR, [person()], now=MONDAY_8AM, count=2, preference=Preference("afternoon"))
    assert starts(afternoon) == ["Mon 07 14:00", "Mon 07 14:30"]
    morning = find_slots(
        HALF_HOUR, [person()], now=paris(2026, 12, 7, 13), count=2, preference=Preference("morning")
    )
    assert starts(morning) == ["Tue 08 09:00", "Tue 08 09:30"]
    thursday = find_slots(
        HALF_HOUR,
        [person()],
        now=MONDAY_8AM,
        count=50,
        preference=Preference("afternoon", day=date(2026, 12, 10)),
    )
    assert starts(thursday)[0] == "Thu 10 14:00" and len(thursday) == 8


def test_no_gaps_prefers_slots_next_to_appointments():
    busy = [(paris(2026, 12, 7, 10, 10), paris(2026, 12, 7, 10, 40))]
    slots = find_slots(
        HALF_HOUR, [person(busy=busy)], now=MONDAY_8AM, count=3, preference=Preference(no_gaps=True)
    )
    # snug against the appointment: 09:40 (ends at 10:10) and 10:40 (starts at its end), then the grid
    assert starts(slots) == ["Mon 07 09:40", "Mon 07 10:40", "Mon 07 09:00"]
    assert [s.adjacent for s in slots] == [True, True, False]
    # without the preference, only the grid, earliest first
    assert starts(find_slots(HALF_HOUR, [person(busy=busy)], now=MONDAY_8AM, count=3)) == [
        "Mon 07 09:00",
        "Mon 07 09:30",
        "Mon 07 11:00",
    ]
    # an earlier day still comes first: Monday has no appointment, Tuesday has one
    tuesday = [(paris(2026, 12, 8, 9), paris(2026, 12, 8, 9, 30))]
    assert starts(
        find_slots(
            HALF_HOUR, [person(busy=tuesday)], now=MONDAY_8AM, count=1, preference=Preference(no_gaps=True)
        )
    ) == ["Mon 07 09:00"]


def test_any_of_several_collaborators():
    morning_taken = [(paris(2026, 12, 7, 9), paris(2026, 12, 7, 12))]
    people = [
        person("durand", busy=morning_taken),
        person("lefort", busy=[(paris(2026, 12, 7, 9), paris(2026, 12, 7, 9, 30))]),
        person("moreau"),
    ]
    slots = find_slots(HALF_HOUR, people, now=MONDAY_8AM, count=4)
    assert [(s.person, s.start) for s in slots] == [
        ("moreau", paris(2026, 12, 7, 9)),
        ("lefort", paris(2026, 12, 7, 9, 30)),
        ("moreau", paris(2026, 12, 7, 9, 30)),
        ("lefort", paris(2026, 12, 7, 10)),
    ]


def test_overlapping_and_unsorted_busy_times_are_merged():
    busy = [
        (paris(2026, 12, 7, 10), paris(2026, 12, 7, 11)),
        (paris(2026, 12, 7, 9), paris(2026, 12, 7, 10, 15)),
    ]
    assert starts(find_slots(HALF_HOUR, [person(busy=busy)], now=MONDAY_8AM, count=1)) == ["Mon 07 11:00"]


def test_bad_searches_are_refused_clearly():
    with pytest.raises(SlotError, match="more than zero"):
        AppointmentType(duration=timedelta(0))
    with pytest.raises(SlotError, match="negative"):
        AppointmentType(duration=timedelta(minutes=30), buffer_before=timedelta(minutes=-5))
    with pytest.raises(SlotError, match="time zone"):
        find_slots(HALF_HOUR, [person()], now=datetime(2026, 12, 7, 8))
    with pytest.raises(SlotError, match="time zone"):
        person(busy=[(datetime(2026, 12, 7, 9), datetime(2026, 12, 7, 10))])
    with pytest.raises(SlotError, match="at least one"):
        find_slots(HALF_HOUR, [person()], now=MONDAY_8AM, count=0)
    assert find_slots(HALF_HOUR, [], now=MONDAY_8AM) == []
