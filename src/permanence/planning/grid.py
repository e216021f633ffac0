"""Staffing for a whole grid of intervals at once (numpy, scipy): Erlang C and Erlang A. Pure.

The answers are those of ``erlang.required_agents`` cell by cell (same targets, same definitions,
``docs/planning.md``), computed for every cell together:

- **Erlang C**: Erlang B's stable recursion run for all cells side by side (cells sorted by their
  first candidate, so that each step works on a contiguous slice), then the agents searched for all
  cells at once, one agent more for the cells still short of a target. The floating-point
  operations are those of the scalar core, in the same order: the same agents on every cell.
- **Erlang A** (M/M/N+M): the closed form of Mandelbaum and Zeltyn (the offered wait V has, beyond
  its atom at 0, the density N mu pi_N exp(-N mu t + (lambda/theta)(1 - exp(-theta t)))), written
  with the regularised incomplete gamma functions of ``scipy.special`` in log space, so that the
  probability of waiting, the abandonment and the service level within T are exact to rounding for
  thousands of Erlangs. The ASA of answered calls needs the derivative of the incomplete gamma in its
  parameter, which scipy lacks: it is its positive series, summed for all cells at once until the
  terms weigh less than 1e-18 of the total (same value to rounding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from permanence.planning.erlang import StaffingError, check_targets, shrinkage_ratio

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

_NEGLIGIBLE = -41.4  # log(1e-18)


@dataclass(frozen=True)
class Targets:
    """The targets of ``erlang.required_agents``, shared by every cell."""

    target_sl: float = 0.8
    target_seconds: float = 20.0
    target_asa: float | None = None
    patience: float | None = None
    max_abandonment: float | None = None
    max_occupancy: float = 1.0
    shrinkage: float = 0.0

    def check(self) -> None:
        check_targets(self.target_sl, self.target_seconds, self.patience, self.max_abandonment,
                      self.max_occupancy, self.shrinkage)  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """One value per cell (arrays of the grid's shape, flattened)."""

    traffic: Floats
    agents: Ints
    scheduled: Ints
    waiting_probability: Floats
    service_level: Floats
    asa_seconds: Floats
    abandonment: Floats
    occupancy: Floats


def required_agents(
    calls_per_hour: npt.ArrayLike, aht: npt.ArrayLike, targets: Targets | None = None
) -> Plan:
    """The fewest agents meeting every target in each cell: Erlang C, or Erlang A when
    ``targets.patience`` is given. Cells are flattened; ``aht`` may be one number."""
    targets = targets or Targets()
    targets.check()
    calls = np.asarray(calls_per_hour, dtype=np.float64).ravel()
    handle = np.broadcast_to(np.asarray(aht, dtype=np.float64).ravel(), calls.shape).copy()
    if calls.size and not (np.isfinite(calls).all() and (calls >= 0).all()):
        raise StaffingError(f"The volume of calls cannot be negative (cell {_first_bad(calls >= 0)}).")
    if calls.size and not (np.isfinite(handle).all() and (handle > 0).all()):
        raise StaffingError(f"The average handle time must be positive (cell {_first_bad(handle > 0)}).")
    traffic = calls * handle / 3600.0
    size = calls.size
    agents = np.zeros(size, dtype=np.int64)
    waiting = np.zeros(size)
    level = np.ones(size)
    asa = np.zeros(size)
    abandonment = np.zeros(size)
    occupancy = np.zeros(size)
    busy = np.flatnonzero(traffic > 0)
    if busy.size:
        a, h = traffic[busy], handle[busy]
        if targets.patience is None:
            n, c = _erlang_c_search(a, h, targets)
            agents[busy] = n
            waiting[busy], level[busy], asa[busy], occupancy[busy] = c
        else:
            n = _erlang_a_search(a, h, targets)
            found = erlang_a_measures(n, a, h, targets.target_seconds, targets.patience, asa=True)
            agents[busy] = n
            waiting[busy], level[busy] = found.waiting_probability, found.service_level
            asa[busy], abandonment[busy] = found.asa_seconds, found.abandonment
            occupancy[busy] = found.occupancy
    return Plan(
        traffic=traffic,
        agents=agents,
        scheduled=scheduled(agents, targets.shrinkage),
        waiting_probability=waiting,
        service_level=level,
        asa_seconds=asa,
        abandonment=abandonment,
        occupancy=occupancy,
    )


def _first_bad(ok: npt.NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(~ok)[0])


def scheduled(agents: Ints, shrinkage: float) -> Ints:
    """ceil(agents / (1 - shrinkage)) in exact integer arithmetic (as ``erlang.scheduled``)."""
    top, bottom = shrinkage_ratio(shrinkage)  # shrinkage = top / bottom
    rest = bottom - top
    if agents.size == 0 or int(agents.max()) * bottom < 2**62:
        return np.asarray(-((-agents * bottom) // rest), dtype=np.int64)
    return np.array([-((-int(n) * bottom) // rest) for n in agents], dtype=np.int64)


# Erlang C -------------------------------------------------------------------------------------


def erlang_b(servers: Ints, traffic: Floats) -> Floats:
    """Erlang B for each cell, by the recursion of ``erlang.erlang_b`` (same operations)."""
    order = np.argsort(servers, kind="stable")
    sorted_servers = servers[order]
    load = traffic[order]
    blocking = np.ones(servers.size)
    top = int(sorted_servers[-1]) if servers.size else 0
    for n in range(1, top + 1):
        start = int(np.searchsorted(sorted_servers, n))  # cells with at least n servers
        part = load[start:] * blocking[start:]
        blocking[start:] = part / (n + part)
    out = np.empty(servers.size)
    out[order] = blocking
    return out


def _c_measures(
    n: Ints, traffic: Floats, aht: Floats, threshold: float, blocking: Floats
) -> tuple[Floats, Floats, Floats, Floats]:
    """Waiting probability, service level, ASA, occupancy for N > A (as ``erlang._c_performance``)."""
    servers = n.astype(np.float64)
    wait = servers * blocking / (servers - traffic * (1 - blocking))
    level = 1.0 - wait * np.exp(-(servers - traffic) * threshold / aht)
    asa = wait * aht / (servers - traffic)
    return wait, level, asa, traffic / servers


def erlang_c_measures(
    agents: npt.ArrayLike, traffic: npt.ArrayLike, aht: npt.ArrayLike, threshold: float
) -> tuple[Floats, Floats, Floats, Floats]:
    """Waiting probability, service level, ASA and occupancy of each cell (N <= A: 1, 0, inf, 1)."""
    n = np.asarray(agents, dtype=np.int64).ravel()
    a = np.broadcast_to(np.asarray(traffic, dtype=np.float64).ravel(), n.shape)
    h = np.broadcast_to(np.asarray(aht, dtype=np.float64).ravel(), n.shape)
    wait, level, asa, occupancy = np.ones(n.size), np.zeros(n.size), np.full(n.size, np.inf), np.ones(n.size)
    stable = np.flatnonzero(n > a)
    if stable.size:
        ns, as_ = n[stable], a[stable]
        found = _c_measures(ns, as_, h[stable], threshold, erlang_b(ns, as_))
        wait[stable], level[stable], asa[stable], occupancy[stable] = found
    return wait, level, asa, occupancy


def _erlang_c_search(
    traffic: Floats, aht: Floats, targets: Targets
) -> tuple[Ints, tuple[Floats, Floats, Floats, Floats]]:
    """The fewest agents N > A meeting the targets, for all cells (traffic > 0)."""
    n = np.maximum(1, np.floor(traffic).astype(np.int64) + 1)
    blocking = erlang_b(n, traffic)
    out = [np.empty(n.size) for _ in range(4)]
    active = np.arange(n.size)
    a, h, b, m = traffic, aht, blocking, n
    while active.size:
        found = _c_measures(m, a, h, targets.target_seconds, b)
        good = _meets(targets, found[1], found[2], None, found[3])
        done = active[good]
        n[done] = m[good]
        for column, values in zip(out, found, strict=True):
            column[done] = values[good]
        short = ~good
        active, a, h, b, m = active[short], a[short], h[short], b[short], m[short] + 1
        part = a * b
        b = part / (m + part)
    return n, (out[0], out[1], out[2], out[3])


def _meets(
    targets: Targets,
    level: Floats,
    asa: Floats | None,
    abandonment: Floats | None,
    occupancy: Floats,
) -> npt.NDArray[np.bool_]:
    good = (level >= targets.target_sl) & (occupancy <= targets.max_occupancy + 1e-12)
    if targets.target_asa is not None and asa is not None:
        good &= asa <= targets.target_asa
    if targets.max_abandonment is not None and abandonment is not None:
        good &= abandonment <= targets.max_abandonment
    return good


# Erlang A -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measures:
    waiting_probability: Floats
    service_level: Floats
    asa_seconds: Floats
    abandonment: Floats
    occupancy: Floats


def _log_kummer(b: Floats, z: Floats) -> Floats:
    """log M(1, b + 1, z) = log sum_j z^j / ((b+1)...(b+j)), b > 0, z >= 0: by the incomplete gamma
    (M = Gamma(b+1) e^z z^-b P(b, z)) where P does not underflow, else by scipy's hyp1f1 (there z is
    well below b and the series converges fast)."""
    from scipy import special  # type: ignore[import-untyped]  # Erlang A only: 0.2 s to import

    out = np.zeros(b.size)
    positive = z > 0
    with np.errstate(divide="ignore"):
        lower = special.gammainc(b[positive], z[positive])
        by_gamma = special.gammaln(b[positive] + 1) + z[positive] - b[positive] * np.log(z[positive])
        by_gamma += np.log(lower)
    small = lower < 1e-280
    if small.any():
        bp, zp = b[positive][small], z[positive][small]
        by_gamma[small] = np.log(special.hyp1f1(1.0, bp + 1, zp))
    out[positive] = by_gamma
    return out


def erlang_a_measures(
    agents: npt.ArrayLike,
    traffic: npt.ArrayLike,
    aht: npt.ArrayLike,
    threshold: float,
    patience: float,
    *,
    asa: bool = True,
) -> Measures:
    """Erlang A (M/M/N+M) for each cell by the closed form; N >= 1, A > 0 (seconds for times).

    With a = N mu / theta, y = lambda / theta, E = 1 / ErlangB(N, A) - 1 and S = M(1, a+1, y):
    P(wait) = S / (E + S); P(answered after waiting) = a / (a+1) M(1, a+2, y) / (E + S);
    P(answered within T after waiting) = a / (a+1) [M(1, a+2, y) - e^(y(1-u)) u^(a+1) M(1, a+2, yu)]
    / (E + S) with u = e^(-theta T); occupancy = A (1 - abandonment) / N (Little)."""
    n = np.asarray(agents, dtype=np.int64).ravel()
    if n.size and int(n.min()) < 1:
        raise StaffingError("At least one agent.")
    servers = n.astype(np.float64)
    given = np.broadcast_to(np.asarray(traffic, dtype=np.float64).ravel(), n.shape)
    idle = ~(given > 0)  # no calls: nobody waits (as the scalar core); computed on 1 Erlang, then set
    load = np.where(idle, 1.0, given)
    handle = np.broadcast_to(np.asarray(aht, dtype=np.float64).ravel(), n.shape)
    ratio = patience / handle  # mu / theta
    from scipy import special  # Erlang A only: Erlang C's start does without it
    a = servers * ratio
    y = load * ratio
    # log E: E = Q(N, A) e^A N! / A^N (the free states over the state N)
    with np.errstate(divide="ignore"):
        log_e = np.log(special.gammaincc(servers, load)) + load + special.gammaln(servers + 1)
        log_e -= servers * np.log(load)
    log_s = _log_kummer(a, y)
    top = np.maximum(log_e, log_s)
    log_total = top + np.log(np.exp(log_e - top) + np.exp(log_s - top))
    free = np.exp(log_e - log_total)
    waiting = np.exp(log_s - log_total)
    share = a / (a + 1)
    log_m = _log_kummer(a + 1, y)
    answered_waiting = share * np.exp(log_m - log_total)
    abandonment = np.maximum(waiting - answered_waiting, 0.0)
    if threshold > 0:
        u = math.exp(-threshold / patience)
        log_late = y * (1 - u) + (a + 1) * math.log(u) + _log_kummer(a + 1, y * u)
        in_time = share * (np.exp(log_m - log_total) - np.exp(log_late - log_total))
    else:
        in_time = np.zeros(n.size)
    level = free + np.maximum(in_time, 0.0)
    occupancy = load * (1 - abandonment) / servers
    if asa:
        asa_seconds = _asa_answered(a, y, log_total, patience) / (1 - abandonment)
    else:
        asa_seconds = np.full(n.size, np.nan)
    if idle.any():
        waiting, level, abandonment, occupancy, asa_seconds = (
            np.where(idle, value, column)
            for value, column in (
                (0.0, waiting),
                (1.0, level),
                (0.0, abandonment),
                (0.0, occupancy),
                (0.0, asa_seconds),
            )
        )
    return Measures(waiting, level, asa_seconds, abandonment, occupancy)


def _asa_answered(a: Floats, y: Floats, log_total: Floats, patience: float) -> Floats:
    """E[wait; answered] = (a / theta) sum_k t_k H_(k+1) / (a + k + 1) / (E + S), with
    t_k = y^k / ((a+1)...(a+k)) and H_j = sum_(i=1..j) 1 / (a + i): the caller finding k waiting.
    Summed for all cells together, each over its own number of terms (past the largest term, until
    they weigh less than 1e-18 of the largest)."""
    terms = np.ceil(np.maximum(0.0, y - a) + 12 * np.sqrt(np.maximum(y, 1.0)) + 40).astype(np.int64)
    order = np.argsort(terms, kind="stable")
    length = terms[order]
    aa, log_y, base = a[order], np.log(np.where(y > 0, y, 1.0))[order], log_total[order]
    log_t = np.zeros(a.size)
    harmonic = np.zeros(a.size)
    total = np.zeros(a.size)
    tiny = (y <= 0)[order]
    for k in range(int(length[-1]) if a.size else 0):
        start = int(np.searchsorted(length, k + 1))  # cells with more than k terms
        part = slice(start, None)
        if k > 0:
            log_t[part] += log_y[part] - np.log(aa[part] + k)
        harmonic[part] += 1.0 / (aa[part] + k + 1)
        total[part] += np.exp(log_t[part] - base[part]) * harmonic[part] / (aa[part] + k + 1)
    total[tiny] = 0.0
    out = np.empty(a.size)
    out[order] = total * aa * patience
    return out


def _erlang_a_search(traffic: Floats, aht: Floats, targets: Targets) -> Ints:
    """As ``erlang.required_agents`` with patience: from Erlang C's answer (its targets but the
    abandonment), up while Erlang A misses a target, then a bisection below it, all cells at once."""
    assert targets.patience is not None
    patience = targets.patience
    c_targets = Targets(
        target_sl=targets.target_sl,
        target_seconds=targets.target_seconds,
        target_asa=targets.target_asa,
        max_occupancy=targets.max_occupancy,
    )
    high, _ = _erlang_c_search(traffic, aht, c_targets)

    def good(n: Ints, index: Ints) -> npt.NDArray[np.bool_]:
        found = erlang_a_measures(
            n,
            traffic[index],
            aht[index],
            targets.target_seconds,
            patience,
            asa=targets.target_asa is not None,
        )
        return _meets(targets, found.service_level, found.asa_seconds, found.abandonment, found.occupancy)

    active = np.arange(traffic.size)
    while active.size:
        short = ~good(high[active], active)
        active = active[short]
        high[active] += 1
    low = np.ones(traffic.size, dtype=np.int64)
    active = np.flatnonzero(low < high)
    while active.size:
        middle = (low[active] + high[active]) // 2
        ok = good(middle, active)
        high[active[ok]] = middle[ok]
        low[active[~ok]] = middle[~ok] + 1
        active = active[low[active] < high[active]]
    return high
