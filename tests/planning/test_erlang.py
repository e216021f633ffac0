"""Erlang B, C and A against independent published reference values (each case cites its source),
and the properties the planning relies on."""

from __future__ import annotations

import math

import pytest

from permanence.planning import erlang


def test_erlang_b_mathematica_example():
    # Wolfram Mathematica documentation, ErlangB: 30 lines offered 25 Erlangs block "approximately 0.05".
    assert erlang.erlang_b(30, 25.0) == pytest.approx(0.052603, abs=1e-6)


def test_erlang_c_call_centre_helper_worked_example():
    # Call Centre Helper, "Erlang C Formula – Made Simple With an Easy Worked Example": 100 calls in
    # 30 minutes, AHT 180 s, 80 % in 20 s, shrinkage 30 %, occupancy at most 85 %. The pyworkforce
    # tutorial prints the same answer: 14 agents, SL 0.888, occupancy 0.714, 20 after shrinkage.
    found = erlang.required_agents(
        200, 180, target_sl=0.8, target_seconds=20, shrinkage=0.3, max_occupancy=0.85
    )
    perf = found.performance
    assert (found.agents, found.scheduled) == (14, 20)
    assert perf.traffic == pytest.approx(10.0)
    assert perf.waiting_probability == pytest.approx(0.1741, abs=1e-4)
    assert perf.service_level == pytest.approx(0.8884, abs=1e-4)
    assert perf.asa_seconds == pytest.approx(7.84, abs=0.01)
    assert perf.occupancy == pytest.approx(0.7143, abs=1e-4)
    thirteen = erlang.erlang_c_performance(13, 10.0, 180, 20)  # one fewer fails the target
    assert thirteen.service_level == pytest.approx(0.7956, abs=1e-4)
    assert thirteen.asa_seconds == pytest.approx(17.12, abs=0.01)


def test_erlang_c_mitan_step_by_step():
    # Mitan, "The Erlang-C formula": 360 calls in 30 minutes, 4 minutes each, 55 agents, 15 s.
    perf = erlang.erlang_c_performance(55, 48.0, 240, 15)
    assert perf.occupancy == pytest.approx(0.8727, abs=1e-4)
    assert perf.waiting_probability == pytest.approx(0.2387, abs=1e-4)
    assert perf.service_level == pytest.approx(0.8459, abs=1e-4)
    assert perf.asa_seconds == pytest.approx(8.18, abs=0.01)


def test_erlang_c_jonesthenet_uplift():
    # jonesthenet.com "Erlang uplift": 250 calls an hour, AHT 330 s, 80 % in 30 s: 28 advisors
    # where the naive traffic says 22.9.
    found = erlang.required_agents(250, 330, target_sl=0.8, target_seconds=30)
    assert found.agents == 28 and found.performance.traffic == pytest.approx(22.917, abs=1e-3)
    assert erlang.erlang_c_performance(27, found.performance.traffic, 330, 30).service_level < 0.8


def test_erlang_c_required_server_count_of_a_public_test_suite():
    # A public repository's tests (stimulus.required_server_count / service_level): AHT 752 s,
    # 15-minute interval; 25 calls, 90 % in 20 s -> 28 servers; 35 calls on 37 servers -> 0.9042.
    assert erlang.required_agents(100, 752, target_sl=0.9, target_seconds=20).agents == 28
    assert erlang.erlang_c_performance(37, 35 * 752 / 900, 752, 20).service_level == pytest.approx(
        0.904216, abs=1e-6
    )


@pytest.mark.parametrize(
    ("agents", "patience", "waits", "abandons", "occupancy", "level"),
    [
        # pyworkforce 0.5.4's regression test (test_abandonment.py), confirmed by the
        # Garnett-Mandelbaum-Reiman (2002) closed form: 100 calls / 30 min, AHT 3 min, patience 5 min.
        (14, 300, 0.14526, 0.013984, 0.704297, 0.916792),
        # same method, patience 1 minute, 12 agents
        (12, 60, 0.240426, 0.075902, 0.7701, 0.8603),
    ],
)
def test_erlang_a_reference_cases(agents, patience, waits, abandons, occupancy, level):
    perf = erlang.erlang_a_performance(agents, 10.0, 180, 20, patience)
    assert perf.waiting_probability == pytest.approx(waits, abs=1e-5)
    assert perf.abandonment == pytest.approx(abandons, abs=1e-6)
    assert perf.occupancy == pytest.approx(occupancy, abs=1e-4)
    assert perf.service_level == pytest.approx(level, abs=1e-4)


def test_erlang_a_whitt_base_case():
    # Whitt (2006), "Sensitivity of performance in the Erlang-A queueing model", base case
    # lambda = 100/min, mu = theta = 1/min, n = 100.
    perf = erlang.erlang_a_performance(100, 100.0, 60, 20, 60)
    assert perf.waiting_probability == pytest.approx(0.513299, abs=1e-6)
    assert perf.abandonment == pytest.approx(0.039861, abs=1e-6)
    assert perf.occupancy == pytest.approx(0.9601, abs=1e-4)
    assert perf.service_level == pytest.approx(0.9595, abs=1e-4)


def test_erlang_a_needs_fewer_agents_and_can_go_below_the_traffic():
    # pyworkforce 0.5.4 starts its search at ceil(A) and answers 100 for 300 calls / 15 min, AHT 5
    # min, patience 2 min; 98 already meet 80/20 (SL 0.8138). Erlang C needs more.
    cases = [((200, 180, 300), 13, 14), ((300, 240, 120), 22, 25), ((1200, 300, 120), 98, 108)]
    for (calls, aht, patience), with_abandonment, without in cases:
        assert erlang.required_agents(calls, aht, patience=patience).agents == with_abandonment
        assert erlang.required_agents(calls, aht).agents == without
    assert erlang.required_agents(1200, 300, patience=120).performance.service_level == pytest.approx(
        0.8138, abs=1e-4
    )


def test_erlang_a_is_consistent_with_littles_law_and_tends_to_erlang_c():
    perf = erlang.erlang_a_performance(14, 10.0, 180, 20, 300)
    # abandonment = theta x mean queue / lambda; answered load = occupancy x agents
    assert perf.occupancy * 14 == pytest.approx(10.0 * (1 - perf.abandonment), rel=1e-9)
    patient = erlang.erlang_a_performance(14, 10.0, 180, 20, 1e7)
    plain = erlang.erlang_c_performance(14, 10.0, 180, 20)
    assert patient.service_level == pytest.approx(plain.service_level, abs=1e-4)
    assert patient.asa_seconds == pytest.approx(plain.asa_seconds, rel=1e-3)


def test_large_traffic_is_stable_and_quick():
    # thousands of Erlangs: no factorial overflow, sensible answers
    big = erlang.required_agents(40_000, 360)  # 4,000 Erlangs
    assert 4_000 < big.agents < 4_100 and big.performance.service_level >= 0.8
    assert erlang.erlang_c_performance(big.agents - 1, 4000.0, 360, 20).service_level < 0.8
    patient = erlang.erlang_a_performance(2000, 2000.0, 180, 20, 120)
    assert 0 < patient.abandonment < 0.05 and math.isfinite(patient.asa_seconds)


def test_shrinkage_is_exact():
    # pyworkforce computes ceil(21 / 0.7) in floats = 31; 30 agents are enough.
    assert erlang.scheduled(21, 0.3) == 30
    assert erlang.scheduled(42, 0.3) == 60
    assert erlang.scheduled(20, 0.25) == 27
    assert erlang.scheduled(7, 0.0) == 7


def test_zero_volume_and_low_targets():
    none = erlang.required_agents(0, 180)
    assert (none.agents, none.scheduled) == (0, 0)
    # A = 0.6 at a 20 % target needs one agent (pyworkforce answers 2)
    assert erlang.required_agents(0.6 * 3600 / 180, 180, target_sl=0.2).agents == 1
    assert erlang.required_agents(2.7 * 3600 / 180, 180, target_sl=0.1).agents == 3


def test_asa_target_and_occupancy_cap():
    assert erlang.required_agents(200, 180, target_sl=0.0, target_asa=5).performance.asa_seconds <= 5
    capped = erlang.required_agents(2000, 180, max_occupancy=0.8)
    assert capped.performance.occupancy <= 0.8 and capped.agents == 125


def test_abandonment_cap():
    loose = erlang.required_agents(40_000, 180, patience=120)
    capped = erlang.required_agents(40_000, 180, patience=120, max_abandonment=0.02)
    assert loose.performance.abandonment > 0.02 >= capped.performance.abandonment
    assert capped.agents > loose.agents


@pytest.mark.parametrize(
    "kwargs",
    [
        {"calls_per_hour": -1, "aht": 180},
        {"calls_per_hour": 10, "aht": 0},
        {"calls_per_hour": 10, "aht": 180, "target_sl": 1.0},
        {"calls_per_hour": 10, "aht": 180, "shrinkage": 1.0},
        {"calls_per_hour": 10, "aht": 180, "patience": 0},
        {"calls_per_hour": 10, "aht": 180, "max_occupancy": 0},
        {"calls_per_hour": math.nan, "aht": 180},
    ],
)
def test_meaningless_inputs_are_refused(kwargs):
    with pytest.raises(erlang.StaffingError):
        erlang.required_agents(**kwargs)
