"""The grid path (planning/grid.py: all cells at once, numpy and scipy) gives the answers of the
scalar core, checked against the core as it was before it (tests/planning/erlang_before.py) on
seeded samples of cells: tiny to huge traffic, each kind of target, shrinkage."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import random
import sys
from pathlib import Path

import numpy as np
import pytest

from permanence.planning import erlang, grid


def _load_before():
    name = "permanence_erlang_before"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("erlang_before.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


before = _load_before()


def sample(count: int, seed: int) -> list[tuple[float, float]]:
    """(calls per hour, AHT) like the bench's grid (0.2-100 Erlangs), plus tiny and huge traffic."""
    rng = random.Random(seed)
    cells = []
    for _ in range(count):
        aht = rng.uniform(120, 420)
        cells.append((rng.uniform(0.2, 100.0) * 3600 / aht, aht))
    for traffic in (1e-6, 0.003, 0.05, 0.5, 1.0, 2.0, 250.0, 1_000.0, 4_000.0):
        cells.append((traffic * 3600 / 180, 180.0))
    cells.append((0.0, 300.0))
    return cells


C_TARGETS = [
    {},
    {"shrinkage": 0.3},
    {"target_sl": 0.9, "target_seconds": 30, "shrinkage": 0.35},
    {"target_sl": 0.0, "target_asa": 15.0},
    {"target_sl": 0.8, "target_seconds": 20, "target_asa": 5.0, "max_occupancy": 0.85, "shrinkage": 0.123},
    {"target_sl": 0.95, "target_seconds": 0},
    {"target_sl": 0.2, "target_seconds": 10},
]


@pytest.mark.parametrize("targets", C_TARGETS)
def test_erlang_c_grid_gives_the_agents_of_the_scalar_core(targets):
    cells = sample(1500, seed=len(repr(targets)))
    calls = np.array([c for c, _ in cells])
    aht = np.array([a for _, a in cells])
    plan = grid.required_agents(calls, aht, grid.Targets(**targets))
    for i, (c, a) in enumerate(cells):
        old = before.required_agents(c, a, **targets)
        assert (int(plan.agents[i]), int(plan.scheduled[i])) == (old.agents, old.scheduled), (c, a)
        perf = old.performance
        assert plan.traffic[i] == perf.traffic
        assert plan.service_level[i] == pytest.approx(perf.service_level, abs=1e-13)
        assert plan.waiting_probability[i] == pytest.approx(perf.waiting_probability, abs=1e-13)
        assert plan.asa_seconds[i] == pytest.approx(perf.asa_seconds, rel=1e-12, abs=1e-12)
        assert plan.occupancy[i] == perf.occupancy and plan.abandonment[i] == 0.0


@pytest.mark.parametrize("targets", C_TARGETS)
def test_the_scalar_core_is_unchanged(targets):
    # erlang.required_agents (pages, the one-cell command) lost its fractions and objects per
    # candidate, not a bit of its answers
    for c, a in sample(400, seed=3)[::3] + sample(0, seed=0):
        new, old = erlang.required_agents(c, a, **targets), before.required_agents(c, a, **targets)
        assert (new.agents, new.scheduled) == (old.agents, old.scheduled)
        assert dataclasses.astuple(new.performance) == dataclasses.astuple(old.performance)


def test_shrinkage_is_exact_on_the_grid():
    agents = np.array([0, 7, 20, 21, 42, 84, 10**6], dtype=np.int64)
    assert grid.scheduled(agents, 0.3).tolist() == [erlang.scheduled(int(n), 0.3) for n in agents]
    assert grid.scheduled(agents, 0.3).tolist()[3:5] == [30, 60]  # not 31 and 61 (float division)
    odd = 0.123456789012345  # a long fraction: exact big integers
    assert grid.scheduled(agents, odd).tolist() == [before.scheduled(int(n), odd) for n in agents]


def test_erlang_c_measures_of_given_agents():
    wait, level, asa, occupancy = grid.erlang_c_measures(
        [14, 13, 55, 9], [10.0, 10.0, 48.0, 10.0], [180, 180, 240, 180], 20
    )
    assert level[0] == pytest.approx(0.8884, abs=1e-4) and asa[0] == pytest.approx(7.84, abs=0.01)
    assert level[1] == pytest.approx(0.7956, abs=1e-4)
    assert wait[2] == pytest.approx(0.2387, abs=1e-4) and occupancy[2] == pytest.approx(0.8727, abs=1e-4)
    assert (wait[3], level[3], asa[3], occupancy[3]) == (1.0, 0.0, math.inf, 1.0)  # N <= A


@pytest.mark.parametrize(
    ("calls", "aht", "message"),
    [
        ([10, -1], [180, 180], "cannot be negative \\(cell 1\\)"),
        ([10, math.nan], 180, "cell 1"),
        ([10], [0], "must be positive"),
    ],
)
def test_meaningless_cells_are_refused(calls, aht, message):
    with pytest.raises(erlang.StaffingError, match=message):
        grid.required_agents(calls, aht)


def test_meaningless_targets_are_refused():
    for targets in (
        grid.Targets(target_sl=1.0),
        grid.Targets(shrinkage=1.0),
        grid.Targets(patience=0),
        grid.Targets(max_occupancy=0),
        grid.Targets(max_abandonment=1.5),
    ):
        with pytest.raises(erlang.StaffingError):
            grid.required_agents([10], [180], targets)


def test_empty_grid():
    plan = grid.required_agents([], 180)
    assert plan.agents.size == 0 and plan.scheduled.size == 0


# Erlang A: the closed form against the birth-death chain --------------------------------------

MEASURES = ("waiting_probability", "service_level", "abandonment", "occupancy")
TOLERANCE = 1e-9  # shares; the ASA within 1e-9 relative. Seen: 7e-14 and 1e-12.


@pytest.mark.parametrize(
    "targets",
    [
        {"patience": 120},
        {"patience": 30, "target_sl": 0.9, "target_seconds": 15, "shrinkage": 0.3},
        {"patience": 300, "target_sl": 0.5, "target_asa": 8.0},
        {"patience": 60, "target_sl": 0.0, "max_abandonment": 0.02},
        {"patience": 900, "max_occupancy": 0.85, "target_seconds": 0},
    ],
)
def test_erlang_a_grid_gives_the_agents_and_measures_of_the_chain(targets):
    cells = sample(60, seed=11)[:-4] + [
        (0.003 * 20, 180.0),
        (0.5 * 20, 180.0),
        (250 * 20, 180.0),
        (0.0, 90.0),
    ]
    plan = grid.required_agents([c for c, _ in cells], [a for _, a in cells], grid.Targets(**targets))
    for i, (c, a) in enumerate(cells):
        old = before.required_agents(c, a, **targets)
        assert (int(plan.agents[i]), int(plan.scheduled[i])) == (old.agents, old.scheduled), (c, a)
        for name in MEASURES:
            assert getattr(plan, name)[i] == pytest.approx(getattr(old.performance, name), abs=TOLERANCE)
        assert plan.asa_seconds[i] == pytest.approx(old.performance.asa_seconds, rel=TOLERANCE, abs=1e-12)


def test_erlang_a_measures_at_given_agents_over_and_under_the_traffic():
    # below the traffic (overloaded: S is about e^y), at it, above it, and far above it
    rng = random.Random(5)
    cases = [(1, 40.0, 180.0), (30, 40.0, 180.0), (40, 40.0, 180.0), (90, 40.0, 180.0), (3, 0.01, 300.0)]
    cases += [(rng.randint(1, 150), rng.uniform(0.1, 120), rng.uniform(60, 600)) for _ in range(40)]
    agents, traffic, aht = ([case[k] for case in cases] for k in range(3))
    for patience in (10.0, 120.0, 900.0):
        for threshold in (0.0, 20.0, 180.0):
            got = grid.erlang_a_measures(agents, traffic, aht, threshold, patience)
            for i, case in enumerate(cases):
                old = before.erlang_a_performance(*case, threshold, patience)
                for name in MEASURES:
                    assert getattr(got, name)[i] == pytest.approx(getattr(old, name), abs=TOLERANCE), (
                        case,
                        name,
                    )
                assert got.asa_seconds[i] == pytest.approx(old.asa_seconds, rel=TOLERANCE)


@pytest.mark.parametrize(
    ("agents", "patience", "waits", "abandons", "occupancy", "level"),
    [(14, 300, 0.14526, 0.013984, 0.704297, 0.916792), (12, 60, 0.240426, 0.075902, 0.7701, 0.8603)],
)
def test_erlang_a_closed_form_reference_cases(agents, patience, waits, abandons, occupancy, level):
    # pyworkforce 0.5.4's regression test and the same method with patience 1 minute (test_erlang.py)
    got = grid.erlang_a_measures([agents], [10.0], [180.0], 20, patience)
    assert got.waiting_probability[0] == pytest.approx(waits, abs=1e-5)
    assert got.abandonment[0] == pytest.approx(abandons, abs=1e-6)
    assert got.occupancy[0] == pytest.approx(occupancy, abs=1e-4)
    assert got.service_level[0] == pytest.approx(level, abs=1e-4)


def test_erlang_a_closed_form_whitt_base_case_and_limits():
    whitt = grid.erlang_a_measures([100], [100.0], [60.0], 20, 60)
    assert whitt.waiting_probability[0] == pytest.approx(0.513299, abs=1e-6)
    assert whitt.abandonment[0] == pytest.approx(0.039861, abs=1e-6)
    assert whitt.service_level[0] == pytest.approx(0.9595, abs=1e-4)
    # patience without end: Erlang C (here the incomplete gamma underflows: the hyp1f1 branch)
    patient = grid.erlang_a_measures([14], [10.0], [180.0], 20, 1e7)
    wait, level, asa, _ = grid.erlang_c_measures([14], [10.0], [180.0], 20)
    assert patient.service_level[0] == pytest.approx(level[0], abs=1e-4)
    assert patient.asa_seconds[0] == pytest.approx(asa[0], rel=1e-3)
    old = before.erlang_a_performance(14, 10.0, 180, 20, 1e7)
    assert patient.service_level[0] == pytest.approx(old.service_level, abs=TOLERANCE)
    assert patient.waiting_probability[0] == pytest.approx(old.waiting_probability, abs=TOLERANCE)
    # thousands of Erlangs: finite and sensible, as the chain says
    big = grid.erlang_a_measures([2000], [2000.0], [180.0], 20, 120)
    chain = before.erlang_a_performance(2000, 2000.0, 180, 20, 120)
    assert 0 < big.abandonment[0] < 0.05 and np.isfinite(big.asa_seconds[0])
    for name in MEASURES:
        assert getattr(big, name)[0] == pytest.approx(getattr(chain, name), abs=1e-8)
    idle = grid.erlang_a_measures([1, 3], [0.0, 0.0], [180.0, 180.0], 20, 60)  # no calls, as the chain
    assert idle.waiting_probability.tolist() == [0.0, 0.0] and idle.service_level.tolist() == [1.0, 1.0]
    assert idle.abandonment.tolist() == [0.0, 0.0] and idle.asa_seconds.tolist() == [0.0, 0.0]
    with pytest.raises(erlang.StaffingError, match="At least one agent"):
        grid.erlang_a_measures([0], [1.0], [180.0], 20, 60)
