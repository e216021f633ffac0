"""The staffing page: the forecast from the rollups, Erlang per interval, holidays, bad input said."""

from __future__ import annotations

import csv
import io
from datetime import date, time, timedelta

import pytest
from django.utils import timezone

from factories import office_hours
from permanence.accounts.models import WeeklyHours
from permanence.calls import history
from permanence.planning import erlang, plans


@pytest.fixture
def alpha(alpha):
    """Office hours (Monday to Friday 9:00-18:00, closed on public holidays): these tests are about them."""
    return office_hours(alpha)



@pytest.fixture
def with_history(alpha, personas):
    for weekday in range(5):
        WeeklyHours.objects.create(account=alpha, weekday=weekday, opens=time(8), closes=time(19))
    today = timezone.now().astimezone(alpha.tz).date()
    stored = history.generate(
        alpha, weeks=9, until=today, calls_per_week=150, secretaries=[personas["secretary"].pk], growth=0.0
    )
    assert stored > 1000
    return today


def test_the_plan_from_the_history(client, personas, alpha, with_history):
    today = with_history
    plan = plans.make(alpha, today + timedelta(days=7), plans.Targets(interval_minutes=60), today)
    # 150 calls a week without growth (holidays apart): the forecast is near it, the error measured
    assert 100 < plan.calls < 200 and plan.aht_measured and 150 < plan.aht_seconds < 220
    assert plan.wape is not None and plan.wape_day is not None and plan.wape_day < plan.wape < 1.5
    for interval in plan.intervals:
        if interval.calls:
            want = erlang.required_agents(interval.calls, plan.aht_seconds, shrinkage=0.3)
            assert (interval.agents, interval.scheduled) == (want.agents, want.scheduled)
        else:
            assert interval.agents == interval.scheduled == 0
    assert all(i.calls == 0 for i in plan.intervals if i.start.astimezone(alpha.tz).weekday() >= 5)
    client.force_login(personas["admin"])
    page = client.get(f"/planning/?account={alpha.slug}&interval=60&week={plan.week}")
    assert page.status_code == 200
    body = page.content.decode()
    assert f'data-testid="calls-forecast">{round(plan.calls)}<' in body
    assert f"{round(plan.agent_hours)} h" in body and "<svg" in body
    exported = client.get(f"/planning/?account={alpha.slug}&interval=60&week={plan.week}&format=csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode().lstrip("\ufeff")), delimiter=";"))
    assert len(rows) == 1 + 7 * 24 or len(rows) == 1 + 7 * 24 + 1  # a DST week has one hour more
    assert sum(float(r[1]) for r in rows[1:]) == pytest.approx(plan.calls, abs=0.05)


def test_a_public_holiday_gets_the_share_measured_on_the_past_ones(alpha, personas):
    # history up to 23 November 2026 holds Armistice (Wednesday 11 November): the demo's accounts
    # take no call on holidays, so Christmas is forecast empty; the other days as usual
    for weekday in range(5):
        WeeklyHours.objects.create(account=alpha, weekday=weekday, opens=time(8), closes=time(19))
    today = date(2026, 11, 23)
    history.generate(
        alpha, weeks=9, until=today, calls_per_week=150, secretaries=[personas["secretary"].pk], growth=0.0
    )
    plan = plans.make(alpha, date(2026, 12, 21), plans.Targets(), today)
    assert plan.holidays == [date(2026, 12, 25)] and plan.holiday_factor == 0.0
    day = [i for i in plan.intervals if i.start.astimezone(alpha.tz).date() == date(2026, 12, 25)]
    assert day and all(i.calls == 0 and i.agents == 0 for i in day)
    thursday = [i for i in plan.intervals if i.start.astimezone(alpha.tz).date() == date(2026, 12, 24)]
    assert sum(i.calls for i in thursday) > 15


def test_bad_input_is_said_and_the_defaults_used(client, personas, alpha):
    client.force_login(personas["assistant"])
    english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    page = client.get(
        "/planning/?sl=150&seconds=abc&interval=7&week=demain&account=nobody&patience=0.001", **english
    )
    assert page.status_code == 200
    body = page.content.decode()
    for said in ("1 to 99", "0 to 600", "15, 30 or 60", "2026-12-31", "No such account", "5 to 3600"):
        assert said in body, said
    assert 'data-testid="no-history"' in body  # nothing counted yet
    far = client.get("/planning/?week=2030-01-07", **english)
    assert "twelve weeks" in far.content.decode()


def test_erlang_a_with_a_patience_needs_fewer(alpha, with_history):
    week = with_history + timedelta(days=7)
    erlang_c = plans.make(alpha, week, plans.Targets(), with_history)
    erlang_a = plans.make(alpha, week, plans.Targets(patience=60), with_history)
    assert erlang_a.agent_hours <= erlang_c.agent_hours
    assert erlang_a.calls == erlang_c.calls


def test_the_forecast_command(alpha, with_history):
    import json

    from django.core.management import CommandError, call_command

    out = io.StringIO()
    call_command("forecast", "--account", alpha.slug, "--interval", "60", "--json", stdout=out)
    result = json.loads(out.getvalue())
    week = with_history + timedelta(days=7)
    plan = plans.make(alpha, week, plans.Targets(interval_minutes=60), with_history)
    assert result["calls"] == pytest.approx(plan.calls, abs=0.1) and len(result["days"]) == 7
    assert result["wape_day"] == pytest.approx(plan.wape_day, abs=1e-4)
    text = io.StringIO()
    call_command("forecast", "--account", alpha.slug, stdout=text)
    assert "error on the last week (WAPE)" in text.getvalue()
    bad_inputs = (
        ["--account", "nobody"],
        ["--week", "demain"],
        ["--week", "9999-12-31"],
        ["--week", "0001-01-01"],
        ["--target-sl", "1.5"],
        ["--patience", "0.001"],
    )
    for bad in bad_inputs:
        with pytest.raises(CommandError):
            call_command("forecast", *bad, stdout=io.StringIO())


def test_erlang_a_plan_by_the_grid_path_has_the_scalar_core_s_answers(alpha, with_history):
    """A week's Erlang A plan is staffed at once by the grid's closed form (the scalar chain takes
    milliseconds a volume): the agents of the scalar core in every interval, its measures to 1e-9."""
    week = with_history + timedelta(days=7)
    plan = plans.make(alpha, week, plans.Targets(patience=60, interval_minutes=60), with_history)
    busy = [i for i in plan.intervals if i.calls]
    assert len(busy) > 20
    for interval in busy:
        core = erlang.required_agents(interval.calls, plan.aht_seconds, patience=60, shrinkage=0.3)
        assert (interval.agents, interval.scheduled) == (core.agents, core.scheduled)
        assert interval.service_level == pytest.approx(core.performance.service_level, abs=1e-9)
        assert interval.occupancy == pytest.approx(core.performance.occupancy, abs=1e-9)


def test_staff_each_volume_erlang_c_and_a():
    from permanence.planning import weekplan

    volumes = [0.5, 12.0, 240.0]
    erlang_c = weekplan.staff(volumes, 200.0, weekplan.Targets())
    erlang_a = weekplan.staff(volumes, 200.0, weekplan.Targets(patience=90))
    for volume, c, a in zip(volumes, erlang_c, erlang_a, strict=True):
        core_c = erlang.required_agents(volume, 200.0, shrinkage=0.3)
        core_a = erlang.required_agents(volume, 200.0, shrinkage=0.3, patience=90)
        perf = core_c.performance
        assert c == (core_c.agents, core_c.scheduled, perf.service_level, perf.occupancy)
        assert a[:2] == (core_a.agents, core_a.scheduled) and a[0] <= c[0]
    assert weekplan.staff([], 200.0, weekplan.Targets(patience=90)) == []
    with pytest.raises(erlang.StaffingError):
        weekplan.staff([10.0], 200.0, weekplan.Targets(service_level=1.5, patience=90))


def test_the_history_of_all_accounts_adds_every_account_s_calls(alpha, beta, personas):
    """The total is kept in shards by account (reporting/rollups.py): the plan of all accounts reads
    them all, not the one of the first account."""
    assert alpha.pk % 16 != beta.pk % 16
    today = timezone.now().astimezone(alpha.tz).date()
    for account in (alpha, office_hours(beta)):
        history.generate(
            account, weeks=2, until=today, calls_per_week=80, secretaries=[personas["secretary"].pk]
        )
    first = today - timedelta(days=21)
    mine, theirs, everyone = (sum(n for _, n in plans.history(a, first, today)) for a in (alpha, beta, None))
    assert mine > 50 and theirs > 50 and everyone == mine + theirs
