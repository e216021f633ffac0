"""Service-level promises on figures made from hand-built call facts; every share worked out by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from permanence.billing.sla import Check, Promise, Report, SlaError, evaluate
from permanence.reporting import kpis

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 6, 2, 9, 0, tzinfo=PARIS)
ZERO = D("0")


def answered(call: int, minute: int, wait: float) -> kpis.CallFacts:
    arrived = T0 + timedelta(minutes=minute)
    picked = arrived + timedelta(seconds=wait)
    return kpis.CallFacts(
        call,
        1,
        "",
        arrived,
        secretary=7,
        answered_at=picked,
        ended_at=picked + timedelta(seconds=120),
        wrapped_up_at=picked + timedelta(seconds=150),
    )


def abandoned(call: int, minute: int, wait: float) -> kpis.CallFacts:
    arrived = T0 + timedelta(minutes=minute)
    return kpis.CallFacts(call, 1, "", arrived, ended_at=arrived + timedelta(seconds=wait), abandoned=True)


def month_of(facts: list[kpis.CallFacts]) -> kpis.Figures:
    """The month's figures as the rollups give them: per day, then added up."""
    per_day = kpis.compute(facts, by="account", grain="day", zone=PARIS)
    return kpis.merge(per_day.values())


def worked_month() -> kpis.Figures:
    """Ten calls offered over two days, one more turned away (closed)."""
    waits = [0, 4, 9, 15, 20, 20, 21, 45]  # the first six within 20 s (5-second buckets: 21 s is "up to 25")
    facts = [answered(i + 1, i * 10 + (1440 if i >= 4 else 0), w) for i, w in enumerate(waits)]
    facts += [abandoned(9, 100, 3), abandoned(10, 1540, 60)]  # 3 s is a short abandon (at most 5 s)
    facts.append(kpis.CallFacts(11, 1, "", T0 + timedelta(hours=14), not_served="hours"))
    return month_of(facts)


DELIVERIES = [30, 120, 299.9, 300, 301, 600, 45, 50, 60, 70]  # 8 within 5 minutes (300 s included)
FULL = Promise(
    answer_within_seconds=20,
    answer_share=D("0.80"),
    max_abandon_rate=D("0.10"),
    delivery_within_minutes=5,
    delivery_share=D("0.90"),
    penalty_per_miss=D("50.00"),
    penalty_percent=D("0.05"),
)


def test_the_figures_are_what_the_checks_read():
    figures = worked_month()
    assert (figures.offered, figures.answered, figures.abandoned, figures.out_of_hours) == (10, 8, 2, 1)


def test_every_promise_missed():
    report = evaluate(FULL, worked_month(), DELIVERIES, D("200.00"))
    # each miss: 50.00 + 5 % of 200.00 = 60.00
    assert report.checks == (
        # answered within 20 s / offered = 6 / 10
        Check("service_level", D("0.80"), D("0.6000"), False, D("60.00")),
        # (abandoned - short) / (offered - short) = (2 - 1) / (10 - 1) = 0.1111
        Check("abandon_rate", D("0.10"), D("0.1111"), False, D("60.00")),
        # 8 of 10 messages within 300 s
        Check("delivery", D("0.90"), D("0.8000"), False, D("60.00")),
    )
    assert not report.met
    assert report.penalty == D("180.00")


def test_every_promise_met():
    promise = Promise(
        answer_within_seconds=45,
        answer_share=D("0.80"),
        max_abandon_rate=D("0.12"),
        delivery_within_minutes=10,
        delivery_share=D("0.90"),
        penalty_per_miss=D("50.00"),
    )
    report = evaluate(promise, worked_month(), DELIVERIES, D("200.00"))
    # within 45 s: 8 of 10 = 0.80 (exactly the target); 0.1111 <= 0.12; all 10 messages within 600 s
    assert [(c.name, c.measured, c.met, c.penalty) for c in report.checks] == [
        ("service_level", D("0.8000"), True, ZERO),
        ("abandon_rate", D("0.1111"), True, ZERO),
        ("delivery", D("1.0000"), True, ZERO),
    ]
    assert report.met and report.penalty == ZERO


def test_the_short_abandon_limit_reaches_the_abandon_rate():
    def rate(short: int) -> D | None:
        promise = Promise(max_abandon_rate=D("0.10"), short_abandon_seconds=short)
        return evaluate(promise, worked_month(), [], ZERO).checks[0].measured

    assert rate(0) == D("0.2000")  # no short abandon: 2 / 10
    assert rate(5) == D("0.1111")  # the 3 s abandon left out: 1 / 9
    assert rate(8) == D("0.1111")  # taken down to 5 s, the bucket below
    assert rate(60) == ZERO  # both abandons short: 0 / 8


def test_nothing_to_measure_is_met():
    report = evaluate(FULL, kpis.Figures(), [], D("200.00"))
    assert [(c.name, c.measured, c.met, c.penalty) for c in report.checks] == [
        ("service_level", None, True, ZERO),
        ("abandon_rate", None, True, ZERO),
        ("delivery", None, True, ZERO),
    ]
    assert report.met and report.penalty == ZERO
    # only short abandons: offered minus short is 0, no abandon rate to measure
    only_short = month_of([abandoned(1, 0, 2)])
    assert evaluate(Promise(max_abandon_rate=D("0.05")), only_short, [], ZERO).checks[0].measured is None


def test_shares_are_rounded_to_four_places_then_compared():
    figures = month_of([answered(1, 0, 5), answered(2, 1, 10), answered(3, 2, 60)])
    promise = Promise(answer_within_seconds=20, answer_share=D("0.6667"), penalty_per_miss=D("10"))
    check = evaluate(promise, figures, [], ZERO).checks[0]
    assert (check.measured, check.met) == (D("0.6667"), True)  # 2 / 3 = 0.66666... -> 0.6667
    stricter = Promise(answer_within_seconds=20, answer_share=D("0.6668"), penalty_per_miss=D("10"))
    assert evaluate(stricter, figures, [], ZERO).checks[0].penalty == D("10.00")


@pytest.mark.parametrize(
    ("per_miss", "percent", "fee", "expected"),
    [
        (D("25.00"), ZERO, D("123.45"), D("25.00")),  # fixed only
        (ZERO, D("0.05"), D("123.45"), D("6.17")),  # 5 % of 123.45 = 6.1725 -> 6.17
        (ZERO, D("0.05"), D("12.30"), D("0.62")),  # 0.615 -> 0.62, half up
        (D("25.00"), D("0.05"), D("123.45"), D("31.17")),  # 25 + 6.1725 = 31.1725 -> 31.17
    ],
)
def test_penalty_fixed_and_share_of_the_fee(per_miss, percent, fee, expected):
    promise = Promise(delivery_within_minutes=1, delivery_share=D("1"), penalty_per_miss=per_miss,
                      penalty_percent=percent)  # fmt: skip
    report = evaluate(promise, kpis.Figures(), [61.0], fee)  # 0 of 1 in time: missed
    assert report.checks[0].measured == ZERO
    assert report.penalty == expected
    assert report == Report((Check("delivery", D("1"), ZERO, False, expected),))


def test_a_promise_without_target_gives_no_check():
    assert evaluate(Promise(), worked_month(), DELIVERIES, D("200")).checks == ()
    assert evaluate(Promise(answer_within_seconds=20), worked_month(), DELIVERIES, D("200")).checks == ()
    assert evaluate(Promise(delivery_within_minutes=5), worked_month(), DELIVERIES, D("200")).checks == ()
    report = evaluate(Promise(penalty_per_miss=D("99")), worked_month(), DELIVERIES, D("200"))
    assert report.met and report.penalty == ZERO


@pytest.mark.parametrize(
    ("promise", "message"),
    [
        (Promise(answer_share=D("0.9")), "not the time"),
        (Promise(delivery_share=D("0.9")), "not the time"),
        (Promise(answer_within_seconds=7, answer_share=D("0.9")), "multiple of 5"),
        (Promise(answer_within_seconds=20, answer_share=D("1.5")), "between 0 and 1"),
        (Promise(max_abandon_rate=D("-0.1")), "max_abandon_rate"),
        (Promise(penalty_per_miss=D("-5")), "penalty_per_miss"),
        (Promise(penalty_percent=0.05), "penalty_percent"),
    ],
)
def test_bad_promises_are_refused(promise, message):
    with pytest.raises(SlaError, match=message):
        evaluate(promise, worked_month(), DELIVERIES, D("200"))
    assert issubclass(SlaError, ValueError)
