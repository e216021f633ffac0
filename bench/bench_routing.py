"""Routing decisions with 1,000 secretaries and 10,000 waiting calls over 800 accounts (aim: under
1 ms a decision). A decision: a secretary becomes ready (which call?), a call arrives (which ready
secretary?), and a desk round (``assign``) with 20 secretaries ready. Run: make bench.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from permanence.calls.routing import Call, Policy, Router, Secretary

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
ACCOUNTS, SECRETARIES, CALLS = 800, 1000, 10_000


def build(rng: random.Random, ready: int) -> tuple[Router, list[Secretary]]:
    groups = ["legal", "medical", "trades", "real_estate"]
    router = Router({a: Policy(overflow_after_seconds=45, max_wait_seconds=600) for a in range(ACCOUNTS)})
    for i in range(CALLS):
        account = rng.randrange(ACCOUNTS)
        router.add_call(
            Call(
                i,
                account,
                T0 + timedelta(seconds=rng.uniform(0, 300)),
                priority=rng.choice((0, 0, 0, 1, 2)),
                group=groups[account % 4],
            )
        )
    people = [
        Secretary(
            i,
            {a: rng.randint(1, 5) for a in rng.sample(range(ACCOUNTS), 40)},
            T0 - timedelta(seconds=rng.uniform(0, 600)),
            groups=frozenset({groups[i % 4]}),
        )
        for i in range(SECRETARIES)
    ]
    for person in people[:ready]:
        router.set_ready(person)
    return router, people


def timed(runs: list[float]) -> str:
    runs.sort()
    return f"p50 {statistics.median(runs) * 1000:.3f} ms, p99 {runs[int(len(runs) * 0.99) - 1] * 1000:.3f} ms"


def main() -> None:
    rng = random.Random(5)
    router, people = build(rng, ready=SECRETARIES)
    now = T0 + timedelta(seconds=310)
    runs = []
    for person in rng.sample(people, 500):
        began = time.perf_counter()
        router.next_call_for(person, now)
        runs.append(time.perf_counter() - began)
    print(f"a secretary becomes ready (40 accounts each, {CALLS} calls waiting): {timed(runs)}")
    runs = []
    for i in range(500):
        call = Call(CALLS + i, rng.randrange(ACCOUNTS), now)
        began = time.perf_counter()
        router.next_secretary_for(call, now)
        runs.append(time.perf_counter() - began)
    print(f"a call arrives ({SECRETARIES} secretaries ready): {timed(runs)}")
    runs = []
    for _ in range(50):
        router, _people = build(rng, ready=20)
        began = time.perf_counter()
        offers = router.assign(now)
        runs.append((time.perf_counter() - began) / max(1, len(offers)))
    print(f"a desk round with 20 ready, per offer made: {timed(runs)}")


if __name__ == "__main__":
    main()
