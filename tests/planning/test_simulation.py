"""The traffic simulator against the Erlang formulas (stated tolerances), and its bookkeeping."""

from __future__ import annotations

import pytest

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
