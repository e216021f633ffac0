"""A week's staffing plan from a history of calls per interval. Pure core (no Django).

The forecast core (``forecast.fit``, ``forecast.backtest``) on the whole weeks before ``today``'s
Monday, its error measured on the last of them, then Erlang per interval with the handle time given
(``staff``: the scalar core for Erlang C, the grid path for Erlang A). ``plans.make`` feeds it the
rollups of the database (the staffing page, ``permanence forecast``); ``permanence forecast --input``
feeds it a CSV file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from permanence.planning import erlang, forecast

HISTORY_WEEKS = 8
DEFAULT_AHT = 180.0
INTERVALS = (15, 30, 60)
MIN_PATIENCE = 5  # seconds: below, Erlang A's steps (target / patience) make a week's plan very slow
WEEKS_AHEAD = 12


def week_allowed(week: date, today: date) -> bool:
    """Plans are for this week up to ``WEEKS_AHEAD`` weeks ahead."""
    return today - timedelta(days=today.weekday()) <= week <= today + timedelta(weeks=WEEKS_AHEAD)


@dataclass(frozen=True)
class Targets:
    service_level: float = 0.8
    seconds: float = 20.0
    shrinkage: float = 0.3
    patience: float | None = None  # Erlang A when given
    interval_minutes: int = 30


@dataclass(frozen=True)
class Interval:
    start: datetime
    calls: float
    agents: int
    scheduled: int
    service_level: float | None
    occupancy: float | None


@dataclass(frozen=True)
class WeekPlan:
    zone: tzinfo
    week: date  # its Monday
    targets: Targets
    intervals: list[Interval]
    aht_seconds: float
    aht_measured: bool
    history_calls: int  # calls of the weeks fitted on
    wape: float | None  # the last whole week forecast from the 8 before it, per interval
    wape_day: float | None  # the same, per day
    holidays: list[date]  # in the week planned
    holiday_factor: float  # a holiday's calls over an ordinary day's, measured (1.0: none seen)

    @property
    def calls(self) -> float:
        return sum(i.calls for i in self.intervals)

    @property
    def agent_hours(self) -> float:
        return sum(i.scheduled for i in self.intervals) * self.targets.interval_minutes / 60

    def days(self) -> list[tuple[date, list[Interval]]]:
        out: dict[date, list[Interval]] = {}
        for interval in self.intervals:
            out.setdefault(interval.start.astimezone(self.zone).date(), []).append(interval)
        return list(out.items())


def first_day(today: date) -> date:
    """The first day of history a plan reads: the weeks fitted, and one more for the backtest."""
    return today - timedelta(days=today.weekday()) - timedelta(weeks=HISTORY_WEEKS + 1)


def staff(
    calls_per_hour: Sequence[float], aht: float, targets: Targets
) -> list[tuple[int, int, float, float]]:
    """Agents, scheduled agents, service level and occupancy for each volume: Erlang C by the scalar
    core (microseconds a volume, and no numpy to import), Erlang A by the grid path for the whole week
    at once (its closed form: the scalar chain takes milliseconds a volume), the same agents."""
    if targets.patience is None:
        out = []
        for volume in calls_per_hour:
            found = erlang.required_agents(
                volume,
                aht,
                target_sl=targets.service_level,
                target_seconds=targets.seconds,
                shrinkage=targets.shrinkage,
            )
            perf = found.performance
            out.append((found.agents, found.scheduled, perf.service_level, perf.occupancy))
        return out
    from permanence.planning import grid  # numpy and scipy: only for Erlang A

    wanted = grid.Targets(
        target_sl=targets.service_level,
        target_seconds=targets.seconds,
        patience=targets.patience,
        shrinkage=targets.shrinkage,
    )
    plan = grid.required_agents(list(calls_per_hour), aht, wanted)
    agents, scheduled = plan.agents.tolist(), plan.scheduled.tolist()
    return list(zip(agents, scheduled, plan.service_level.tolist(), plan.occupancy.tolist(), strict=True))


def plan(
    past: Sequence[tuple[datetime, float]],
    *,
    zone: tzinfo,
    week: date,
    today: date,
    targets: Targets,
    holidays: Sequence[date],
    measured_aht: float | None,
) -> WeekPlan:
    """The plan of the week starting on the Monday of ``week``, from the whole weeks of ``past``
    (interval start, calls) before ``today``'s Monday. ``holidays``: the public holidays from
    ``first_day(today)`` to the end of the week planned. ``measured_aht``: the handle time measured
    over the weeks fitted (None: ``DEFAULT_AHT``)."""
    week = week - timedelta(days=week.weekday())
    this_monday = today - timedelta(days=today.weekday())
    model = forecast.fit(
        past,
        zone=zone,
        until=this_monday,
        weeks=HISTORY_WEEKS,
        interval_minutes=targets.interval_minutes,
        holidays=holidays,
    )
    wape = wape_day = None
    last_week = this_monday - timedelta(weeks=1)
    actual = [(at, c) for at, c in past if last_week <= at.astimezone(zone).date() < this_monday]
    if actual:  # the last whole week forecast from the weeks before it
        wape = forecast.backtest(
            past,
            zone=zone,
            last_monday=last_week,
            weeks=HISTORY_WEEKS,
            interval_minutes=targets.interval_minutes,
            holidays=holidays,
        )
        earlier = forecast.fit(past, zone=zone, until=last_week, weeks=HISTORY_WEEKS, holidays=holidays)
        predicted_days: dict[date, float] = {}
        for at, calls in forecast.forecast(earlier, last_week, 7):
            day = at.astimezone(zone).date()
            predicted_days[day] = predicted_days.get(day, 0.0) + calls
        actual_days = dict.fromkeys(predicted_days, 0.0)
        for at, calls in actual:
            actual_days[at.astimezone(zone).date()] += calls
        wape_day = forecast.wape(list(predicted_days.values()), [actual_days[d] for d in predicted_days])
    aht = measured_aht or DEFAULT_AHT
    per_hour = 60 / targets.interval_minutes
    predicted = forecast.forecast(model, week, 7)
    staffed = iter(staff([calls * per_hour for _, calls in predicted if calls > 0], aht, targets))
    intervals = []
    for start, calls in predicted:
        if calls <= 0:
            intervals.append(Interval(start, 0.0, 0, 0, None, None))
            continue
        agents, scheduled, service_level, occupancy = next(staffed)
        intervals.append(Interval(start, calls, agents, scheduled, service_level, occupancy))
    fitted_from = this_monday - timedelta(weeks=HISTORY_WEEKS)
    return WeekPlan(
        zone=zone,
        week=week,
        targets=targets,
        intervals=intervals,
        aht_seconds=aht,
        aht_measured=measured_aht is not None,
        history_calls=round(sum(c for at, c in past if at.astimezone(zone).date() >= fitted_from)),
        wape=wape,
        wape_day=wape_day,
        holidays=[day for day in holidays if week <= day < week + timedelta(days=7)],
        holiday_factor=model.holiday_factor,
    )
