"""Rollups kept as calls end equal a recomputation from the raw events, for every scope and grain."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django_tasks_db.models import DBTaskResult

from permanence.calls import services
from permanence.calls.lifecycle import Kind
from permanence.calls.models import Call
from permanence.reporting import kpis, rollups
from permanence.reporting.models import Rollup
from reporting_helpers import make_calls

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=PARIS)


def same(one: kpis.Figures, other: kpis.Figures) -> bool:
    """Equal, the sums of seconds to rounding (added in another order)."""
    for name, value in vars(one).items():
        if isinstance(value, float):
            if value != pytest.approx(getattr(other, name), rel=1e-9, abs=1e-6):
                return False
        elif value != getattr(other, name):
            return False
    return True


def logical(scope, key):
    """The key a row stands for: the total's shards and the shards of the calls no secretary took are
    one key (None)."""
    return None if scope == "total" or key <= 0 else key


def stored_rows(scope, grain, **only):
    """The stored figures by (key, start), the shards summed."""
    out = {}
    for row in Rollup.objects.filter(scope=scope, grain=grain, **only):
        where = (logical(scope, row.key), row.start)
        out.setdefault(where, kpis.Figures()).add(rollups.from_json(row.figures))
    return out


def recomputed(scope, grain, zone, calls):
    over = [
        c
        for c in Call.objects.filter(pk__in=[c.pk for c in calls])
        if c.state in rollups.OVER and not c.training
    ]
    facts = [rollups.call_facts(c) for c in over]
    if scope == "account" and grain == "day":
        out = {}
        for account in {f.account for f in facts}:
            group = [f for f in facts if f.account == account]
            out.update(kpis.compute(group, by=scope, grain=grain, zone=zone[account]))
        return out
    return kpis.compute(facts, by=scope, grain=grain, zone=PARIS)


def test_rollups_equal_a_recomputation_from_raw_events(alpha, beta, personas):
    calls = make_calls(alpha, beta, personas)
    queued = DBTaskResult.objects.filter(task_path="permanence.reporting.tasks.rollup_call").count()
    over = [c for c in calls if Call.objects.get(pk=c.pk).state in rollups.OVER and not c.training]
    assert queued == len(over) > 30  # each call queued once, as it ended
    assert rollups.sweep() == len(over)
    assert rollups.sweep() == 0  # idempotent: counted once
    zones = {alpha.pk: alpha.tz, beta.pk: beta.tz}
    for scope in rollups.SCOPES:
        for grain in rollups.GRAINS:
            expected = recomputed(scope, grain, zones, calls)
            stored = stored_rows(scope, grain)
            assert stored.keys() == expected.keys(), (scope, grain)
            for where, figures in expected.items():
                assert same(stored[where], figures), (scope, grain, where)
    # reading 60-minute figures for Alpha from quarter-hour rollups = recomputing them hourly
    hourly = rollups.read("account", alpha.pk, "60min", T0 - timedelta(days=1), T0 + timedelta(days=3), PARIS)
    facts = [
        rollups.call_facts(c)
        for c in Call.objects.filter(account=alpha, training=False)
        if c.state in rollups.OVER
    ]
    arrivals = [(c.account_id, c.caller, c.arrived_at) for c in Call.objects.filter(training=False)]
    direct = kpis.compute(facts, by="account", grain="60min", zone=PARIS, arrivals=arrivals)
    assert hourly.keys() == {start for _key, start in direct}
    assert all(same(hourly[start], f) for (_key, start), f in direct.items())
    total = kpis.merge(hourly.values())
    assert total.offered == sum(1 for _ in facts)


def test_rebuild_gives_the_same_rollups(alpha, beta, personas):
    make_calls(alpha, beta, personas, count=30, seed=9)
    rollups.sweep()
    before = sorted((r.grain, r.scope, r.key, r.start, str(r.figures)) for r in Rollup.objects.all())
    assert rollups.rebuild() > 0
    after = sorted((r.grain, r.scope, r.key, r.start, str(r.figures)) for r in Rollup.objects.all())
    assert before == after


def test_a_call_still_going_or_in_training_is_not_counted(alpha, personas):
    call = services.call_arrived("01 45 00 00 01", "0611111111", account=alpha, at=T0)
    training = services.call_arrived("01 45 00 00 01", "0611111111", account=alpha, at=T0, training=True)
    services.record(training, Kind.CALLER_HUNG_UP, at=T0 + timedelta(seconds=5))
    assert rollups.add([call.pk, training.pk]) == 0
    assert not Rollup.objects.exists()


@pytest.mark.parametrize("grain", ["15min", "30min", "60min", "day", "month"])
def test_read_any_grain(alpha, beta, personas, grain):
    make_calls(alpha, beta, personas, count=20, seed=2)
    rollups.sweep()
    got = rollups.read("total", None, grain, T0 - timedelta(days=1), T0 + timedelta(days=3), PARIS)
    assert (
        sum(f.offered for f in got.values())
        == Call.objects.filter(training=False, state__in=rollups.OVER).count()
    )


def test_the_command(alpha, beta, personas):
    from io import StringIO

    from django.core.management import call_command

    make_calls(alpha, beta, personas, count=10, seed=3)
    out = StringIO()
    call_command("rollups", stdout=out)
    counted = int(out.getvalue().split()[0])
    assert counted == Call.objects.filter(training=False, state__in=rollups.OVER).count() > 0
    call_command("rollups", "--rebuild", stdout=out)
    assert f"{counted} call(s) counted." in out.getvalue().splitlines()[-1]


def test_presence_gives_occupancy(alpha, personas):
    from datetime import UTC

    from django.utils import timezone as tz

    from permanence.calls.models import PresenceSpan

    secretary = personas["secretary"]
    services.set_status(secretary, "ready")
    span = PresenceSpan.objects.get(secretary=secretary, end__isnull=True)
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    PresenceSpan.objects.filter(pk=span.pk).update(start=start)
    # one call handled 9:05-9:10 (answer to wrap-up), the secretary there 9:00-9:30
    call = services.call_arrived(
        "01 45 00 00 01", "0611111111", account=alpha, at=start + timedelta(minutes=5)
    )
    at = start + timedelta(minutes=5)
    services.record(call, Kind.OFFERED, at=at, secretary=secretary)
    services.record(call, Kind.ANSWERED, at=at, secretary=secretary)
    services.record(call, Kind.ENDED, at=at + timedelta(minutes=4))
    services.record(call, Kind.WRAPPED_UP, at=at + timedelta(minutes=5))
    rollups.sweep()
    # the worker cuts the open span at the last quarter-hour: counted up to 9:30, and a new one opens
    assert rollups.sweep_presence(start + timedelta(minutes=31)) == 1
    assert PresenceSpan.objects.filter(
        secretary=secretary, end__isnull=True
    ).get().start == start + timedelta(minutes=30)
    first = Rollup.objects.get(grain="15min", scope="secretary", key=secretary.pk, start=start)
    figures = rollups.from_json(first.figures)
    assert figures.staffed_seconds == 900 and figures.handling_seconds == 300
    assert kpis.indicators(figures).occupancy == pytest.approx(1 / 3)
    (day,) = stored_rows("total", "day", start__lte=start).values()
    assert day.staffed_seconds == 1800
    # pausing closes the span; it is counted once
    services.set_status(secretary, "paused", "café")
    assert PresenceSpan.objects.filter(secretary=secretary, end__isnull=True).count() == 0
    assert rollups.sweep_presence(tz.now()) == 1 and rollups.sweep_presence(tz.now()) == 0


def test_messages_taken_and_acknowledged(alpha, beta, personas):
    from permanence.messaging import escalation, outbox

    secretary = personas["secretary"]

    def take(account, minutes, **extra):
        extra.setdefault("author", secretary)
        return outbox.queue_message(
            account, subject="Rappel", body="Merci de rappeler", now=T0 + timedelta(minutes=minutes), **extra
        )

    first = take(alpha, 5, urgent=True)
    take(alpha, 20)
    third = take(beta, 40)
    take(alpha, 7, training=True)  # a training call's: not counted
    take(alpha, 8, author=None)  # an appointment notice to a caller: not counted
    reminder = take(alpha, 25, author=None, urgent=True, escalates=first)  # a reminder: not counted
    assert escalation.acknowledge(reminder, "anne@example.org")  # acknowledges the message itself
    assert hasattr(first.__class__.objects.get(pk=first.pk), "acknowledgement")
    assert rollups.sweep_messages() == 3 and rollups.sweep_messages() == 0
    escalation.acknowledge(third, "bruno@example.org")
    assert rollups.sweep_messages() == 1 and rollups.sweep_messages() == 0  # the acknowledgement, once

    def stored(scope, key, grain):
        only = {} if scope == "total" else {"key": key}
        return {
            start: (f.messages_sent, f.messages_acknowledged)
            for (_key, start), f in stored_rows(scope, grain, **only).items()
        }

    quarter = kpis.interval_start(T0, "15min", PARIS)
    assert stored("account", alpha.pk, "15min") == {
        quarter: (1, 1),
        quarter + timedelta(minutes=15): (1, 0),
    }
    assert stored("secretary", secretary.pk, "day") == {T0.replace(hour=0): (3, 2)}
    # equal to a recomputation, and to a rebuild
    facts = [
        kpis.MessageFact(m.account_id, m.author_id, m.created, hasattr(m, "acknowledgement"))
        for m in rollups.counted_messages()
    ]
    expected = kpis.compute([], by="total", grain="15min", zone=PARIS, messages=facts)
    assert stored("total", 0, "15min") == {
        start: (f.messages_sent, f.messages_acknowledged) for (_key, start), f in expected.items()
    }
    before = sorted((r.grain, r.scope, r.key, r.start, str(r.figures)) for r in Rollup.objects.all())
    rollups.rebuild()
    assert before == sorted((r.grain, r.scope, r.key, r.start, str(r.figures)) for r in Rollup.objects.all())


def test_upserts_add_to_the_counters_and_keep_the_longest_wait(db):
    start = datetime(2026, 11, 30, 7, 0, tzinfo=ZoneInfo("UTC"))
    where = ("15min", "account", 7, start)
    one = kpis.Figures(offered=2, answered=1, wait_answered_seconds=12.5, longest_wait_seconds=30.25)
    one.answered_waits[3] = 1
    two = kpis.Figures(offered=1, abandoned=1, wait_all_seconds=0.000001, longest_wait_seconds=8.0)
    two.fcr_resolved = -1
    two.abandoned_waits[120] = 1
    two.answered_waits[3] = 2
    rollups._upsert({where: one})
    rollups._upsert({where: two})
    rollups._upsert({where: kpis.Figures(offered=1, answered_waits=[1] + [0] * (kpis.BUCKETS - 1))})
    row = Rollup.objects.get()
    assert (row.calls, row.answered, row.abandoned, row.fcr_resolved) == (4, 1, 1, -1)
    assert (row.wait_answered_us, row.wait_all_us, row.longest_wait_us) == (12_500_000, 1, 30_250_000)
    assert (row.aw0, row.aw3, row.aw4, row.bw120, row.bw0) == (1, 3, None, 1, None)
    figures = rollups.from_json(row.figures)
    assert figures.answered_waits[3] == 3 and figures.abandoned_waits[-1] == 1
    assert figures.wait_all_seconds == 0.000001 and figures.longest_wait_seconds == 30.25
    # nothing to add: no row, no query
    assert rollups._upsert({("day", "total", 0, start): kpis.Figures()}) == 0
    assert Rollup.objects.count() == 1


@pytest.mark.parametrize(
    "settings",
    [
        kpis.Settings(),
        kpis.Settings(threshold_seconds=0, short_abandon_seconds=0, variant="without_abandons_in_time"),
        kpis.Settings(threshold_seconds=595, short_abandon_seconds=60, variant="without_short_abandons"),
        kpis.Settings(threshold_seconds=5, short_abandon_seconds=30, variant="answered"),
    ],
)
def test_reading_with_the_reports_settings_gives_the_same_indicators(alpha, beta, personas, settings):
    make_calls(alpha, beta, personas, count=40, seed=5)
    rollups.sweep()
    span = T0 - timedelta(days=1), T0 + timedelta(days=3)
    shapes = (("account", alpha.pk, "15min"), ("total", None, "day"), ("secretary", None, "60min"))
    for scope, key, grain in shapes:
        full = rollups.read(scope, key, grain, *span, PARIS)
        quick = rollups.read(scope, key, grain, *span, PARIS, settings)
        assert full.keys() == quick.keys() and full
        for start, figures in full.items():
            assert kpis.indicators(figures, settings) == kpis.indicators(quick[start], settings)
    keys = [personas["secretary"].pk, personas["secretary_beta"].pk, 10**9]
    full_totals = rollups.totals("secretary", keys, *span)
    quick_totals = rollups.totals("secretary", keys, *span, settings)
    assert full_totals[10**9] == kpis.Figures() and full_totals[keys[0]].answered > 0
    for key in keys:
        assert kpis.indicators(full_totals[key], settings) == kpis.indicators(quick_totals[key], settings)
    assert rollups.totals("account", None, *span).keys() == {alpha.pk, beta.pk}


def test_offered_per_quarter_hour_sums_the_shards(alpha, beta, personas):
    make_calls(alpha, beta, personas, count=30, seed=8)
    rollups.sweep()
    span = T0 - timedelta(days=1), T0 + timedelta(days=3)
    for scope, key in (("total", None), ("account", alpha.pk)):
        series = rollups.read(scope, key, "15min", *span, PARIS)
        expected = [(start, f.offered) for start, f in sorted(series.items()) if f.offered]
        assert rollups.offered(scope, key, *span) == expected
    assert sum(n for _s, n in rollups.offered("total", None, *span)) == len(_over(Call.objects.all()))


def _over(calls):
    return [c.pk for c in calls if Call.objects.get(pk=c.pk).state in rollups.OVER and not c.training]


@pytest.mark.django_db(transaction=True)
def test_calls_of_other_accounts_ending_in_parallel_never_wait_for_each_other(alpha, beta, personas):
    """PostgreSQL, two connections: while a call of Alpha is being counted (its transaction open, its
    rows written), a call of Beta is counted without waiting on any lock (a wait would fail at once)."""
    import threading

    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("row locks of parallel transactions: PostgreSQL")
    assert alpha.pk % rollups.SHARDS != beta.pk % rollups.SHARDS  # their totals in different rows
    calls = make_calls(alpha, beta, personas, count=12, seed=6)
    over = _over(calls)
    first_alpha = next(pk for pk in over if Call.objects.get(pk=pk).account_id == alpha.pk)
    first_beta = next(pk for pk in over if Call.objects.get(pk=pk).account_id == beta.pk)
    written, release, failures = threading.Event(), threading.Event(), []

    def count_alpha():
        try:
            with transaction.atomic():
                assert rollups.add([first_alpha]) == 1
                written.set()
                release.wait(timeout=60)
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)
            written.set()
        finally:
            connection.close()

    worker = threading.Thread(target=count_alpha)
    worker.start()
    try:
        assert written.wait(timeout=60)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '50ms'")  # waiting on a lock: an error
            assert rollups.add([first_beta]) == 1
    finally:
        release.set()
        worker.join()
    assert not failures
    total = kpis.merge(stored_rows("total", "day").values())
    assert total.offered == 2


@pytest.mark.django_db(transaction=True)
def test_many_calls_ending_in_parallel_lose_no_count(alpha, beta, personas):
    """PostgreSQL, four connections counting calls of the same accounts at once: the rollups equal a
    recomputation (no count lost, no deadlock)."""
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("parallel transactions: PostgreSQL")
    calls = make_calls(alpha, beta, personas, count=80, seed=7)
    over = _over(calls)
    failures, counted = [], []

    def count(ids):
        try:
            counted.append(rollups.add(ids))
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=count, args=(over[i::4],)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not failures and sum(counted) == len(over)
    zones = {alpha.pk: alpha.tz, beta.pk: beta.tz}
    for scope in rollups.SCOPES:
        for grain in rollups.GRAINS:
            stored, expected = stored_rows(scope, grain), recomputed(scope, grain, zones, calls)
            assert stored.keys() == expected.keys(), (scope, grain)
            assert all(same(stored[where], figures) for where, figures in expected.items()), (scope, grain)


def test_the_migration_converts_the_json_rollups(db):
    """Its conversion of a row's JSON figures (the migration itself runs as the test database is made)."""
    import importlib

    migration = importlib.import_module("permanence.reporting.migrations.0003_rollup_counters")
    start = datetime(2026, 11, 30, 7, 0, tzinfo=ZoneInfo("UTC"))
    figures = kpis.Figures(offered=3, answered=2, abandoned=1, wait_answered_seconds=20.5,
                           staffed_seconds=900.0, longest_wait_seconds=14.0, fcr_resolved=1, fcr_eligible=2,
                           talk_seconds=0.000003)
    figures.answered_waits[1] = figures.answered_waits[3] = figures.abandoned_waits[120] = 1
    stored = rollups.to_json(figures)
    assert stored["answered_waits"] == {"1": 1, "3": 1}  # the JSON rows kept the non-empty buckets only
    Rollup.objects.create(grain="15min", scope="total", key=0, start=start, **migration.counters(stored))
    row = Rollup.objects.get()
    assert rollups.from_json(row.figures) == figures and row.aw2 is None
    series = rollups.read("total", None, "15min", start, start + timedelta(hours=1), PARIS)
    assert series[start].answered_within(15) == 2 and series[start].answered_within(10) == 1
    # the first form, full lists
    assert migration.counters({"answered_waits": [0, 2]}) == {**migration.counters({}), "aw1": 2}
