"""Forecast: a weekly profile carried forward with the trend of the weekly volume."""

from __future__ import annotations

import math
import random
import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from permanence.planning import forecast

PARIS = ZoneInfo("Europe/Paris")
FIRST = date(2026, 9, 7)  # a Monday


def profile(at: datetime) -> float:
    """Calls expected in a quarter-hour: weekdays 8:00-19:00 with a 9:00-11:00 peak, quiet Fridays
    after 16:00, nothing at night or on Sundays, a little on Saturday mornings."""
    local = at.astimezone(PARIS)
    hour = local.hour + local.minute / 60
    if local.weekday() == 6 or not 8 <= hour < 19:
        return 0.0
    if local.weekday() == 5:
        return 2.0 if hour < 12 else 0.0
    base = 6.0 if 9 <= hour < 11 else 3.0
    return base * (0.5 if local.weekday() == 4 and hour >= 16 else 1.0)


def history(weeks: int, growth: float = 0.0, noise: bool = False, seed: int = 1):
    rng = random.Random(seed)
    out = []
    for week in range(weeks):
        factor = 1 + growth * week
        for at in forecast.intervals(FIRST + timedelta(weeks=week), 7, PARIS, 15):
            mean = profile(at) * factor
            calls = _poisson(rng, mean) if noise else mean
            if calls:
                out.append((at, float(calls)))
    return out


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def test_a_steady_week_is_carried_forward_exactly():
    data = history(8)
    model = forecast.fit(data, zone=PARIS, until=FIRST + timedelta(weeks=8))
    week = forecast.forecast(model, FIRST + timedelta(weeks=8), 7)
    assert model.slope == pytest.approx(0.0, abs=1e-9)
    for at, calls in week:
        assert calls == pytest.approx(profile(at))


def test_the_trend_is_extrapolated():
    data = history(8, growth=0.05)
    model = forecast.fit(data, zone=PARIS, until=FIRST + timedelta(weeks=8))
    base = sum(c for _, c in history(1))
    # week 8 at +5 % a week on the base week: base x 1.40
    assert model.week_total(FIRST + timedelta(weeks=8)) == pytest.approx(base * 1.40, rel=1e-9)
    monday_ten = datetime.combine(FIRST + timedelta(weeks=8), time(10), tzinfo=PARIS)
    assert model.calls_at(monday_ten) == pytest.approx(6.0 * 1.40, rel=1e-9)


def test_error_on_noisy_history_is_measured_and_small():
    data = history(10, growth=0.02, noise=True)
    error = forecast.backtest(data, zone=PARIS, last_monday=FIRST + timedelta(weeks=9), weeks=8)
    # Poisson noise on quarter-hours of 3-6 calls alone gives a WAPE around 0.35-0.45; the forecast
    # must not add much to it, and must beat a flat "same as the last week" guess by far on hours
    assert 0.2 < error < 0.5
    hourly = forecast.backtest(
        data, zone=PARIS, last_monday=FIRST + timedelta(weeks=9), weeks=8, interval_minutes=60
    )
    assert hourly < error and hourly < 0.25


def test_dst_week_has_its_intervals():
    autumn = date(2026, 10, 25)  # a Sunday of 25 hours
    assert len(forecast.intervals(autumn, 1, PARIS, 15)) == 100
    assert len(forecast.intervals(date(2026, 3, 29), 1, PARIS, 15)) == 92


def test_no_history_and_bad_inputs():
    model = forecast.fit([], zone=PARIS, until=FIRST)
    assert all(c == 0 for _, c in forecast.forecast(model, FIRST, 1))
    with pytest.raises(forecast.ForecastError):
        forecast.fit([], zone=PARIS, until=FIRST, interval_minutes=7)
    with pytest.raises(forecast.ForecastError):
        forecast.wape([1.0], [0.0])
    with pytest.raises(forecast.ForecastError):
        forecast.fit([(datetime(2026, 9, 1, 9, tzinfo=PARIS), -1.0)], zone=PARIS, until=FIRST)


def test_public_holidays_leave_the_profile_and_the_trend_alone_and_get_their_measured_share():
    # 10 steady weeks from 7 September 2026 hold 11 November (a Wednesday, Armistice)
    armistice, christmas = date(2026, 11, 11), date(2026, 12, 25)
    holidays = {armistice, christmas}
    until = FIRST + timedelta(weeks=10)
    assert FIRST <= armistice < until

    def with_armistice(share):
        return [
            (at, calls * share if at.astimezone(PARIS).date() == armistice else calls)
            for at, calls in history(10)
        ]

    for share in (0.0, 0.4, 1.0, 1.5):  # closed, quiet, ordinary, busier than usual
        model = forecast.fit(with_armistice(share), zone=PARIS, until=until, weeks=10, holidays=holidays)
        assert model.slope == pytest.approx(0.0, abs=1e-9) and model.holiday_factor == pytest.approx(share)
        for at, calls in forecast.forecast(model, until, 7):
            assert calls == pytest.approx(profile(at))  # the holiday changed nothing of an ordinary week
        christmas_week = forecast.forecast(model, date(2026, 12, 21), 7)
        on_christmas = [(at, c) for at, c in christmas_week if at.astimezone(PARIS).date() == christmas]
        assert all(c == pytest.approx(profile(at) * share) for at, c in on_christmas)
    # without being told, a closed Wednesday pulls the Wednesday profile down
    naive = forecast.fit(with_armistice(0.0), zone=PARIS, until=until, weeks=10)
    wednesday_ten = datetime.combine(until + timedelta(days=2), time(10), tzinfo=PARIS)
    assert naive.calls_at(wednesday_ten) < 0.95 * profile(wednesday_ten)
    # no holiday in the weeks fitted: a holiday to come is an ordinary day
    early = forecast.fit(history(4), zone=PARIS, until=FIRST + timedelta(weeks=4), weeks=4, holidays=holidays)
    assert early.holiday_factor == 1.0


# permanence forecast --input: the week's plan from a CSV file of past calls (no database) -----------


def _history_file(tmp_path, rows, header="account,start,calls,aht"):
    path = tmp_path / "history.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _forecast(*args: str) -> dict:
    import argparse
    import json

    from permanence.planning import commands

    parser = argparse.ArgumentParser()
    commands.forecast_arguments(parser)
    out: list[str] = []
    commands.forecast_file(vars(parser.parse_args([*args, "--json"])), out.append)
    return json.loads("".join(out))


def test_forecast_from_a_file_is_the_plan_of_the_core(tmp_path):
    from permanence.accounts import hours
    from permanence.planning import weekplan

    data = history(10, growth=0.02, noise=True)  # 7 September to 15 November 2026, 11 November inside
    rows = [f"acme,{at.astimezone(PARIS).replace(tzinfo=None).isoformat()},{c:g},200" for at, c in data]
    rows += [f"beta,{at.isoformat()},1,400" for at, _ in data[-50:]]  # an offset written, a second account
    path = _history_file(tmp_path, rows)
    got = _forecast("--input", str(path), "--interval", "60")
    assert got["week"] == "2026-11-16" and got["input"] == str(path) and got["account"] is None
    merged = [(at, c) for at, c in data] + [(at, 1.0) for at, _ in data[-50:]]
    fitted = sum(c for at, c in data if at.date() >= FIRST + timedelta(weeks=2))  # the 8 weeks before
    lookup = hours.public_holidays()
    first = weekplan.first_day(date(2026, 11, 16))
    days = [first + timedelta(days=n) for n in range((date(2026, 11, 22) - first).days + 1)]
    plan = weekplan.plan(
        merged, zone=PARIS, week=date(2026, 11, 16), today=date(2026, 11, 16),
        targets=weekplan.Targets(interval_minutes=60), holidays=[d for d in days if lookup(d)],
        measured_aht=(200 * fitted + 400 * 50) / (fitted + 50),  # the aht column, weighted by the calls
    )  # fmt: skip
    assert got["calls"] == round(plan.calls, 1) and got["wape_day"] == round(plan.wape_day, 4)
    assert got["aht_seconds"] == round(plan.aht_seconds, 1) and got["aht_measured"] is True
    assert [d["peak_agents"] for d in got["days"]] == [max(i.agents for i in v) for _, v in plan.days()]
    assert 0.2 < got["wape_interval"] < 1 and got["days"][5]["calls"] < got["days"][0]["calls"]
    later = _forecast("--input", str(path), "--week", "2026-12-02", "--aht", "300", "--patience", "60")
    assert later["week"] == "2026-11-30" and later["aht_seconds"] == 300


@pytest.mark.parametrize(
    ("header", "rows", "args", "message"),
    [
        ("account,when,calls", ["a,2026-09-07T09:00,1"], [], "missing column start"),
        ("start,calls", ["2026-09-07T09:00,1", "yesterday,2"], [], "line 3: start 'yesterday' is not a date"),
        ("start,calls", ["2026-09-07T09:00,-1"], [], "line 2: calls cannot be negative"),
        ("start,calls,aht", ["2026-09-07T09:00,2,0"], [], "line 2: the average handle time must be positive"),
        ("start,calls", ["2026-09-07T09:00,0"], [], "no call in the history"),
        ("start,calls", ["2026-09-07T09:00,1"], ["--week", "2026-08-31"], "plan a week from this one"),
        ("start,calls", ["2026-09-07T09:00,1"], ["--week", "lundi"], "dates are written 2026-12-31"),
        ("start,calls", ["2026-09-07T09:00,1"], ["--patience", "1"], "the patience is 5 to 3600 seconds"),
        ("start,calls", ["2026-09-07T09:00,1"], ["--target-sl", "2"], "service level target is a share"),
        ("start,calls", ["2026-09-07T09:00,1"], ["--aht", "-3"], "--aht must be positive"),
        ("start,calls", ["2026-09-07T09:00,1"], ["--account", "alpha"], "--account reads the database"),
    ],
)
def test_forecast_from_a_bad_file_is_one_clear_line(tmp_path, header, rows, args, message):
    from permanence.planning import commands

    path = _history_file(tmp_path, rows, header)
    with pytest.raises(commands.Failure, match=re.escape(message)):
        _forecast("--input", str(path), *args)


def test_forecast_from_a_file_on_the_command_line(tmp_path, capsys):
    from permanence import cli

    rows = [f"{at.isoformat()},{c:g}" for at, c in history(3)]
    path = _history_file(tmp_path, rows, "start,calls")
    assert cli.main(["permanence", "forecast", "--input", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{path}, week of 2026-09-28: ") and len(lines) == 9
    assert "AHT 180 s" in lines[1]  # no aht column: the default handle time
    assert cli.main(["permanence", "forecast", "--input", str(tmp_path / "none.csv")]) == 1
    missing = tmp_path / "none.csv"
    assert capsys.readouterr().err == f"CommandError: Cannot read {missing}: No such file or directory.\n"
