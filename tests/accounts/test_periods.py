"""The pure core of periods that take effect at a chosen time."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from permanence.accounts.periods import Period, PeriodError, Phase, check_new, local_instant

PARIS = ZoneInfo("Europe/Paris")


def test_a_local_time_is_read_in_the_accounts_zone():
    assert local_instant("2026-08-12T09:00", PARIS) == datetime(2026, 8, 12, 7, 0, tzinfo=UTC)
    assert local_instant("2026-12-12 09:00", PARIS) == datetime(2026, 12, 12, 8, 0, tzinfo=UTC)


def test_the_hour_skipped_in_spring_is_refused():
    with pytest.raises(PeriodError) as error:
        local_instant("2026-03-29T02:30", PARIS)
    assert error.value.code == "gap"
    assert local_instant("2026-03-29T03:00", PARIS) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_the_hour_repeated_in_autumn_is_its_first_occurrence():
    assert local_instant("2026-10-25T02:30", PARIS) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "demain", "2026-13-01T09:00", "2026-08-12T09:00+02:00"])
def test_what_is_not_a_local_time_is_refused(text):
    with pytest.raises(PeriodError) as error:
        local_instant(text, PARIS)
    assert error.value.code == "format"


def test_phases_are_half_open():
    start = datetime(2026, 8, 12, 7, tzinfo=UTC)
    period = Period(start, start + timedelta(days=8))
    assert period.phase(start - timedelta(seconds=1)) is Phase.COMING
    assert period.phase(start) is Phase.CURRENT
    assert period.contains(start + timedelta(days=8) - timedelta(seconds=1))
    assert period.phase(start + timedelta(days=8)) is Phase.PAST


def test_a_period_ends_after_it_starts_and_lasts_a_year_at_most():
    start = datetime(2026, 8, 12, 7, tzinfo=UTC)
    with pytest.raises(PeriodError) as error:
        Period(start, start)
    assert error.value.code == "order"
    with pytest.raises(PeriodError) as error:
        Period(start, start + timedelta(days=367))
    assert error.value.code == "too_long"
    with pytest.raises(PeriodError) as error:
        Period(datetime(2026, 8, 12), datetime(2026, 8, 13))
    assert error.value.code == "naive"


def test_a_period_already_over_is_not_written():
    start = datetime(2026, 8, 12, 7, tzinfo=UTC)
    period = Period(start, start + timedelta(hours=1))
    check_new(period, start)  # under way: fine
    with pytest.raises(PeriodError) as error:
        check_new(period, start + timedelta(hours=1))
    assert error.value.code == "over"


@pytest.mark.parametrize(("text", "zone"), [("0001-01-01T00:00", PARIS),
                                            ("9999-12-31T23:59", ZoneInfo("America/New_York"))])
def test_a_time_beyond_the_ends_of_the_calendar_in_utc_is_refused_not_crashed(text, zone):
    with pytest.raises(PeriodError) as refused:
        local_instant(text, zone)
    assert refused.value.code == "format"
