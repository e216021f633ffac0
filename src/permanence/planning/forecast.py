"""Forecast of calls per interval from the history. Pure core.

The method (``docs/planning.md``): the weekly volume follows a straight line fitted by least squares
over the last ``weeks`` whole weeks (a trend, and at least the mean); each week is shared out over
its weekday x time-of-day intervals in the proportions of those same weeks. So a Monday 09:00 peak,
a quiet Friday afternoon and a client growing 5 % a week are all carried forward. The error is
measured by holding out the last weeks (``backtest``) as WAPE: the sum of absolute errors over the
sum of actual calls.

Public holidays are passed as ``holidays``: their calls are left out of the profile and the trend
(a week with one is scaled up to a whole week by the share its other days usually carry), and the
holidays of the weeks fitted give the **holiday factor**: their calls over what an ordinary day would
have had (0 for a client closed those days whose callers do not call, 0.4 for a quiet one...). A
holiday to come is forecast as an ordinary day times that factor; with no holiday in the weeks fitted,
as an ordinary day (staffing for more rather than fewer).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo


class ForecastError(ValueError):
    pass


Slot = tuple[int, int]  # (weekday, minutes since local midnight // interval)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _slot(at: datetime, zone: tzinfo, minutes: int) -> tuple[date, Slot]:
    local = at.astimezone(zone)
    return _monday(local.date()), (local.weekday(), (local.hour * 60 + local.minute) // minutes)


@dataclass(frozen=True)
class Model:
    intercept: float  # calls in week 0 (the first week fitted)
    slope: float  # calls more each week
    first_week: date
    shares: Mapping[Slot, float]
    interval_minutes: int
    zone: tzinfo
    holidays: frozenset[date] = field(default_factory=frozenset)
    holiday_factor: float = 1.0

    def week_total(self, monday: date) -> float:
        index = (monday - self.first_week).days // 7
        return max(0.0, self.intercept + self.slope * index)

    def calls_at(self, start: datetime) -> float:
        monday, slot = _slot(start, self.zone, self.interval_minutes)
        ordinary = self.week_total(monday) * self.shares.get(slot, 0.0)
        if start.astimezone(self.zone).date() in self.holidays:
            return ordinary * self.holiday_factor
        return ordinary


def fit(
    history: Iterable[tuple[datetime, float]],
    *,
    zone: tzinfo,
    until: date,
    weeks: int = 8,
    interval_minutes: int = 15,
    holidays: Collection[date] = (),
) -> Model:
    """Fit on the ``weeks`` whole weeks (Monday to Sunday, local) before the Monday of ``until``.
    ``history``: (interval start, calls) pairs; intervals absent had no call. ``holidays``: the public
    holidays, in the past weeks and in the weeks to forecast."""
    if weeks < 1:
        raise ForecastError("Fit on one week at least.")
    if interval_minutes <= 0 or (24 * 60) % interval_minutes:
        raise ForecastError("The interval must divide the day (15, 30, 60 minutes…).")
    last = _monday(until)
    first = last - timedelta(weeks=weeks)
    special = frozenset(holidays)
    totals = [0.0] * weeks
    by_slot: dict[Slot, float] = {}
    on_holidays: dict[date, float] = {}
    ordinary_weeks: dict[int, int] = {}  # weekday -> weeks it was an ordinary day
    past_holidays = []
    for week in range(weeks):
        for weekday in range(7):
            day = first + timedelta(weeks=week, days=weekday)
            if day in special:
                past_holidays.append(day)
            else:
                ordinary_weeks[weekday] = ordinary_weeks.get(weekday, 0) + 1
    for at, calls in history:
        if calls < 0:
            raise ForecastError("A number of calls cannot be negative.")
        monday, slot = _slot(at, zone, interval_minutes)
        if not first <= monday < last:
            continue
        day = at.astimezone(zone).date()
        if day in special:
            on_holidays[day] = on_holidays.get(day, 0.0) + calls
            continue
        totals[(monday - first).days // 7] += calls
        by_slot[slot] = by_slot.get(slot, 0.0) + calls
    if sum(totals) == 0:
        return Model(0.0, 0.0, first, {}, interval_minutes, zone, special)
    # a slot's mean over the weeks its day was ordinary; shares of a whole week
    means = {s: calls / ordinary_weeks[s[0]] for s, calls in by_slot.items() if ordinary_weeks.get(s[0])}
    whole = sum(means.values())
    shares = {s: mean / whole for s, mean in means.items()}
    day_share = [sum(v for k, v in shares.items() if k[0] == weekday) for weekday in range(7)]
    for week in range(weeks):
        missing = sum(
            day_share[(day - first).days % 7] for day in past_holidays if (day - first).days // 7 == week
        )
        if 0 < missing < 1:
            totals[week] /= 1 - missing  # the whole week its ordinary days stand for
    if weeks == 1:
        intercept, slope = totals[0], 0.0
    else:
        mean_x = (weeks - 1) / 2
        mean_y = sum(totals) / weeks
        slope = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(totals)) / sum(
            (i - mean_x) ** 2 for i in range(weeks)
        )
        intercept = mean_y - slope * mean_x
    model = Model(intercept, slope, first, shares, interval_minutes, zone, special)
    # the holidays fitted on: their calls over what ordinary days would have had
    expected = sum(model.week_total(_monday(day)) * day_share[day.weekday()] for day in past_holidays)
    if expected > 0:
        factor = sum(on_holidays.get(day, 0.0) for day in past_holidays) / expected
        model = Model(intercept, slope, first, shares, interval_minutes, zone, special, factor)
    return model


def intervals(start: date, days: int, zone: tzinfo, minutes: int) -> list[datetime]:
    """The interval starts of ``days`` local days from ``start`` (a DST day has 23 or 25 hours)."""
    out = []
    for offset in range(days):
        begin = datetime.combine(start + timedelta(days=offset), time(0), tzinfo=zone)
        end = datetime.combine(start + timedelta(days=offset + 1), time(0), tzinfo=zone)
        moment = begin.timestamp()
        while moment < end.timestamp():
            out.append(datetime.fromtimestamp(moment, zone))
            moment += minutes * 60
    return out


def forecast(model: Model, start: date, days: int) -> list[tuple[datetime, float]]:
    return [(at, model.calls_at(at)) for at in intervals(start, days, model.zone, model.interval_minutes)]


def wape(predicted: Sequence[float], actual: Sequence[float]) -> float:
    """Weighted absolute percentage error: sum |predicted - actual| / sum actual."""
    if len(predicted) != len(actual):
        raise ForecastError("As many forecasts as actual figures.")
    total = sum(actual)
    if total == 0:
        raise ForecastError("No actual call to measure an error on.")
    return sum(abs(p - a) for p, a in zip(predicted, actual, strict=True)) / total


def backtest(
    history: Sequence[tuple[datetime, float]],
    *,
    zone: tzinfo,
    last_monday: date,
    weeks: int = 8,
    held_out: int = 1,
    interval_minutes: int = 15,
    holidays: Collection[date] = (),
) -> float:
    """Fit on the weeks before ``last_monday - held_out weeks``, forecast the held-out weeks, and
    return the WAPE against what happened."""
    cut = last_monday - timedelta(weeks=held_out - 1)
    model = fit(
        history, zone=zone, until=cut, weeks=weeks, interval_minutes=interval_minutes, holidays=holidays
    )
    actual: dict[datetime, float] = {}
    for at, calls in history:
        local = at.astimezone(zone)
        if _monday(cut) <= local.date() < _monday(cut) + timedelta(weeks=held_out):
            key = datetime.fromtimestamp(at.timestamp() - at.timestamp() % (interval_minutes * 60), zone)
            actual[key] = actual.get(key, 0.0) + calls
    predicted = forecast(model, _monday(cut), 7 * held_out)
    return wape([p for _, p in predicted], [actual.get(at, 0.0) for at, _ in predicted])
