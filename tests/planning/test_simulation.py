"""The traffic simulator against the Erlang formulas (stated tolerances), and its bookkeeping."""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from datetime import UTC, datetime, timedelta

import pytest

from permanence.calls import routing
from permanence.planning import erlang, simulation

HOURS = 600  # one long stationary interval: about 120,000 calls at 200 an hour


def stationary(agents, patience=None, seed=1):
    return simulation.simulate(
        [200 * HOURS],
        [agents],
        interval_seconds=3600 * HOURS,
        handle_time=simulation.exponential(180),
        patience=simulation.exponential(patience) if patience else simulation.never,
        threshold=20,
        seed=seed,
    ).total()


def test_matches_erlang_c_when_nobody_hangs_up():
    got = stationary(14)
    want = erlang.erlang_c_performance(14, 10.0, 180, 20)
    assert got.abandoned == 0
    assert got.service_level == pytest.approx(want.service_level, abs=0.01)  # 0.888
    assert got.asa_seconds == pytest.approx(want.asa_seconds, rel=0.1)  # 7.8 s
    assert got.occupancy == pytest.approx(want.occupancy, abs=0.01)


@pytest.mark.parametrize(("agents", "patience"), [(14, 300), (12, 60), (9, 120)])
def test_matches_erlang_a_with_impatient_callers(agents, patience):
    got = stationary(agents, patience)
    want = erlang.erlang_a_performance(agents, 10.0, 180, 20, patience)
    assert got.service_level == pytest.approx(want.service_level, abs=0.01)
    assert got.abandonment == pytest.approx(want.abandonment, abs=0.005)
    assert got.asa_seconds == pytest.approx(want.asa_seconds, rel=0.1)
    assert got.occupancy == pytest.approx(want.occupancy, abs=0.01)


def test_a_day_with_a_plan_per_interval():
    # a morning peak staffed by Erlang C per quarter-hour meets its target in each busy interval,
    # and the same day with two agents fewer at the peak does not
    calls = [10, 20, 40, 60, 60, 40, 20, 10] * 4
    plan = [erlang.required_agents(c * 4, 180).agents for c in calls]
    day = simulation.simulate(
        calls, plan, interval_seconds=900, handle_time=simulation.exponential(180), seed=3
    )
    total = day.total()
    assert total.offered == sum(r.offered for r in day.intervals)
    assert total.answered + total.abandoned == total.offered
    assert total.service_level > 0.8
    short = [a - 2 if c == 60 else a for a, c in zip(plan, calls, strict=True)]
    worse = simulation.simulate(
        calls, short, interval_seconds=900, handle_time=simulation.exponential(180), seed=3
    )

    def peak(result):
        level = simulation.IntervalResult()
        for part, c in zip(result.intervals, calls, strict=True):
            if c == 60:
                level.offered += part.offered
                level.answered_in_time += part.answered_in_time
        return level.service_level

    assert peak(day) > 0.8 and peak(worse) < peak(day) - 0.05


def test_same_seed_same_day_and_nobody_on_the_phones():
    args = dict(
        interval_seconds=900, handle_time=simulation.lognormal(180, 120), patience=simulation.exponential(60)
    )
    one = simulation.simulate([30, 30], [3, 0], seed=9, **args).total()
    two = simulation.simulate([30, 30], [3, 0], seed=9, **args).total()
    assert one == two
    nobody = simulation.simulate([30], [0], **args).total()
    assert nobody.answered == 0 and nobody.abandoned == nobody.offered > 0


def test_bad_inputs():
    with pytest.raises(simulation.SimulationError):
        simulation.simulate([1, 2], [1], interval_seconds=900, handle_time=simulation.exponential(60))
    with pytest.raises(simulation.SimulationError):
        simulation.exponential(0)


# -- through the routing core: skills, overflow, priority, maximum wait ------------------------------

DAY = 32  # quarter-hours: 8 hours


def stream(account, per_hour, **extra):
    return simulation.Stream(account, [per_hour / 4] * DAY, simulation.exponential(180), **extra)


def agents(ids, skills, **extra):
    return [simulation.Agent(i, skills, [True] * DAY, **extra) for i in ids]


def routed(streams, people, seed=5, **extra):
    return simulation.simulate_routed(streams, people, interval_seconds=900, seed=seed, **extra)


def test_one_account_everyone_trained_matches_erlang_c():
    # 8 hours × 200 calls an hour, 14 secretaries: the routed simulator is the Erlang C queue
    levels = []
    for seed in range(4):
        day = routed([stream(1, 200)], agents(range(14), {1: 2}), seed=seed).total()
        assert day.abandoned == 0 and day.diverted == 0
        levels.append(day.service_level)
    want = erlang.erlang_c_performance(14, 10.0, 180, 20)
    assert sum(levels) / len(levels) == pytest.approx(want.service_level, abs=0.02)  # 0.888


def test_skills_split_the_team_and_overflow_pools_it_again():
    # two accounts of 100 calls an hour; 7 secretaries trained on each one (two queues of Erlang C
    # with 5 Erlangs and 7 agents: 0.80 within 20 s) against 14 trained on both (0.89, one queue)
    split = agents(range(7), {1: 2}, groups=frozenset({"legal"})) + agents(
        range(7, 14), {2: 2}, groups=frozenset({"legal"})
    )
    both = [stream(1, 100, group="legal"), stream(2, 100, group="legal")]
    pooled = agents(range(14), {1: 2, 2: 2})
    runs = {"split": [], "pooled": [], "overflow": []}
    for seed in range(4):
        runs["split"].append(routed(both, split, seed=seed).total().service_level)
        runs["pooled"].append(routed(both, pooled, seed=seed).total().service_level)
        overflow = {1: routing.Policy(overflow_after_seconds=0), 2: routing.Policy(overflow_after_seconds=0)}
        runs["overflow"].append(routed(both, split, seed=seed, policies=overflow).total().service_level)
    mean = {name: sum(values) / len(values) for name, values in runs.items()}
    assert mean["split"] == pytest.approx(
        erlang.erlang_c_performance(7, 5.0, 180, 20).service_level, abs=0.03
    )
    assert mean["pooled"] == pytest.approx(
        erlang.erlang_c_performance(14, 10.0, 180, 20).service_level, abs=0.02
    )
    # overflow at once to the other account's secretaries: as good as one team
    assert (
        mean["overflow"] == pytest.approx(mean["pooled"], abs=0.02)
        and mean["overflow"] > mean["split"] + 0.05
    )


def test_an_urgent_account_waits_less_and_the_maximum_wait_diverts():
    people = agents(range(12), {1: 2, 2: 2})
    streams = [stream(1, 110, priority=1), stream(2, 110)]
    day = routed(streams, people)
    urgent, normal = day.by_account[1].total(), day.by_account[2].total()
    assert urgent.asa_seconds < normal.asa_seconds / 2 and urgent.service_level > normal.service_level
    # the same day with a maximum wait of 60 s for the normal account: its long waiters are diverted
    capped = routed(streams, people, policies={2: routing.Policy(max_wait_seconds=60)})
    normal_capped = capped.by_account[2].total()
    assert normal_capped.diverted > 0 and capped.by_account[1].total().diverted == 0
    assert normal_capped.answered + normal_capped.diverted + normal_capped.abandoned == normal_capped.offered
    assert normal_capped.wait_answered / normal_capped.answered <= normal.asa_seconds


def test_a_language_only_some_secretaries_speak_and_shifts():
    # English calls go to the two who speak English only; nobody on the phones in the afternoon
    morning = [True] * 16 + [False] * 16
    people = [
        simulation.Agent(1, {1: 2}, morning, languages=frozenset({"fr", "en"})),
        simulation.Agent(2, {1: 2}, morning, languages=frozenset({"fr", "en"})),
        simulation.Agent(3, {1: 2}, morning, languages=frozenset({"fr"})),
    ]
    day = routed([stream(1, 20, language="en", patience=simulation.exponential(120))], people)
    result = day.by_account[1]
    offered_morning = sum(r.offered for r in result.intervals[:16])  # about 80
    # Erlang A, 2 agents for 1 Erlang, patience 120 s: about 1 caller in 8 hangs up
    assert sum(r.answered for r in result.intervals[:16]) >= 0.8 * offered_morning > 50
    assert sum(r.answered for r in result.intervals[17:]) == 0
    assert sum(r.abandoned for r in result.intervals[17:]) == sum(r.offered for r in result.intervals[17:])
    assert sum(day.agent_time) == 3 * 16 * 900 and day.agent_time[16:] == [0.0] * 16
    # the French-only secretary alone answers none of them
    alone = routed([stream(1, 20, language="en", patience=simulation.exponential(120))], people[2:])
    assert alone.total().answered == 0 and alone.total().abandoned == alone.total().offered > 100


def test_routed_bad_inputs():
    with pytest.raises(simulation.SimulationError, match="same intervals"):
        routed([stream(1, 10)], [simulation.Agent(1, {1: 1}, [True])])
    with pytest.raises(simulation.SimulationError, match="once"):
        routed([stream(1, 10), stream(1, 10)], agents([1], {1: 1}))


def test_routed_and_single_queue_agree_at_the_end_of_the_day_and_on_occupancy():
    # 6 Erlangs on 5 agents for two hours: a queue builds up; both simulators play it out at the end
    calls, plan = [120.0] * 4, [5] * 4
    single = simulation.simulate(calls, plan, interval_seconds=1800, handle_time=simulation.exponential(180))
    routed = simulation.simulate_routed(
        [simulation.Stream(1, calls, simulation.exponential(180))],
        [simulation.Agent(i, {1: 1}, [True] * 4) for i in range(5)],
        interval_seconds=1800,
    )
    for result in (single.total(), routed.total()):
        assert result.abandoned == 0 and result.answered == result.offered
    assert routed.total().offered == pytest.approx(single.total().offered, rel=0.15)
    assert 0.9 < routed.occupancy(1) <= 1.0 and routed.agent_time == [5 * 1800.0] * 4


# -- the fast paths against the same calls played event by event (issue 21) ---------------------------
#
# Both simulators draw the whole day at once (``_queue_day``, ``_routed_day``) and then play it without an
# event per hang-up or per priority mark. The references below are the event loops of before, on the same
# drawn calls: the single queue's loop (arrivals, ends, FIFO, staffing changes at each edge), and the desk's
# own routing core (``calls.routing.Router``, its ``assign`` round after every event, datetimes and all).
# Counts must be equal; sums of seconds equal to rounding.


def reference_queue(calls, plan, *, length, handle_time, patience, threshold=20.0, seed=0):
    day = simulation._queue_day(calls, length, handle_time, patience, seed)
    arrivals = list(zip(day.times.tolist(), day.patience.tolist(), day.handle.tolist(), strict=True))
    count = len(calls)
    results = [simulation.IntervalResult() for _ in range(count)]

    def index(t):
        return min(int(t // length), count - 1)

    waiting, ends = deque(), []
    state = {"free": 0, "leaving": 0, "on": 0}

    def serve(arrived, handle, now):
        part = results[index(arrived)]
        part.answered += 1
        part.wait_answered += now - arrived
        part.answered_in_time += now - arrived <= threshold
        spread(results, now, now + handle, length)
        heapq.heappush(ends, now + handle)

    def start_next(now):
        while waiting:
            arrived, deadline, handle = waiting.popleft()
            if deadline <= now:
                results[index(arrived)].abandoned += 1
                continue
            serve(arrived, handle, now)
            return True
        return False

    def agent_free(now):
        if state["leaving"]:
            state["leaving"] -= 1
        elif not start_next(now):
            state["free"] += 1

    position = 0
    for slot in range(count + 1):
        boundary = slot * length if slot < count else math.inf
        while True:
            next_arrival = arrivals[position][0] if position < len(arrivals) else math.inf
            next_end = ends[0] if ends else math.inf
            if min(next_arrival, next_end) >= boundary or min(next_arrival, next_end) == math.inf:
                break
            if next_end <= next_arrival:
                heapq.heappop(ends)
                agent_free(next_end)
            else:
                arrived, wait_limit, handle = arrivals[position]
                position += 1
                results[index(arrived)].offered += 1
                if state["free"]:
                    state["free"] -= 1
                    serve(arrived, handle, arrived)
                else:
                    waiting.append((arrived, arrived + wait_limit, handle))
        if slot < count:
            change = plan[slot] - state["on"]
            state["on"] = plan[slot]
            if change >= 0:
                cancel = min(state["leaving"], change)
                state["leaving"] -= cancel
                for _ in range(change - cancel):
                    if not start_next(boundary):
                        state["free"] += 1
            else:
                idle = min(state["free"], -change)
                state["free"] -= idle
                state["leaving"] += -change - idle
    for arrived, _deadline, _handle in waiting:
        results[index(arrived)].abandoned += 1
    return results


COUNTS = ("offered", "answered", "answered_in_time", "abandoned", "diverted")


def spread(intervals, start, end, length):
    """A call's handling over the intervals it spans (after the last one: counted in the last)."""
    last = len(intervals) - 1
    while start < end:
        slot = min(int(start // length), last)
        edge = (slot + 1) * length if slot < last else end
        piece = min(end, edge) - start
        intervals[slot].talk += piece
        start += piece


def assert_same(got, want):
    assert len(got) == len(want)
    for slot, (mine, theirs) in enumerate(zip(got, want, strict=True)):
        assert [getattr(mine, n) for n in COUNTS] == [getattr(theirs, n) for n in COUNTS], slot
        assert mine.wait_answered == pytest.approx(theirs.wait_answered, rel=1e-9, abs=1e-9), slot
        assert mine.talk == pytest.approx(theirs.talk, rel=1e-9, abs=1e-9), slot


@pytest.mark.parametrize("seed", range(4))
def test_single_queue_plays_the_same_calls_as_the_event_loop(seed):
    # a plan that rises, falls to nobody (those talking finish their call), comes back while some who
    # were leaving still talk, and changes by one or many: every path of the staffing changes
    calls = [40, 60, 80, 80, 30, 30, 50, 70, 70, 20]
    plan = [5, 9, 6, 12, 0, 4, 2, 8, 7, 1]
    args = dict(length=900, handle_time=simulation.lognormal(180, 150), patience=simulation.exponential(90))
    want = reference_queue(calls, plan, seed=seed, **args)
    got = simulation.simulate(
        calls,
        plan,
        interval_seconds=900,
        handle_time=args["handle_time"],
        patience=args["patience"],
        seed=seed,
    )
    assert_same(got.intervals, want)
    assert sum(r.offered for r in want) > 400 and 0 < sum(r.abandoned for r in want) < sum(
        r.offered for r in want
    )


def test_single_queue_with_patient_callers_and_a_short_day_matches_the_event_loop():
    # nobody hangs up: the queue of the last interval is played out by its team
    args = dict(handle_time=simulation.exponential(200), patience=simulation.never)
    want = reference_queue([90, 90, 90], [4, 6, 3], length=600, **args)
    got = simulation.simulate([90, 90, 90], [4, 6, 3], interval_seconds=600, **args)
    assert_same(got.intervals, want)
    assert got.total().answered == got.total().offered


def reference_routed(
    streams, people, *, length, policies=None, default=simulation.NO_OVERFLOW, threshold=20.0, seed=0
):
    """The routed simulator of before: every event followed by the routing core's whole round."""
    day = simulation._routed_day(streams, length, seed)
    count = len(streams[0].calls_per_interval)
    router = routing.Router(policies, default)
    results = {s.account: [simulation.IntervalResult() for _ in range(count)] for s in streams}
    epoch = datetime(2000, 1, 3, tzinfo=UTC)
    events, order = [], itertools.count()
    calls = {}
    for call, (t, k) in enumerate(zip(day.times.tolist(), day.streams.tolist(), strict=True)):
        calls[call] = (streams[k], t, day.patience[call], day.handle[call])
        heapq.heappush(events, (t, next(order), "arrive", call))
    for slot in range(count + 1):
        heapq.heappush(events, (slot * length, next(order), "shift", slot))
    by_id = {a.id: a for a in people}
    busy, leaving, current = {}, set(), [-1]

    def at(seconds):
        return epoch + timedelta(seconds=seconds)

    def part(call):
        stream, arrived = calls[call][:2]
        return results[stream.account][min(int(arrived // length), count - 1)]

    def on_shift(agent):
        return 0 <= current[0] < count and agent.on_phones[current[0]]

    def ready(agent, now):
        router.set_ready(
            routing.Secretary(agent.id, agent.skills, at(now), groups=agent.groups, languages=agent.languages)
        )

    def round_(now):
        for fallback in router.expired(at(now)):
            part(fallback.call).diverted += 1
        for call, agent in router.assign(at(now)):
            p = part(call)
            wait = now - calls[call][1]
            p.answered += 1
            p.wait_answered += wait
            p.answered_in_time += wait <= threshold
            busy[agent] = call
            spread(results[calls[call][0].account], now, now + calls[call][3], length)
            heapq.heappush(events, (now + calls[call][3], next(order), "end", agent))

    while events:
        now, _, what, ident = heapq.heappop(events)
        if what == "arrive":
            stream, _arrived, patience, _handle = calls[ident]
            part(ident).offered += 1
            router.add_call(
                routing.Call(ident, stream.account, at(now), stream.priority, stream.group, stream.language)
            )
            if patience < math.inf:
                heapq.heappush(events, (now + patience, next(order), "hang_up", ident))
            policy = router.policy(stream.account)
            for mark in (policy.long_wait_seconds, policy.overflow_after_seconds, policy.max_wait_seconds):
                if mark is not None and mark > 0:
                    heapq.heappush(events, (now + mark + 1e-6, next(order), "mark", ident))
        elif what == "hang_up":
            if ident in router.calls:
                router.remove_call(ident)
                part(ident).abandoned += 1
        elif what == "end":
            busy.pop(ident, None)
            if ident in leaving or not on_shift(by_id[ident]):
                leaving.discard(ident)
            else:
                ready(by_id[ident], now)
        elif what == "shift":
            if ident == count:
                continue
            current[0] = ident
            for agent in people:
                working = on_shift(agent)
                if working and agent.id not in router.ready and agent.id not in busy:
                    ready(agent, now)
                    leaving.discard(agent.id)
                elif working and agent.id in busy:
                    leaving.discard(agent.id)
                elif not working:
                    router.set_busy(agent.id)
                    if agent.id in busy:
                        leaving.add(agent.id)
        if what != "hang_up":
            round_(now)
    for call in list(router.calls):
        router.remove_call(call)
        part(call).abandoned += 1
    return results


def a_busy_desk():
    """Three accounts of one trade (one urgent, one in English), one of another; secretaries with one or
    two trainings at various levels, some speaking English, shifts that start, stop and come back."""
    hours = 12  # quarter-hours
    profile = [0.5, 1.0, 1.2, 1.0, 0.8, 1.1, 1.3, 0.9, 0.6, 1.0, 0.7, 0.4]
    streams = [
        simulation.Stream(
            1,
            [14 * f for f in profile],
            simulation.exponential(180),
            patience=simulation.exponential(120),
            group="legal",
        ),
        simulation.Stream(
            2,
            [9 * f for f in profile],
            simulation.lognormal(240, 150),
            patience=simulation.exponential(200),
            priority=1,
            group="legal",
        ),
        simulation.Stream(
            3,
            [5 * f for f in profile],
            simulation.exponential(150),
            group="legal",
            language="en",
            patience=simulation.exponential(300),
        ),
        simulation.Stream(
            4,
            [12 * f for f in profile],
            simulation.exponential(200),
            patience=simulation.exponential(150),
            group="health",
        ),
    ]
    everyone = [True] * hours
    morning = [True] * 6 + [False] * 6
    gaps = [True, True, False, False, True, True, True, False, True, True, True, True]
    people = [
        simulation.Agent(
            10, {1: 3, 2: 1}, everyone, groups=frozenset({"legal"}), languages=frozenset({"fr"})
        ),
        simulation.Agent(11, {1: 2}, morning, groups=frozenset({"legal"}), languages=frozenset({"fr", "en"})),
        simulation.Agent(12, {2: 4}, gaps, groups=frozenset({"legal"}), languages=frozenset({"fr"})),
        simulation.Agent(
            13, {3: 2, 1: 1}, everyone, groups=frozenset({"legal"}), languages=frozenset({"en"})
        ),
        simulation.Agent(
            14, {2: 2}, morning[::-1], groups=frozenset({"legal"}), languages=frozenset({"fr", "en"})
        ),
        simulation.Agent(15, {4: 3}, everyone, groups=frozenset({"health"})),
        simulation.Agent(
            16, {4: 2}, gaps, groups=frozenset({"health", "legal"}), languages=frozenset({"en"})
        ),
        simulation.Agent(17, {4: 1, 1: 1}, morning, groups=frozenset({"health"})),
        simulation.Agent(18, {1: 2}, gaps[::-1], groups=frozenset({"legal"})),
    ]
    return streams, people


POLICY_SETS = {
    "no overflow": {},
    "overflow": {k: routing.Policy(overflow_after_seconds=30) for k in (1, 2, 3, 4)},
    "mixed": {
        1: routing.Policy(overflow_after_seconds=0, long_wait_seconds=45),
        2: routing.Policy(overflow_after_seconds=20, max_wait_seconds=150),
        3: routing.Policy(overflow_after_seconds=60, long_wait_seconds=30, max_wait_seconds=400),
        4: routing.Policy(overflow_after_seconds=10, max_wait_seconds=90),
    },
}


@pytest.mark.parametrize("policies", POLICY_SETS)
@pytest.mark.parametrize("seed", range(3))
def test_routed_plays_the_same_calls_as_the_routing_core(policies, seed):
    streams, people = a_busy_desk()
    want = reference_routed(streams, people, length=900, policies=POLICY_SETS[policies], seed=seed)
    got = simulation.simulate_routed(
        streams, people, interval_seconds=900, policies=POLICY_SETS[policies], seed=seed
    )
    for stream in streams:
        assert_same(got.by_account[stream.account].intervals, want[stream.account])
    total = got.total()
    assert total.offered > 300 and total.abandoned > 0
    assert total.answered + total.abandoned + total.diverted == total.offered
    assert (total.diverted > 0) == (policies == "mixed")


def test_routed_with_nobody_at_the_end_of_the_day_matches_the_routing_core():
    # callers who never hang up, a maximum wait on one account only: at the end, when nobody is left, the
    # capped account's callers go to the fallback, the other's hang up
    streams = [
        simulation.Stream(1, [20, 20, 20], simulation.exponential(180)),
        simulation.Stream(2, [20, 20, 20], simulation.exponential(180)),
    ]
    people = [simulation.Agent(i, {1: 1, 2: 1}, [True, True, False]) for i in range(3)]
    policies = {2: routing.Policy(max_wait_seconds=600)}
    want = reference_routed(streams, people, length=900, policies=policies)
    got = simulation.simulate_routed(streams, people, interval_seconds=900, policies=policies)
    for stream in streams:
        assert_same(got.by_account[stream.account].intervals, want[stream.account])
    assert got.by_account[1].intervals[2].abandoned > 0 and got.by_account[2].intervals[2].diverted > 0
    assert got.by_account[1].total().diverted == 0


def test_a_fixed_seed_still_meets_the_formulas_and_seeds_differ():
    # the day is drawn at once with numpy: a seed gives one day, another seed another one, both within the
    # formulas' tolerances
    days = [stationary(12, patience=60, seed=seed) for seed in (1, 2, 3)]
    want = erlang.erlang_a_performance(12, 10.0, 180, 20, 60)
    assert len({(d.offered, d.answered, d.abandoned) for d in days}) == 3
    for day in days:
        assert day.service_level == pytest.approx(want.service_level, abs=0.01)
        assert day.abandonment == pytest.approx(want.abandonment, abs=0.005)
    assert stationary(12, patience=60, seed=2) == days[1]


def test_any_sampler_still_works_one_draw_at_a_time():
    # a constant handle time (a plain function, not one of the module's distributions): M/D/1 at 50 %
    # load waits rho / (2 mu (1 - rho)) = 50 s on average (Pollaczek-Khinchine)
    hours = 2000
    day = simulation.simulate(
        [18 * hours], [1], interval_seconds=3600 * hours, handle_time=lambda rng: 100.0, seed=4
    ).total()
    assert day.offered > 30000 and day.answered == day.offered
    assert day.asa_seconds == pytest.approx(50, rel=0.08)
    assert day.occupancy == pytest.approx(0.5, abs=0.01)
    assert simulation.never(random.Random(1)) == math.inf
    assert 0 < simulation.exponential(60)(random.Random(1)) < math.inf


def test_bad_calls_are_refused_in_one_line():
    for calls in ([math.nan], [math.inf], [-1]):
        with pytest.raises(simulation.SimulationError, match="negative"):
            simulation.simulate(calls, [1], interval_seconds=900, handle_time=simulation.exponential(60))
        with pytest.raises(simulation.SimulationError, match="negative"):
            routed([simulation.Stream(1, calls, simulation.exponential(60))], [])
    with pytest.raises(simulation.SimulationError, match="priority"):
        routed([simulation.Stream(1, [1.0], simulation.exponential(60), priority=5)], [])
    with pytest.raises(simulation.SimulationError, match="positive"):
        simulation.lognormal(math.nan, 10)
    for plan, message in (
        ([math.nan], "negative"),
        ([-1], "negative"),
        ([2.5], "whole"),
        ([math.inf], "whole"),
    ):
        with pytest.raises(simulation.SimulationError, match=message):
            simulation.simulate([10], plan, interval_seconds=900, handle_time=simulation.exponential(60))
    assert (
        simulation.simulate([10], [2.0], interval_seconds=900, handle_time=simulation.exponential(60))
        .total()
        .offered
    )


def test_one_account_everyone_trained_is_the_single_queue_call_for_call():
    # the same seed draws the same calls for one stream as for the single queue: first come first served
    # with everyone trained, the routed day is the single queue's, interval by interval
    args = dict(interval_seconds=900, seed=8)
    calls = [30.0, 55.0, 70.0, 40.0]
    single = simulation.simulate(
        calls, [9] * 4, handle_time=simulation.exponential(200), patience=simulation.exponential(100), **args
    )
    routed = simulation.simulate_routed(
        [simulation.Stream(1, calls, simulation.exponential(200), patience=simulation.exponential(100))],
        [simulation.Agent(i, {1: 1}, [True] * 4) for i in range(9)],
        **args,
    )
    assert_same(routed.by_account[1].intervals, single.intervals)
    assert single.total().abandoned > 0 and single.total().answered_in_time < single.total().offered


def random_desk(trial):
    """A random desk: accounts with or without a group, a language, a priority; secretaries with random
    trainings, levels, groups, languages and shifts; random overflow and maximum waits (one long-wait mark
    for all: see below)."""
    r = random.Random(trial)
    count, groups = r.randint(1, 6), ["a", "b", ""]
    streams = [
        simulation.Stream(
            k + 1,
            [r.uniform(0, 40) for _ in range(count)],
            r.choice([simulation.exponential(r.uniform(60, 300)), simulation.lognormal(200, 100)]),
            patience=r.choice([simulation.never, simulation.exponential(r.uniform(20, 400))]),
            priority=r.choice([0, 0, 1, 2]),
            group=r.choice(groups),
            language=r.choice([None, None, "en", "de"]),
        )
        for k in range(r.randint(1, 5))
    ]
    people = [
        simulation.Agent(
            r.randint(0, 10**6) * 100 + j,
            {s.account: r.randint(1, 5) for s in streams if r.random() < 0.4},
            [r.random() < 0.7 for _ in range(count)],
            groups=frozenset(g for g in groups if g and r.random() < 0.5),
            languages=frozenset(x for x in ("fr", "en", "de") if r.random() < 0.5),
        )
        for j in range(r.randint(0, 10))
    ]
    policies = {
        s.account: routing.Policy(
            overflow_after_seconds=r.choice([None, 0, 10, 45]),
            max_wait_seconds=r.choice([None, None, 0, 90, 300]),
        )
        for s in streams
        if r.random() < 0.7
    }
    default = r.choice([simulation.NO_OVERFLOW, routing.Policy()])
    return streams, people, policies, default, r.choice([300, 900]), r.randint(0, 100)


@pytest.mark.parametrize("trial", range(40))
def test_random_desks_play_as_through_the_routing_core(trial, monkeypatch):
    # The core's indexes take two shortcuts the rules do not: an overflow group's queue is looked at 16 calls
    # deep at most, and in it the oldest call a secretary may take comes first whatever its account's own
    # long-wait mark (an account with a shorter mark should go first once it is passed). The simulator
    # follows the rules; here the core looks all the way down and the long-wait mark is the same for all
    # accounts, and then every call is answered at the same moment, or lost the same way.
    first = routing.Router._first
    monkeypatch.setattr(
        routing.Router, "_first", lambda self, queue, ok, limit=16: first(self, queue, ok, 10**9)
    )
    streams, people, policies, default, length, seed = random_desk(trial)
    want = reference_routed(streams, people, length=length, policies=policies, default=default, seed=seed)
    got = simulation.simulate_routed(
        streams, people, interval_seconds=length, policies=policies, default_policy=default, seed=seed
    )
    for stream in streams:
        assert_same(got.by_account[stream.account].intervals, want[stream.account])
