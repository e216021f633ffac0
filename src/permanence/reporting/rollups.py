"""Keep the rollups up to date: each call is added once when it is over (answered and wrapped up,
abandoned or diverted), each message once taken and once acknowledged, for every scope and grain;
``rebuild`` recomputes a period from the raw events (and is how the tests check that the rollups
equal a recomputation).

Quarter-hours are absolute; days are the account's days for an account, the operator's
(``TIME_ZONE``) for secretaries and for the total. Training calls are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from permanence.accounts.models import Account
from permanence.calls import lifecycle
from permanence.calls.models import Call
from permanence.reporting import kpis
from permanence.reporting.models import Rollup

OVER = lifecycle.OVER
SCOPES: tuple[kpis.By, ...] = ("account", "secretary", "total")
GRAINS: tuple[kpis.Grain, ...] = ("15min", "day")


HISTOGRAMS = ("answered_waits", "abandoned_waits")
FIELDS = tuple(f.name for f in fields(kpis.Figures))


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


def _pieces(
    facts: list[kpis.CallFacts],
    account_zones: dict[int, tzinfo],
    presences: Sequence[kpis.Presence] = (),
    messages: Sequence[kpis.MessageFact] = (),
) -> dict[tuple[str, str, int, datetime], kpis.Figures]:
    """The rollup rows (grain, scope, key, start) these calls, presences and messages add to."""
    out: dict[tuple[str, str, int, datetime], kpis.Figures] = {}
    for scope in SCOPES:
        for grain in GRAINS:
            parts: list[
                tuple[tzinfo, list[kpis.CallFacts], Sequence[kpis.Presence], Sequence[kpis.MessageFact]]
            ]
            if scope == "account" and grain == "day":  # the account's own days (presence has no account)
                groups: dict[int, tuple[list[kpis.CallFacts], list[kpis.MessageFact]]] = {}
                for fact in facts:
                    groups.setdefault(fact.account, ([], []))[0].append(fact)
                for message in messages:
                    groups.setdefault(message.account, ([], []))[1].append(message)
                parts = [(account_zones[a], calls, (), said) for a, (calls, said) in groups.items()]
            else:
                parts = [(operator_zone(), facts, presences, messages)]
            for zone, group, present, said in parts:
                for (key, start), figures in kpis.compute(
                    group, by=scope, grain=grain, zone=zone, presences=present, messages=said
                ).items():
                    target = out.setdefault((grain, scope, key or 0, start), kpis.Figures())
                    target.add(figures)
    return out


def _merge(pieces: dict[tuple[str, str, int, datetime], kpis.Figures]) -> None:
    for (grain, scope, key, start), figures in sorted(
        pieces.items(), key=lambda item: item[0][:3] + (item[0][3].timestamp(),)
    ):
        row, _ = Rollup.objects.select_for_update().get_or_create(
            grain=grain, scope=scope, key=key, start=start
        )
        total = from_json(row.figures).add(figures) if row.figures else figures
        row.figures, row.calls = to_json(total), total.offered
        row.save(update_fields=["figures", "calls"])


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
    back (so the figure of the last ``FCR_WINDOW`` is provisional)."""
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
                    _take_back_repeated(call)
                _merge(pieces)
            call.rolled_up_at = timezone.now()
            call.save(update_fields=["rolled_up_at", "called_again"])
            added += 1
    return added


def _take_back_repeated(call: Call) -> None:
    """The earlier calls this one repeats were counted resolved: no longer."""
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
    for previous in earlier.select_related("account"):
        facts = call_facts(previous)
        if facts is None:
            continue
        undo = {}
        for where, figures in _pieces([facts], {previous.account_id: previous.account.tz}).items():
            if figures.fcr_eligible:
                undo[where] = kpis.Figures(fcr_resolved=-figures.fcr_eligible)
        _merge(undo)
        previous.called_again = True
        previous.save(update_fields=["called_again"])


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
        starts = [where[3] for where in pieces]
        existing = {
            (r.grain, r.scope, r.key, r.start): r
            for r in Rollup.objects.select_for_update().filter(start__gte=min(starts), start__lte=max(starts))
        }
        new, changed = [], []
        for where, figures in pieces.items():
            row = existing.get(where)
            if row is None:
                grain, scope, key, start = where
                new.append(
                    Rollup(
                        grain=grain, scope=scope, key=key, start=start, figures=to_json(figures),
                        calls=figures.offered,
                    )
                )  # fmt: skip
            else:
                total = from_json(row.figures).add(figures)
                row.figures, row.calls = to_json(total), total.offered
                changed.append(row)
        Rollup.objects.bulk_create(new, batch_size=2000)
        Rollup.objects.bulk_update(changed, ["figures", "calls"], batch_size=2000)
        ids = [f.call for f in facts]
        for chunk in range(0, len(ids), 5000):
            Call.objects.filter(pk__in=ids[chunk : chunk + 5000]).update(rolled_up_at=timezone.now())
        for chunk in range(0, len(again), 5000):
            Call.objects.filter(pk__in=again[chunk : chunk + 5000]).update(called_again=True)
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
            _merge(_pieces([], {}, [kpis.Presence(span.secretary_id, None, span.start, span.end)]))
            span.rolled_up = True
            span.save(update_fields=["rolled_up"])
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
            if not message.rolled_up:
                _merge(_pieces([], zones, messages=[fact]))  # sent, and acknowledged if already
                message.rolled_up, message.ack_rolled_up = True, acknowledged
                added += 1
            elif acknowledged and not message.ack_rolled_up:
                pieces = _pieces([], zones, messages=[fact])
                for figures in pieces.values():
                    figures.messages_sent = 0  # counted when taken
                _merge(pieces)
                message.ack_rolled_up = True
                added += 1
            message.save(update_fields=["rolled_up", "ack_rolled_up"])
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


def totals(scope: kpis.By, keys: Iterable[int], start: datetime, end: datetime) -> dict[int, kpis.Figures]:
    """Each key's figures over [start, end) (whole days), summed: one query for a list of accounts or
    secretaries, where ``read`` per key would take one each."""
    out = {key: kpis.Figures() for key in keys}
    rows = Rollup.objects.filter(grain="day", scope=scope, key__in=list(out), start__gte=start, start__lt=end)
    for key, data in rows.values_list("key", "figures"):
        out[key].add(from_json(data))
    return out


def read(
    scope: kpis.By, key: int | None, grain: kpis.Grain, start: datetime, end: datetime, zone: tzinfo
) -> dict[datetime, kpis.Figures]:
    """Figures per interval of ``grain`` over [start, end), from the rollups only: quarter-hours for
    15/30/60 minutes, days for days and months."""
    source = "15min" if grain in ("15min", "30min", "60min") else "day"
    rows = Rollup.objects.filter(grain=source, scope=scope, key=key or 0, start__gte=start, start__lt=end)
    out: dict[datetime, kpis.Figures] = {}
    for row_start, data in rows.order_by("start").values_list("start", "figures"):
        bucket = kpis.interval_start(row_start, grain, zone)
        out.setdefault(bucket, kpis.Figures()).add(from_json(data))
    return out
