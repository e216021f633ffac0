"""The simulator's callers: Poisson arrivals, contacts or unknown numbers, patience, transfers."""

import random
import statistics

from permanence.calls.simulator import Behaviour, SimAccount, arrivals, transfer_result


def test_arrival_rate_and_order():
    rng = random.Random(42)
    accounts = [
        SimAccount(1, "+33145000101", ("+33611111111",), 60.0),
        SimAccount(2, "+33478000301", (), 30.0),
    ]
    calls = arrivals(accounts, 10 * 3600, rng)
    per_account = {a.id: sum(1 for c in calls if c.account == a.id) for a in accounts}
    assert 540 <= per_account[1] <= 660 and 255 <= per_account[2] <= 345  # 600 and 300 expected
    assert [c.at for c in calls] == sorted(c.at for c in calls)
    assert all(0 <= c.at < 10 * 3600 for c in calls)
    gaps = [
        b.at - a.at
        for a, b in zip(
            [c for c in calls if c.account == 1], [c for c in calls if c.account == 1][1:], strict=False
        )
    ]
    assert 50 <= statistics.mean(gaps) <= 70  # exponential gaps, mean one minute


def test_callers_are_contacts_unknown_or_withheld():
    rng = random.Random(1)
    calls = arrivals(
        [SimAccount(1, "+33145000101", ("+33611111111", "+33622222222"), 600.0)],
        3600,
        rng,
        Behaviour(known_share=0.5, withheld_share=0.1),
    )
    known = sum(c.caller in ("+33611111111", "+33622222222") for c in calls) / len(calls)
    withheld = sum(c.caller is None for c in calls) / len(calls)
    unknown = [c.caller for c in calls if c.caller and c.caller not in ("+33611111111", "+33622222222")]
    assert 0.4 < known < 0.6 and 0.05 < withheld < 0.15
    assert all(n.startswith("+336") and len(n) == 12 for n in unknown)


def test_patience_and_transfer_results():
    rng = random.Random(3)
    calls = arrivals([SimAccount(1, "+33145000101", (), 3600.0)], 3600, rng, Behaviour(mean_patience=30))
    assert 25 < statistics.mean(c.patience for c in calls) < 35
    results = [transfer_result(rng) for _ in range(3000)]
    assert 0.45 < results.count("accepted") / 3000 < 0.55 and set(results) == {
        "accepted",
        "refused",
        "no_answer",
    }


def test_same_seed_same_calls_and_zero_rate_no_calls():
    accounts = [SimAccount(1, "+33145000101", (), 20.0)]
    assert arrivals(accounts, 3600, random.Random(5)) == arrivals(accounts, 3600, random.Random(5))
    assert arrivals([SimAccount(1, "+33145000101", (), 0.0)], 3600, random.Random(5)) == []
