"""Staffing for 800 accounts x 96 quarter-hours (76,800 cells), Erlang C at 80 % in 20 s with 30 %
shrinkage, and Erlang A (patience 2 minutes) on a sample; side by side with the ``pyworkforce``
package when it is installed (``pip install pyworkforce``): same answers, time ratio.

Volumes per quarter-hour are drawn at random (seeded) so that traffic spans 0.2 to 100 Erlangs,
like a service carrying small and large clients. Run: make bench.
"""

from __future__ import annotations

import random
import time

from permanence.planning import erlang, simulation

ACCOUNTS, INTERVALS = 800, 96


def cells() -> list[tuple[float, float]]:
    rng = random.Random(7)
    out = []
    for _ in range(ACCOUNTS * INTERVALS):
        aht = rng.uniform(120, 420)
        traffic = rng.uniform(0.2, 100.0)
        out.append((traffic * 3600 / aht, aht))
    return out


def main() -> None:
    grid = cells()
    began = time.perf_counter()
    ours = [erlang.required_agents(calls, aht, shrinkage=0.3) for calls, aht in grid]
    elapsed = time.perf_counter() - began
    traffic = [s.performance.traffic for s in ours]
    print(
        f"Erlang C, {len(grid)} cells (traffic {min(traffic):.2f}-{max(traffic):.1f} Erlangs): "
        f"{elapsed:.2f} s, {elapsed / len(grid) * 1e6:.0f} us a cell"
    )
    sample = grid[:: len(grid) // 300]
    began = time.perf_counter()
    for calls, aht in sample:
        erlang.required_agents(calls, aht, patience=120)
    per_cell = (time.perf_counter() - began) / len(sample)
    print(
        f"Erlang A (patience 120 s), {len(sample)} cells: {per_cell * 1e3:.1f} ms a cell, "
        f"{per_cell * len(grid):.0f} s for the whole grid on one core"
    )
    began = time.perf_counter()
    day = simulation.simulate(
        [200 * 600],
        [14],
        interval_seconds=3600 * 600,
        handle_time=simulation.exponential(180),
        patience=simulation.exponential(300),
    ).total()
    spent = time.perf_counter() - began
    predicted = erlang.erlang_a_performance(14, 10.0, 180, 20, 300)
    print(
        f"simulator: {day.offered} calls in {spent:.2f} s ({day.offered / spent:,.0f} calls/s); "
        f"SL {day.service_level:.4f} (Erlang A {predicted.service_level:.4f}), abandonment "
        f"{day.abandonment:.4f} ({predicted.abandonment:.4f}), ASA {day.asa_seconds:.2f} s "
        f"({predicted.asa_seconds:.2f} s)"
    )
    routed_day()
    try:
        from pyworkforce.queuing import ErlangC
    except ImportError:
        print("pyworkforce is not installed: `pip install pyworkforce` to compare with it")
        return
    began = time.perf_counter()
    theirs = []
    for calls, aht in grid:
        model = ErlangC(transactions=calls / 4, aht=aht / 60, asa=20 / 60, interval=15, shrinkage=0.3)
        theirs.append(model.required_positions(service_level=0.8, max_occupancy=1.0))
    their_time = time.perf_counter() - began
    raw_same = sum(o.agents == t["raw_positions"] for o, t in zip(ours, theirs, strict=True))
    scheduled_diff = [(o, t) for o, t in zip(ours, theirs, strict=True) if o.scheduled != t["positions"]]
    print(
        f"pyworkforce: {their_time:.2f} s ({their_time / elapsed:.1f} x ours); agents on the phones "
        f"identical in {raw_same} of {len(grid)} cells; scheduled agents differ in {len(scheduled_diff)} "
        "cells (its float shrinkage: e.g. "
        + ", ".join(f"{o.agents} -> ours {o.scheduled}, its {t['positions']}" for o, t in scheduled_diff[:3])
        + ")"
    )


def routed_day() -> None:
    """A day of 12 accounts of two trades through the routing core, each staffed by Erlang C per
    quarter-hour with secretaries trained on it alone; then the same plan with overflow to the trade."""
    from permanence.calls import routing

    profile = [0.4, 0.7, 1.0, 1.0, 0.9, 0.7, 0.6, 0.5, 0.6, 0.8, 0.9, 0.8, 0.6, 0.5, 0.4, 0.3] * 2
    rng = random.Random(11)
    streams, agents, predicted_in_time, expected = [], [], 0.0, 0.0
    for account in range(1, 13):
        trade = "legal" if account <= 6 else "health"
        per_quarter = [rng.uniform(4, 25) * f for f in profile]
        streams.append(simulation.Stream(account, per_quarter, simulation.exponential(180), group=trade))
        plan = [erlang.required_agents(c * 4, 180).agents for c in per_quarter]
        for c, n in zip(per_quarter, plan, strict=True):
            predicted_in_time += c * erlang.erlang_c_performance(n, c * 4 * 180 / 3600, 180, 20).service_level
            expected += c
        for k in range(max(plan)):
            agents.append(
                simulation.Agent(
                    account * 100 + k, {account: 2}, [k < n for n in plan], groups=frozenset({trade})
                )
            )
    began = time.perf_counter()
    alone = simulation.simulate_routed(streams, agents, interval_seconds=900, seed=2).total()
    spent = time.perf_counter() - began
    overflow = {s.account: routing.Policy(overflow_after_seconds=15) for s in streams}
    pooled = simulation.simulate_routed(
        streams, agents, interval_seconds=900, seed=2, policies=overflow
    ).total()
    print(
        f"routed simulator, 12 accounts x 32 quarter-hours, {len(agents)} secretaries: {alone.offered} calls "
        f"in {spent:.2f} s; SL Erlang C plan predicted {predicted_in_time / expected:.3f}, simulated "
        f"{alone.service_level:.3f}; with overflow to the trade after 15 s {pooled.service_level:.3f} "
        f"(ASA {alone.asa_seconds:.1f} s -> {pooled.asa_seconds:.1f} s)"
    )


if __name__ == "__main__":
    main()
