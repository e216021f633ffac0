"""The traffic simulator against the Erlang formulas (stated tolerances), and its bookkeeping."""

from __future__ import annotations

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
