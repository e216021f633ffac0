"""Rating a month for 800 accounts sharing a month's share of 800,000 calls a year (about 66,700
calls), with their messages' deliveries and the appointments booked, through the pure rating core;
time and peak memory (tracemalloc). Absolute times mislead on a shared machine, so two naive peers
run on the same data in the same run and the ratio is printed: a plain loop summing per-call prices
in floats (what a spreadsheet would do, no rules, no lines), and sorting each account's calls by
arrival (the least any rating does). Accounts are of very different sizes (log-normal volumes);
one in ten changes plan mid-month; October has the clock change. Run: make bench.
"""

from __future__ import annotations

import math
import random
import time
import tracemalloc
from datetime import UTC, date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from permanence.billing.rating import (
    AppointmentItem,
    CallItem,
    DeliveryItem,
    Plan,
    PlanPeriod,
    Rating,
    Rules,
    month_bounds,
    rate,
)

ACCOUNTS = 800
CALLS_A_YEAR = 800_000
PARIS = ZoneInfo("Europe/Paris")
MONTH = date(2026, 10, 1)
RULES = Rules(short_abandon_seconds=5, hung_up_before_seconds=10, repeat_within_seconds=600)
CHANNELS = ("email", "email", "sms", "sms", "webhook", "push")

Account = tuple[list[PlanPeriod], list[CallItem], list[DeliveryItem], list[AppointmentItem]]


def a_plan(rng: random.Random) -> Plan:
    cents = lambda low, high: Decimal(rng.randint(low, high)) / 100  # noqa: E731
    return Plan(
        monthly_fee=cents(2000, 30000),
        included_calls=rng.choice([0, 50, 100, 200]),
        included_minutes=rng.choice([0, 100, 300]),
        per_call=cents(50, 250),
        per_minute=rng.choice([Decimal(0), cents(10, 60)]),
        after_hours_surcharge=rng.choice([Decimal(0), cents(100, 300)]),
        holiday_surcharge=rng.choice([Decimal(0), cents(200, 500)]),
        per_message={"email": cents(0, 5), "sms": cents(6, 12), "webhook": Decimal(0), "push": cents(0, 2)},
        per_appointment=cents(0, 200),
        minimum=rng.choice([Decimal(0), cents(5000, 9000)]),
        cap=rng.choice([None, None, None, cents(40000, 90000)]),
    )


def build(rng: random.Random) -> list[Account]:
    start, end = month_bounds(MONTH, PARIS)
    span = (end - start).total_seconds()
    weights = [rng.lognormvariate(0, 1.2) for _ in range(ACCOUNTS)]
    scale = CALLS_A_YEAR / 12 / sum(weights)
    callers = [f"+336{n:08d}" for n in range(40_000)]
    next_id = 1
    accounts: list[Account] = []
    for weight in weights:
        periods = [PlanPeriod(date(2025, 1, 1), a_plan(rng))]
        if rng.random() < 0.1:
            periods.append(PlanPeriod(MONTH + timedelta(days=rng.randint(1, 29)), a_plan(rng)))
        calls, deliveries, appointments = [], [], []
        for _ in range(max(1, round(weight * scale))):
            # a tenth of a day before the month too: context for the repeat rule
            arrived = start + timedelta(seconds=rng.uniform(-8640, span))
            answered = rng.random() < 0.9
            wait = timedelta(seconds=rng.expovariate(1 / 15))
            talk = timedelta(seconds=rng.expovariate(1 / 150))
            local_hour = arrived.astimezone(PARIS).hour
            calls.append(
                CallItem(
                    next_id,
                    arrived.astimezone(UTC),
                    (arrived + wait).astimezone(UTC) if answered else None,
                    (arrived + wait + (talk if answered else timedelta(0))).astimezone(UTC),
                    outbound=rng.random() < 0.05,
                    training=rng.random() < 0.01,
                    caller="" if rng.random() < 0.1 else rng.choice(callers),
                    nuisance=rng.choices(["", "cold_call", "wrong_number"], [96, 2, 2])[0],
                    after_hours=local_hour < 8 or local_hour >= 19,
                    holiday=False,
                )
            )
            next_id += 1
            if answered and rng.random() < 0.7:  # a message, to one or two recipients
                for _ in range(rng.choice([1, 1, 2])):
                    channel = rng.choice(CHANNELS)
                    deliveries.append(
                        DeliveryItem(
                            next_id,
                            (arrived + wait + talk + timedelta(seconds=90)).astimezone(UTC),
                            channel,
                            parts=rng.choice([1, 1, 2, 3]) if channel == "sms" else 1,
                            delivered=rng.random() < 0.98,
                        )
                    )
                    next_id += 1
            if answered and rng.random() < 0.08:
                appointments.append(AppointmentItem(next_id, (arrived + wait + talk).astimezone(UTC)))
                next_id += 1
        accounts.append((periods, calls, deliveries, appointments))
    return accounts


def rate_all(accounts: list[Account]) -> list[Rating]:
    return [
        rate(MONTH, PARIS, periods, RULES, calls=calls, deliveries=deliveries, appointments=appointments)
        for periods, calls, deliveries, appointments in accounts
    ]


def float_loop(accounts: list[Account]) -> float:
    """The naive peer: per-call prices summed in floats, no rules, no lines, no proration."""
    grand = 0.0
    for periods, calls, deliveries, _ in accounts:
        plan = periods[-1].plan
        per_call, per_minute = float(plan.per_call), float(plan.per_minute)
        total = float(plan.monthly_fee)
        for call in calls:
            if call.answered_at is not None and call.ended_at is not None:
                minutes = math.ceil((call.ended_at - call.answered_at).total_seconds() / 60)
                total += per_call + minutes * per_minute
        for delivery in deliveries:
            total += float(plan.per_message.get(delivery.channel, 0)) * delivery.parts
        grand += total
    return grand


def sort_only(accounts: list[Account]) -> int:
    return sum(len(sorted(calls, key=lambda c: (c.arrived_at, c.id))) for _, calls, _, _ in accounts)


def timed(function, accounts: list[Account], runs: int = 3) -> tuple[float, object]:
    best, result = math.inf, None
    for _ in range(runs):
        began = time.perf_counter()
        result = function(accounts)
        best = min(best, time.perf_counter() - began)
    return best, result


def main() -> None:
    accounts = build(random.Random(19))
    start, end = month_bounds(MONTH, PARIS)
    in_month = sum(1 for _, calls, _, _ in accounts for c in calls if start <= c.arrived_at < end)
    deliveries = sum(len(d) for _, _, d, _ in accounts)
    appointments = sum(len(a) for _, _, _, a in accounts)
    sizes = sorted(len(calls) for _, calls, _, _ in accounts)
    print(
        f"{ACCOUNTS} accounts, {MONTH:%B %Y}: {in_month:,} calls in the month "
        f"(+{sum(sizes) - in_month:,} just before, for the repeat rule), {deliveries:,} deliveries, "
        f"{appointments:,} appointments; calls per "
        f"account: median {sizes[len(sizes) // 2]}, largest {sizes[-1]}"
    )
    ours, ratings = timed(rate_all, accounts)
    assert isinstance(ratings, list)
    lines = sum(len(r.lines) for r in ratings)
    decisions = sum(len(r.decisions) for r in ratings)
    billed = sum(1 for r in ratings for d in r.decisions if d.kind == "call" and d.billed)
    total = sum((r.total for r in ratings), Decimal(0))
    print(
        f"rating: {ours:.2f} s ({ours / ACCOUNTS * 1e3:.2f} ms an account, "
        f"{ours / decisions * 1e6:.1f} us an item); "
        f"{lines:,} lines, {decisions:,} decisions ({billed:,} calls billed), {total:,.2f} EUR excl. VAT"
    )
    tracemalloc.start()
    tracemalloc.reset_peak()
    baseline_memory = tracemalloc.get_traced_memory()[0]
    kept = rate_all(accounts)
    peak = tracemalloc.get_traced_memory()[1] - baseline_memory
    tracemalloc.stop()
    del kept
    print(f"peak memory while rating every account (results kept): {peak / 2**20:.1f} MiB")
    loop, naive_total = timed(float_loop, accounts)
    sorting, _ = timed(sort_only, accounts)
    print(
        f"naive float loop: {loop:.3f} s (ours {ours / loop:.1f} x; its total {naive_total:,.2f}, no rules); "
        f"sorting the calls: {sorting:.3f} s (ours {ours / sorting:.1f} x)"
    )


if __name__ == "__main__":
    main()
