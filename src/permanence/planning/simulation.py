"""A discrete-event simulation of the service's traffic, to check a staffing plan. Pure core.

Calls arrive as a Poisson process whose rate changes per interval; each is handled for a time drawn
from a handle-time distribution; a caller still waiting when their patience runs out hangs up. The
secretaries answer in arrival order (first come, first served), as many as the plan puts on the
phones in each interval: an interval with fewer stops giving new calls to the ones who leave (they
finish the call in hand): ``simulate``, one queue.

``simulate_routed`` plays several accounts' calls through the desk's own routing core
(``calls.routing``: skills and levels, languages, priority classes, overflow to a wider group,
maximum wait then the fallback), with secretaries on the phones per interval: what a plan gives when
not every secretary can take every call.

The results are per interval of arrival, with the same definitions as ``erlang``: service level =
answered within T over offered, ASA = mean wait of the answered, abandonment = hung up over offered,
occupancy = talking time over the agents' time on the phones.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from permanence.calls import routing

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


_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)
NO_OVERFLOW = routing.Policy(overflow_after_seconds=None)  # accounts without a policy of their own


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
    """Simulate the day: every event (a call arriving, a call ending, a caller hanging up, a wait
    reaching an overflow, priority or maximum-wait mark, a shift changing) is followed by a routing
    round of the core, as at the desk. Results per account and interval of arrival. As in
    ``simulate``, calls still waiting at the end of the last interval are played out by its team."""
    if interval_seconds <= 0:
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
    if any(c < 0 for s in streams for c in s.calls_per_interval):
        raise SimulationError("Calls cannot be negative.")
    rng = random.Random(seed)
    router = routing.Router(policies, default_policy)
    results = {s.account: Result([IntervalResult() for _ in range(count)]) for s in streams}
    by_account = {s.account: s for s in streams}
    events: list[tuple[float, int, str, int]] = []  # (time, order, what, id)
    order = itertools.count()

    def at(seconds: float) -> datetime:
        return _EPOCH + timedelta(seconds=seconds)

    def index(t: float) -> int:
        return min(max(int(t // interval_seconds), 0), count - 1)

    calls: dict[int, tuple[int, float]] = {}  # call -> (account, arrival)
    call_ids = itertools.count(1)
    for stream in streams:
        for slot, expected in enumerate(stream.calls_per_interval):
            rate, t = expected / interval_seconds, slot * interval_seconds
            while rate > 0:
                t += rng.expovariate(rate)
                if t >= (slot + 1) * interval_seconds:
                    break
                call_id = next(call_ids)
                calls[call_id] = (stream.account, t)
                heapq.heappush(events, (t, next(order), "arrive", call_id))
    for slot in range(count + 1):
        heapq.heappush(events, (slot * interval_seconds, next(order), "shift", slot))
    agent_by_id = {a.id: a for a in agents}
    busy: dict[int, int] = {}  # agent -> call in hand
    leaving: set[int] = set()
    current_slot = -1

    def on_shift(agent: Agent) -> bool:
        return 0 <= current_slot < count and agent.on_phones[current_slot]

    def ready(agent: Agent, now: float) -> None:
        router.set_ready(
            routing.Secretary(agent.id, agent.skills, at(now), groups=agent.groups, languages=agent.languages)
        )

    def round_(now: float) -> None:
        for fallback in router.expired(at(now)):
            account, arrived = calls[fallback.call]
            results[account].intervals[index(arrived)].diverted += 1
        for call_id, agent_id in router.assign(at(now)):
            account, arrived = calls[call_id]
            part = results[account].intervals[index(arrived)]
            part.answered += 1
            wait = now - arrived
            part.wait_answered += wait
            part.answered_in_time += wait <= threshold
            end = now + by_account[account].handle_time(rng)
            _spread(results[account].intervals, now, end, interval_seconds)
            busy[agent_id] = call_id
            heapq.heappush(events, (end, next(order), "end", agent_id))

    agent_time = [0.0] * count
    while events:
        now, _, what, ident = heapq.heappop(events)
        if what == "arrive":
            account, _arrived = calls[ident]
            stream = by_account[account]
            results[account].intervals[index(now)].offered += 1
            router.add_call(
                routing.Call(ident, account, at(now), stream.priority, stream.group, stream.language)
            )
            patience = stream.patience(rng)
            if patience < math.inf:
                heapq.heappush(events, (now + patience, next(order), "hang_up", ident))
            policy = router.policy(account)
            for mark in (policy.long_wait_seconds, policy.overflow_after_seconds, policy.max_wait_seconds):
                if mark is not None and mark > 0:  # a wait reaching it changes the routing (1 µs past it)
                    heapq.heappush(events, (now + mark + 1e-6, next(order), "mark", ident))
        elif what == "hang_up":
            if ident in router.calls:
                router.remove_call(ident)
                account, arrived = calls[ident]
                results[account].intervals[index(arrived)].abandoned += 1
        elif what == "end":
            busy.pop(ident, None)
            if ident in leaving or not on_shift(agent_by_id[ident]):
                leaving.discard(ident)
            else:
                ready(agent_by_id[ident], now)
        elif what == "shift":
            if ident == count:  # the day is over: the last interval's team plays out the queue
                continue
            current_slot = ident
            for agent in agents:
                working = on_shift(agent)
                agent_time[ident] += working * interval_seconds
                if working and agent.id not in router.ready and agent.id not in busy:
                    ready(agent, now)
                    leaving.discard(agent.id)
                elif working and agent.id in busy:
                    leaving.discard(agent.id)
                elif not working:
                    router.set_busy(agent.id)  # off the phones: no new call
                    if agent.id in busy:
                        leaving.add(agent.id)
        if what != "hang_up":
            round_(now)
    for call_id in list(router.calls):  # nobody left on the phones for them: they hang up
        router.remove_call(call_id)
        account, arrived = calls[call_id]
        results[account].intervals[index(arrived)].abandoned += 1
    return RoutedResult(results, agent_time)


def _spread(intervals: list[IntervalResult], start: float, end: float, length: float) -> None:
    """A call's handling over the intervals it spans (after the last one: counted in the last)."""
    last = len(intervals) - 1
    while start < end:
        slot = min(int(start // length), last)
        edge = (slot + 1) * length if slot < last else end
        piece = min(end, edge) - start
        intervals[slot].talk += piece
        start += piece
