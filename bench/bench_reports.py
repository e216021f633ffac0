"""Reports over 10 million calls read from the rollups (aim, issue 7: under 1 s on PostgreSQL).

Writes the rollups of a year for 100 accounts of 100,000 calls each (quarter-hours with calls on
weekdays 8:00-19:00, their days, the total per day) straight into the table, then times the reports
people ask for: one account's month by quarter-hour, one account's year by day, every account's year
by day, the operator's overview of the 100 accounts over a month (10 accounts on SQLite). Run against
PostgreSQL:
``DATABASE_URL=postgres://... python bench/bench_reports.py`` (on SQLite it runs, slower, with a
warning). It uses its own rows (scope keys above 10^9) and removes them at the end.
"""

from __future__ import annotations

import os
import random
import tempfile
import time as clock
from datetime import date, datetime, time, timedelta
from io import StringIO

ACCOUNTS = 100
CALLS_PER_ACCOUNT = 100_000
BASE_KEY = 1_000_000_000
YEAR = date(2025, 1, 1)


def main() -> None:
    os.environ.setdefault("PERMANENCE_DATA_DIR", tempfile.mkdtemp(prefix="permanence-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "permanence.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, stdout=StringIO())
    from permanence.reporting import kpis, rollups
    from permanence.reporting.models import Rollup

    global ACCOUNTS
    if connection.vendor != "postgresql":
        ACCOUNTS = 10
        print(
            "not PostgreSQL (the aim is stated for it): 1 million calls only; set DATABASE_URL for 10 million"
        )
    zone = rollups.operator_zone()
    rng = random.Random(3)
    quarters = []
    day = YEAR
    while day.year == YEAR.year:
        if day.weekday() < 5:
            quarters += [
                datetime.combine(day, time(8), tzinfo=zone) + timedelta(minutes=15 * i) for i in range(44)
            ]
        day += timedelta(days=1)
    per_quarter = CALLS_PER_ACCOUNT / len(quarters)
    Rollup.objects.filter(key__gte=BASE_KEY).delete()
    Rollup.objects.filter(scope="total", key=BASE_KEY).delete()
    began = clock.perf_counter()
    calls = 0
    totals: dict[datetime, kpis.Figures] = {}
    for account in range(ACCOUNTS):
        rows, days = [], {}
        for start in quarters:
            offered = max(0, int(rng.gauss(per_quarter, per_quarter**0.5) + 0.5))
            if not offered:
                continue
            f = kpis.Figures(offered=offered)
            abandoned = sum(rng.random() < 0.06 for _ in range(offered))
            f.abandoned, f.answered = abandoned, offered - abandoned
            for _ in range(f.answered):
                wait = rng.expovariate(1 / 12)
                f.answered_waits[min(kpis.BUCKETS - 1, int(wait // 5))] += 1
                f.wait_answered_seconds += wait
                f.wait_all_seconds += wait
                f.longest_wait_seconds = max(f.longest_wait_seconds, wait)
            for _ in range(abandoned):
                f.abandoned_waits[min(kpis.BUCKETS - 1, int(rng.expovariate(1 / 30) // 5))] += 1
            f.handled, f.talk_seconds, f.wrap_seconds = f.answered, 150.0 * f.answered, 30.0 * f.answered
            calls += offered
            rows.append(
                Rollup(
                    grain="15min",
                    scope="account",
                    key=BASE_KEY + account,
                    start=start,
                    figures=rollups.to_json(f),
                    calls=offered,
                )
            )
            days.setdefault(start.date(), kpis.Figures()).add(f)
        for when, f in days.items():
            begin = datetime.combine(when, time(0), tzinfo=zone)
            rows.append(
                Rollup(
                    grain="day",
                    scope="account",
                    key=BASE_KEY + account,
                    start=begin,
                    figures=rollups.to_json(f),
                    calls=f.offered,
                )
            )
            totals.setdefault(begin, kpis.Figures()).add(f)
        Rollup.objects.bulk_create(rows, batch_size=5000)
    Rollup.objects.bulk_create(
        [
            Rollup(
                grain="day", scope="total", key=BASE_KEY, start=s, figures=rollups.to_json(f), calls=f.offered
            )
            for s, f in totals.items()
        ],
        batch_size=5000,
    )
    print(
        f"{calls:,} calls in {Rollup.objects.filter(key__gte=BASE_KEY).count():,} rollup rows, "
        f"written in {clock.perf_counter() - began:.0f} s ({connection.vendor})"
    )

    def timed(label: str, work: object) -> None:
        runs = []
        for _ in range(5):
            began = clock.perf_counter()
            result = work()  # type: ignore[operator]
            runs.append(clock.perf_counter() - began)
        print(f"{label}: best {min(runs) * 1000:.0f} ms, worst {max(runs) * 1000:.0f} ms ({result})")

    june = datetime(2025, 6, 1, tzinfo=zone), datetime(2025, 7, 1, tzinfo=zone)
    year = datetime(2025, 1, 1, tzinfo=zone), datetime(2026, 1, 1, tzinfo=zone)

    def account_month() -> str:
        series = rollups.read("account", BASE_KEY, "15min", *june, zone)
        return f"{kpis.merge(series.values()).offered} calls, {len(series)} quarter-hours"

    def account_year() -> str:
        series = rollups.read("account", BASE_KEY, "day", *year, zone)
        level = kpis.indicators(kpis.merge(series.values())).service_level or 0
        return f"{len(series)} days, service level {level:.3f}"

    def everyone_year() -> str:
        series = rollups.read("total", BASE_KEY, "month", *year, zone)
        return f"{kpis.merge(series.values()).offered:,} calls, {len(series)} months"

    def overview() -> str:
        offered = 0
        for account in range(ACCOUNTS):
            series = rollups.read("account", BASE_KEY + account, "day", *june, zone)
            offered += kpis.merge(series.values()).offered
        return f"{ACCOUNTS} accounts, {offered:,} calls"

    timed("one account, a month by quarter-hour", account_month)
    timed("one account, a year by day", account_year)
    timed("all accounts, a year by month", everyone_year)
    timed("operator overview, 100 accounts over a month", overview)
    Rollup.objects.filter(key__gte=BASE_KEY).delete()


if __name__ == "__main__":
    main()
