"""The staffing page: the forecast from the rollups, Erlang per interval, holidays, bad input said."""

from __future__ import annotations

import csv
import io
from datetime import date, time, timedelta

import pytest
from django.utils import timezone

from permanence.accounts.models import WeeklyHours
from permanence.calls import history
from permanence.planning import erlang, plans


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


def test_a_public_holiday_is_a_closed_day(alpha, with_history):
    today = with_history
    christmas = date(today.year if today < date(today.year, 12, 20) else today.year + 1, 12, 25)
    plan = plans.make(alpha, christmas, plans.Targets(), today)
    assert plan.closed == [christmas]
    day = [i for i in plan.intervals if i.start.astimezone(alpha.tz).date() == christmas]
    assert day and all(i.calls == 0 and i.agents == 0 for i in day)
    weekdays = [i for i in plan.intervals if i.start.astimezone(alpha.tz).weekday() < 5 and i not in day]
    assert sum(i.calls for i in weekdays) > 40  # the other weekdays are open


def test_bad_input_is_said_and_the_defaults_used(client, personas, alpha):
    client.force_login(personas["assistant"])
    english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    page = client.get(
        "/planning/?sl=150&seconds=abc&interval=7&week=demain&account=nobody&patience=-3", **english
    )
    assert page.status_code == 200
    body = page.content.decode()
    for said in ("1 to 99", "0 to 600", "15, 30 or 60", "2026-12-31", "No such account", "0 to 3600"):
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
    for bad in (["--account", "nobody"], ["--week", "demain"], ["--target-sl", "1.5"]):
        with pytest.raises(CommandError):
            call_command("forecast", *bad, stdout=io.StringIO())
