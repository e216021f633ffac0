"""Staffing plans from the history: the forecast core fed with the rollups, Erlang per interval.

The history is the quarter-hour rollups (``reporting.rollups``: never the raw calls) of one account
or of all of them; the handle time is the one measured over the same weeks (talk + hold + wrap-up
of the answered calls), or a default when there is none. The public holidays of the account's
country and region (France's for all accounts) are given to the forecast, which measures how busy
they are (``forecast.fit(holidays=...)``). The plan itself is the pure core's (``weekplan.plan``),
which ``permanence forecast --input`` runs on a file.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta, tzinfo

from permanence.accounts import hours
from permanence.accounts.models import Account
from permanence.planning import weekplan
from permanence.planning.weekplan import DEFAULT_AHT, HISTORY_WEEKS, Interval, Targets, WeekPlan
from permanence.reporting import kpis, rollups

__all__ = ["DEFAULT_AHT", "HISTORY_WEEKS", "Interval", "Plan", "Targets", "make"]


@dataclass(frozen=True)
class Plan(WeekPlan):
    """The week's plan (``weekplan.WeekPlan``) of one account, or of all of them (None)."""

    account: Account | None = None


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
    return [(at, float(calls)) for at, calls in rollups.offered(scope, key, start, end)]


def handle_time(account: Account | None, first: date, until: date) -> float | None:
    scope, key, zone = _scope(account)
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(until, time(0), tzinfo=zone)
    figures = kpis.merge(rollups.read(scope, key or None, "day", start, end, zone).values())
    return kpis.indicators(figures).aht_seconds


def make(account: Account | None, week: date, targets: Targets, today: date) -> Plan:
    """The plan of the week starting on the Monday of ``week``, from the whole weeks before
    ``today``'s (``weekplan.plan`` on the rollups)."""
    zone = _scope(account)[2]
    week = week - timedelta(days=week.weekday())
    this_monday = today - timedelta(days=today.weekday())
    first = weekplan.first_day(today)
    holidays = holidays_between(account, first, week + timedelta(days=6))
    found = weekplan.plan(
        history(account, first, this_monday),
        zone=zone,
        week=week,
        today=today,
        targets=targets,
        holidays=holidays,
        measured_aht=handle_time(account, this_monday - timedelta(weeks=HISTORY_WEEKS), this_monday),
    )
    return Plan(**{f.name: getattr(found, f.name) for f in fields(WeekPlan)}, account=account)
