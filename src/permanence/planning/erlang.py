"""Staffing maths: Erlang B, Erlang C (M/M/N) and Erlang A (M/M/N+M, callers who hang up). Pure.

Numerically stable for large traffic (thousands of Erlangs): Erlang B by its recursion (no
factorials), Erlang A by its birth-death chain in log space, truncated where the states weigh less
than 1e-18 of the largest. Definitions (``docs/kpis.md``):

- traffic A = calls per hour x AHT / 3600 (Erlangs);
- service level = the share of offered calls answered within T seconds (a caller who hangs up before
  being answered is never "within T"), waiting probability = the share that waits at all;
- ASA = the mean wait of the calls answered (not of all calls: a caller who hangs up is not answered);
- occupancy = the mean share of agents busy talking;
- shrinkage s: scheduled agents = ceil(agents / (1 - s)), in exact rational arithmetic (a float
  division makes 21 / 0.7 = 30.000000000000004 and so 31).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

EXPONENT_FLOOR = -41.4  # log(1e-18): states lighter than this (relative) are dropped


class StaffingError(ValueError):
    """Inputs that have no meaning (negative volume, zero handle time, target out of range)."""


def erlang_b(servers: int, traffic: float) -> float:
    """Blocking probability of M/M/N/N (the stable recursion)."""
    if servers < 0 or traffic < 0:
        raise StaffingError("Servers and traffic cannot be negative.")
    blocking = 1.0
    for n in range(1, servers + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return blocking


def _c_from_b(servers: int, traffic: float, blocking: float) -> float:
    if servers <= traffic:
        return 1.0
    return servers * blocking / (servers - traffic * (1 - blocking))


def erlang_c(servers: int, traffic: float) -> float:
    """Probability of waiting in M/M/N (1 when N <= A: the queue grows without end)."""
    return _c_from_b(servers, traffic, erlang_b(servers, traffic))


@dataclass(frozen=True)
class Performance:
    agents: int
    traffic: float
    waiting_probability: float
    service_level: float
    asa_seconds: float
    abandonment: float
    occupancy: float


def erlang_c_performance(agents: int, traffic: float, aht: float, threshold: float) -> Performance:
    return _c_performance(agents, traffic, aht, threshold, erlang_b(agents, traffic))


def _c_performance(agents: int, traffic: float, aht: float, threshold: float, blocking: float) -> Performance:
    if agents <= traffic:
        return Performance(agents, traffic, 1.0, 0.0, math.inf, 0.0, 1.0)
    wait = _c_from_b(agents, traffic, blocking)
    level = 1.0 - wait * math.exp(-(agents - traffic) * threshold / aht)
    return Performance(
        agents=agents,
        traffic=traffic,
        waiting_probability=wait,
        service_level=level,
        asa_seconds=wait * aht / (agents - traffic),
        abandonment=0.0,
        occupancy=traffic / agents,
    )


def erlang_a_performance(
    agents: int, traffic: float, aht: float, threshold: float, patience: float
) -> Performance:
    """M/M/N+M: arrivals Poisson, handle times exponential (mean ``aht``), callers hang up after an
    exponential patience (mean ``patience``), in seconds. Computed on the birth-death chain."""
    if agents < 1:
        raise StaffingError("At least one agent.")
    if traffic <= 0:
        return Performance(agents, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
    mu, theta = 1.0 / aht, 1.0 / patience
    lam = traffic * mu
    # log weights of the states n = calls in the system: A^n / n! up to N, then one factor per caller
    # waiting; the tail stops once it is decreasing and negligible
    logs = [0.0]
    for n in range(1, agents + 1):
        logs.append(logs[-1] + math.log(traffic) - math.log(n))
    k = 0
    while True:
        k += 1
        rate = agents * mu + k * theta
        logs.append(logs[-1] + math.log(lam) - math.log(rate))
        if lam < rate and logs[-1] < max(logs[agents], 0.0) + EXPONENT_FLOOR:
            break
    top = max(logs)
    weights = [math.exp(v - top) if v - top > EXPONENT_FLOOR else 0.0 for v in logs]
    total = math.fsum(weights)
    pi = [w / total for w in weights]
    queue = pi[agents:]  # an arrival finds k = 0, 1, ... callers waiting ahead
    # With k ahead, the caller moves up at rates N mu + j theta (j = k..0) and hangs up at rate theta:
    # P(answered | k) = prod r_j / (r_j + theta), E[wait, answered | k] = that x sum 1 / (r_j + theta).
    product, harmonic = 1.0, 0.0
    abandonment = wait_answered = 0.0
    for k, weight in enumerate(queue):
        r = agents * mu + k * theta
        product *= r / (r + theta)
        harmonic += 1.0 / (r + theta)
        abandonment += weight * (1.0 - product)
        wait_answered += weight * product * harmonic
    answered = 1.0 - abandonment
    busy = math.fsum(min(n, agents) * p for n, p in enumerate(pi))
    return Performance(
        agents=agents,
        traffic=traffic,
        waiting_probability=math.fsum(queue),
        service_level=_a_service_level(pi[:agents], queue, agents, mu, theta, threshold),
        asa_seconds=wait_answered / answered if answered > 0 else math.inf,
        abandonment=abandonment,
        occupancy=busy / agents,
    )


def _a_service_level(
    free: list[float], queue: list[float], agents: int, mu: float, theta: float, threshold: float
) -> float:
    """P(answered within ``threshold``): no wait, or the phases ahead all done before the threshold
    and before the caller's own patience runs out. Uniformization of the phase chain, all starting
    places at once (weighted by the arrival's chances to find them)."""
    if threshold <= 0:
        return math.fsum(free)
    size = len(queue)
    top_rate = agents * mu + size * theta + theta
    mean = top_rate * threshold
    mass = list(queue)  # mass[j]: still waiting with j ahead
    served = 0.0
    result = 0.0
    # Poisson(mean) weights, computed in log space and summed until the tail is negligible
    steps = int(mean + 12 * math.sqrt(mean) + 30)
    log_poisson = -mean
    cumulative = 0.0
    for step in range(steps + 1):
        if step > 0:
            log_poisson += math.log(mean) - math.log(step)
            moved = 0.0
            new = [0.0] * size
            for j, m in enumerate(mass):
                if m == 0.0:
                    continue
                advance = (agents * mu + j * theta) / top_rate
                leave = theta / top_rate
                stay = 1.0 - advance - leave
                new[j] += m * stay
                if j == 0:
                    moved += m * advance
                else:
                    new[j - 1] += m * advance
            mass = new
            served += moved
        weight = math.exp(log_poisson)
        cumulative += weight
        result += weight * served
    result += (1.0 - cumulative) * served
    return math.fsum(free) + result


def scheduled(agents: int, shrinkage: float) -> int:
    """Agents to schedule so that ``agents`` are there after shrinkage (breaks, training, absence)."""
    top, bottom = shrinkage_ratio(shrinkage)
    return -((-agents * bottom) // (bottom - top))  # ceil(agents / (1 - top / bottom)), exactly


@lru_cache(maxsize=256)
def shrinkage_ratio(shrinkage: float) -> tuple[int, int]:
    """The shrinkage as the exact fraction its decimal writing says (0.3 -> 3 / 10), checked."""
    if not 0 <= shrinkage < 1:
        raise StaffingError("Shrinkage is a share between 0 and 1 (excluded).")
    share = Fraction(repr(float(shrinkage)))
    return share.numerator, share.denominator


@dataclass(frozen=True)
class Staffing:
    agents: int  # on the phones
    scheduled: int  # with shrinkage
    performance: Performance


def check_targets(
    target_sl: float,
    target_seconds: float,
    patience: float | None,
    max_abandonment: float | None,
    max_occupancy: float,
    shrinkage: float,
) -> None:
    """StaffingError, said for a person, when a target cannot be met or is not a number."""
    if not 0 <= target_sl < 1:
        raise StaffingError("The service level target is a share between 0 and 1 (1 excluded).")
    if not target_seconds >= 0:
        raise StaffingError("The answer time target cannot be negative.")
    if patience is not None and not patience > 0:
        raise StaffingError("The mean patience must be positive.")
    if max_abandonment is not None and not 0 <= max_abandonment < 1:
        raise StaffingError("The abandonment cap is a share between 0 and 1 (1 excluded).")
    if not 0 < max_occupancy <= 1:
        raise StaffingError("The occupancy cap is a share between 0 (excluded) and 1.")
    shrinkage_ratio(shrinkage)  # checks it


def required_agents(
    calls_per_hour: float,
    aht: float,
    *,
    target_sl: float = 0.8,
    target_seconds: float = 20.0,
    target_asa: float | None = None,
    patience: float | None = None,
    max_abandonment: float | None = None,
    max_occupancy: float = 1.0,
    shrinkage: float = 0.0,
) -> Staffing:
    """The fewest agents meeting the service level (and the ASA, and the occupancy cap): Erlang C, or
    Erlang A when ``patience`` (mean seconds before a caller hangs up) is given."""
    if calls_per_hour < 0 or not math.isfinite(calls_per_hour):
        raise StaffingError("The volume of calls cannot be negative.")
    if aht <= 0 or not math.isfinite(aht):
        raise StaffingError("The average handle time must be positive.")
    check_targets(target_sl, target_seconds, patience, max_abandonment, max_occupancy, shrinkage)
    traffic = calls_per_hour * aht / 3600.0
    if traffic == 0:
        return Staffing(0, 0, Performance(0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0))

    def good(perf: Performance) -> bool:
        return (
            perf.service_level >= target_sl
            and (target_asa is None or perf.asa_seconds <= target_asa)
            and (max_abandonment is None or perf.abandonment <= max_abandonment)
            and perf.occupancy <= max_occupancy + 1e-12
        )

    if patience is None:
        # the measures of ``_c_performance`` in plain floats (no object per candidate); agents > A
        agents = max(1, math.floor(traffic) + 1)
        blocking = erlang_b(agents, traffic)
        cap = max_occupancy + 1e-12
        while True:
            wait = agents * blocking / (agents - traffic * (1 - blocking))
            if (
                1.0 - wait * math.exp(-(agents - traffic) * target_seconds / aht) >= target_sl
                and (target_asa is None or wait * aht / (agents - traffic) <= target_asa)
                and traffic / agents <= cap
            ):
                break
            agents += 1
            blocking = traffic * blocking / (agents + traffic * blocking)
        perf = _c_performance(agents, traffic, aht, target_seconds, blocking)
    else:
        # With abandonment fewer agents than the traffic can do. Erlang C's answer (or the occupancy
        # cap) meets every target, abandonment included (the queue is shorter): bisect below it, the
        # measures improving with each agent.
        high = required_agents(
            calls_per_hour,
            aht,
            target_sl=target_sl,
            target_seconds=target_seconds,
            target_asa=target_asa,
            max_occupancy=max_occupancy,
        ).agents
        while not good(erlang_a_performance(high, traffic, aht, target_seconds, patience)):
            high += 1  # the ASA or abandonment can need more than Erlang C's answer
        low = 1
        while low < high:
            middle = (low + high) // 2
            if good(erlang_a_performance(middle, traffic, aht, target_seconds, patience)):
                high = middle
            else:
                low = middle + 1
        agents = high
        perf = erlang_a_performance(agents, traffic, aht, target_seconds, patience)
    return Staffing(agents, scheduled(agents, shrinkage), perf)
