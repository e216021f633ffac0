"""Reports over 10 million calls: from the rollups against a GROUP BY over the raw call rows, same run
(aim, issue 21: every report shape at least 10x faster than the GROUP BY, and under 200 ms).

PostgreSQL only, on a database made for it (its calls and rollups tables empty at the start):
``DATABASE_URL=postgres://.../bench_db python bench/bench_reports.py``. It stores 800 accounts, 400
secretaries and 10 million calls (weekdays 8:00-19:00 of January to March 2025, 94 % answered, waits up
to 2 minutes) with ``INSERT ... SELECT generate_series`` straight into ``calls_call``, builds the rollups
from them with SQL equivalent to ``rollups.add`` (same rows, same counters, the total sharded by
account; the handling time is left in the interval of arrival, occupancy is not measured here), checks
that one account's month read from the rollups equals its raw GROUP BY, then times each report shape
both ways (median of 7 runs) and prints both figures and the ratio. Everything it stored is removed at
the end (``--keep`` keeps it for a second run: ``--reuse``); deleting 10 million calls takes long (more
than 10 minutes on a busy machine): dropping the database made for the bench is quicker. Storing the
calls took 22 minutes and building the rollups 13 on the shared 2-core machine.

The reports read what the pages read: ``rollups.read`` and ``rollups.totals`` with the page's settings
(the histograms summed only as far as the service level and the short abandons need them). The raw
GROUP BY computes the same indicators' inputs (offered, answered, abandoned, answered within 20 s,
short abandons, wait and talk sums, longest wait) with the indexes ``calls_call`` has.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time as clock
from datetime import date, datetime, timedelta
from io import StringIO
from typing import Any

ACCOUNTS = 800
SECRETARIES = 400
CALLS = 10_000_000
FIRST, LAST = date(2025, 1, 1), date(2025, 3, 31)
MAX_WAIT = 120  # seconds: the histograms' buckets 0 to 24
ZONE = "Europe/Paris"
RUNS = 7


def main() -> None:  # noqa: C901 - a script, read top to bottom
    os.environ.setdefault("PERMANENCE_DATA_DIR", tempfile.mkdtemp(prefix="permanence-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "permanence.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":  # make bench goes on with the others
        print("bench_reports: skipped, PostgreSQL only (set DATABASE_URL to a database made for the bench)")
        return
    call_command("migrate", verbosity=0, stdout=StringIO())
    from zoneinfo import ZoneInfo

    from permanence.accounts.models import Account
    from permanence.reporting import kpis, rollups
    from permanence.reporting import models as schema
    from permanence.reporting.models import Rollup
    from permanence.users.models import Role, User

    reuse, keep = "--reuse" in sys.argv, "--keep" in sys.argv
    cursor = connection.cursor()

    def sql(statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []

    zone = ZoneInfo(ZONE)
    bench_accounts = Account.objects.filter(slug__startswith="bench21-")
    if not reuse:
        if sql("SELECT EXISTS (SELECT 1 FROM calls_call) OR EXISTS (SELECT 1 FROM reporting_rollup)")[0][0]:
            sys.exit("bench_reports: calls or rollups stored already: use an empty database made for it")
        began = clock.perf_counter()
        Account.objects.bulk_create(
            [Account(slug=f"bench21-{i:03d}", name=f"Bench {i:03d}", timezone=ZONE) for i in range(ACCOUNTS)]
        )
        User.objects.bulk_create(
            [User(username=f"bench21-s{i:03d}", role=Role.SECRETARY) for i in range(SECRETARIES)]
        )
    accounts = list(bench_accounts.order_by("pk").values_list("pk", flat=True))
    people = list(
        User.objects.filter(username__startswith="bench21-s").order_by("pk").values_list("pk", flat=True)
    )
    assert len(accounts) == ACCOUNTS and len(people) == SECRETARIES
    assert accounts == list(range(accounts[0], accounts[0] + ACCOUNTS))
    assert people == list(range(people[0], people[0] + SECRETARIES))
    weekdays = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
    weekdays = [d for d in weekdays if d.weekday() < 5]
    if not reuse:
        sql("SELECT setseed(0.21)")
        # one pass: the arrival in Paris time on a weekday, the wait, answered (94 %) or abandoned
        sql(
            f"""
            INSERT INTO calls_call (called, caller, direction, training, external_id, state, passed_by,
                outcome, account_id, called_again, motive, urgent, nuisance, nuisance_reason, arrived_at,
                answered_at, ended_at, last_event_at, secretary_id, rolled_up_at)
            SELECT '0145000001', '', 'in', false, '', CASE WHEN answered THEN 'done' ELSE 'abandoned' END,
                '[]', '', account, false, '', false, '', '', arrived,
                CASE WHEN answered THEN arrived + wait END,
                arrived + wait + CASE WHEN answered THEN talk ELSE interval '0' END,
                arrived + wait + CASE WHEN answered THEN talk ELSE interval '0' END,
                CASE WHEN answered THEN %(person)s + floor(r3 * %(people)s)::int END, now()
            FROM (
                SELECT %(account)s + (g %% %(accounts)s) AS account,
                    ((%(days)s::date[])[1 + floor(random() * %(n_days)s)::int] + time '08:00'
                        + random() * interval '11 hours') AT TIME ZONE '{ZONE}' AS arrived,
                    make_interval(secs => round(least({MAX_WAIT}, -12 * ln(1 - random()))::numeric, 3))
                        AS wait,
                    random() < 0.94 AS answered,
                    make_interval(secs => round((60 + random() * 240)::numeric, 3)) AS talk,
                    random() AS r3
                FROM generate_series(1, %(calls)s) AS g
            ) AS drawn
            """,
            {
                "account": accounts[0], "accounts": ACCOUNTS, "person": people[0], "people": SECRETARIES,
                "days": weekdays, "n_days": len(weekdays), "calls": CALLS,
            },
        )  # fmt: skip
        sql("ANALYZE calls_call")
        print(f"{CALLS:,} calls stored in {clock.perf_counter() - began:.0f} s")
        began = clock.perf_counter()
        build_rollups(sql, accounts, schema, rollups.SHARDS)
        print(f"rollups built from them in {clock.perf_counter() - began:.0f} s")
    rows = Rollup.objects.count()
    stored = sql("SELECT count(*) FROM calls_call")[0][0]
    print(f"{stored:,} calls, {rows:,} rollup rows ({connection.vendor})")

    settings = kpis.Settings()
    one = accounts[0]
    february = datetime(2025, 2, 1, tzinfo=zone), datetime(2025, 3, 1, tzinfo=zone)
    quarter = datetime(2025, 1, 1, tzinfo=zone), datetime(2025, 4, 1, tzinfo=zone)

    figures = f"""count(*) FILTER (WHERE state <> 'not_served'), count(answered_at),
        count(*) FILTER (WHERE state = 'abandoned'),
        count(*) FILTER (WHERE answered_at - arrived_at <= interval '{settings.threshold_seconds:g} s'),
        count(*) FILTER (WHERE state = 'abandoned'
                         AND ended_at - arrived_at <= interval '{settings.short_abandon_seconds:g} s'),
        sum(extract(epoch FROM answered_at - arrived_at)),
        max(extract(epoch FROM coalesce(answered_at, ended_at) - arrived_at)),
        sum(extract(epoch FROM ended_at - answered_at))"""

    def raw(group: str, where: str, params: list[Any]) -> list[tuple[Any, ...]]:
        return sql(
            f"SELECT {group}, {figures} FROM calls_call WHERE NOT training AND arrived_at >= %s "
            f"AND arrived_at < %s {where} GROUP BY 1 ORDER BY 1",
            params,
        )

    quarter_hour = "to_timestamp(floor(extract(epoch FROM arrived_at) / 900) * 900)"
    local_day = f"date_trunc('day', arrived_at AT TIME ZONE '{ZONE}')"
    local_month = f"date_trunc('month', arrived_at AT TIME ZONE '{ZONE}')"

    # the rollups and the raw rows agree (one account's month by quarter-hour, the overview's accounts)
    series = rollups.read("account", one, "15min", *february, zone, settings)
    direct = raw(quarter_hour, "AND account_id = %s", [*february, one])
    assert len(series) == len(direct) > 0
    for (at, offered, answered, abandoned, within, short, *_sums), (start, got) in zip(
        direct, sorted(series.items()), strict=True
    ):
        ind = kpis.indicators(got, settings)
        assert at == start and (got.offered, got.answered, got.abandoned) == (offered, answered, abandoned)
        assert (got.answered_within(settings.threshold_seconds), ind.short_abandoned) == (within, short)
    everyone = rollups.totals("account", accounts, *february, settings)
    by_account = {row[0]: row[1] for row in raw("account_id", "", list(february))}
    assert {k: f.offered for k, f in everyone.items()} == by_account
    print("check: the rollups give the raw GROUP BY's figures (one account's month, every account's)")

    def timed(work: Any) -> tuple[float, Any]:
        runs, result = [], None
        for _ in range(RUNS):
            began = clock.perf_counter()
            result = work()
            runs.append(clock.perf_counter() - began)
        return statistics.median(runs) * 1000, result

    def overview_rollups() -> str:
        series = rollups.read("total", None, "day", *february, zone, settings)
        listed = rollups.totals("account", accounts, *february, settings)
        staff = rollups.totals("secretary", people, *february, settings)
        level = kpis.indicators(kpis.merge(series.values()), settings).service_level or 0
        rows = [kpis.indicators(f, settings) for f in [*listed.values(), *staff.values()]]
        return f"{len(series)} days, {len(rows)} rows, service level {level:.3f}"

    def overview_raw() -> str:
        days = raw(local_day, "", list(february))
        listed = raw("account_id", "", list(february))
        staff = raw("secretary_id", "AND secretary_id IS NOT NULL", list(february))
        return f"{len(days)} days, {len(listed) + len(staff)} rows"

    shapes = [
        (
            "one account, a month by quarter-hour",
            lambda: len(rollups.read("account", one, "15min", *february, zone, settings)),
            lambda: len(raw(quarter_hour, "AND account_id = %s", [*february, one])),
        ),
        (
            "one account, a month by day",
            lambda: len(rollups.read("account", one, "day", *february, zone, settings)),
            lambda: len(raw(local_day, "AND account_id = %s", [*february, one])),
        ),
        (
            "one account, three months by month",
            lambda: len(rollups.read("account", one, "month", *quarter, zone, settings)),
            lambda: len(raw(local_month, "AND account_id = %s", [*quarter, one])),
        ),
        (
            "all accounts, three months by day",
            lambda: len(rollups.read("total", None, "day", *quarter, zone, settings)),
            lambda: len(raw(local_day, "", list(quarter))),
        ),
        (f"overview: {ACCOUNTS} accounts, {SECRETARIES} people, a month", overview_rollups, overview_raw),
    ]
    print(f"{'report':<58} {'rollups':>10} {'raw GROUP BY':>13} {'ratio':>7}")
    for label, from_rollups, from_raw in shapes:
        fast, got = timed(from_rollups)
        slow, expected = timed(from_raw)
        print(f"{label:<58} {fast:>7.1f} ms {slow:>10.1f} ms {slow / fast:>6.1f}x   ({got} / {expected})")

    if not keep:
        began = clock.perf_counter()
        sql("DELETE FROM reporting_rollup")
        sql("DELETE FROM calls_call WHERE account_id BETWEEN %s AND %s", [accounts[0], accounts[-1]])
        bench_accounts.delete()
        User.objects.filter(username__startswith="bench21-s").delete()
        print(f"removed in {clock.perf_counter() - began:.0f} s")


def build_rollups(sql: Any, accounts: list[int], schema: Any, shards: int) -> None:
    """The rollup rows ``rollups.add`` would write for these calls, with INSERT ... SELECT ... GROUP BY:
    each scope's key (the total by account shard, unanswered calls' secretary rows likewise) and each
    grain (quarter-hours on the UTC timeline, days in Paris time)."""
    sql("DROP TABLE IF EXISTS bench21_facts")
    sql(
        f"""
        CREATE UNLOGGED TABLE bench21_facts AS
        SELECT account_id AS account, secretary_id AS secretary, arrived_at,
            answered_at IS NOT NULL AS answered,
            (extract(epoch FROM coalesce(answered_at, ended_at) - arrived_at) * 1000000)::bigint AS wait_us,
            (extract(epoch FROM ended_at - answered_at) * 1000000)::bigint AS talk_us
        FROM calls_call WHERE account_id BETWEEN {accounts[0]} AND {accounts[-1]}
        """
    )
    bucket = "CASE WHEN wait_us > 0 THEN least(120, ceil(wait_us / 5000000.0 - 1e-9)) ELSE 0 END"
    present = [b for (b,) in sql(f"SELECT DISTINCT {bucket} FROM bench21_facts ORDER BY 1")]
    hist = [f"aw{int(b)}" for b in present] + [f"bw{int(b)}" for b in present]
    hist_sums = [f"NULLIF(count(*) FILTER (WHERE answered AND {bucket} = {int(b)}), 0)" for b in present]
    hist_sums += [f"NULLIF(count(*) FILTER (WHERE NOT answered AND {bucket} = {int(b)}), 0)" for b in present]
    columns = [
        "calls", "answered", "abandoned", "handled", "wait_answered_us", "wait_all_us", "longest_wait_us",
        "talk_us", "handling_us", *hist,
    ]  # fmt: skip
    sums = [
        "count(*)", "count(*) FILTER (WHERE answered)", "count(*) FILTER (WHERE NOT answered)",
        "count(*) FILTER (WHERE answered)", "coalesce(sum(wait_us) FILTER (WHERE answered), 0)",
        "sum(wait_us)", "max(wait_us)", "coalesce(sum(talk_us), 0)", "coalesce(sum(talk_us), 0)", *hist_sums,
    ]  # fmt: skip
    starts = {
        "15min": "to_timestamp(floor(extract(epoch FROM arrived_at) / 900) * 900)",
        "day": f"date_trunc('day', arrived_at AT TIME ZONE '{ZONE}') AT TIME ZONE '{ZONE}'",
    }
    keys = {
        "account": "account",
        "secretary": f"coalesce(secretary, -(account % {shards}))",
        "total": f"account % {shards}",
    }
    for scope, key in keys.items():
        for grain, start in starts.items():
            sql(
                f"INSERT INTO reporting_rollup (grain, scope, key, start, {', '.join(columns)}) "
                f"SELECT '{grain}', '{scope}', {key}, {start}, {', '.join(sums)} FROM bench21_facts "
                "GROUP BY 3, 4"
            )
    sql("DROP TABLE bench21_facts")
    sql("VACUUM ANALYZE reporting_rollup")
    assert set(columns) <= {f.column for f in schema.Rollup._meta.fields}


if __name__ == "__main__":
    main()
