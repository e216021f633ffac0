"""The desk's count of today's answered calls: a range on the answer time of the local day that an index
serves (never the date of a timestamp, which reads every row of the secretary's calls)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from factories import make_user
from permanence.calls.models import Call
from permanence.desk.views import answered_today
from permanence.users.models import Role


def _answered(account: Any, secretary: Any, at: datetime, **fields: Any) -> Call:
    return Call.objects.create(account=account, called="+33145000001", state="done", arrived_at=at,
                               answered_at=at, ended_at=at + timedelta(minutes=2), secretary=secretary,
                               **fields)


def test_counts_the_local_day_only(alpha: Any):
    secretary = make_user("camille", Role.SECRETARY)
    start = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    _answered(alpha, secretary, start)  # the first instant of the day
    _answered(alpha, secretary, start + timedelta(hours=10))
    _answered(alpha, secretary, start + timedelta(hours=11), training=True)  # left out
    _answered(alpha, secretary, start - timedelta(seconds=1))  # yesterday
    _answered(alpha, secretary, timezone.make_aware(datetime.combine(
        timezone.localdate() + timedelta(days=1), time.min)))  # tomorrow
    assert answered_today(secretary).count() == 2


def test_a_range_the_index_serves(alpha: Any):
    secretary = make_user("camille", Role.SECRETARY)
    sql, params = answered_today(secretary).values("pk").query.sql_with_params()
    assert "answered_at\" >= " in sql and "answered_at\" < " in sql, sql
    assert "cast_date" not in sql and "DATE(" not in sql.upper(), sql
    if connection.vendor != "sqlite":
        pytest.skip("the query plan is read on SQLite")
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "INDEX call_secretary_answered" in plan and "answered_at>?" in plan, plan
