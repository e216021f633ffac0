"""Routing rules one by one, then together; deterministic answers worked out in each test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from permanence.calls import routing
from permanence.calls.routing import Call, Policy, Router, Secretary

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def secretary(sid, skills, idle=0, **kw):
    return Secretary(sid, skills, s(idle), **kw)


def router(*calls, secretaries=(), policies=None):
    r = Router(policies)
    for call in calls:
        r.add_call(call)
    for sec in secretaries:
        r.set_ready(sec)
    return r


def test_skills_only_trained_secretaries_get_an_accounts_calls():
    r = router(
        Call(1, account=10, queued_at=s(0)), secretaries=[secretary(1, {20: 5}), secretary(2, {10: 1})]
    )
    assert r.assign(s(5)) == [(1, 2)]


def test_language_and_passed_offers():
    english = Call(1, 10, s(0), language="en")
    r = router(
        english, secretaries=[secretary(1, {10: 5}), secretary(2, {10: 1}, languages=frozenset({"fr", "en"}))]
    )
    assert r.assign(s(1)) == [(1, 2)]
    passed = Call(2, 10, s(0), passed_by=frozenset({1}))
    r = router(passed, secretaries=[secretary(1, {10: 5}, idle=-100), secretary(2, {10: 5})])
    assert r.assign(s(1)) == [(2, 2)]


def test_priority_classes_then_arrival_order():
    calls = [
        Call(1, 10, s(0)),  # normal, oldest
        Call(2, 10, s(10), priority=1),  # urgent account
        Call(3, 10, s(20), priority=2),  # VIP
        Call(4, 10, s(5)),
    ]
    r = router(*calls, secretaries=[secretary(i, {10: 3}, idle=i) for i in range(1, 5)])
    assert [c for c, _ in r.assign(s(30))] == [3, 2, 1, 4]


def test_a_long_wait_lifts_a_call_one_class():
    normal_old = Call(1, 10, s(0))
    urgent_young = Call(2, 10, s(50), priority=1)
    # at 55 s the normal call has waited less than 60 s: the urgent one goes first
    r = router(normal_old, urgent_young, secretaries=[secretary(1, {10: 3})])
    assert r.assign(s(55)) == [(2, 1)]
    # at 61 s it has waited long enough to join class 1, and it is older
    r = router(normal_old, urgent_young, secretaries=[secretary(1, {10: 3})])
    assert r.assign(s(61)) == [(1, 1)]


def test_best_level_then_longest_idle_then_id():
    call = Call(1, 10, s(0))
    r = router(
        call,
        secretaries=[
            secretary(1, {10: 2}, idle=-500),
            secretary(2, {10: 4}, idle=-10),
            secretary(3, {10: 4}, idle=-20),
        ],
    )
    assert r.assign(s(1)) == [(1, 3)]  # level 4 beats 2; of the two 4s, idle the longest
    r = router(call, secretaries=[secretary(5, {10: 4}), secretary(4, {10: 4})])
    assert r.assign(s(1)) == [(1, 4)]  # same level, same idle: the smaller id


def test_overflow_to_the_wider_group_after_the_delay():
    call = Call(1, 10, s(0), group="legal")
    helper = secretary(2, {11: 5}, groups=frozenset({"legal"}))
    policies = {10: Policy(overflow_after_seconds=30)}
    assert router(call, secretaries=[helper], policies=policies).assign(s(29)) == []
    assert router(call, secretaries=[helper], policies=policies).assign(s(30)) == [(1, 2)]
    # a trained secretary still comes before an overflow one (level 0)
    trained = secretary(3, {10: 1}, idle=100)
    assert router(call, secretaries=[helper, trained], policies=policies).assign(s(31)) == [(1, 3)]
    other_trade = secretary(4, {12: 5}, groups=frozenset({"medical"}))
    assert router(call, secretaries=[other_trade], policies=policies).assign(s(300)) == []


def test_maximum_wait_then_the_fallback():
    policies = {10: Policy(max_wait_seconds=120, fallback="callback"), 11: Policy(max_wait_seconds=60)}
    r = router(Call(1, 10, s(0)), Call(2, 11, s(0)), Call(3, 10, s(100)), policies=policies)
    assert r.expired(s(59)) == []
    assert r.expired(s(60)) == [routing.Fallback(2, "voicemail", 60.0)]
    assert r.expired(s(130)) == [routing.Fallback(1, "callback", 130.0)]
    assert sorted(r.calls) == [3]
    r.remove_call(3)
    assert r.expired(s(1000)) == []  # answered meanwhile: no fallback


def test_interplay_priority_skills_overflow_and_idle():
    policies = {10: Policy(overflow_after_seconds=20), 11: Policy(overflow_after_seconds=20)}
    calls = [
        Call(1, 10, s(0), group="legal"),  # normal, waited 40 s at decision time: class 0
        Call(2, 11, s(30), priority=2, group="legal"),  # VIP of account 11
        Call(3, 12, s(35), group="medical"),
    ]
    people = [
        secretary(1, {10: 5}, idle=-30),  # only account 10
        secretary(2, {11: 2, 12: 4}, idle=-60),  # 11 and 12
        secretary(3, {12: 1}, idle=-90, groups=frozenset({"legal"})),  # 12, overflow for legal
    ]
    r = router(*calls, secretaries=people, policies=policies)
    # VIP call 2 first: only secretary 2 is trained on 11 (secretary 3 could only overflow after
    # 20 s; it waited 10): secretary 2. Then call 1 (older than 3): secretary 1 (trained) rather than
    # secretary 3 (overflow). Then call 3: secretary 3.
    assert r.assign(s(40)) == [(2, 2), (1, 1), (3, 3)]


def test_router_indexes_stay_right_after_removals():
    r = router(*(Call(i, 10, s(i)) for i in range(1, 6)))
    r.remove_call(1)
    r.remove_call(2)
    sec = secretary(9, {10: 1})
    assert r.next_call_for(sec, s(10)).id == 3
    r.set_ready(sec)
    assert r.next_secretary_for(Call(99, 10, s(10)), s(10)) == sec
    r.set_busy(9)
    assert r.next_secretary_for(Call(99, 10, s(10)), s(10)) is None
    with pytest.raises(ValueError):
        r.add_call(Call(100, 10, s(0), priority=7))


def test_with_equal_levels_first_come_to_the_longest_idle():
    # the desk's earlier rule is the router's with every level equal
    people = [
        secretary(1, {10: 2}, idle=50),
        secretary(2, {10: 2, 20: 2}, idle=10),
        secretary(3, {20: 2}, idle=0),
    ]
    r = router(Call(100, 10, s(60)), Call(101, 20, s(55)), secretaries=people)
    # 101 is older: to 3 (idle since 0, trained on 20); 100 to 2 (idle longer than 1)
    assert r.assign(s(61)) == [(101, 3), (100, 2)]
    r = router(Call(100, 10, s(1), passed_by=frozenset({1, 2})), secretaries=people[:2])
    assert r.assign(s(2)) == [(100, 2)]  # both let it ring out, nobody else: a second chance
    r = router(Call(100, 10, s(1)), Call(101, 10, s(2)), secretaries=[secretary(1, {10: 2})])
    assert r.assign(s(3)) == [(100, 1)]  # one call at a time


def test_overflow_looks_past_calls_she_cannot_take_without_skipping_the_delay():
    policies = {10: Policy(overflow_after_seconds=30), 11: Policy(overflow_after_seconds=30)}
    helper = secretary(2, {11: 3}, groups=frozenset({"legal"}))
    # the group's head is a call she passed on; behind it a call of the same account that waited
    # 5 s only: not an overflow call yet
    passed = Call(1, 10, s(0), group="legal", passed_by=frozenset({2}))
    young = Call(2, 10, s(35), group="legal")
    assert router(passed, young, secretaries=[helper], policies=policies).next_call_for(helper, s(40)) is None
    assert router(passed, young, secretaries=[helper], policies=policies).assign(s(66)) == [(2, 2)]
    # her own account's call at the head of the group (one she passed on) does not hide the
    # overflowing call behind it
    head = Call(4, 11, s(0), group="legal", passed_by=frozenset({2}))
    old = Call(5, 10, s(1), group="legal")
    assert router(head, old, secretaries=[helper], policies=policies).next_call_for(helper, s(40)) is old


def test_calls_loaded_newest_first_are_still_served_oldest_first():
    # the database hands the waiting calls in any order: the queue keeps arrival order
    calls = (Call(3, 10, s(30)), Call(2, 10, s(20)), Call(1, 10, s(10)))
    r = router(*calls, secretaries=[secretary(1, {10: 5})])
    assert r.assign(s(40)) == [(1, 1)]
    assert [c.id for c in r.queue(s(40))] == [2, 3]
