"""The on-call rota core: turns handed over weekly in local time, covered times, swaps."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from permanence.directory.rota import Cover, Override, Rota, RotaError, Turn, covered, on_call, turns

PARIS = ZoneInfo("Europe/Paris")
A, B, C = 1, 2, 3


def at(text):
    """A local Paris time, e.g. "2026-10-26 07:59", as an instant."""
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).astimezone(UTC)


def weekly(**kw):
    return Rota(members=(A, B, C), tz=PARIS, first_day=date(2026, 10, 19), handover=time(8, 0), **kw)


def test_members_take_a_week_each_handed_over_at_the_local_time():
    rota = weekly()
    assert on_call(rota, at("2026-10-19 07:59")) is None  # before the first turn
    assert on_call(rota, at("2026-10-19 08:00")) == A
    assert on_call(rota, at("2026-10-26 07:59")) == A  # the clocks went back on the 25th: still 08:00 local
    assert on_call(rota, at("2026-10-26 08:00")) == B
    assert on_call(rota, at("2026-11-02 08:00")) == C
    assert on_call(rota, at("2026-11-09 08:00")) == A  # round again


def test_nights_weekends_and_holidays_are_covered_and_the_days_are_not():
    nights = weekly(covers=frozenset({Cover.NIGHTS}))
    assert on_call(nights, at("2026-10-20 12:00")) is None
    assert on_call(nights, at("2026-10-20 19:00")) == A
    assert on_call(nights, at("2026-10-21 07:59")) == A
    weekends = weekly(covers=frozenset({Cover.WEEKENDS}))
    assert not covered(weekends, at("2026-10-23 18:59"))  # Friday before the night
    assert covered(weekends, at("2026-10-23 19:00"))
    assert covered(weekends, at("2026-10-25 12:00"))  # Sunday
    assert covered(weekends, at("2026-10-26 07:59"))  # Monday morning
    assert not covered(weekends, at("2026-10-26 08:00"))
    holidays = weekly(covers=frozenset({Cover.HOLIDAYS}))
    armistice = {date(2026, 11, 11)}.__contains__
    assert not covered(holidays, at("2026-11-10 18:59"), armistice)
    assert covered(holidays, at("2026-11-10 19:00"), armistice)  # the eve's night
    assert covered(holidays, at("2026-11-11 12:00"), armistice)
    assert covered(holidays, at("2026-11-12 07:59"), armistice)
    assert not covered(holidays, at("2026-11-12 08:00"), armistice)


def test_a_swap_replaces_the_turn_within_the_covered_times_only():
    swap = Override(at("2026-10-21 19:00"), at("2026-10-22 08:00"), C)
    rota = weekly(covers=frozenset({Cover.NIGHTS}), overrides=(swap,))
    assert on_call(rota, at("2026-10-21 23:00")) == C
    assert on_call(rota, at("2026-10-22 19:00")) == A  # the next night: A again
    wide = weekly(covers=frozenset({Cover.NIGHTS}),
                  overrides=(Override(at("2026-10-21 00:00"), at("2026-10-23 00:00"), B),))
    assert on_call(wide, at("2026-10-21 12:00")) is None  # the day is not covered, swap or not


def test_turns_lay_out_the_calendar_without_gaps_or_overlaps():
    swap = Override(at("2026-10-28 19:00"), at("2026-10-29 08:00"), C)
    rota = weekly(covers=frozenset({Cover.NIGHTS}), overrides=(swap,))
    laid = turns(rota, at("2026-10-27 12:00"), at("2026-10-30 12:00"))
    assert laid == [
        Turn(at("2026-10-27 19:00"), at("2026-10-28 08:00"), B),
        Turn(at("2026-10-28 19:00"), at("2026-10-29 08:00"), C, override=True),
        Turn(at("2026-10-29 19:00"), at("2026-10-30 08:00"), B),
    ]
    always = turns(weekly(), at("2026-10-19 08:00"), at("2026-11-02 08:00"))
    assert [(t.member, t.ends - t.starts) for t in always] == [
        (A, timedelta(days=7, hours=1)),  # the week the clocks went back lasts an hour more
        (B, timedelta(days=7)),
    ]


def test_every_instant_of_a_laid_out_stretch_agrees_with_on_call():
    holidays = {date(2026, 12, 25)}.__contains__
    rota = weekly(covers=frozenset({Cover.WEEKENDS, Cover.HOLIDAYS}),
                  overrides=(Override(at("2026-12-24 20:00"), at("2026-12-25 10:00"), A),))
    start, end = at("2026-12-20 00:00"), at("2027-01-04 00:00")
    laid = turns(rota, start, end, holidays)
    probe = start
    while probe < end:
        inside = [t.member for t in laid if t.starts <= probe < t.ends]
        assert inside == ([] if on_call(rota, probe, holidays) is None else [on_call(rota, probe, holidays)])
        probe += timedelta(minutes=30)


def test_a_rota_says_what_is_wrong_with_it():
    with pytest.raises(RotaError):
        weekly(covers=frozenset())
    with pytest.raises(RotaError):
        weekly(night_start=time(8, 0), night_end=time(8, 0))
    with pytest.raises(RotaError):
        weekly(overrides=(Override(at("2026-10-21 19:00"), at("2026-10-21 19:00"), C),))
    with pytest.raises(RotaError):
        turns(weekly(), at("2026-01-01 00:00"), at("2027-06-01 00:00"))
    assert on_call(Rota(members=(), tz=PARIS, first_day=date(2026, 10, 19)), at("2026-10-20 12:00")) is None
