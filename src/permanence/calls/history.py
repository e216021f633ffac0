"""A synthetic history of calls for the demo (reports and forecasts have weeks to show).

Calls are drawn as the service sees them: Poisson arrivals per quarter-hour within the account's
opening hours (closed on its public holidays), a morning peak at 9-11 and a smaller one at 14-16,
busier Mondays, quieter Fridays, a weekly growth; waits, hang-ups, talk and wrap-up times drawn at
random; some callers call again within three days. They are stored as real calls with their events
(through the lifecycle core, so they are valid) and counted in the rollups at once (``bulk``), the
same figures a rebuild from the raw events gives.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction

from permanence.accounts import hours
from permanence.accounts.models import Account
from permanence.calls import lifecycle
from permanence.calls.lifecycle import Kind
from permanence.calls.models import Call, CallEvent

WEEKDAY_WEIGHT = (1.25, 1.05, 1.0, 1.0, 0.8, 0.3, 0.2)
REPEAT_SHARE = 0.08  # callers who call the same account again within three days
Progress = Callable[[str], None]  # told a line of text at each step


def report_to(out: Any) -> Progress:
    """A progress callback that writes each line to ``out`` (a command's stdout) at once, even
    into a pipe."""

    def write(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    return write


def hour_weight(hour: float) -> float:
    """Calls by time of day: a morning peak at 10:00, an afternoon one at 15:00."""
    return 0.25 + math.exp(-(((hour - 10.0) / 1.3) ** 2)) + 0.6 * math.exp(-(((hour - 15.0) / 1.5) ** 2))


@dataclass(frozen=True)
class Drawn:
    arrived: datetime
    caller: str
    events: list[lifecycle.Event]


def draw(
    account: Account,
    *,
    start: date,
    weeks: int,
    calls_per_week: float,
    growth: float,
    secretaries: Sequence[int],
    seed: int,
) -> list[Drawn]:
    """The calls of ``weeks`` weeks from ``start`` (a Monday), oldest first."""
    rng = random.Random(seed)
    zone = account.tz
    ranges: dict[int, list[tuple[time, time]]] = {weekday: [] for weekday in range(7)}
    for r in account.weekly_hours.all():
        ranges[r.weekday].append((r.opens, r.closes))
    off = hours.public_holidays(account.holiday_country, account.holiday_subdivision or None)

    # the weight of every open quarter-hour of a typical week, to share a week's calls out
    def open_at(weekday: int, moment: time) -> bool:
        return any(
            opens <= moment and (closes == time(0) or moment < closes) for opens, closes in ranges[weekday]
        )

    slots = [
        (weekday, quarter)
        for weekday in range(7)
        for quarter in range(96)
        if open_at(weekday, time(quarter // 4, quarter % 4 * 15))
    ]
    weights = {s: WEEKDAY_WEIGHT[s[0]] * hour_weight(s[1] / 4 + 0.125) for s in slots}
    total_weight = sum(weights.values()) or 1.0
    out: list[Drawn] = []
    recent: list[tuple[datetime, str]] = []
    for week in range(weeks):
        volume = calls_per_week * (1 + growth) ** week
        for (weekday, quarter), weight in weights.items():
            day = start + timedelta(weeks=week, days=weekday)
            if account.closed_on_holidays and off(day):
                continue
            begin = datetime.combine(day, time(quarter // 4, quarter % 4 * 15), tzinfo=zone)
            for _ in range(_poisson(rng, volume * weight / total_weight)):
                arrived = begin + timedelta(seconds=rng.uniform(0, 900))
                recent = [(at, number) for at, number in recent if arrived - at < timedelta(days=3)]
                if recent and rng.random() < REPEAT_SHARE:
                    caller = rng.choice(recent)[1]
                else:
                    caller = f"+336{rng.randrange(10**8):08d}" if rng.random() > 0.06 else ""
                if caller:
                    recent.append((arrived, caller))
                out.append(Drawn(arrived, caller, _life(rng, arrived, secretaries)))
    out.sort(key=lambda d: d.arrived)
    return out


def _poisson(rng: random.Random, mean: float) -> int:
    count, threshold, product = 0, math.exp(-mean), rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def _life(rng: random.Random, arrived: datetime, secretaries: Sequence[int]) -> list[lifecycle.Event]:
    wait = rng.expovariate(1 / 14)
    patience = rng.expovariate(1 / 150)
    events = [lifecycle.Event(Kind.ARRIVED, arrived), lifecycle.Event(Kind.QUEUED, arrived)]
    if patience < wait or not secretaries:
        events.append(lifecycle.Event(Kind.CALLER_HUNG_UP, arrived + timedelta(seconds=patience)))
        return events
    secretary = rng.choice(list(secretaries))
    answered = arrived + timedelta(seconds=wait)
    ended = answered + timedelta(seconds=rng.lognormvariate(math.log(130), 0.5))
    events += [
        lifecycle.Event(Kind.OFFERED, answered, secretary),
        lifecycle.Event(Kind.ANSWERED, answered, secretary),
        lifecycle.Event(Kind.ENDED, ended, secretary),
        lifecycle.Event(Kind.WRAPPED_UP, ended + timedelta(seconds=rng.uniform(10, 60)), secretary),
    ]
    return events


def generate(
    account: Account,
    *,
    weeks: int,
    until: date,
    calls_per_week: float,
    secretaries: Sequence[int],
    growth: float = 0.02,
    seed: int = 1,
    progress: Progress | None = None,
) -> int:
    """Store ``weeks`` weeks of calls ending the Sunday before ``until`` and count them in the
    rollups; nothing if the account already has calls in that period. How many were stored.
    ``progress`` is told a line after each week stored and once the calls are counted."""
    from permanence.reporting import rollups

    start = until - timedelta(days=until.weekday(), weeks=weeks)
    first = datetime.combine(start, time(0), tzinfo=account.tz)
    last = datetime.combine(start + timedelta(weeks=weeks), time(0), tzinfo=account.tz)
    if Call.objects.filter(account=account, arrived_at__gte=first, arrived_at__lt=last).exists():
        return 0
    drawn = draw(
        account,
        start=start,
        weeks=weeks,
        calls_per_week=calls_per_week,
        growth=growth,
        secretaries=secretaries,
        seed=seed,
    )
    number = account.numbers.filter(released_at__isnull=True).values_list("number", flat=True).first() or ""
    report = progress or (lambda line: None)
    by_week: list[list[Drawn]] = [[] for _ in range(weeks)]
    for item in drawn:  # oldest first, so each week's calls keep their order
        by_week[min((item.arrived.astimezone(account.tz).date() - start).days // 7, weeks - 1)].append(item)
    with transaction.atomic():
        calls: list[Call] = []
        for week, week_drawn in enumerate(by_week, start=1):
            stored = _store(account, number, week_drawn)
            calls += stored
            report(f"Call history, {account.name}: week {week} of {weeks} stored ({len(stored)} calls)")
        rollups.bulk(calls, [item.events for item in drawn])
        report(f"Call history, {account.name}: {len(calls)} calls counted in the reports")
    return len(calls)


#: of the answered calls, the share the secretary says are cold calls and wrong numbers (not billed)
NUISANCE_SHARES = (("cold_call", 0.03, "Démarchage : vente de panneaux solaires"),
                   ("wrong_number", 0.02, "Cherchait la boulangerie, numéro voisin"))  # fmt: skip


def _nuisance(item: Drawn) -> tuple[str, str]:
    """A cold call or a wrong number, drawn from the call's own time (the other draws stay as they were)."""
    if not any(event.kind is Kind.ANSWERED for event in item.events):
        return "", ""
    draw_ = random.Random(int(item.arrived.timestamp() * 1000)).random()
    for kind, share, reason in NUISANCE_SHARES:
        if draw_ < share:
            return kind, reason
        draw_ -= share
    return "", ""


def _store(account: Account, number: str, drawn: Sequence[Drawn]) -> list[Call]:
    """Store these drawn calls and their events; the calls, with their ids."""
    calls = []
    for item in drawn:
        summary = lifecycle.fold(item.events)
        nuisance, reason = _nuisance(item)
        calls.append(
            Call(
                account=account,
                called=number,
                caller=item.caller,
                external_id="history",
                state=summary.state,
                arrived_at=summary.arrived_at,
                answered_at=summary.answered_at,
                ended_at=summary.ended_at,
                last_event_at=summary.last_at,
                secretary_id=summary.secretary,
                nuisance=nuisance,
                nuisance_reason=reason,
            )
        )
    calls = Call.objects.bulk_create(calls, batch_size=2000)
    CallEvent.objects.bulk_create(
        (
            CallEvent(call=call, seq=seq, kind=event.kind, at=event.at, secretary_id=event.secretary,
                      detail={"nuisance": call.nuisance}
                      if call.nuisance and event.kind is Kind.WRAPPED_UP else {})
            for call, item in zip(calls, drawn, strict=True)
            for seq, event in enumerate(item.events, start=1)
        ),
        batch_size=5000,
    )
    return calls
