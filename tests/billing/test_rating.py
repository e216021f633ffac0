"""The rating core on hand-built months: every amount is worked out by hand in a comment beside it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from permanence.billing.rating import (
    CENT,
    Adjustment,
    AppointmentItem,
    CallItem,
    DeliveryItem,
    Line,
    Plan,
    PlanPeriod,
    RatingError,
    Rules,
    money,
    month_bounds,
    rate,
    totals,
)

PARIS = ZoneInfo("Europe/Paris")
JUNE = date(2026, 6, 1)  # 30 days, no clock change
JULY = date(2026, 7, 1)
LONG_AGO = date(2020, 1, 1)
ZERO = D("0")


def paris(day: int, hour: int = 10, minute: int = 0, second: int = 0, *, month: int = 6, fold: int = 0):
    return datetime(2026, month, day, hour, minute, second, tzinfo=PARIS, fold=fold)


def answered(id, start, *, wait=10.0, talk=90.0, **kwargs):
    """Arrived at ``start``, answered ``wait`` s later, talked ``talk`` s."""
    picked = start + timedelta(seconds=wait)
    return CallItem(id, start, picked, picked + timedelta(seconds=talk), **kwargs)


def unanswered(id, start, *, wait, **kwargs):
    return CallItem(id, start, None, start + timedelta(seconds=wait), **kwargs)


def plan(**kwargs):
    return (PlanPeriod(LONG_AGO, Plan(**kwargs)),)


def rate_june(periods, rules=None, **items):
    return rate(JUNE, PARIS, periods, rules or Rules(), **items)


def only(rating, code):
    found = [line for line in rating.lines if line.code == code]
    assert len(found) == 1, f"{len(found)} lines {code!r}"
    return found[0]


def codes(rating):
    return [line.code for line in rating.lines]


def decision(rating, id, kind="call"):
    found = [d for d in rating.decisions if d.kind == kind and d.id == id]
    assert len(found) == 1
    return found[0]


def daily_calls(count, first_id=1, first_day=1, **kwargs):
    """``count`` answered calls, one a day at 10:00 from ``first_day``, 90 s of talk each."""
    return [answered(first_id + i, paris(first_day + i), **kwargs) for i in range(count)]


# --- money and totals -------------------------------------------------------------------------------------


def test_money_rounds_half_up_to_the_cent():
    assert D("0.01") == CENT
    assert money(D("2.345")) == D("2.35")  # half up (banker's rounding would give 2.34)
    assert money(D("2.3449999")) == D("2.34")
    assert money(D("-2.345")) == D("-2.35")  # half away from zero, symmetric for credits
    assert str(money(D("7"))) == "7.00"


def test_totals_net_vat_gross():
    lines = [
        Line("fee", JUNE, JULY, D(1), D("60.00"), D("60.00")),
        Line("calls", JUNE, JULY, D(3), D("13.35"), D("40.05")),
    ]
    # net 100.05; VAT 20 %: 20.01 exactly; gross 120.06
    assert totals(lines, D("0.20")) == (D("100.05"), D("20.01"), D("120.06"))
    # VAT 5.5 % of 100.05 = 5.502750 -> 5.50; gross 105.55
    assert totals(lines, D("0.055")) == (D("100.05"), D("5.50"), D("105.55"))
    # 0.10 x 5 % = 0.005 -> 0.01 (half up)
    assert totals([Line("calls", JUNE, JULY, D(1), D("0.10"), D("0.10"))], D("0.05")) == (
        D("0.10"),
        D("0.01"),
        D("0.11"),
    )
    assert totals([], D("0.20")) == (ZERO, ZERO, ZERO)
    with pytest.raises(RatingError, match="VAT rate"):
        totals(lines, D("-0.2"))


# --- plan elements, one at a time ---------------------------------------------------------------------------


def test_monthly_fee_alone_is_one_line_for_the_whole_month():
    rating = rate_june(plan(monthly_fee=D("49.90")))
    assert rating.lines == (Line("fee", JUNE, JULY, D(1), D("49.90"), D("49.90")),)
    assert rating.total == D("49.90")
    assert rating.decisions == ()


def test_included_calls_then_each_call_beyond_in_arrival_order():
    calls = daily_calls(5, first_day=2)  # ids 1..5 on June 2..6
    rating = rate_june(
        plan(monthly_fee=D("30.00"), included_calls=3, per_call=D("1.20")), calls=reversed(calls)
    )
    assert rating.lines == (
        Line("fee", JUNE, JULY, D(1), D("30.00"), D("30.00")),
        Line("calls_included", JUNE, JULY, D(3), ZERO, D("0.00"), kind="call", items=(1, 2, 3)),
        # 2 calls beyond x 1.20 = 2.40
        Line("calls", JUNE, JULY, D(2), D("1.20"), D("2.40"), kind="call", items=(4, 5)),
    )
    assert rating.total == D("32.40")  # 30.00 + 2.40
    assert decision(rating, 1).lines == ("calls_included",)
    assert decision(rating, 5).lines == ("calls",)
    assert decision(rating, 5).billed and decision(rating, 5).rule == "billed"


def test_included_minutes_then_each_started_minute_with_a_call_straddling_the_allowance():
    calls = [
        answered(1, paris(2), talk=150),  # 2.5 min -> 3 started minutes, all included (2 left)
        answered(2, paris(3), talk=181),  # 3.02 min -> 4 minutes: 2 included, 2 beyond
        answered(3, paris(4), talk=60),  # exactly 1 minute, beyond
        answered(4, paris(5), talk=0),  # no conversation: no minute
    ]
    rating = rate_june(plan(included_minutes=5, per_minute=D("0.35")), calls=calls)
    assert rating.lines == (
        Line("calls", JUNE, JULY, D(4), ZERO, D("0.00"), kind="call", items=(1, 2, 3, 4)),
        Line("minutes_included", JUNE, JULY, D(5), ZERO, D("0.00"), kind="call", items=(1, 2)),
        # 2 + 1 = 3 minutes beyond x 0.35 = 1.05
        Line("minutes", JUNE, JULY, D(3), D("0.35"), D("1.05"), kind="call", items=(2, 3)),
    )
    assert rating.total == D("1.05")
    assert decision(rating, 2).lines == ("calls", "minutes_included", "minutes")
    assert decision(rating, 4).lines == ("calls",)
    assert decision(rating, 2).values["minutes"] == 4


def test_a_started_minute_counts_whole():
    calls = [
        answered(1, paris(2), talk=120),  # 2 minutes
        answered(2, paris(3), talk=120.000001),  # one microsecond more: 3 minutes
    ]
    rating = rate_june(plan(per_minute=D("0.10")), calls=calls)
    assert only(rating, "minutes").quantity == D(5)
    assert only(rating, "minutes").amount == D("0.50")  # 5 x 0.10


def test_after_hours_surcharge_per_billed_call():
    calls = [
        answered(1, paris(2, 21), after_hours=True),
        answered(2, paris(3, 7), after_hours=True),
        answered(3, paris(4, 11)),
        answered(4, paris(5, 22), after_hours=True, training=True),  # excluded: no surcharge either
    ]
    rating = rate_june(plan(after_hours_surcharge=D("2.50")), calls=calls)
    # 2 x 2.50 = 5.00
    assert only(rating, "after_hours") == Line(
        "after_hours", JUNE, JULY, D(2), D("2.50"), D("5.00"), kind="call", items=(1, 2)
    )
    assert rating.total == D("5.00")
    assert decision(rating, 1).lines == ("calls", "after_hours")
    assert decision(rating, 3).lines == ("calls",)


def test_holiday_surcharge_instead_of_the_after_hours_one():
    calls = [
        answered(1, paris(2, 22), holiday=True, after_hours=True),  # holiday only
        answered(2, paris(3, 11), holiday=True),
        answered(3, paris(4, 22), after_hours=True),
    ]
    rating = rate_june(plan(after_hours_surcharge=D("2.50"), holiday_surcharge=D("4.00")), calls=calls)
    # holiday 2 x 4.00 = 8.00; after hours 1 x 2.50 = 2.50; total 10.50
    assert only(rating, "holiday") == Line(
        "holiday", JUNE, JULY, D(2), D("4.00"), D("8.00"), kind="call", items=(1, 2)
    )
    assert only(rating, "after_hours") == Line(
        "after_hours", JUNE, JULY, D(1), D("2.50"), D("2.50"), kind="call", items=(3,)
    )
    assert rating.total == D("10.50")
    assert decision(rating, 1).lines == ("calls", "holiday")


def test_messages_by_channel_sms_by_part():
    deliveries = [
        DeliveryItem(1, paris(2), "sms"),
        DeliveryItem(2, paris(3), "sms", parts=3),
        DeliveryItem(3, paris(4), "email"),
        DeliveryItem(4, paris(5), "email"),
        DeliveryItem(5, paris(6), "webhook"),  # no price for webhooks: a line at 0
        DeliveryItem(6, paris(7), "sms", parts=2, delivered=False),
        DeliveryItem(7, paris(8), "email", training=True),
        DeliveryItem(8, paris(9), "sms", delivered=False, training=True),  # training first
    ]
    rating = rate_june(plan(per_message={"sms": D("0.08"), "email": D("0.02")}), deliveries=deliveries)
    assert rating.lines == (
        # 2 e-mails x 0.02 = 0.04
        Line("messages:email", JUNE, JULY, D(2), D("0.02"), D("0.04"), kind="delivery", items=(3, 4)),
        # 1 + 3 = 4 SMS parts x 0.08 = 0.32
        Line("messages:sms", JUNE, JULY, D(4), D("0.08"), D("0.32"), kind="delivery", items=(1, 2)),
        Line("messages:webhook", JUNE, JULY, D(1), ZERO, D("0.00"), kind="delivery", items=(5,)),
    )
    assert rating.total == D("0.36")
    assert (decision(rating, 6, "delivery").rule, decision(rating, 6, "delivery").lines) == (
        "not_delivered",
        (),
    )
    assert decision(rating, 7, "delivery").rule == "training"
    assert decision(rating, 8, "delivery").rule == "training"
    assert decision(rating, 2, "delivery").lines == ("messages:sms",)
    assert not decision(rating, 6, "delivery").billed


def test_appointments_in_the_local_month():
    appointments = [
        AppointmentItem(1, paris(2)),
        AppointmentItem(2, paris(15)),
        AppointmentItem(3, paris(30, 23, 59)),
        AppointmentItem(4, datetime(2026, 5, 31, 22, 30, tzinfo=UTC)),  # June 1, 00:30 in Paris
        AppointmentItem(5, paris(31, 23, month=5)),  # May
        AppointmentItem(6, datetime(2026, 6, 30, 22, 0, tzinfo=UTC)),  # July 1, 00:00 in Paris
    ]
    rating = rate_june(plan(per_appointment=D("1.50")), appointments=appointments)
    # 4 appointments x 1.50 = 6.00
    assert rating.lines == (
        Line("appointments", JUNE, JULY, D(4), D("1.50"), D("6.00"), kind="appointment", items=(4, 1, 2, 3)),
    )
    assert sorted(d.id for d in rating.decisions) == [1, 2, 3, 4]


def test_minimum_tops_up_fee_and_usage():
    rating = rate_june(
        plan(monthly_fee=D("20.00"), per_call=D("1.00"), minimum=D("50.00")), calls=daily_calls(4)
    )
    # 20.00 + 4 x 1.00 = 24.00 < 50.00: a minimum line of 26.00
    assert codes(rating) == ["fee", "calls", "minimum"]
    assert only(rating, "minimum") == Line("minimum", JUNE, JULY, D(1), D("26.00"), D("26.00"))
    assert rating.total == D("50.00")


def test_minimum_reached_gives_no_line():
    rating = rate_june(
        plan(monthly_fee=D("20.00"), per_call=D("1.00"), minimum=D("50.00")), calls=daily_calls(30)
    )
    assert codes(rating) == ["fee", "calls"]
    assert rating.total == D("50.00")  # 20.00 + 30 x 1.00, exactly the minimum: no top-up


def test_cap_takes_off_what_goes_beyond():
    rating = rate_june(plan(monthly_fee=D("20.00"), per_call=D("1.00"), cap=D("25.00")), calls=daily_calls(8))
    # 20.00 + 8 x 1.00 = 28.00 > 25.00: a cap line of -3.00
    assert only(rating, "cap") == Line("cap", JUNE, JULY, D(1), D("-3.00"), D("-3.00"))
    assert rating.total == D("25.00")
    # under the cap: no line
    below = rate_june(plan(monthly_fee=D("20.00"), per_call=D("1.00"), cap=D("25.00")), calls=daily_calls(5))
    assert codes(below) == ["fee", "calls"] and below.total == D("25.00")


def test_plan_change_mid_month_is_prorated_by_days():
    first = Plan(monthly_fee=D("30.00"), included_calls=10, per_call=D("1.00"))
    second = Plan(monthly_fee=D("60.00"), included_calls=20, per_call=D("0.80"))
    periods = [
        PlanPeriod(date(2026, 7, 1), Plan(monthly_fee=D("999"))),  # after June: unused
        PlanPeriod(date(2026, 6, 11), second),
        PlanPeriod(date(2025, 1, 1), Plan(monthly_fee=D("999"))),  # replaced before June: unused
        PlanPeriod(date(2026, 1, 1), first),
    ]
    calls = [
        *daily_calls(4, first_id=1, first_day=2),  # June 2..5
        answered(5, paris(10, 23, 30)),  # June 10, 23:30 in Paris: still the first plan
        answered(6, datetime(2026, 6, 10, 22, 30, tzinfo=UTC)),  # June 11, 00:30 in Paris: the second
        *daily_calls(14, first_id=7, first_day=12),  # June 12..25
    ]
    rating = rate_june(periods, calls=calls)
    eleventh = date(2026, 6, 11)
    assert rating.lines == (
        # June 1-10, 10 days of 30: fee 30.00 x 10/30 = 10.00; included 10 x 10/30 = 3.33 -> 3
        Line("fee", JUNE, eleventh, D("0.3333"), D("30.00"), D("10.00")),
        Line("calls_included", JUNE, eleventh, D(3), ZERO, D("0.00"), kind="call", items=(1, 2, 3)),
        Line("calls", JUNE, eleventh, D(2), D("1.00"), D("2.00"), kind="call", items=(4, 5)),
        # June 11-30, 20 days: fee 60.00 x 20/30 = 40.00; included 20 x 20/30 = 13.33 -> 13
        Line("fee", eleventh, JULY, D("0.6667"), D("60.00"), D("40.00")),
        Line(
            "calls_included", eleventh, JULY, D(13), ZERO, D("0.00"), kind="call", items=tuple(range(6, 19))
        ),
        Line("calls", eleventh, JULY, D(2), D("0.80"), D("1.60"), kind="call", items=(19, 20)),
    )
    assert rating.total == D("53.60")  # 10.00 + 2.00 + 40.00 + 1.60


def test_proration_rounds_half_up():
    periods = [
        PlanPeriod(LONG_AGO, Plan(monthly_fee=D("10.05"), included_calls=5)),
        PlanPeriod(date(2026, 6, 16), Plan(monthly_fee=D("10.05"), included_calls=5, per_call=D("2.00"))),
    ]
    calls = [*daily_calls(4, first_id=1, first_day=2), *daily_calls(4, first_id=5, first_day=20)]
    rating = rate_june(periods, calls=calls)
    sixteenth = date(2026, 6, 16)
    # 15 days of 30 each: fee 10.05 x 15/30 = 5.025 -> 5.03; included 5 x 15/30 = 2.5 -> 3
    fees = [line for line in rating.lines if line.code == "fee"]
    assert [(f.period_start, f.quantity, f.amount) for f in fees] == [
        (JUNE, D("0.5000"), D("5.03")),
        (sixteenth, D("0.5000"), D("5.03")),
    ]
    included = [line for line in rating.lines if line.code == "calls_included"]
    assert [line.items for line in included] == [(1, 2, 3), (5, 6, 7)]
    beyond = [line for line in rating.lines if line.code == "calls"]
    # the first plan has no per-call price: call 4 on a line at 0; the second: call 8 at 2.00
    assert [(line.items, line.amount) for line in beyond] == [((4,), D("0.00")), ((8,), D("2.00"))]
    assert rating.total == D("12.06")  # 5.03 + 5.03 + 2.00


def test_prorated_minimum_over_two_plans():
    periods = [
        PlanPeriod(LONG_AGO, Plan(minimum=D("60.00"))),
        PlanPeriod(date(2026, 6, 11), Plan(minimum=D("30.00"))),
    ]
    rating = rate_june(periods)
    # 60.00 x 10/30 + 30.00 x 20/30 = 20.00 + 20.00 = 40.00, nothing used: all of it on "minimum"
    assert rating.lines == (Line("minimum", JUNE, JULY, D(1), D("40.00"), D("40.00")),)


def test_cap_counts_only_if_every_plan_of_the_month_has_one():
    calls = daily_calls(10, first_day=1)  # June 1..10, all under the first plan
    capped_then_not = [
        PlanPeriod(LONG_AGO, Plan(per_call=D("1.00"), cap=D("3.00"))),
        PlanPeriod(date(2026, 6, 11), Plan(per_call=D("1.00"))),
    ]
    rating = rate_june(capped_then_not, calls=calls)
    assert "cap" not in codes(rating)
    assert rating.total == D("10.00")  # 10 x 1.00, no cap
    both_capped = [
        PlanPeriod(LONG_AGO, Plan(per_call=D("1.00"), cap=D("3.00"))),
        PlanPeriod(date(2026, 6, 11), Plan(per_call=D("1.00"), cap=D("6.00"))),
    ]
    rating = rate_june(both_capped, calls=calls)
    # cap 3.00 x 10/30 + 6.00 x 20/30 = 1.00 + 4.00 = 5.00; usage 10.00: cap line -5.00
    assert only(rating, "cap") == Line("cap", JUNE, JULY, D(1), D("-5.00"), D("-5.00"))
    assert rating.total == D("5.00")


def test_adjustments_come_after_and_escape_minimum_and_cap():
    adjustments = [
        Adjustment("sla_penalty", "Service level missed", D("-7.345")),
        Adjustment("goodwill", "Goodwill", D("1.00")),
    ]
    rating = rate_june(
        plan(monthly_fee=D("20.00"), per_call=D("1.00"), cap=D("25.00")),
        calls=daily_calls(8),
        adjustments=adjustments,
    )
    assert codes(rating) == ["fee", "calls", "cap", "sla_penalty", "goodwill"]
    assert rating.lines[-2] == Line(
        "sla_penalty", JUNE, JULY, D(1), D("-7.345"), D("-7.35"), label="Service level missed"
    )
    assert rating.lines[-1].amount == D("1.00") and rating.lines[-1].label == "Goodwill"
    # 20.00 + 8.00 - 3.00 (cap) - 7.35 + 1.00 = 18.65: below the cap of 25, yet no top-up
    assert rating.total == D("18.65")
    with_minimum = rate_june(
        plan(monthly_fee=D("20.00"), per_call=D("1.00"), minimum=D("50.00")),
        calls=daily_calls(4),
        adjustments=[Adjustment("sla_penalty", "Service level missed", D("-30.00"))],
    )
    # 24.00 topped up by 26.00 to 50.00, then -30.00: 20.00
    assert with_minimum.total == D("20.00")


def test_lines_with_nothing_are_omitted():
    calls = [
        answered(1, paris(2), talk=200, after_hours=True),  # 4 minutes
        answered(2, paris(3), talk=200, holiday=True, after_hours=True),  # 4 minutes
    ]
    # minutes not priced, surcharges at 0: only the call line (at 0, so the calls are on a line)
    bare = rate_june(plan(), calls=calls)
    assert bare.lines == (Line("calls", JUNE, JULY, D(2), ZERO, D("0.00"), kind="call", items=(1, 2)),)
    assert decision(bare, 1).values["minutes"] == 4
    # included minutes without a price beyond: both minute lines, the one beyond at 0
    allowance = rate_june(plan(included_minutes=5), calls=calls)
    assert [(line.code, line.quantity, line.items) for line in allowance.lines[1:]] == [
        ("minutes_included", D(5), (1, 2)),  # 4 + 1
        ("minutes", D(3), (2,)),  # 4 - 1
    ]
    assert decision(allowance, 2).values["minutes_included"] == 1
    assert decision(allowance, 2).values["minutes_beyond"] == 3
    # a holiday surcharge of 0 still replaces the after-hours one: call 2 has no surcharge
    after_hours_only = rate_june(plan(after_hours_surcharge=D("3.00")), calls=calls)
    assert only(after_hours_only, "after_hours").items == (1,)
    assert "holiday" not in codes(after_hours_only)
    assert after_hours_only.total == D("3.00")


def test_decisions_follow_arrival_order_and_name_no_line_when_excluded():
    calls = [answered(2, paris(3)), answered(1, paris(2), training=True)]
    rating = rate_june(plan(per_call=D("1.00")), calls=calls)
    assert [(d.id, d.billed, d.rule, d.lines) for d in rating.decisions] == [
        (1, False, "training", ()),
        (2, True, "billed", ("calls",)),
    ]


# --- exclusion rules --------------------------------------------------------------------------------------

PRICED = plan(per_call=D("1.00"), per_minute=D("0.50"))
ALL_RULES = Rules(short_abandon_seconds=10, hung_up_before_seconds=15, repeat_within_seconds=300)
NO_RULES = Rules(not_answered=False, cold_call=False, wrong_number=False, callbacks=False)


def rule_of(rating, id):
    return decision(rating, id).rule


def test_training_calls_are_always_excluded():
    calls = [answered(1, paris(2), training=True), unanswered(2, paris(3), wait=3, training=True)]
    for rules in (ALL_RULES, NO_RULES):
        rating = rate_june(PRICED, rules, calls=calls)
        assert [(d.rule, d.billed, d.lines) for d in rating.decisions] == [("training", False, ())] * 2
        assert rating.total == ZERO and rating.lines == ()


def test_callbacks_are_excluded_unless_the_rule_is_off():
    calls = [answered(1, paris(2), outbound=True, talk=60)]
    assert rule_of(rate_june(PRICED, ALL_RULES, calls=calls), 1) == "callback"
    billed = rate_june(PRICED, Rules(callbacks=False), calls=calls)
    assert rule_of(billed, 1) == "billed"
    assert billed.total == D("1.50")  # 1 call x 1.00 + 1 minute x 0.50


def test_unanswered_calls_short_abandon_below_its_limit_else_not_answered():
    calls = [
        unanswered(1, paris(2), wait=4),
        unanswered(2, paris(3), wait=9.999),
        unanswered(3, paris(4), wait=10),  # the limit itself is not below it
        unanswered(4, paris(5), wait=95),
        CallItem(5, paris(6)),  # no end known: not provably short
    ]
    rating = rate_june(PRICED, ALL_RULES, calls=calls)
    assert [d.rule for d in rating.decisions] == [
        "short_abandon",
        "short_abandon",
        "not_answered",
        "not_answered",
        "not_answered",
    ]
    assert decision(rating, 1).values == {"wait_seconds": 4.0, "limit_seconds": 10}
    assert decision(rating, 4).values["wait_seconds"] == 95.0
    assert rating.lines == ()
    without_limit = rate_june(PRICED, Rules(), calls=calls[:1])
    assert rule_of(without_limit, 1) == "not_answered"  # limit 0: no short abandon


def test_not_answered_off_bills_unanswered_calls_per_call_without_minutes():
    calls = [unanswered(1, paris(2), wait=30), unanswered(2, paris(3), wait=4)]
    rating = rate_june(PRICED, Rules(not_answered=False), calls=calls)
    assert [d.rule for d in rating.decisions] == ["billed", "billed"]
    assert codes(rating) == ["calls"]  # no minutes line: an unanswered call has 0 minutes
    assert rating.total == D("2.00")  # 2 x 1.00
    assert decision(rating, 1).lines == ("calls",)
    # with a short-abandon limit, only the short wait is still excluded
    limited = rate_june(PRICED, Rules(not_answered=False, short_abandon_seconds=10), calls=calls)
    assert [d.rule for d in limited.decisions] == ["billed", "short_abandon"]
    assert limited.total == D("1.00")


def test_cold_calls_and_wrong_numbers():
    calls = [
        answered(1, paris(2), nuisance="cold_call"),
        answered(2, paris(3), nuisance="wrong_number"),
        answered(3, paris(4)),
    ]
    rating = rate_june(PRICED, ALL_RULES, calls=calls)
    assert [d.rule for d in rating.decisions] == ["cold_call", "wrong_number", "billed"]
    assert decision(rating, 1).values == {"nuisance": "cold_call"}
    off = rate_june(PRICED, Rules(cold_call=False, wrong_number=False), calls=calls)
    assert [d.rule for d in off.decisions] == ["billed"] * 3
    only_cold = rate_june(PRICED, Rules(wrong_number=False), calls=calls)
    assert [d.rule for d in only_cold.decisions] == ["cold_call", "billed", "billed"]


def test_hung_up_early_below_the_limit():
    calls = [answered(1, paris(2), talk=14), answered(2, paris(3), talk=15), answered(3, paris(4), talk=14.5)]
    rating = rate_june(PRICED, Rules(hung_up_before_seconds=15), calls=calls)
    assert [d.rule for d in rating.decisions] == ["hung_up_early", "billed", "hung_up_early"]
    assert decision(rating, 1).values == {"talk_seconds": 14.0, "limit_seconds": 15}
    assert rating.total == D("1.50")  # call 2: 1.00 + 1 minute x 0.50
    assert rule_of(rate_june(PRICED, Rules(), calls=calls), 1) == "billed"  # limit 0: off


def test_repeat_within_the_window_after_the_previous_answered_call():
    a, b, c, d, e = "+33611111111", "+33622222222", "+33633333333", "+33644444444", "+33655555555"
    calls = [
        answered(1, paris(2, 10), wait=10, talk=280, caller=a),  # ends 10:04:50
        answered(2, paris(2, 10, 9, 50), caller=a),  # 300 s after: within (inclusive)
        answered(3, paris(2, 11), wait=10, talk=50, caller=b),  # ends 11:01:00
        answered(4, paris(2, 11, 6, 1), caller=b),  # 301 s after: billed
        answered(5, paris(2, 12), caller=""),  # withheld numbers are never repeats
        answered(6, paris(2, 12, 2), caller=""),
        answered(7, paris(3, 9), wait=0, talk=60, caller=c),  # ends 09:01
        unanswered(8, paris(3, 9, 3), wait=30, caller=c),  # not answered: not a "previous" call
        answered(9, paris(3, 9, 4), caller=c),  # 180 s after call 7
        unanswered(10, paris(4, 14), wait=20, caller=d),
        answered(11, paris(4, 14, 1), caller=d),  # no answered call before: billed
        # from before the month: May 31, 23:58 in Paris, ends June 1, 00:00
        answered(12, paris(31, 23, 58, month=5), wait=0, talk=120, caller=e),
        answered(13, paris(1, 0, 3), caller=e),  # 180 s after call 12
    ]
    rating = rate_june(PRICED, Rules(repeat_within_seconds=300), calls=calls)
    rules = {d.id: d.rule for d in rating.decisions}
    assert rules == {
        1: "billed",
        2: "repeat",
        3: "billed",
        4: "billed",
        5: "billed",
        6: "billed",
        7: "billed",
        8: "not_answered",
        9: "repeat",
        10: "not_answered",
        11: "billed",
        13: "repeat",
    }  # call 12 (May) has no decision
    assert decision(rating, 2).values == {
        "previous_call": 1,
        "seconds_after_previous": 300.0,
        "limit_seconds": 300,
    }
    assert decision(rating, 9).values["previous_call"] == 7
    assert decision(rating, 13).values == {
        "previous_call": 12,
        "seconds_after_previous": 180.0,
        "limit_seconds": 300,
    }
    off = rate_june(PRICED, Rules(), calls=calls)
    assert {d.id for d in off.decisions if d.rule == "repeat"} == set()


def test_only_billed_inbound_calls_open_a_repeat_window():
    caller = "+33611111111"
    calls = [
        answered(1, paris(2, 9), wait=0, talk=60, caller=caller, outbound=True),  # our call-back
        answered(2, paris(2, 9, 3), caller=caller),  # 120 s after call 1's end: not a repeat of it
        answered(3, paris(3, 9), wait=0, talk=60, caller=caller, training=True),
        answered(4, paris(3, 9, 3), caller=caller),  # a training call opens no window either
        answered(5, paris(4, 9), wait=0, talk=60, caller=caller, nuisance="cold_call"),  # answered, excluded
        answered(6, paris(4, 9, 3), caller=caller),  # 120 s after a call left out: not made free by it
        # a chain: 7 ends at 9:01; 8 (a repeat) ends at 9:03:30; 9 comes 180 s after 8, 330 s after 7
        answered(7, paris(5, 9), wait=0, talk=60, caller=caller),
        answered(8, paris(5, 9, 2), wait=0, talk=90, caller=caller),
        answered(9, paris(5, 9, 6, 30), caller=caller),
    ]
    rating = rate_june(PRICED, Rules(repeat_within_seconds=300), calls=calls)
    assert [d.rule for d in rating.decisions] == [
        "callback",
        "billed",
        "training",
        "billed",
        "cold_call",
        "billed",
        "billed",
        "repeat",
        "billed",
    ]
    assert decision(rating, 8).values["previous_call"] == 7


def test_every_rule_off_bills_everything_but_training():
    calls = [
        answered(1, paris(2), outbound=True),
        answered(2, paris(3), nuisance="cold_call"),
        answered(3, paris(4), nuisance="wrong_number"),
        unanswered(4, paris(5), wait=2),
        answered(5, paris(6), talk=1),
        answered(6, paris(7), training=True),
    ]
    rating = rate_june(PRICED, NO_RULES, calls=calls)
    assert [d.rule for d in rating.decisions] == ["billed"] * 5 + ["training"]
    # 5 calls x 1.00; minutes: calls 1-3 90 s -> 2 each, call 4 none, call 5 1 s -> 1: 7 x 0.50 = 3.50
    assert rating.total == D("8.50")


@pytest.mark.parametrize(
    ("rules", "call", "expected"),
    [
        (ALL_RULES, unanswered(9, paris(9), wait=3, training=True, outbound=True), "training"),
        (ALL_RULES, unanswered(9, paris(9), wait=3, outbound=True), "callback"),
        (
            Rules(callbacks=False, short_abandon_seconds=10),
            unanswered(9, paris(9), wait=3, outbound=True),
            "short_abandon",
        ),
        (ALL_RULES, unanswered(9, paris(9), wait=30, nuisance="cold_call"), "not_answered"),
        (ALL_RULES, answered(9, paris(9), talk=5, nuisance="cold_call"), "cold_call"),
        (ALL_RULES, answered(9, paris(9), talk=5, nuisance="wrong_number"), "wrong_number"),
        (
            Rules(cold_call=False, hung_up_before_seconds=15),
            answered(9, paris(9), talk=5, nuisance="cold_call"),
            "hung_up_early",
        ),
        (ALL_RULES, answered(9, paris(9), talk=5, caller="+33611111111"), "hung_up_early"),
        (ALL_RULES, answered(9, paris(9), talk=60, caller="+33611111111"), "repeat"),
    ],
)
def test_the_first_rule_in_order_decides(rules, call, expected):
    previous = answered(8, paris(9, 9, 58), wait=0, talk=60, caller="+33611111111")  # ends 09:59
    rating = rate_june(PRICED, rules, calls=[previous, call])
    assert rule_of(rating, 9) == expected


# --- month boundaries in local time ------------------------------------------------------------------------


def test_month_bounds_in_local_time_across_clock_changes():
    assert month_bounds(JUNE, PARIS) == (
        datetime(2026, 5, 31, 22, tzinfo=UTC),
        datetime(2026, 6, 30, 22, tzinfo=UTC),
    )
    march_start, march_end = month_bounds(date(2026, 3, 1), PARIS)  # summer time from March 29
    assert (march_start, march_end) == (
        datetime(2026, 2, 28, 23, tzinfo=UTC),
        datetime(2026, 3, 31, 22, tzinfo=UTC),
    )
    assert march_end.timestamp() - march_start.timestamp() == (31 * 24 - 1) * 3600  # 23 h on the 29th
    october_start, october_end = month_bounds(date(2026, 10, 1), PARIS)  # winter time from October 25
    assert (october_start, october_end) == (
        datetime(2026, 9, 30, 22, tzinfo=UTC),
        datetime(2026, 10, 31, 23, tzinfo=UTC),
    )
    assert october_end.timestamp() - october_start.timestamp() == (31 * 24 + 1) * 3600  # 25 h on the 25th
    assert month_bounds(JUNE, UTC) == (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))


def test_calls_belong_to_the_month_of_their_local_date():
    march = date(2026, 3, 1)
    calls = [
        answered(1, datetime(2026, 2, 28, 23, 30, tzinfo=UTC)),  # March 1, 00:30 in Paris
        answered(2, datetime(2026, 2, 28, 22, 30, tzinfo=UTC)),  # February 28, 23:30 in Paris
        answered(3, datetime(2026, 3, 31, 21, 30, tzinfo=UTC)),  # March 31, 23:30 in Paris (summer time)
        answered(4, datetime(2026, 3, 31, 23, 30, tzinfo=UTC)),  # April 1, 01:30 in Paris
    ]
    rating = rate(march, PARIS, plan(per_call=D("1.00")), Rules(), calls=calls)
    assert [d.id for d in rating.decisions] == [1, 3]
    assert rating.lines == (
        Line("calls", march, date(2026, 4, 1), D(2), D("1.00"), D("2.00"), kind="call", items=(1, 3)),
    )
    october = date(2026, 10, 1)
    calls = [
        answered(5, datetime(2026, 10, 31, 22, 30, tzinfo=UTC)),  # October 31, 23:30 in Paris (winter time)
        answered(6, datetime(2026, 10, 31, 23, 30, tzinfo=UTC)),  # November 1, 00:30 in Paris
    ]
    rating = rate(october, PARIS, plan(per_call=D("1.00")), Rules(), calls=calls)
    assert [d.id for d in rating.decisions] == [5]


def test_talk_across_the_autumn_clock_change_is_measured_on_the_real_timeline():
    october = date(2026, 10, 1)
    # October 25: 03:00 summer time becomes 02:00 winter time. Answered at 02:50 summer time
    # (00:50 UTC), ended at 02:10 winter time (01:10 UTC): 20 minutes, not minus 40.
    call = CallItem(
        1,
        datetime(2026, 10, 25, 2, 49, tzinfo=PARIS),
        datetime(2026, 10, 25, 2, 50, tzinfo=PARIS),
        datetime(2026, 10, 25, 2, 10, tzinfo=PARIS, fold=1),
    )
    rating = rate(october, PARIS, plan(per_minute=D("0.10")), Rules(hung_up_before_seconds=60), calls=[call])
    assert rule_of(rating, 1) == "billed"
    assert only(rating, "minutes").quantity == D(20)
    assert rating.total == D("2.00")  # 20 x 0.10


def test_plan_change_on_the_spring_clock_change_counts_days():
    march = date(2026, 3, 1)
    periods = [
        PlanPeriod(LONG_AGO, Plan(monthly_fee=D("31.00"))),
        PlanPeriod(date(2026, 3, 29), Plan(monthly_fee=D("62.00"))),
    ]
    rating = rate(march, PARIS, periods, Rules())
    # March 1-28: 28 days x 31.00 / 31 = 28.00; March 29-31: 3 days x 62.00 / 31 = 6.00
    assert [(line.period_start, line.period_end, line.amount) for line in rating.lines] == [
        (march, date(2026, 3, 29), D("28.00")),
        (date(2026, 3, 29), date(2026, 4, 1), D("6.00")),
    ]


# --- bad input ---------------------------------------------------------------------------------------------


def test_month_must_be_a_first_day():
    with pytest.raises(RatingError, match="first day"):
        rate(date(2026, 6, 2), PARIS, plan(), Rules())
    with pytest.raises(RatingError, match="first day"):
        month_bounds(date(2026, 6, 15), PARIS)
    with pytest.raises(RatingError, match="date"):
        rate(datetime(2026, 6, 1, tzinfo=PARIS), PARIS, plan(), Rules())


def test_a_plan_must_cover_the_first_day():
    with pytest.raises(RatingError, match="no plan"):
        rate_june([PlanPeriod(date(2026, 6, 2), Plan())])
    with pytest.raises(RatingError, match="no plan"):
        rate_june([])
    with pytest.raises(RatingError, match="same day"):
        rate_june([PlanPeriod(LONG_AGO, Plan()), PlanPeriod(LONG_AGO, Plan(per_call=D(1)))])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (Plan(per_call=D("-0.01")), "per_call.*negative"),
        (Plan(monthly_fee=D("-1")), "monthly_fee.*negative"),
        (Plan(per_message={"sms": D("-0.08")}), "per_message.*sms.*negative"),
        (Plan(cap=D("-5")), "cap.*negative"),
        (Plan(included_calls=-1), "included_calls.*negative"),
        (Plan(per_minute=0.5), "per_minute.*Decimal"),
        (Plan(holiday_surcharge=D("NaN")), "holiday_surcharge"),
        (Plan(minimum=D("30"), cap=D("20")), "minimum.*above.*cap"),
    ],
)
def test_bad_prices_are_refused(bad, message):
    with pytest.raises(RatingError, match=message):
        rate_june([PlanPeriod(LONG_AGO, bad)])


@pytest.mark.parametrize(
    "items",
    [
        {"calls": [CallItem(1, datetime(2026, 6, 2, 10))]},
        {"calls": [CallItem(1, paris(2), datetime(2026, 6, 2, 10))]},
        {"calls": [CallItem(1, paris(2), paris(2), datetime(2026, 6, 2, 10, 5))]},
        {"deliveries": [DeliveryItem(1, datetime(2026, 6, 2, 10), "sms")]},
        {"appointments": [AppointmentItem(1, datetime(2026, 6, 2, 10))]},
    ],
)
def test_naive_datetimes_are_refused(items):
    with pytest.raises(RatingError, match="time zone"):
        rate_june(plan(), **items)


def test_other_bad_items_and_rules_are_refused():
    with pytest.raises(RatingError, match="call 1.*twice"):
        rate_june(plan(), calls=[answered(1, paris(2)), answered(1, paris(3))])
    with pytest.raises(RatingError, match="nuisance"):
        rate_june(plan(), calls=[answered(1, paris(2), nuisance="spam")])
    with pytest.raises(RatingError, match="parts"):
        rate_june(plan(), deliveries=[DeliveryItem(1, paris(2), "sms", parts=0)])
    with pytest.raises(RatingError, match="repeat_within_seconds"):
        rate_june(plan(), Rules(repeat_within_seconds=-1))
    with pytest.raises(RatingError, match="reserved"):
        rate_june(plan(), adjustments=[Adjustment("fee", "Fee again", D("1"))])
    with pytest.raises(RatingError, match="Decimal"):
        rate_june(plan(), adjustments=[Adjustment("goodwill", "Goodwill", 1.5)])
    with pytest.raises(RatingError, match="time zone"):
        rate(JUNE, "Europe/Paris", plan(), Rules())


def test_an_unanswered_call_billed_opens_no_repeat_window():
    caller = "+33611111111"
    calls = [unanswered(1, paris(2, 9), wait=20, caller=caller),
             answered(2, paris(2, 9, 0, 50), caller=caller)]
    rating = rate_june(PRICED, Rules(not_answered=False, repeat_within_seconds=300), calls=calls)
    assert [d.rule for d in rating.decisions] == ["billed", "billed"]
