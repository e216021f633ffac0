"""Properties of the rating core on random plans, rules and items: the lines add up, every item of the
month has one decision, and the decisions and the lines agree."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from permanence.billing.rating import (
    Adjustment,
    AppointmentItem,
    CallItem,
    DeliveryItem,
    Plan,
    PlanPeriod,
    Rules,
    money,
    month_bounds,
    rate,
    totals,
)

ZONES = (ZoneInfo("Europe/Paris"), UTC, ZoneInfo("America/New_York"))
MONTHS = (date(2026, 2, 1), date(2026, 3, 1), date(2026, 6, 1), date(2026, 10, 1), date(2026, 12, 1))
CHANNELS = ("email", "sms", "webhook", "push", "digest")
CALLERS = ("", "+33611111111", "+33622222222", "+33633333333")
ITEM_LINES = {"call", "delivery", "appointment"}

prices = st.decimals(min_value=0, max_value=20, places=3)


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    minimum = draw(st.one_of(st.just(Decimal(0)), st.decimals(min_value=0, max_value=80, places=2)))
    cap = draw(
        st.one_of(st.none(), st.decimals(min_value=0, max_value=80, places=2).map(lambda c: c + minimum))
    )
    return Plan(
        monthly_fee=draw(st.one_of(st.just(Decimal(0)), prices)),
        included_calls=draw(st.integers(0, 12)),
        included_minutes=draw(st.integers(0, 40)),
        per_call=draw(prices),
        per_minute=draw(prices),
        after_hours_surcharge=draw(prices),
        holiday_surcharge=draw(prices),
        per_message=draw(st.dictionaries(st.sampled_from(CHANNELS), prices, max_size=4)),
        per_appointment=draw(prices),
        minimum=minimum,
        cap=cap,
    )


@st.composite
def periods(draw: st.DrawFn, month: date) -> list[PlanPeriod]:
    first = month - timedelta(days=draw(st.integers(0, 400)))
    later = draw(st.lists(st.integers(1, 27), max_size=3, unique=True))
    return [
        PlanPeriod(first, draw(plans())),
        *(PlanPeriod(month + timedelta(days=d), draw(plans())) for d in later),
    ]


rules = st.builds(
    Rules,
    not_answered=st.booleans(),
    short_abandon_seconds=st.sampled_from([0, 5, 10, 30]),
    cold_call=st.booleans(),
    wrong_number=st.booleans(),
    hung_up_before_seconds=st.sampled_from([0, 10, 60]),
    callbacks=st.booleans(),
    repeat_within_seconds=st.sampled_from([0, 60, 600, 3600]),
)


@st.composite
def months(draw: st.DrawFn) -> dict:
    month = draw(st.sampled_from(MONTHS))
    zone = draw(st.sampled_from(ZONES))
    start, _ = month_bounds(month, zone)
    # from three days before the month to three days after it, to the second
    moments = st.integers(-3 * 86400, 34 * 86400).map(lambda s: start + timedelta(seconds=s))
    calls = []
    for id in range(1, draw(st.integers(0, 30)) + 1):
        arrived = draw(moments)
        waited = arrived + timedelta(seconds=draw(st.integers(0, 90)))
        is_answered = draw(st.booleans())
        ended = draw(
            st.one_of(st.none(), st.integers(0, 900).map(lambda s, w=waited: w + timedelta(seconds=s)))
        )
        calls.append(
            CallItem(
                id,
                arrived,
                waited if is_answered else None,
                ended if is_answered else draw(st.sampled_from([None, waited])),
                outbound=draw(st.booleans()),
                training=draw(st.integers(0, 5)) == 0,
                caller=draw(st.sampled_from(CALLERS)),
                nuisance=draw(st.sampled_from(["", "", "", "cold_call", "wrong_number"])),
                after_hours=draw(st.booleans()),
                holiday=draw(st.integers(0, 5)) == 0,
            )
        )
    deliveries = [
        DeliveryItem(
            id,
            draw(moments),
            channel,
            parts=draw(st.integers(1, 4)) if channel == "sms" else 1,
            delivered=draw(st.integers(0, 4)) > 0,
            training=draw(st.integers(0, 5)) == 0,
        )
        for id in range(1, draw(st.integers(0, 15)) + 1)
        for channel in [draw(st.sampled_from(CHANNELS))]
    ]
    appointments = [AppointmentItem(id, draw(moments)) for id in range(1, draw(st.integers(0, 6)) + 1)]
    adjustments = [
        Adjustment(f"adjustment_{n}", "Adjustment", draw(st.decimals(min_value=-50, max_value=50, places=3)))
        for n in range(draw(st.integers(0, 2)))
    ]
    return {
        "month": month,
        "zone": zone,
        "periods": draw(periods(month)),
        "rules": draw(rules),
        "calls": calls,
        "deliveries": deliveries,
        "appointments": appointments,
        "adjustments": adjustments,
    }


def local_date(moment, zone):
    return moment.astimezone(zone).date()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=months(), vat=st.decimals(min_value=0, max_value=Decimal("0.3"), places=3))
def test_lines_and_decisions_agree(case, vat):
    month, zone = case["month"], case["zone"]
    rating = rate(**case)
    following = (month + timedelta(days=32)).replace(day=1)

    # the lines add up, to the cent
    assert sum((line.amount for line in rating.lines), Decimal(0)) == rating.total
    net, tax, gross = totals(rating.lines, vat)
    assert net == rating.total and gross == net + tax and tax == money(net * vat)
    for line in rating.lines:
        assert line.amount == money(line.amount)
        assert month <= line.period_start < line.period_end <= following
        if line.kind:
            assert line.amount == money(line.quantity * line.unit_price)
            assert line.items and len(set(line.items)) == len(line.items)

    # every item of the month has exactly one decision, the others none
    days = {
        "call": {c.id: local_date(c.arrived_at, zone) for c in case["calls"]},
        "delivery": {d.id: local_date(d.at, zone) for d in case["deliveries"]},
        "appointment": {a.id: local_date(a.at, zone) for a in case["appointments"]},
    }
    for kind, by_id in days.items():
        decided = [d.id for d in rating.decisions if d.kind == kind]
        assert sorted(decided) == sorted(i for i, day in by_id.items() if month <= day < following)

    # a billed item is on each line it names (the one of its plan period) and on at least one;
    # an excluded item is on none
    on_lines: dict[tuple[str, int], set[str]] = {}
    for line in rating.lines:
        for item in line.items:
            on_lines.setdefault((line.kind, item), set()).add(line.code)
    for decision in rating.decisions:
        key = (decision.kind, decision.id)
        if decision.billed:
            assert decision.rule == "billed"
            assert decision.lines
            assert set(decision.lines) == on_lines.get(key, set())
            day = days[decision.kind][decision.id]
            for code in decision.lines:
                holding = [
                    line
                    for line in rating.lines
                    if line.code == code
                    and line.kind == decision.kind
                    and line.period_start <= day < line.period_end
                ]
                assert len(holding) == 1 and decision.id in holding[0].items
        else:
            assert decision.rule != "billed"
            assert decision.lines == ()
            assert key not in on_lines
    # and no line holds an item without a decision
    assert set(on_lines) <= {(d.kind, d.id) for d in rating.decisions}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=months())
def test_the_order_of_the_items_does_not_matter(case):
    shuffled = {
        **case,
        "calls": case["calls"][::-1],
        "deliveries": case["deliveries"][::-1],
        "appointments": case["appointments"][::-1],
        "periods": case["periods"][::-1],
    }
    assert rate(**shuffled) == rate(**case)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=months())
def test_minimum_and_cap_bound_the_plan_lines(case):
    """Without adjustments: one plan for the whole month keeps fee + usage within [minimum, cap]."""
    plan = case["periods"][0].plan
    rating = rate(**{**case, "periods": case["periods"][:1], "adjustments": []})
    assert rating.total >= plan.minimum
    if plan.cap is not None:
        assert rating.total <= plan.cap
