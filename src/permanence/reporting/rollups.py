"""Keep the rollups up to date: each call is added once when it is over (answered and wrapped up,
abandoned or diverted), each message once taken and once acknowledged, for every scope and grain;
``rebuild`` recomputes a period from the raw events (and is how the tests check that the rollups
equal a recomputation).

Quarter-hours are absolute; days are the account's days for an account, the operator's
(``TIME_ZONE``) for secretaries and for the total. Training calls are left out.

A row holds integer counters (``models.Rollup``): what a call adds is written with one upsert that adds
to them in the database (``col = col + excluded.col``, the longest wait as a maximum), never read,
merged and written back, so that calls ending in parallel do not wait for one another's figures. The
total is kept in ``SHARDS`` rows per interval (by account), the calls no secretary took likewise, so that
calls of different accounts do not add to the same row. Reports read sums computed by the database
(``read``, ``totals``): one query per report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import UTC, datetime, tzinfo
from operator import truediv
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from permanence.accounts.models import Account
from permanence.calls import lifecycle
from permanence.calls.models import Call
from permanence.reporting import kpis
from permanence.reporting import models as schema
from permanence.reporting.models import Rollup

OVER = lifecycle.OVER
SCOPES: tuple[kpis.By, ...] = ("account", "secretary", "total")
GRAINS: tuple[kpis.Grain, ...] = ("15min", "day")


HISTOGRAMS = ("answered_waits", "abandoned_waits")
FIELDS = tuple(f.name for f in fields(kpis.Figures))
SHARDS = 16  # rows per interval of the total (and of the calls no secretary took), chosen by account
assert schema.BUCKETS == kpis.BUCKETS
assert set(FIELDS) == {*schema.COUNTS, *schema.MICROS, "longest_wait_seconds", *schema.HISTOGRAMS}


def to_json(figures: kpis.Figures) -> dict[str, Any]:
    """Stored compactly: the wait histograms keep their non-empty buckets only."""
    data: dict[str, Any] = {name: getattr(figures, name) for name in FIELDS}  # asdict deep-copies: slow
    for name in HISTOGRAMS:
        data[name] = {str(i): n for i, n in enumerate(data[name]) if n}
    return data


def from_json(data: dict[str, Any]) -> kpis.Figures:
    known = {f.name for f in fields(kpis.Figures)}
    values = {k: v for k, v in data.items() if k in known}
    for name in HISTOGRAMS:
        stored = values.get(name)
        if isinstance(stored, dict):
            histogram = [0] * kpis.BUCKETS
            for index, count in stored.items():
                histogram[int(index)] = count
            values[name] = histogram
    return kpis.Figures(**values)


def operator_zone() -> tzinfo:
    return ZoneInfo(settings.TIME_ZONE)


def call_facts(call: Call) -> kpis.CallFacts | None:
    return kpis.facts(
        call.pk, call.account_id, call.caller, (e.as_core() for e in call.events.order_by("seq"))
    )


Where = tuple[str, str, int, datetime]  # grain, scope, key, start: a rollup row
Computed = dict[tuple[kpis.Key, datetime], kpis.Figures]


def _pieces(
    facts: list[kpis.CallFacts],
    account_zones: dict[int, tzinfo],
    presences: Sequence[kpis.Presence] = (),
    messages: Sequence[kpis.MessageFact] = (),
) -> dict[Where, kpis.Figures]:
    """The rollup rows (grain, scope, key, start) these calls, presences and messages add to."""
    out: dict[Where, kpis.Figures] = {}

    def keep(grain: str, scope: str, key: int, computed: Computed) -> None:
        for (found, start), figures in computed.items():
            target = out.setdefault((grain, scope, key if found is None else found, start), kpis.Figures())
            target.add(figures)

    shards: dict[int, tuple[list[kpis.CallFacts], list[kpis.Presence], list[kpis.MessageFact]]] = {}
    for fact in facts:
        shards.setdefault(fact.account % SHARDS, ([], [], []))[0].append(fact)
    for presence in presences:
        shard = (presence.secretary if presence.account is None else presence.account) % SHARDS
        shards.setdefault(shard, ([], [], []))[1].append(presence)
    for message in messages:
        shards.setdefault(message.account % SHARDS, ([], [], []))[2].append(message)
    zone = operator_zone()
    for grain in GRAINS:
        if grain == "day":  # the account's own days (presence has no account)
            groups: dict[int, tuple[list[kpis.CallFacts], list[kpis.MessageFact]]] = {}
            for fact in facts:
                groups.setdefault(fact.account, ([], []))[0].append(fact)
            for message in messages:
                groups.setdefault(message.account, ([], []))[1].append(message)
            for account, (calls, said) in groups.items():
                local = account_zones[account]
                computed = kpis.compute(calls, by="account", grain=grain, zone=local, messages=said)
                keep(grain, "account", 0, computed)
        else:
            keep(grain, "account", 0, kpis.compute(facts, by="account", grain=grain, zone=zone,
                                                   presences=presences, messages=messages))
        for shard, (calls, present, said) in shards.items():
            # the total's shard; the calls no secretary took: minus the shard (0 for the first)
            for scope, key in (("secretary", -shard), ("total", shard)):
                keep(grain, scope, key, kpis.compute(calls, by=scope, grain=grain, zone=zone,  # type: ignore[arg-type]
                                                     presences=present, messages=said))
    return out


def _counters(figures: kpis.Figures) -> dict[str, int]:
    """The columns a piece adds to, without the zeros."""
    out = {column: value for name, column in schema.COUNTS.items() if (value := getattr(figures, name))}
    for name, column in schema.MICROS.items():
        if micros := round(getattr(figures, name) * 1_000_000):
            out[column] = micros
    if longest := round(figures.longest_wait_seconds * 1_000_000):
        out[schema.LONGEST] = longest
    for name, prefix in schema.HISTOGRAMS.items():
        for index, count in enumerate(getattr(figures, name)):
            if count:
                out[f"{prefix}{index}"] = count
    return out


HISTOGRAM_COLUMNS = {f"{p}{i}" for p in schema.HISTOGRAMS.values() for i in range(kpis.BUCKETS)}


def _upsert(pieces: dict[Where, kpis.Figures]) -> int:
    """Add the pieces to their rows: one INSERT ... ON CONFLICT DO UPDATE that adds in the database,
    rows in a fixed order (two transactions never lock the same rows in opposite orders)."""
    rows = []
    for where, figures in pieces.items():
        counters = _counters(figures)
        if counters:
            rows.append((where[:3] + (where[3].timestamp(),), where, counters))
    if not rows:
        return 0
    rows.sort(key=lambda row: row[0])
    columns = sorted({column for _order, _where, counters in rows for column in counters})
    quote = connection.ops.quote_name
    table = quote(Rollup._meta.db_table)
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    updates = []
    for column in columns:
        mine, new = f"{table}.{quote(column)}", f"excluded.{quote(column)}"
        if column in HISTOGRAM_COLUMNS:
            updates.append(f"{quote(column)} = COALESCE({mine} + {new}, {mine}, {new})")
        elif column == schema.LONGEST:
            updates.append(f"{quote(column)} = {greatest}({mine}, {new})")
        else:
            updates.append(f"{quote(column)} = {mine} + {new}")
    names = ", ".join(quote(c) for c in ("grain", "scope", "key", "start", *columns))
    placeholder = "(" + ", ".join(["%s"] * (4 + len(columns))) + ")"
    per_statement = max(1, 30_000 // (4 + len(columns)))  # SQLite's limit of parameters
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for first in range(0, len(rows), per_statement):
            chunk = rows[first : first + per_statement]
            params: list[Any] = []
            for _order, (grain, scope, key, start), counters in chunk:
                params += [grain, scope, key, adapt(start)]
                params += [counters.get(c, None if c in HISTOGRAM_COLUMNS else 0) for c in columns]
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join([placeholder] * len(chunk))} "
                f"ON CONFLICT (grain, scope, {quote('key')}, start) DO UPDATE SET {', '.join(updates)}",
                params,
            )
    return len(rows)


FCR_WINDOW = kpis.Settings().fcr_window


def _repeats(call: Call) -> Any:
    """Other calls of the same caller to the same account (training left out)."""
    return Call.objects.filter(account_id=call.account_id, caller=call.caller, training=False).exclude(
        pk=call.pk
    )


def add(call_ids: Iterable[int]) -> int:
    """Add the calls that are over and not yet counted; how many were added. Idempotent.

    First-call resolution: a call is counted resolved unless the caller has already called the
    account again within the window; when a call arrives, the earlier calls it repeats are taken
    back (so the figure of the last ``FCR_WINDOW`` is provisional). What a call adds (and takes
    back) is written last, in one upsert, just before its transaction commits."""
    added = 0
    for call_id in call_ids:
        with transaction.atomic():
            call = Call.objects.select_for_update().select_related("account").filter(pk=call_id).first()
            if call is None or call.rolled_up_at is not None or call.state not in OVER or call.training:
                continue
            facts = call_facts(call)
            zones = {call.account_id: call.account.tz}
            if facts is not None:
                pieces = _pieces([facts], zones)
                if call.caller and call.arrived_at:
                    call.called_again = (
                        _repeats(call)
                        .filter(arrived_at__gt=call.arrived_at, arrived_at__lte=call.arrived_at + FCR_WINDOW)
                        .exists()
                    )
                    if call.called_again:
                        for figures in pieces.values():
                            figures.fcr_resolved -= figures.fcr_eligible
                    for where, undo in _take_back_repeated(call).items():
                        pieces.setdefault(where, kpis.Figures()).add(undo)
                call.rolled_up_at = timezone.now()
                call.save(update_fields=["rolled_up_at", "called_again"])
                _upsert(pieces)
            else:
                call.rolled_up_at = timezone.now()
                call.save(update_fields=["rolled_up_at", "called_again"])
            added += 1
    return added


def _take_back_repeated(call: Call) -> dict[Where, kpis.Figures]:
    """The earlier calls this one repeats were counted resolved: no longer (what to add)."""
    assert call.arrived_at is not None
    earlier = (
        _repeats(call)
        .select_for_update()
        .filter(
            rolled_up_at__isnull=False,
            called_again=False,
            answered_at__isnull=False,
            arrived_at__gte=call.arrived_at - FCR_WINDOW,
            arrived_at__lt=call.arrived_at,
        )
    )
    undo: dict[Where, kpis.Figures] = {}
    for previous in earlier.select_related("account"):
        facts = call_facts(previous)
        if facts is None:
            continue
        for where, figures in _pieces([facts], {previous.account_id: previous.account.tz}).items():
            if figures.fcr_eligible:
                undo.setdefault(where, kpis.Figures()).fcr_resolved -= figures.fcr_eligible
        previous.called_again = True
        previous.save(update_fields=["called_again"])
    return undo


def bulk(calls: Sequence[Call], events: Sequence[Sequence[lifecycle.Event]]) -> int:
    """Count many calls just stored with their events (a history loaded at once), in a few queries:
    the same rows as adding them one by one. First-call resolution looks at these calls only."""
    facts = []
    for call, call_events in zip(calls, events, strict=True):
        if call.state in OVER and not call.training:
            fact = kpis.facts(call.pk, call.account_id, call.caller, call_events)
            if fact is not None:
                facts.append(fact)
    if not facts:
        return 0
    zones = {a.pk: a.tz for a in Account.objects.filter(pk__in={f.account for f in facts})}
    by_caller: dict[tuple[int, str], list[datetime]] = {}
    for fact in facts:
        if fact.caller:
            by_caller.setdefault((fact.account, fact.caller), []).append(fact.arrived_at)
    again = [
        f.call
        for f in facts
        if f.caller
        and any(f.arrived_at < t <= f.arrived_at + FCR_WINDOW for t in by_caller[(f.account, f.caller)])
    ]
    pieces = _pieces(facts, zones)
    with transaction.atomic():
        ids = [f.call for f in facts]
        for chunk in range(0, len(ids), 5000):
            Call.objects.filter(pk__in=ids[chunk : chunk + 5000]).update(rolled_up_at=timezone.now())
        for chunk in range(0, len(again), 5000):
            Call.objects.filter(pk__in=again[chunk : chunk + 5000]).update(called_again=True)
        _upsert(pieces)
    return len(facts)


def add_presence(span_ids: Iterable[int]) -> int:
    """Add closed presence spans to the secretary and total rollups, once each."""
    from permanence.calls.models import PresenceSpan

    added = 0
    for span_id in span_ids:
        with transaction.atomic():
            span = PresenceSpan.objects.select_for_update().filter(pk=span_id).first()
            if span is None or span.rolled_up or span.end is None:
                continue
            span.rolled_up = True
            span.save(update_fields=["rolled_up"])
            _upsert(_pieces([], {}, [kpis.Presence(span.secretary_id, None, span.start, span.end)]))
            added += 1
    return added


def sweep_presence(now: datetime | None = None) -> int:
    """Cut the open presence spans at the last quarter-hour (a new one goes on from there) and add
    every closed span not yet counted: occupancy follows within a quarter-hour."""
    from permanence.calls.models import PresenceSpan

    now = now or timezone.now()
    boundary = kpis.interval_start(now, "15min", operator_zone())
    with transaction.atomic():
        for span in PresenceSpan.objects.select_for_update().filter(end__isnull=True, start__lt=boundary):
            span.end = boundary
            span.save(update_fields=["end"])
            PresenceSpan.objects.create(secretary_id=span.secretary_id, start=boundary)
    return _add_closed_presence()


def _add_closed_presence(limit: int = 5000) -> int:
    from permanence.calls.models import PresenceSpan

    pending = PresenceSpan.objects.filter(end__isnull=False, rolled_up=False).order_by("pk")
    return add_presence(list(pending.values_list("pk", flat=True)[:limit]))


def counted_messages() -> Any:
    """The messages the reports count: taken at the desk (not a training call's, not a reminder sent
    by the escalation, not an appointment notice to a caller)."""
    from permanence.messaging.models import Message

    return Message.objects.filter(author__isnull=False, parent__isnull=True).exclude(
        status=Message.Status.TRAINING
    )


def add_messages(message_ids: Iterable[int]) -> int:
    """Count messages once when taken and once when acknowledged (in the interval they were taken
    in, for their account and their author); how many changes were added. Idempotent."""
    added = 0
    for message_id in message_ids:
        with transaction.atomic():
            message = (
                counted_messages()
                .select_for_update(of=("self",))  # PostgreSQL: not the outer-joined acknowledgement
                .select_related("account", "acknowledgement")
                .filter(pk=message_id)
                .first()
            )
            if message is None:
                continue
            acknowledged = hasattr(message, "acknowledgement")
            fact = kpis.MessageFact(message.account_id, message.author_id, message.created, acknowledged)
            zones = {message.account_id: message.account.tz}
            pieces = {}
            if not message.rolled_up:
                pieces = _pieces([], zones, messages=[fact])  # sent, and acknowledged if already
                message.rolled_up, message.ack_rolled_up = True, acknowledged
                added += 1
            elif acknowledged and not message.ack_rolled_up:
                pieces = _pieces([], zones, messages=[fact])
                for figures in pieces.values():
                    figures.messages_sent = 0  # counted when taken
                message.ack_rolled_up = True
                added += 1
            message.save(update_fields=["rolled_up", "ack_rolled_up"])
            _upsert(pieces)
    return added


def sweep_messages(limit: int = 5000) -> int:
    """Messages not counted yet, and acknowledgements not counted yet (read from the small
    acknowledgements table: most messages are never acknowledged)."""
    from permanence.messaging.models import Acknowledgement

    taken = list(
        counted_messages().filter(rolled_up=False).order_by("pk").values_list("pk", flat=True)[:limit]
    )
    read = list(
        Acknowledgement.objects.filter(
            message__ack_rolled_up=False, message__in=counted_messages().filter(rolled_up=True)
        ).values_list("message_id", flat=True)[:limit]
    )
    return add_messages(sorted({*taken, *read}))


def sweep(limit: int = 1000) -> int:
    """Calls over but not counted (a worker stopped before): counted now."""
    pending = Call.objects.filter(state__in=OVER, rolled_up_at__isnull=True, training=False).order_by("pk")
    return add(list(pending.values_list("pk", flat=True)[:limit]))


def rebuild() -> int:
    """Recompute every rollup from the raw events (after a change of definitions)."""
    from permanence.calls.models import PresenceSpan

    with transaction.atomic():
        Rollup.objects.all().delete()
        Call.objects.update(rolled_up_at=None)
        PresenceSpan.objects.update(rolled_up=False)
        counted_messages().update(rolled_up=False, ack_rolled_up=False)
    total = 0
    while True:
        done = sweep(limit=5000)
        total += done
        if not done:
            break
    while _add_closed_presence():
        pass
    while sweep_messages():
        pass
    return total


def _datetime(value: Any) -> datetime:
    """A start as read by raw SQL: aware already (PostgreSQL) or text in UTC (SQLite)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = parse_datetime(value)
    assert parsed is not None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _sum(expression: str) -> str:
    return f"CAST(SUM({expression}) AS BIGINT)"


def _selection(thresholds: kpis.Settings | None) -> tuple[list[str], Any]:
    """The SQL sums of the figures, and how to make ``kpis.Figures`` of a row of them. With
    ``thresholds``, the histograms are summed only up to the thresholds they set (service level, short
    abandons): the figures then give these indicators exactly, in much less reading."""
    quote = connection.ops.quote_name
    counts, micros = list(schema.COUNTS.items()), list(schema.MICROS.items())
    # the counters are never NULL: their sums neither (a group has rows)
    expressions = [_sum(quote(c)) for _n, c in counts] + [_sum(quote(c)) for _n, c in micros]
    expressions.append(f"COALESCE(MAX({quote(schema.LONGEST)}), 0)")
    cuts: dict[str, list[int]] = {}
    for name, prefix in schema.HISTOGRAMS.items():
        if thresholds is None:
            cuts[name] = list(range(kpis.BUCKETS))
        else:
            wanted = {kpis._threshold_index(thresholds.threshold_seconds)}
            if name == "abandoned_waits":
                wanted.add(kpis._threshold_index(thresholds.short_abandon_seconds))
            cuts[name] = sorted(wanted)
        low = 0
        for high in cuts[name]:
            terms = " + ".join(f"COALESCE({quote(f'{prefix}{i}')}, 0)" for i in range(low, high + 1))
            expressions.append(f"SUM({terms})")
            low = high + 1
    n_counts, n_micros = len(counts), len(micros)
    names = [n for n, _c in counts] + [n for n, _c in micros] + ["longest_wait_seconds"]
    first_bucket = n_counts + n_micros + 1
    millions = [1_000_000] * (n_micros + 1)
    whole = {"answered_waits": "answered", "abandoned_waits": "abandoned"}
    plan = [(name, whole[name], indexes) for name, indexes in cuts.items()]
    new = object.__new__

    def figures(values: Sequence[Any]) -> kpis.Figures:
        """Built without ``__init__`` (a report reads thousands): every field is given here."""
        head = list(values[:n_counts])
        head += map(truediv, values[n_counts:first_bucket], millions)
        given: dict[str, Any] = dict(zip(names, head, strict=True))
        at = first_bucket
        for name, counted, indexes in plan:
            histogram = [0] * kpis.BUCKETS
            taken = 0
            for index in indexes:
                histogram[index] = count = values[at] or 0
                taken += count
                at += 1
            if thresholds is not None:  # the rest, beyond the last threshold, in the last bucket
                histogram[-1] = given[counted] - taken
            given[name] = histogram
        made = new(kpis.Figures)
        made.__dict__ = given
        return made  # type: ignore[no-any-return]

    return expressions, figures


def _query(
    group: str, grain: str, scope: kpis.By, key: int | None, keys: list[int] | None,
    start: datetime, end: datetime, thresholds: kpis.Settings | None,
) -> list[tuple[Any, kpis.Figures]]:
    """Sums of the rows of one grain and scope over [start, end), per ``group`` (start or key)."""
    quote = connection.ops.quote_name
    expressions, figures = _selection(thresholds)
    adapt = connection.ops.adapt_datetimefield_value
    where = ["grain = %s", "scope = %s", "start >= %s", "start < %s"]
    params: list[Any] = [grain, scope, adapt(start), adapt(end)]
    if scope == "total" or (group == "key" and keys is None):
        pass  # every shard, or every key
    elif keys is not None:
        where.append(f"{quote('key')} IN ({', '.join(['%s'] * len(keys))})")
        params += keys
    elif scope == "secretary" and not key:  # the calls no secretary took: every shard
        where.append(f"{quote('key')} <= 0")
    else:
        where.append(f"{quote('key')} = %s")
        params.append(key)
    column = quote(group)
    chosen = column
    if group == "start":  # as seconds since the epoch: cheaper to read than a timestamp with its zone
        chosen = (
            "CAST(EXTRACT(EPOCH FROM start) AS BIGINT)"
            if connection.vendor == "postgresql"
            else "CAST(strftime('%%s', start) AS INTEGER)"
        )
    sql = (
        f"SELECT {chosen}, {', '.join(expressions)} FROM {quote(Rollup._meta.db_table)} "
        f"WHERE {' AND '.join(where)} GROUP BY {column} ORDER BY {column}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(row[0], figures(row[1:])) for row in cursor.fetchall()]


def totals(
    scope: kpis.By,
    keys: Iterable[int] | None,
    start: datetime,
    end: datetime,
    thresholds: kpis.Settings | None = None,
) -> dict[int, kpis.Figures]:
    """Each key's figures over [start, end) (whole days), summed by the database in one query for
    a list of accounts or secretaries (``keys``; None: every key with figures). With ``thresholds``
    (the report's settings) the wait histograms are summed only as far as these settings read them."""
    wanted = None if keys is None else list(keys)
    out = {} if wanted is None else {key: kpis.Figures() for key in wanted}
    if wanted == []:
        return out
    for key, figures in _query("key", "day", scope, None, wanted, start, end, thresholds):
        key = 0 if scope == "total" or key < 0 else int(key)  # shards of one key
        if key in out and wanted is None:
            out[key].add(figures)
        else:
            out[key] = figures
    return out


def read(
    scope: kpis.By,
    key: int | None,
    grain: kpis.Grain,
    start: datetime,
    end: datetime,
    zone: tzinfo,
    thresholds: kpis.Settings | None = None,
) -> dict[datetime, kpis.Figures]:
    """Figures per interval of ``grain`` over [start, end), from the rollups only: quarter-hours for
    15/30/60 minutes, days for days and months, summed per row's start by the database (``thresholds``:
    as in ``totals``)."""
    source = "15min" if grain in ("15min", "30min", "60min") else "day"
    out: dict[datetime, kpis.Figures] = {}
    for row_start, figures in _query("start", source, scope, key, None, start, end, thresholds):
        at = datetime.fromtimestamp(row_start, zone)
        bucket = at if grain == "15min" else kpis.interval_start(at, grain, zone)
        if bucket in out:
            out[bucket].add(figures)
        else:
            out[bucket] = figures
    return out


def offered(scope: kpis.By, key: int | None, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The offered calls per quarter-hour with calls over [start, end) (the forecasts' history)."""
    quote = connection.ops.quote_name
    where, params = "", []
    if scope != "total":
        where, params = f"AND {quote('key')} = %s", [key or 0]
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT start, CAST(SUM(calls) AS BIGINT) FROM {quote(Rollup._meta.db_table)} "
            f"WHERE grain = '15min' AND scope = %s AND start >= %s AND start < %s {where} "
            "GROUP BY start ORDER BY start",
            [scope, adapt(start), adapt(end), *params],
        )
        return [(_datetime(at), int(calls)) for at, calls in cursor.fetchall() if calls]
