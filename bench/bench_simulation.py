"""The traffic simulator's throughput (issue 21): calls simulated per second of CPU, one queue
(``simulation.simulate``, goal >= 500,000) and through the skills routing (``simulate_routed``, goal
>= 100,000), beside a peer measured in the same run, and the ratio.

The peer: SimPy when it is installed in the virtualenv, otherwise (as here: it is not a dependency) a
plain heapq event loop of the same M/M/c queue with impatient callers, written below as anyone would
(one heap of events, arrivals and ends, a FIFO of waiting callers, ``random`` draws one at a time).
It does one queue only: the routed figures are set against it too, as the cost of a call in the
plainest loop. Then the simulator of before (its source read from git, commit ``BEFORE``) on the same
days, when git can show it: how much faster, and that its results agree within the noise of a
different draw. Each figure is the best CPU time of a few runs. Run: make bench.
"""

from __future__ import annotations

import heapq
import importlib.util
import math
import random
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from permanence.calls import routing
from permanence.planning import erlang, simulation

BEFORE = "c75f454"  # the last commit with the event-by-event simulator
HOURS = 600  # one stationary interval: about 120,000 calls at 200 an hour
T = TypeVar("T")


def timed(work: Callable[[], T], repeat: int = 3) -> tuple[T, float]:
    """The result and the best CPU time of ``repeat`` runs."""
    best = math.inf
    result: Any = None
    for _ in range(repeat):
        began = time.process_time()
        result = work()
        best = min(best, time.process_time() - began)
    return result, best


def heapq_peer(
    calls: float, seconds: float, agents: int, aht: float, patience: float, seed: int
) -> tuple[int, float, float]:
    """A plain event loop of M/M/c with exponential patience: (offered, service level 20 s, abandonment)."""
    rng = random.Random(seed)
    expo = rng.expovariate
    rate, service, impatience = calls / seconds, 1.0 / aht, 1.0 / patience
    events: list[tuple[float, int]] = []  # (time, 0 arrival | 1 end)
    heapq.heappush(events, (expo(rate), 0))
    waiting: deque[tuple[float, float]] = deque()  # (arrival, deadline)
    free, offered, answered_in_time, abandoned = agents, 0, 0, 0
    while events:
        now, kind = heapq.heappop(events)
        if kind == 0:
            offered += 1
            following = now + expo(rate)
            if following < seconds:
                heapq.heappush(events, (following, 0))
            if free:
                free -= 1
                answered_in_time += 1
                heapq.heappush(events, (now + expo(service), 1))
            else:
                waiting.append((now, now + expo(impatience)))
        else:
            while waiting:
                arrived, deadline = waiting.popleft()
                if deadline <= now:
                    abandoned += 1
                    continue
                answered_in_time += now - arrived <= 20
                heapq.heappush(events, (now + expo(service), 1))
                break
            else:
                free += 1
    abandoned += len(waiting)
    return offered, answered_in_time / offered, abandoned / offered


def peer_name_and_run() -> tuple[str, Callable[[], tuple[int, float, float]]]:
    try:
        import simpy  # noqa: F401
    except ImportError:
        name = "plain heapq loop (SimPy is not installed)"
    else:  # not written: SimPy is not installed here; the heapq loop stands for it
        name = "plain heapq loop (SimPy installed, but its model is not written yet)"
    return name, lambda: heapq_peer(200 * HOURS, 3600 * HOURS, 14, 180, 300, seed=1)


def before() -> ModuleType | None:
    """The simulator of commit BEFORE, imported from its source (None when git cannot show it)."""
    root = Path(__file__).resolve().parents[1]
    try:
        source = subprocess.run(
            ["git", "show", f"{BEFORE}:src/permanence/planning/simulation.py"],
            cwd=root,
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "simulation_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("simulation_before", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules["simulation_before"] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def one_queue(sim: Any, seed: int = 1) -> Any:
    return sim.simulate(
        [200 * HOURS],
        [14],
        interval_seconds=3600 * HOURS,
        handle_time=sim.exponential(180),
        patience=sim.exponential(300),
        seed=seed,
    ).total()


def trades(sim: Any, scale: float) -> tuple[list[Any], list[Any]]:
    """12 accounts of two trades, 32 quarter-hours; each staffed per quarter-hour by Erlang C at 80/20
    with secretaries trained on it alone (bench_staffing's day, ``scale`` times the calls)."""
    profile = [0.4, 0.7, 1.0, 1.0, 0.9, 0.7, 0.6, 0.5, 0.6, 0.8, 0.9, 0.8, 0.6, 0.5, 0.4, 0.3] * 2
    rng = random.Random(11)
    streams, agents = [], []
    for account in range(1, 13):
        trade = "legal" if account <= 6 else "health"
        per_quarter = [rng.uniform(4, 25) * scale * f for f in profile]
        streams.append(
            sim.Stream(account, per_quarter, sim.exponential(180), patience=sim.exponential(240), group=trade)
        )
        plan = [erlang.required_agents(c * 4, 180).agents for c in per_quarter]
        for k in range(max(plan)):
            agents.append(
                sim.Agent(account * 1000 + k, {account: 2}, [k < n for n in plan], groups=frozenset({trade}))
            )
    return streams, agents


def routed_days(sim: Any, scale: float) -> dict[str, Callable[[], Any]]:
    """Three days through the routing; ``scale``: the calls of the trades' day (10: about 38,000 calls and
    620 secretaries; 1: bench_staffing's day, 3,800 calls, 87 secretaries)."""
    everyone = [sim.Agent(i, {1: 2}, [True] * 320) for i in range(14)]
    one = [sim.Stream(1, [50.0] * 320, sim.exponential(180))]
    streams, agents = trades(sim, scale)
    overflow = {s.account: routing.Policy(overflow_after_seconds=15) for s in streams}
    return {
        "one account, 14 secretaries trained on it, 80 hours": lambda: sim.simulate_routed(
            one, everyone, interval_seconds=900, seed=2
        ).total(),
        f"12 accounts x 2 trades, {len(agents)} secretaries trained on one account each": lambda: (
            sim.simulate_routed(streams, agents, interval_seconds=900, seed=2).total()
        ),
        f"the same {len(agents)} with overflow to the trade after 15 s": lambda: sim.simulate_routed(
            streams, agents, interval_seconds=900, seed=2, policies=overflow
        ).total(),
    }


def main() -> None:
    name, run_peer = peer_name_and_run()
    (peer_offered, peer_sl, peer_abandon), peer_time = timed(run_peer)
    peer_rate = peer_offered / peer_time
    old = before()
    want = erlang.erlang_a_performance(14, 10.0, 180, 20, 300)
    day, ours = timed(lambda: one_queue(simulation), repeat=5)
    rate = day.offered / ours
    print(
        f"one queue, M/M/14 with patience, {day.offered:,} calls: {rate:,.0f} calls/s "
        f"(goal >= 500,000); peer, {name}: {peer_rate:,.0f} calls/s; ratio {rate / peer_rate:.2f} x"
    )
    print(
        f"  service level {day.service_level:.4f} (peer {peer_sl:.4f}, Erlang A {want.service_level:.4f}), "
        f"abandonment {day.abandonment:.4f} (peer {peer_abandon:.4f}, Erlang A {want.abandonment:.4f})"
    )
    if old is not None:
        was, old_time = timed(lambda: one_queue(old), repeat=1)
        print(
            f"  the simulator of before ({BEFORE}): {was.offered / old_time:,.0f} calls/s, now "
            f"{rate / (was.offered / old_time):.1f} x faster; its service level {was.service_level:.4f}"
        )
    for scale in (10, 1):
        for label, run in routed_days(simulation, scale).items():
            if scale == 1 and label.startswith("one account"):
                continue
            total, spent = timed(run)
            routed_rate = total.offered / spent
            print(
                f"routed, {label}: {total.offered:,} calls, {routed_rate:,.0f} calls/s (goal >= 100,000); "
                f"ratio to the peer {routed_rate / peer_rate:.2f} x; "
                f"service level {total.service_level:.3f}, abandonment {total.abandonment:.3f}"
            )
            if old is not None and (scale == 1 or label.startswith("one account")):  # it is slow
                was, old_time = timed(routed_days(old, scale)[label], repeat=1)
                print(
                    f"  the simulator of before: {was.offered / old_time:,.0f} calls/s, now "
                    f"{routed_rate / (was.offered / old_time):.1f} x faster; its service level "
                    f"{was.service_level:.3f}, abandonment {was.abandonment:.3f}"
                )
    routed_sl = erlang.erlang_c_performance(14, 10.0, 180, 20).service_level
    print(f"(one account, 14 secretaries: Erlang C gives {routed_sl:.3f} within 20 s)")


if __name__ == "__main__":
    main()
