"""First come, first served; to the trained secretary idle the longest."""

from datetime import UTC, datetime, timedelta

from permanence.calls.distribution import Agent, Waiting, assign

T0 = datetime(2026, 11, 25, 9, tzinfo=UTC)


def t(s):
    return T0 + timedelta(seconds=s)


def test_longest_idle_trained_secretary_gets_the_oldest_call():
    agents = [
        Agent(1, True, frozenset({10}), t(50)),
        Agent(2, True, frozenset({10, 20}), t(10)),
        Agent(3, True, frozenset({20}), t(0)),
    ]
    waiting = [Waiting(100, 10, t(60)), Waiting(101, 20, t(55))]
    # 101 is older: it goes to 3 (idle since t0, trained on 20); 100 to 2 (idle longer than 1)
    assert assign(waiting, agents) == [(101, 3), (100, 2)]


def test_untrained_or_busy_secretaries_never_get_the_call():
    agents = [Agent(1, False, frozenset({10}), t(0)), Agent(2, True, frozenset({20}), t(0))]
    assert assign([Waiting(100, 10, t(1))], agents) == []


def test_a_secretary_who_let_the_offer_lapse_is_passed_over_for_that_call():
    agents = [Agent(1, True, frozenset({10}), t(0)), Agent(2, True, frozenset({10}), t(5))]
    assert assign([Waiting(100, 10, t(1), frozenset({1}))], agents) == [(100, 2)]
    assert assign([Waiting(100, 10, t(1), frozenset({1, 2}))], agents) == []


def test_each_secretary_gets_one_call_at_a_time():
    agents = [Agent(1, True, frozenset({10}), t(0))]
    assert assign([Waiting(100, 10, t(1)), Waiting(101, 10, t(2))], agents) == [(100, 1)]
