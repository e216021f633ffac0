"""Staffing plans from the history: the forecast core fed with the rollups, Erlang per interval.

The history is the quarter-hour rollups (``reporting.rollups``: never the raw calls) of one account
or of all of them; the handle time is the one measured over the same weeks (talk + hold + wrap-up
of the answered calls), or a default when there is none. The public holidays of the account's
country and region (France's for all accounts) are given to the forecast, which measures how busy
they are (``forecast.fit(holidays=...)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from permanence.accounts import hours
from permanence.accounts.models import Account
from permanence.planning import erlang, forecast
from permanence.reporting import kpis, rollups
from permanence.reporting.models import Rollup

HISTORY_WEEKS = 8
DEFAULT_AHT = 180.0


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
class Plan:
    account: Account | None
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


def _scope(account: Account | None) -> tuple[str, int, tzinfo]:
    if account is None:
        return "total", 0, rollups.operator_zone()
    return "account", account.pk, account.tz


def holidays_between(account: Account | None, first: date, last: date) -> list[date]:
    """The public holidays of the account's country and region (all accounts: France's)."""
    lookup = (
        hours.public_holidays()
        if account is None
        else hours.public_holidays(account.holiday_country, account.holiday_subdivision or None)
    )
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [day for day in days if lookup(day)]


def history(account: Account | None, first: date, until: date) -> list[tuple[datetime, float]]:
    scope, key, zone = _scope(account)
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(until, time(0), tzinfo=zone)
    rows = Rollup.objects.filter(grain="15min", scope=scope, key=key, start__gte=start, start__lt=end)
    return [(at, float(calls)) for at, calls in rows.values_list("start", "calls") if calls]


def handle_time(account: Account | None, first: date, until: date) -> float | None:
    scope, key, zone = _scope(account)
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(until, time(0), tzinfo=zone)
    figures = kpis.merge(rollups.read(scope, key or None, "day", start, end, zone).values())
    return kpis.indicators(figures).aht_seconds


def make(account: Account | None, week: date, targets: Targets, today: date) -> Plan:
    """The plan of the week starting on the Monday of ``week``, from the whole weeks before
    ``today``'s."""
    zone = _scope(account)[2]
    week = week - timedelta(days=week.weekday())
    this_monday = today - timedelta(days=today.weekday())
    first = this_monday - timedelta(weeks=HISTORY_WEEKS + 1)  # one more week for the backtest
    holidays = holidays_between(account, first, week + timedelta(days=6))
    past = history(account, first, this_monday)
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
    measured = handle_time(account, this_monday - timedelta(weeks=HISTORY_WEEKS), this_monday)
    aht = measured or DEFAULT_AHT
    per_hour = 60 / targets.interval_minutes
    intervals = []
    for start, calls in forecast.forecast(model, week, 7):
        if calls <= 0:
            intervals.append(Interval(start, 0.0, 0, 0, None, None))
            continue
        staffing = erlang.required_agents(
            calls * per_hour,
            aht,
            target_sl=targets.service_level,
            target_seconds=targets.seconds,
            patience=targets.patience,
            shrinkage=targets.shrinkage,
        )
        intervals.append(
            Interval(
                start,
                calls,
                staffing.agents,
                staffing.scheduled,
                staffing.performance.service_level,
                staffing.performance.occupancy,
            )
        )
    fitted_from = this_monday - timedelta(weeks=HISTORY_WEEKS)
    return Plan(
        account=account,
        zone=zone,
        week=week,
        targets=targets,
        intervals=intervals,
        aht_seconds=aht,
        aht_measured=measured is not None,
        history_calls=round(sum(c for at, c in past if at.astimezone(zone).date() >= fitted_from)),
        wape=wape,
        wape_day=wape_day,
        holidays=[day for day in holidays if week <= day < week + timedelta(days=7)],
        holiday_factor=model.holiday_factor,
    )
