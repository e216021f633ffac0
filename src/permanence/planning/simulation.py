"""A discrete-event simulation of the service's traffic, to check a staffing plan. Pure core.

Calls arrive as a Poisson process whose rate changes per interval; each is handled for a time drawn
from a handle-time distribution; a caller still waiting when their patience runs out hangs up. The
secretaries answer in arrival order (first come, first served), as many as the plan puts on the
phones in each interval: an interval with fewer stops giving new calls to the ones who leave (they
finish the call in hand). This first version has one queue; skills and routing rules come with the
routing core (issue 7).

The results are per interval of arrival, with the same definitions as ``erlang``: service level =
answered within T over offered, ASA = mean wait of the answered, abandonment = hung up over offered,
occupancy = talking time over the agents' time on the phones.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Sampler = Callable[[random.Random], float]


class SimulationError(ValueError):
    pass


def exponential(mean: float) -> Sampler:
    if mean <= 0:
        raise SimulationError("A mean duration must be positive.")
    return lambda rng: rng.expovariate(1.0 / mean)


def lognormal(mean: float, sd: float) -> Sampler:
    """Handle times are closer to log-normal than to exponential in real services."""
    if mean <= 0 or sd <= 0:
        raise SimulationError("Mean and standard deviation must be positive.")
    sigma2 = math.log(1 + (sd / mean) ** 2)
    mu = math.log(mean) - sigma2 / 2
    sigma = math.sqrt(sigma2)
    return lambda rng: rng.lognormvariate(mu, sigma)


def never(_rng: random.Random) -> float:
    return math.inf


@dataclass
class IntervalResult:
    offered: int = 0
    answered: int = 0
    answered_in_time: int = 0
    abandoned: int = 0
    wait_answered: float = 0.0  # seconds, summed
    talk: float = 0.0  # seconds of handling that fell in this interval
    agent_time: float = 0.0  # seconds of agents on the phones in this interval

    @property
    def service_level(self) -> float:
        return self.answered_in_time / self.offered if self.offered else 1.0

    @property
    def asa_seconds(self) -> float:
        return self.wait_answered / self.answered if self.answered else 0.0

    @property
    def abandonment(self) -> float:
        return self.abandoned / self.offered if self.offered else 0.0

    @property
    def occupancy(self) -> float:
        return self.talk / self.agent_time if self.agent_time else 0.0


@dataclass
class Result:
    intervals: list[IntervalResult] = field(default_factory=list)

    def total(self) -> IntervalResult:
        out = IntervalResult()
        for part in self.intervals:
            out.offered += part.offered
            out.answered += part.answered
            out.answered_in_time += part.answered_in_time
            out.abandoned += part.abandoned
            out.wait_answered += part.wait_answered
            out.talk += part.talk
            out.agent_time += part.agent_time
        return out


def simulate(
    calls_per_interval: Sequence[float],
    agents_per_interval: Sequence[int],
    *,
    interval_seconds: float,
    handle_time: Sampler,
    patience: Sampler = never,
    threshold: float = 20.0,
    seed: int = 0,
) -> Result:
    """Simulate the intervals one after the other (calls still queued or talking at the end of the
    last interval are played out)."""
    if len(calls_per_interval) != len(agents_per_interval):
        raise SimulationError("One number of agents per interval of calls.")
    if interval_seconds <= 0:
        raise SimulationError("Intervals last more than zero seconds.")
    if any(c < 0 for c in calls_per_interval) or any(a < 0 for a in agents_per_interval):
        raise SimulationError("Calls and agents cannot be negative.")
    rng = random.Random(seed)
    count = len(calls_per_interval)
    results = [IntervalResult() for _ in range(count)]

    def index(at: float) -> int:
        return min(int(at // interval_seconds), count - 1)

    def add_talk(start: float, end: float) -> None:
        """Spread a call's handling over the intervals it spans."""
        while start < end:
            slot = index(start)
            edge = (slot + 1) * interval_seconds if slot < count - 1 else end
            piece = min(end, edge) - start
            results[slot].talk += piece
            start += piece

    # arrivals: (time, patience) for every call of the day, in order
    arrivals: list[tuple[float, float]] = []
    for slot, calls in enumerate(calls_per_interval):
        rate = calls / interval_seconds
        at = slot * interval_seconds
        while rate > 0:
            at += rng.expovariate(rate)
            if at >= (slot + 1) * interval_seconds:
                break
            arrivals.append((at, patience(rng)))
    waiting: deque[tuple[float, float]] = deque()  # (arrival, deadline)
    ends: list[float] = []  # service ends (heap)
    free = 0
    leaving = 0  # agents to take off the phones as soon as they are free
    on_phones = 0

    def start_next(now: float) -> bool:
        """A free agent takes the oldest caller still there; False when nobody waits."""
        while waiting:
            arrived, deadline = waiting.popleft()
            if deadline <= now:  # hung up while waiting
                results[index(arrived)].abandoned += 1
                continue
            serve(arrived, now)
            return True
        return False

    def serve(arrived: float, now: float) -> None:
        part = results[index(arrived)]
        part.answered += 1
        wait = now - arrived
        part.wait_answered += wait
        if wait <= threshold:
            part.answered_in_time += 1
        duration = handle_time(rng)
        add_talk(now, now + duration)
        heapq.heappush(ends, now + duration)

    def staff(now: float, wanted: int) -> None:
        nonlocal free, leaving, on_phones
        change = wanted - on_phones
        on_phones = wanted
        if change >= 0:
            cancel = min(leaving, change)  # those about to leave stay on
            leaving -= cancel
            for _ in range(change - cancel):
                if not start_next(now):
                    free += 1
        else:
            drop = -change
            idle = min(free, drop)
            free -= idle
            leaving += drop - idle

    def agent_free(now: float) -> None:
        nonlocal free, leaving
        if leaving:
            leaving -= 1
        elif not start_next(now):
            free += 1

    arrival_index = 0
    for slot in range(count + 1):
        boundary = slot * interval_seconds if slot < count else math.inf
        # play everything before this boundary
        while True:
            next_arrival = arrivals[arrival_index][0] if arrival_index < len(arrivals) else math.inf
            next_end = ends[0] if ends else math.inf
            moment = min(next_arrival, next_end)
            if moment >= boundary or moment == math.inf:
                break
            if next_end <= next_arrival:
                heapq.heappop(ends)
                agent_free(next_end)
            else:
                arrived, wait_limit = arrivals[arrival_index]
                arrival_index += 1
                results[index(arrived)].offered += 1
                if free:
                    free -= 1
                    serve(arrived, arrived)
                else:
                    waiting.append((arrived, arrived + wait_limit))
        if slot < count:
            staff(boundary, agents_per_interval[slot])
            results[slot].agent_time += agents_per_interval[slot] * interval_seconds
    # whoever still waits when nobody is left hangs up
    for arrived, _deadline in waiting:
        results[index(arrived)].abandoned += 1
    return Result(results)
