"""The opening-hours core: weekly ranges, exceptions, holidays, daylight saving."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from permanence.accounts.hours import (
    HORIZON_DAYS,
    HoursError,
    HoursException,
    Schedule,
    TimeRange,
    check_holiday_calendar,
    open_intervals,
    parse_ranges,
    parse_time,
    public_holidays,
    status_at,
)

PARIS = ZoneInfo("Europe/Paris")
REUNION = ZoneInfo("Indian/Reunion")
R = TimeRange.parse
OFFICE = {day: (R("09:00-12:30"), R("14:00-18:00")) for day in range(5)}


def at(y, m, d, hh=0, mm=0, tz=PARIS):
    return datetime(y, m, d, hh, mm, tzinfo=tz)


def office(**kwargs):
    kwargs.setdefault("holidays", public_holidays("FR"))
    return Schedule(tz=PARIS, weekly=OFFICE, **kwargs)


# --- reading ranges -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9h-12h30", (time(9), time(12, 30))),
        ("09:00-12:30", (time(9), time(12, 30))),
        ("14h à 18h", (time(14), time(18))),
        ("8h30 – 24h", (time(8, 30), time(0))),
        ("00:00-24:00", (time(0), time(0))),
    ],
)
def test_ranges_are_read_in_french_and_iso_spellings(text, expected):
    parsed = R(text)
    assert (parsed.start, parsed.end) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("18h-9h", "closes before it opens"),
        ("9h", "is not a range"),
        ("25h-26h", "not a time"),
        ("9h61-10h", "not a time"),
        ("midi-14h", "not a time"),
        ("12:00-12:00", "closes before it opens"),
    ],
)
def test_bad_ranges_get_clear_errors(text, message):
    with pytest.raises(HoursError, match=message):
        R(text)


def test_overlapping_ranges_are_refused_when_typed():
    with pytest.raises(HoursError, match="overlap"):
        parse_ranges("9h-12h, 11h-14h")
    assert parse_ranges("") == ()
    assert [str(r) for r in parse_ranges("14h-18h; 9h-12h")] == ["14:00-18:00", "09:00-12:00"]


def test_time_parser_accepts_24h_as_midnight_only():
    assert parse_time("24:00") == time(0)
    with pytest.raises(HoursError):
        parse_time("24:30")


def test_midnight_end_prints_as_24():
    assert str(R("20h-24h")) == "20:00-24:00"


# --- weekly hours ---------------------------------------------------------------------------


def test_open_in_the_morning_closed_at_lunch():
    monday = at(2026, 11, 23, 10)
    status = status_at(office(), monday)
    assert status.is_open and status.reason == "weekly"
    assert status.since == at(2026, 11, 23, 9)
    assert status.next_close == at(2026, 11, 23, 12, 30)
    lunch = status_at(office(), at(2026, 11, 23, 13))
    assert not lunch.is_open
    assert lunch.since == at(2026, 11, 23, 12, 30)
    assert lunch.next_open == at(2026, 11, 23, 14)


def test_boundaries_are_half_open():
    assert status_at(office(), at(2026, 11, 23, 9)).is_open
    assert not status_at(office(), at(2026, 11, 23, 12, 30)).is_open


def test_friday_evening_reopens_on_monday():
    status = status_at(office(), at(2026, 11, 27, 19))
    assert not status.is_open
    assert status.next_open == at(2026, 11, 30, 9)
    assert status.since == at(2026, 11, 27, 18)


def test_instant_in_another_zone_is_read_in_the_accounts_zone():
    # 08:30 UTC on a Monday in November is 09:30 in Paris.
    assert status_at(office(), datetime(2026, 11, 23, 8, 30, tzinfo=UTC)).is_open
    assert status_at(office(), datetime(2026, 11, 23, 7, 30, tzinfo=UTC)).is_open is False


def test_naive_instants_are_refused():
    with pytest.raises(HoursError, match="time zone"):
        status_at(office(), datetime(2026, 11, 23, 10))


def test_overnight_ranges_merge_into_one_opening():
    night = {d: (R("00:00-08:00"), R("20:00-24:00")) for d in range(7)}
    schedule = Schedule(tz=PARIS, weekly=night)
    status = status_at(schedule, at(2026, 11, 23, 23))
    assert status.is_open
    assert status.since == at(2026, 11, 23, 20)
    assert status.next_close == at(2026, 11, 24, 8)
    early = status_at(schedule, at(2026, 11, 24, 3))
    assert early.since == at(2026, 11, 23, 20)


def test_always_open_and_never_open_have_no_next_change():
    always = Schedule(tz=PARIS, weekly={d: (R("0h-24h"),) for d in range(7)})
    status = status_at(always, at(2026, 11, 23, 10))
    assert status.is_open and status.next_change is None and status.since is None
    never = Schedule(tz=PARIS, weekly={})
    status = status_at(never, at(2026, 11, 23, 10))
    assert not status.is_open and status.next_change is None and status.since is None


# --- exceptions and holidays ----------------------------------------------------------------


def test_exception_closes_and_later_exception_wins():
    seminar = HoursException(date(2026, 11, 23), date(2026, 11, 25), (), "Séminaire")
    morning = HoursException(date(2026, 11, 24), date(2026, 11, 24), (R("9h-12h"),), "Matin")
    schedule = office(exceptions=(seminar, morning))
    monday = status_at(schedule, at(2026, 11, 23, 10))
    assert not monday.is_open and monday.reason == "exception" and monday.label == "Séminaire"
    assert monday.next_open == at(2026, 11, 24, 9)
    tuesday = status_at(schedule, at(2026, 11, 24, 10))
    assert tuesday.is_open and tuesday.label == "Matin"
    assert tuesday.next_close == at(2026, 11, 24, 12)
    assert status_at(schedule, at(2026, 11, 25, 10)).label == "Séminaire"


def test_exception_can_open_a_sunday_and_beats_a_holiday():
    sunday = HoursException(date(2026, 11, 29), date(2026, 11, 29), (R("10h-12h"),), "Salon")
    assert status_at(office(exceptions=(sunday,)), at(2026, 11, 29, 11)).is_open
    xmas = HoursException(date(2026, 12, 25), date(2026, 12, 25), (R("9h-12h"),), "Astreinte")
    status = status_at(office(exceptions=(xmas,)), at(2026, 12, 25, 10))
    assert status.is_open and status.reason == "exception"


def test_closed_on_christmas_reopens_monday():
    status = status_at(office(), at(2026, 12, 25, 10))
    assert not status.is_open and status.reason == "holiday"
    assert status.label == "Noël"
    assert status.next_open == at(2026, 12, 28, 9)


def test_holidays_ignored_when_the_account_works_them():
    assert status_at(office(closed_on_holidays=False), at(2026, 12, 25, 10)).is_open


def test_alsace_moselle_has_good_friday_and_saint_etienne():
    good_friday = date(2026, 4, 3)
    saint_etienne = date(2026, 12, 26)
    moselle, rest = public_holidays("FR", "57"), public_holidays("FR")
    assert moselle(good_friday) and not rest(good_friday)
    assert moselle(saint_etienne) == "Saint-Étienne" and rest(saint_etienne) is None
    schedule = Schedule(tz=PARIS, weekly=OFFICE, holidays=moselle)
    assert not status_at(schedule, at(2026, 4, 3, 10)).is_open
    assert status_at(office(), at(2026, 4, 3, 10)).is_open


def test_pentecost_monday_and_ascension():
    lookup = public_holidays("FR")
    assert lookup(date(2026, 5, 14)) == "Ascension"
    assert lookup(date(2026, 5, 25)) == "Lundi de Pentecôte"


def test_unknown_holiday_calendars_are_refused_clearly():
    with pytest.raises(HoursError, match="No public holiday calendar"):
        check_holiday_calendar("XX", None)
    with pytest.raises(HoursError, match="not a region"):
        public_holidays("FR", "99")


def test_overseas_account_in_its_own_zone():
    # La Réunion (UTC+4), 20 December is its own holiday (abolition of slavery).
    schedule = Schedule(tz=REUNION, weekly=OFFICE, holidays=public_holidays("FR", "974"))
    assert not status_at(schedule, at(2027, 12, 20, 10, tz=REUNION)).is_open
    # 06:00 UTC on a Tuesday is 10:00 in La Réunion: open; it is 07:00 in Paris.
    assert status_at(schedule, datetime(2026, 11, 24, 6, tzinfo=UTC)).is_open


# --- daylight saving ------------------------------------------------------------------------


def test_spring_forward_night_service():
    # On 29 March 2026 Paris skips from 02:00 to 03:00.
    night = {d: (R("00:00-08:00"), R("20:00-24:00")) for d in range(7)}
    schedule = Schedule(tz=PARIS, weekly=night)
    status = status_at(schedule, at(2026, 3, 29, 1, 30))
    assert status.since == at(2026, 3, 28, 20)
    assert status.next_close == at(2026, 3, 29, 8)
    # The night lasts 11 real hours instead of 12.
    assert status.next_close - status.since == timedelta(hours=11)


def test_spring_forward_opening_in_the_gap_follows_rfc5545():
    # A range starting at 02:30, a time that does not exist that day, starts at 03:30 CEST.
    schedule = Schedule(tz=PARIS, weekly={6: (R("02:30-05:00"),)})
    status = status_at(schedule, at(2026, 3, 29, 1, 0))
    assert not status.is_open
    assert status.next_open == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert status.next_open.astimezone(PARIS).hour == 3
    # 02:00-02:30 is shifted whole to 03:00-03:30; 02:30-03:15 would end before it
    # starts (03:30 CEST to 03:15 CEST): it is empty, not inverted.
    gap = Schedule(tz=PARIS, weekly={6: (R("02:00-02:30"), R("02:30-03:15"), R("9h-10h"))})
    assert open_intervals(gap, at(2026, 3, 29), at(2026, 3, 30)) == [
        (at(2026, 3, 29, 3), at(2026, 3, 29, 3, 30)),
        (at(2026, 3, 29, 9), at(2026, 3, 29, 10)),
    ]


def test_fall_back_night_lasts_one_more_hour():
    # On 25 October 2026 Paris repeats 02:00-03:00.
    night = {d: (R("00:00-08:00"), R("20:00-24:00")) for d in range(7)}
    schedule = Schedule(tz=PARIS, weekly=night)
    status = status_at(schedule, at(2026, 10, 25, 5))
    assert status.next_close - status.since == timedelta(hours=13)
    # In the repeated hour, both 02:30 CEST and 02:30 CET are open.
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert status_at(schedule, first).is_open and status_at(schedule, second).is_open


def test_fall_back_opening_in_the_repeated_hour_is_its_first_occurrence():
    schedule = Schedule(tz=PARIS, weekly={6: (R("02:30-04:00"),)})
    status = status_at(schedule, at(2026, 10, 25, 0))
    assert status.next_open == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert status_at(schedule, datetime(2026, 10, 25, 3, 0, tzinfo=UTC)).is_open is False


def test_open_intervals_over_a_week_with_a_holiday():
    intervals = open_intervals(office(), at(2026, 12, 21), at(2026, 12, 28))
    days = sorted({start.date() for start, _ in intervals})
    assert days == [date(2026, 12, d) for d in (21, 22, 23, 24)]
    assert len(intervals) == 8
    total = sum((end - start for start, end in intervals), timedelta())
    assert total == timedelta(hours=7.5 * 4)


def test_open_intervals_are_clipped_to_the_window():
    intervals = open_intervals(office(), at(2026, 11, 23, 10), at(2026, 11, 23, 15))
    assert intervals == [
        (at(2026, 11, 23, 10), at(2026, 11, 23, 12, 30)),
        (at(2026, 11, 23, 14), at(2026, 11, 23, 15)),
    ]
    assert open_intervals(office(), at(2026, 11, 23, 15), at(2026, 11, 23, 10)) == []


# --- properties -----------------------------------------------------------------------------

minutes = st.integers(min_value=0, max_value=24 * 4 - 1).map(lambda q: q * 15)


@st.composite
def weekly_patterns(draw):
    weekly = {}
    for day in range(7):
        cuts = sorted(draw(st.sets(minutes, max_size=6)))
        ranges = []
        for start, end in zip(cuts[::2], cuts[1::2], strict=False):
            end_time = time(0) if end == 1440 else time(end // 60, end % 60)
            ranges.append(TimeRange(time(start // 60, start % 60), end_time))
        if ranges:
            weekly[day] = tuple(ranges)
    return weekly


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(weekly=weekly_patterns(), instant=instants)
def test_status_agrees_with_intervals_and_state_really_changes(weekly, instant):
    schedule = Schedule(tz=PARIS, weekly=weekly, holidays=public_holidays("FR"))
    status = status_at(schedule, instant)
    around = open_intervals(schedule, instant - timedelta(days=8), instant + timedelta(days=8))
    inside = any(start <= instant < end for start, end in around)
    assert status.is_open == inside
    if status.next_change is not None:
        assert status.next_change > instant
        assert status_at(schedule, status.next_change).is_open != status.is_open
        just_before = status.next_change - timedelta(microseconds=1)
        assert status_at(schedule, just_before).is_open == status.is_open
    if status.since is not None:
        assert status.since <= instant
        assert status_at(schedule, status.since).is_open == status.is_open
        assert status_at(schedule, status.since - timedelta(microseconds=1)).is_open != (
            status.is_open
        )


def test_horizon_is_long_enough_for_a_summer_closure():
    closure = HoursException(date(2026, 7, 1), date(2026, 9, 30), (), "Fermeture estivale")
    status = status_at(office(exceptions=(closure,)), at(2026, 7, 15, 10))
    assert status.next_open == at(2026, 10, 1, 9)
    assert HORIZON_DAYS >= 366
