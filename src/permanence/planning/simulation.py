"""A discrete-event simulation of the service's traffic, to check a staffing plan. Pure core.

Calls arrive as a Poisson process whose rate changes per interval; each is handled for a time drawn
from a handle-time distribution; a caller still waiting when their patience runs out hangs up. The
secretaries answer in arrival order (first come, first served), as many as the plan puts on the
phones in each interval: an interval with fewer stops giving new calls to the ones who leave (they
finish the call in hand): ``simulate``, one queue.

``simulate_routed`` plays several accounts' calls with the desk's routing rules (``calls.routing``:
skills and levels, languages, priority classes, overflow to a wider group, maximum wait then the
fallback), with secretaries on the phones per interval: what a plan gives when not every secretary
can take every call.

The results are per interval of arrival, with the same definitions as ``erlang``: service level =
answered within T over offered, ASA = mean wait of the answered, abandonment = hung up over offered,
occupancy = talking time over the agents' time on the phones.

How it is fast (issue 21): every random draw of the day is made at once with numpy (arrivals: a
Poisson number per interval spread uniformly, patience and handle times per call); times are floats
in seconds. ``simulate`` needs no event list: first come first served, a call starts at the earliest
moment an agent is free after its arrival (Kiefer-Wolfowitz), so one heap of the agents' free times
and one pass over the calls in arrival order give the day, the plan's changes applied at each
interval's edge. ``simulate_routed`` keeps, per account, the waiting calls in arrival order and the
ready secretaries in a heap (level, longest idle, id): an arrival, the end of a call or an overflow
mark looks only at them, instead of a whole round of the routing core per event; a hang-up or a
maximum wait needs no event at all (a call past its limit is dropped when it reaches the head of its
queue, and counted by its own limits).

The tests check both against the same calls played event by event: the single queue's loop of
before, and ``calls.routing.Router`` itself (its ``assign`` round after every event), on fixed and
random desks; and both against the formulas. Where the core's indexes take a shortcut the rules do
not, this simulator follows the rules: the core looks at most 16 calls deep into an overflow group's
queue, and there takes the oldest call of each priority class whatever its account's own long-wait
mark; here every overflowing call of every account of the group is ranked by its class, then its
wait. Both give the same days when the accounts share one long-wait mark and the queues are short.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from permanence.calls import routing

Sampler = Callable[[random.Random], float]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


class SimulationError(ValueError):
    pass


class Distribution:
    """A duration's law: one draw with ``random`` (a ``Sampler``), or many at once with numpy."""

    __slots__ = ()

    def __call__(self, rng: random.Random) -> float:
        raise NotImplementedError

    def draw(self, generator: np.random.Generator, size: int) -> Floats:
        raise NotImplementedError


class _Exponential(Distribution):
    __slots__ = ("mean",)

    def __init__(self, mean: float) -> None:
        self.mean = mean

    def __call__(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.mean)

    def draw(self, generator: np.random.Generator, size: int) -> Floats:
        return generator.exponential(self.mean, size)


class _LogNormal(Distribution):
    __slots__ = ("mu", "sigma")

    def __init__(self, mu: float, sigma: float) -> None:
        self.mu, self.sigma = mu, sigma

    def __call__(self, rng: random.Random) -> float:
        return rng.lognormvariate(self.mu, self.sigma)

    def draw(self, generator: np.random.Generator, size: int) -> Floats:
        return generator.lognormal(self.mu, self.sigma, size)


class _Never(Distribution):
    __slots__ = ()

    def __call__(self, rng: random.Random) -> float:
        return math.inf

    def draw(self, generator: np.random.Generator, size: int) -> Floats:
        return np.full(size, math.inf)


def exponential(mean: float) -> Distribution:
    if not mean > 0 or math.isinf(mean):
        raise SimulationError("A mean duration must be positive.")
    return _Exponential(mean)


def lognormal(mean: float, sd: float) -> Distribution:
    """Handle times are closer to log-normal than to exponential in real services."""
    if not (mean > 0 and sd > 0) or math.isinf(mean) or math.isinf(sd):
        raise SimulationError("Mean and standard deviation must be positive.")
    sigma2 = math.log(1 + (sd / mean) ** 2)
    return _LogNormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


never: Distribution = _Never()  # patience of callers who never hang up


def _draw(sampler: Sampler, generator: np.random.Generator, size: int, seed: int) -> Floats:
    """``size`` durations: at once for the distributions above, one by one for any other sampler."""
    if isinstance(sampler, Distribution):
        return sampler.draw(generator, size)
    rng = random.Random(seed)
    return np.fromiter((sampler(rng) for _ in range(size)), dtype=np.float64, count=size)


def _arrivals(
    generator: np.random.Generator, calls_per_interval: Sequence[float], length: float
) -> tuple[Ints, Floats]:
    """A Poisson process per interval: the number of calls, then their times, uniform and sorted."""
    expected = np.asarray(calls_per_interval, dtype=np.float64)
    counts = generator.poisson(expected)
    slots = np.repeat(np.arange(len(expected), dtype=np.int64), counts)
    times = (slots + generator.random(len(slots))) * length
    # (slot + u) * length may round up to the next edge: keep every call inside its interval
    times = np.minimum(times, np.nextafter((slots + 1) * length, 0.0))
    times.sort()  # the intervals are disjoint: sorting the times keeps ``slots`` aligned
    return slots, times


def _check_calls(calls: Sequence[float]) -> None:
    for c in calls:
        if not c >= 0 or math.isinf(c):
            raise SimulationError("Calls cannot be negative (and are finite numbers).")


@dataclass
class IntervalResult:
    offered: int = 0
    answered: int = 0
    answered_in_time: int = 0
    abandoned: int = 0
    diverted: int = 0  # sent to the fallback at the account's maximum wait (``simulate_routed``)
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
            out.diverted += part.diverted
            out.wait_answered += part.wait_answered
            out.talk += part.talk
            out.agent_time += part.agent_time
        return out


@dataclass(frozen=True)
class _Day:
    """The day's calls in arrival order, drawn at once (what a seed gives)."""

    times: Floats
    slots: Ints  # interval of arrival
    streams: Ints  # index of the stream (``simulate``: all 0)
    patience: Floats
    handle: Floats


def _queue_day(
    calls_per_interval: Sequence[float], length: float, handle_time: Sampler, patience: Sampler, seed: int
) -> _Day:
    generator = np.random.default_rng(seed)
    slots, times = _arrivals(generator, calls_per_interval, length)
    n = len(times)
    waits = _draw(patience, generator, n, seed)
    handle = _draw(handle_time, generator, n, seed + 1)
    return _Day(times, slots, np.zeros(n, dtype=np.int64), waits, handle)


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
    if not interval_seconds > 0 or math.isinf(interval_seconds):
        raise SimulationError("Intervals last more than zero seconds.")
    _check_calls(calls_per_interval)
    for a in agents_per_interval:
        if not isinstance(a, int | float | np.integer | np.floating) or not a >= 0:
            raise SimulationError("Calls and agents cannot be negative.")
        if not float(a).is_integer():
            raise SimulationError("Agents per interval are whole numbers.")
    if not calls_per_interval:
        return Result([])
    day = _queue_day(calls_per_interval, interval_seconds, handle_time, patience, seed)
    starts = np.array(
        _first_come_first_served(
            day.times.tolist(),
            (day.times + day.patience).tolist(),
            day.handle.tolist(),
            [int(a) for a in agents_per_interval],
            interval_seconds,
        ),
        dtype=np.float64,
    )
    count = len(calls_per_interval)
    table = _tally(day, starts, np.zeros(len(starts), dtype=bool), 1, count, interval_seconds, threshold)
    for slot, part in enumerate(table[0]):
        part.agent_time = agents_per_interval[slot] * interval_seconds
    return Result(table[0])


def _first_come_first_served(
    arrivals: list[float], deadlines: list[float], handles: list[float], agents: list[int], length: float
) -> list[float]:
    """Each call's start (-1.0: hung up first). ``free`` holds when each agent on the phones is free
    next (a heap, plus one ``inf`` so that it is never empty); a call starts at the earliest of them,
    or at its arrival. Calls start in arrival order, so when the next one would start at or after an
    interval's edge, nothing more starts before it: the plan's change is made there first (new
    agents free at the edge; fewer: the idle ones go, then those who will be free first)."""
    inf = math.inf
    free = [0.0] * agents[0] + [inf]
    leaving: list[float] = []  # when those who go at an edge but were talking are free
    on_phones, slot, count = agents[0], 1, len(agents)
    edge = length if count > 1 else inf
    starts: list[float] = []
    keep = starts.append
    replace = heapq.heapreplace
    for arrived, deadline, handle in zip(arrivals, deadlines, handles, strict=True):
        start = free[0]
        if start < arrived:
            start = arrived
        while start >= edge and slot < count:  # rare: once per interval at most
            on_phones = _restaff(free, leaving, on_phones, agents[slot], edge)
            slot += 1
            edge = slot * length if slot < count else inf
            start = free[0]
            if start < arrived:
                start = arrived
        if start > arrived and deadline <= start:
            keep(-1.0)
        else:
            replace(free, start + handle)
            keep(start)
    return starts


def _restaff(free: list[float], leaving: list[float], on_phones: int, wanted: int, edge: float) -> int:
    change = wanted - on_phones
    if change < 0:
        for _ in range(-change):
            when = heapq.heappop(free)
            if when > edge:
                leaving.append(when)
    elif change > 0:
        # those who were to leave and still talk stay on (the last to be free: the first go first)
        still = sorted(when for when in leaving if when > edge)
        back = min(len(still), change)
        for when in still[len(still) - back :]:
            heapq.heappush(free, when)
        leaving[:] = still[: len(still) - back]
        for _ in range(change - back):
            heapq.heappush(free, edge)
    return wanted


def _tally(
    day: _Day,
    starts: Floats,
    diverted: npt.NDArray[np.bool_],
    streams: int,
    count: int,
    length: float,
    threshold: float,
) -> list[list[IntervalResult]]:
    """Per stream and interval of arrival, from each call's start (< 0: not answered)."""
    size = streams * count
    key = day.streams * count + day.slots
    answered = starts >= 0
    waits = starts[answered] - day.times[answered]
    akey = key[answered]

    def bins(keys: Ints, weights: Floats | None = None) -> Floats:
        return np.bincount(keys, weights=weights, minlength=size).astype(np.float64)

    offered = bins(key)
    served = bins(akey)
    in_time = bins(akey[waits <= threshold])
    lost = ~answered
    sent = bins(key[lost & diverted])
    hung_up = bins(key[lost & ~diverted])
    waited = bins(akey, waits)
    begun = starts[answered]
    talk = _talk(day.streams[answered] * count, begun, begun + day.handle[answered], count, length, size)
    return [
        [
            IntervalResult(
                offered=int(offered[i]),
                answered=int(served[i]),
                answered_in_time=int(in_time[i]),
                abandoned=int(hung_up[i]),
                diverted=int(sent[i]),
                wait_answered=float(waited[i]),
                talk=float(talk[i]),
            )
            for i in range(s * count, (s + 1) * count)
        ]
        for s in range(streams)
    ]


def _talk(base: Ints, start: Floats, end: Floats, count: int, length: float, size: int) -> Floats:
    """Each call's handling spread over the intervals it spans (after the last one: counted in the
    last), summed per ``base + interval``."""
    out = np.zeros(size)
    last = count - 1
    slot = np.minimum(start // length, last).astype(np.int64)
    while start.size:
        edge = np.where(slot < last, (slot + 1) * length, end)
        cut = np.minimum(end, edge)
        out += np.bincount(base + slot, weights=cut - start, minlength=size)
        more = end > cut
        base, start, end, slot = base[more], cut[more], end[more], slot[more] + 1
    return out


@dataclass(frozen=True)
class Stream:
    """One account's calls: how many per interval, how long they take, how long callers wait."""

    account: int
    calls_per_interval: Sequence[float]
    handle_time: Sampler
    patience: Sampler = never
    priority: int = 0  # 1 for an urgent account (the routing core's classes)
    group: str = ""  # its wider group, for overflow
    language: str | None = None


@dataclass(frozen=True)
class Agent:
    """A secretary: the accounts she is trained on (with a level) and when she is on the phones."""

    id: int
    skills: Mapping[int, int]
    on_phones: Sequence[bool]  # per interval
    groups: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()


@dataclass
class RoutedResult:
    """Per account and interval of arrival; the agents' time is the team's, per interval (so the
    occupancy is read from ``total()`` or ``occupancy(interval)``, not per account)."""

    by_account: dict[int, Result]
    agent_time: list[float] = field(default_factory=list)  # seconds on the phones, per interval

    def occupancy(self, interval: int) -> float:
        talk = sum(result.intervals[interval].talk for result in self.by_account.values())
        return talk / self.agent_time[interval] if self.agent_time[interval] else 0.0

    def total(self) -> IntervalResult:
        out = IntervalResult()
        for result in self.by_account.values():
            part = result.total()
            for name in ("offered", "answered", "answered_in_time", "abandoned", "diverted"):
                setattr(out, name, getattr(out, name) + getattr(part, name))
            out.wait_answered += part.wait_answered
            out.talk += part.talk
        out.agent_time = sum(self.agent_time)
        return out


NO_OVERFLOW = routing.Policy(overflow_after_seconds=None)  # accounts without a policy of their own


def _routed_day(streams: Sequence[Stream], length: float, seed: int) -> _Day:
    """Every stream's calls of the day (drawn stream after stream), merged in arrival order."""
    generator = np.random.default_rng(seed)
    times, slots, which, waits, handle = [], [], [], [], []
    for index, stream in enumerate(streams):
        slot, at = _arrivals(generator, stream.calls_per_interval, length)
        n = len(at)
        times.append(at)
        slots.append(slot)
        which.append(np.full(n, index, dtype=np.int64))
        waits.append(_draw(stream.patience, generator, n, seed + 2 * index))
        handle.append(_draw(stream.handle_time, generator, n, seed + 2 * index + 1))
    if not streams:
        empty = np.zeros(0)
        return _Day(empty, empty.astype(np.int64), empty.astype(np.int64), empty, empty)
    order = np.argsort(np.concatenate(times), kind="stable")
    return _Day(
        np.concatenate(times)[order],
        np.concatenate(slots)[order],
        np.concatenate(which)[order],
        np.concatenate(waits)[order],
        np.concatenate(handle)[order],
    )


def simulate_routed(
    streams: Sequence[Stream],
    agents: Sequence[Agent],
    *,
    interval_seconds: float,
    policies: Mapping[int, routing.Policy] | None = None,
    default_policy: routing.Policy = NO_OVERFLOW,
    threshold: float = 20.0,
    seed: int = 0,
) -> RoutedResult:
    """Simulate the day with the desk's routing rules, as its ``assign`` round applies them after
    every event (a call arriving, a call ending, a caller hanging up, a wait reaching an overflow,
    priority or maximum-wait mark, a shift changing). Results per account and interval of arrival.
    As in ``simulate``, calls still waiting at the end of the last interval are played out by its
    team."""
    if not interval_seconds > 0 or math.isinf(interval_seconds):
        raise SimulationError("Intervals last more than zero seconds.")
    if not streams:
        raise SimulationError("At least one stream of calls.")
    count = len(streams[0].calls_per_interval)
    if any(len(s.calls_per_interval) != count for s in streams) or any(
        len(a.on_phones) != count for a in agents
    ):
        raise SimulationError("Every stream and every agent covers the same intervals.")
    if len({s.account for s in streams}) != len(streams) or len({a.id for a in agents}) != len(agents):
        raise SimulationError("Accounts and agents are each given once.")
    for s in streams:
        _check_calls(s.calls_per_interval)
        if s.priority not in routing.PRIORITY_CLASSES:
            raise SimulationError(f"A stream's priority is one of {routing.PRIORITY_CLASSES}.")
    chosen = [(policies or {}).get(s.account, default_policy) for s in streams]
    day = _routed_day(streams, interval_seconds, seed)
    limits = np.array([math.inf if p.max_wait_seconds is None else p.max_wait_seconds for p in chosen])
    limit = limits[day.streams] if len(day.times) else np.zeros(0)
    starts = np.array(_Desk(streams, agents, chosen, day, interval_seconds, count).play(), dtype=np.float64)
    # a call not answered went to the fallback if its maximum wait came before its patience ran out
    diverted = (limit <= 0) | (limit < day.patience)
    table = _tally(day, starts, diverted, len(streams), count, interval_seconds, threshold)
    agent_time = [
        sum(bool(a.on_phones[slot]) for a in agents) * float(interval_seconds) for slot in range(count)
    ]
    return RoutedResult({s.account: Result(table[k]) for k, s in enumerate(streams)}, agent_time)


class _Desk:
    """The routing rules on the day's calls, per account: the waiting calls in arrival order (a
    deque; those past their patience or maximum wait dropped when they reach the head), the ready
    secretaries trained on it in a heap (highest level, longest idle, smallest id), and those who
    may take its overflow (its group, not trained on it) in another. After any event nobody ready
    can take a waiting call (as after the routing core's round), so an arrival looks only at its
    account's ready secretaries, a secretary who becomes free only at the heads of her accounts'
    queues, an overflow mark only at its account; a shift change plays the core's whole round."""

    def __init__(
        self,
        streams: Sequence[Stream],
        agents: Sequence[Agent],
        policies: Sequence[routing.Policy],
        day: _Day,
        length: float,
        count: int,
    ) -> None:
        self.length, self.count, self.day = length, count, day
        self.priority = [s.priority for s in streams]
        self.long_wait = [p.long_wait_seconds for p in policies]
        self.overflow = [
            math.inf if p.overflow_after_seconds is None else p.overflow_after_seconds for p in policies
        ]
        self.limit = [math.inf if p.max_wait_seconds is None else p.max_wait_seconds for p in policies]
        index = {s.account: k for k, s in enumerate(streams)}
        people = sorted(agents, key=lambda a: a.id)  # the heaps' ties go to the smallest id

        def speaks(person: Agent, stream: Stream) -> bool:
            return stream.language is None or stream.language in person.languages

        self.skilled: list[list[tuple[int, int]]] = [
            [
                (index[a], level)
                for a, level in p.skills.items()
                if a in index and speaks(p, streams[index[a]])
            ]
            for p in people
        ]
        self.overflows: list[list[int]] = [
            [
                k
                for k, s in enumerate(streams)
                if s.group
                and s.group in p.groups
                and s.account not in p.skills
                and speaks(p, s)
                and self.overflow[k] < math.inf  # never overflows: nothing to look at
            ]
            for p in people
        ]
        # overflow: one heap of ready secretaries per group, each looked at for the streams she may take
        names = sorted({streams[k].group for taken in self.overflows for k in taken})
        self.group_of = [names.index(s.group) if s.group in names else -1 for s in streams]
        self.groups = len(names)
        self.may_take = [frozenset(taken) for taken in self.overflows]
        self.in_groups = [sorted({self.group_of[k] for k in taken}) for taken in self.overflows]
        self.shifts = [[bool(x) for x in p.on_phones] for p in people]

    def play(self) -> list[float]:
        """Each call's start (-1.0: not answered)."""
        day, length, count = self.day, self.length, self.count
        inf = math.inf
        streams = len(self.priority)
        priority, long_wait, overflow, limit = self.priority, self.long_wait, self.overflow, self.limit
        skilled, overflows, shifts = self.skilled, self.overflows, self.shifts
        group_of, may_take, in_groups = self.group_of, self.may_take, self.in_groups
        people = len(shifts)
        arrived: list[float] = day.times.tolist()
        stream_of: list[int] = day.streams.tolist()
        handle: list[float] = day.handle.tolist()
        n = len(arrived)
        limit_of = np.array(limit)[day.streams] if n else np.zeros(0)
        dies: list[float] = (day.times + np.minimum(day.patience, limit_of)).tolist()
        starts = [-1.0] * n
        queues: list[deque[int]] = [deque() for _ in range(streams)]
        # per stream: ready secretaries trained on it (-level, idle since, agent), and its overflow's
        ready_skilled: list[list[tuple[int, float, int]]] = [[] for _ in range(streams)]
        # (idle since, agent) per group; the last one, for streams without a group, stays empty
        ready_over: list[list[tuple[float, int]]] = [[] for _ in range(self.groups + 1)]
        ready_at = [-1.0] * people  # when each became ready (-1: not ready); older heap entries are stale
        busy = [False] * people
        leaving = [False] * people
        ends: list[tuple[float, int]] = [(inf, -1)]
        push, pop = heapq.heappush, heapq.heappop
        slot = 0

        def clean(queue: deque[int], now: float) -> None:
            while queue and dies[queue[0]] <= now:
                queue.popleft()

        def top_skilled(k: int) -> tuple[int, float, int] | None:
            heap = ready_skilled[k]
            while heap:
                entry = heap[0]
                if ready_at[entry[2]] == entry[1]:
                    return entry
                pop(heap)
            return None

        def top_over(k: int, remove: bool = False) -> tuple[float, int] | None:
            """The longest idle ready secretary of stream k's group who may take its overflow (those
            who may not are rare: trained on it, yet busy or without its language)."""
            heap = ready_over[group_of[k]]
            skipped = []
            found = None
            while heap:
                entry = heap[0]
                if ready_at[entry[1]] != entry[0]:
                    pop(heap)
                elif k in may_take[entry[1]]:
                    found = pop(heap) if remove else entry
                    break
                else:
                    skipped.append(pop(heap))
            for entry in skipped:
                push(heap, entry)
            return found

        def pick(k: int, overflowing: bool) -> int:
            """The best ready secretary for a call of stream k (-1: nobody), taken off the heap."""
            best = top_skilled(k)
            if overflowing:
                other = top_over(k)
                if other is not None and (best is None or (0, other[0], other[1]) < best):
                    top_over(k, remove=True)
                    return other[1]
            if best is None:
                return -1
            pop(ready_skilled[k])
            return best[2]

        def take(agent: int, call: int, now: float) -> None:
            ready_at[agent] = -1.0
            busy[agent] = True
            starts[call] = now
            push(ends, (now + handle[call], agent))

        def register(agent: int, now: float) -> None:
            ready_at[agent] = now
            for k, level in skilled[agent]:
                push(ready_skilled[k], (-level, now, agent))
            for group in in_groups[agent]:
                push(ready_over[group], (now, agent))

        def free(agent: int, now: float) -> None:
            """The end of a call: the best call she can take now (the core's rank: class, then the
            longest waiting), or she waits for one."""
            busy[agent] = False
            if leaving[agent] or not shifts[agent][slot]:
                leaving[agent] = False
                return
            best: tuple[int, float, int] | None = None
            chosen = -1
            for k, _level in skilled[agent]:
                queue = queues[k]
                if queue:
                    clean(queue, now)
                if queue:
                    call = queue[0]
                    at = arrived[call]
                    rank = (-priority[k] - (now - at >= long_wait[k]), at, call)
                    if best is None or rank < best:
                        best, chosen = rank, k
            for k in overflows[agent]:
                queue = queues[k]
                if queue:
                    clean(queue, now)
                if queue:
                    call = queue[0]
                    at = arrived[call]
                    if at + overflow[k] <= now:
                        rank = (-priority[k] - (now - at >= long_wait[k]), at, call)
                        if best is None or rank < best:
                            best, chosen = rank, k
            if chosen >= 0:
                take(agent, queues[chosen].popleft(), now)
            else:
                register(agent, now)

        def shift(now: float) -> None:
            for agent in range(people):
                if shifts[agent][slot]:
                    leaving[agent] = False
                    if not busy[agent] and ready_at[agent] < 0:
                        register(agent, now)
                else:
                    ready_at[agent] = -1.0
                    if busy[agent]:
                        leaving[agent] = True
            while True:  # the core's round: the first call in rank that someone ready can take, ...
                best: tuple[int, float, int] | None = None
                chosen = -1
                for k in range(streams):
                    queue = queues[k]
                    clean(queue, now)
                    if not queue:
                        continue
                    call = queue[0]
                    at = arrived[call]
                    if top_skilled(k) is None and (at + overflow[k] > now or top_over(k) is None):
                        continue
                    rank = (-priority[k] - (now - at >= long_wait[k]), at, call)
                    if best is None or rank < best:
                        best, chosen = rank, k
                if chosen < 0:
                    return
                call = queues[chosen].popleft()  # ... to the best of them
                take(pick(chosen, arrived[call] + overflow[chosen] <= now), call, now)

        # the day's timeline: arrivals, shift changes, overflow marks (where someone may take them; as the
        # desk's loop did, 1 µs past the mark: a call that overflows at 20 s is not answered within 20 s)
        may_overflow = [False] * streams
        for agent in range(people):
            for k in overflows[agent]:
                may_overflow[k] = True
        marked = np.array([0 < overflow[k] < inf and may_overflow[k] for k in range(streams)], dtype=bool)
        with_mark = marked[day.streams] if n else np.zeros(0, dtype=bool)
        over_of = np.array(overflow)[day.streams] if n else np.zeros(0)
        mark_calls = np.flatnonzero(with_mark)
        times = np.concatenate(
            [day.times, np.arange(count) * float(length), day.times[mark_calls] + over_of[mark_calls] + 1e-6]
        )
        kinds = np.concatenate(
            [np.zeros(n, dtype=np.int64), np.ones(count, dtype=np.int64), np.full(len(mark_calls), 2)]
        )
        idents = np.concatenate([np.arange(n), np.arange(count), mark_calls])
        order = np.lexsort((kinds, times))
        for now, kind, ident in zip(
            times[order].tolist(), kinds[order].tolist(), idents[order].tolist(), strict=True
        ):
            while ends[0][0] < now:
                end, agent = pop(ends)
                free(agent, end)
            if kind == 0:  # a call arrives: the best ready secretary for it, or it waits
                k = stream_of[ident]
                if limit[k] <= 0:
                    continue  # straight to the fallback
                agent = pick(k, overflow[k] <= 0)
                if agent >= 0:
                    take(agent, ident, now)
                else:
                    queues[k].append(ident)
            elif kind == 2:  # its wait reaches the overflow: its group's ready secretaries may take it
                if starts[ident] >= 0 or dies[ident] <= now:
                    continue
                k = stream_of[ident]
                if top_over(k) is None:
                    continue
                queue = queues[k]
                clean(queue, now)  # the head is this call, or an older one of the account
                agent = pick(k, True)
                take(agent, queue.popleft(), now)
            else:
                slot = ident
                shift(now)
        while len(ends) > 1:  # the day is over: the last interval's team plays out the queue
            end, agent = pop(ends)
            free(agent, end)
        return starts
