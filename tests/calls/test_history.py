"""The demo's synthetic history: valid calls, counted in the rollups as a rebuild would count them."""

from __future__ import annotations

from datetime import date, time

from permanence.accounts.models import WeeklyHours
from permanence.calls import history
from permanence.calls.models import Call, CallEvent
from permanence.reporting import rollups
from permanence.reporting.models import Rollup


def open_weekdays(account, opens=time(8), closes=time(19)):
    account.weekly_hours.all().delete()
    account.closed_on_holidays = True
    account.save()
    for weekday in range(5):
        WeeklyHours.objects.create(account=account, weekday=weekday, opens=opens, closes=closes)


def rows():
    return sorted((r.grain, r.scope, r.key, r.start, str(r.figures)) for r in Rollup.objects.all())


def test_history_is_valid_shaped_and_counted_as_a_rebuild_counts_it(alpha, personas):
    open_weekdays(alpha)
    stored = history.generate(
        alpha, weeks=2, until=date(2026, 11, 16), calls_per_week=300, secretaries=[personas["secretary"].pk]
    )
    calls = Call.objects.filter(account=alpha)
    assert stored == calls.count() > 500  # 2 weeks of about 300
    local = [c.arrived_at.astimezone(alpha.tz) for c in calls]
    assert min(local).date() >= date(2026, 11, 2) and max(local).date() <= date(2026, 11, 15)
    assert all(t.weekday() < 5 and time(8) <= t.time() < time(19) for t in local)  # opening hours
    assert not [t for t in local if t.date() == date(2026, 11, 11)]  # Armistice: closed
    peak = sum(1 for t in local if t.hour == 10)
    assert peak > 2 * sum(1 for t in local if t.hour == 18)
    assert {c.state for c in calls} == {"done", "abandoned"} and calls.filter(called_again=True).exists()
    assert CallEvent.objects.filter(call__account=alpha).count() > 4 * stored
    # every call is valid to the lifecycle core, and the rollups equal a rebuild from the events
    for call in calls[:50]:
        assert call.summary().state == call.state
    before = rows()
    assert before and rollups.sweep() == 0  # all counted already
    rollups.rebuild()
    assert rows() == before
    # again: nothing (the period has calls)
    assert history.generate(alpha, weeks=2, until=date(2026, 11, 16), calls_per_week=300, secretaries=[]) == 0
