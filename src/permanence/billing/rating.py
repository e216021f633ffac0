"""Rating: an account's month of calls, message deliveries and appointments priced by its plan.
Pure core: no Django import.

Rounding, stated once: each line's amount is rounded to the cent, half up (``money``); a total is the
sum of its lines; the VAT of ``totals`` is ``money(net * rate)``.

The month is given by its first day; an item belongs to the month of its local date in ``zone``. Items
of other months are not rated and get no decision, except that earlier calls serve the repeat rule.
Durations are measured on the real (UTC) timeline, so a clock change does not stretch a call.

Plans are effective-dated: a ``PlanPeriod`` applies from its start (a local date) until the next one's,
and its days within the month form a segment with lines of its own. Per segment the fee is prorated by
days (fee x days / days in the month; the fee line's quantity is that share, to 4 places), and so are
the included calls and minutes (to the nearest whole number, half up) and the minimum and cap (to the
cent, like the fee, then summed over the month). A segment covering the whole month is not prorated.

Calls: the first rule that applies decides, in this order: training (always) -> callback (outbound)
-> unanswered: short_abandon (waited less than its limit; a limit of 0 turns it off) else not_answered
-> cold_call -> wrong_number -> hung_up_early (answered, talked less than the limit) -> repeat (an
answered call from a known caller arriving at most the window after the end of their previous BILLED
inbound call: a call left out opens no window, repeats do not chain) -> billed. A disabled rule is
skipped; ``Rules.not_answered`` turns off "not_answered" only, the short-abandon limit stays in force
on its own. A billed call that was not answered, or has no end, has no minutes (and a call without an
end is never "hung_up_early").

Billed calls, in arrival order per segment: the included ones on "calls_included" (at 0), the others
on "calls". Minutes are the started minutes of conversation (answer to end); included minutes are used
in arrival order, a call straddling the allowance is on "minutes_included" and on "minutes". A billed
call on a public holiday is on "holiday", otherwise outside the opening hours on "after_hours".
Deliveries: training -> not_delivered -> billed on "messages:<channel>" (quantity: the SMS parts);
appointments on "appointments".

Lines with nothing are omitted: no item, or a fee, minimum or cap of 0; the minute lines when the plan
has neither included minutes nor a price per minute; a surcharge line when its surcharge is 0. The call,
message and appointment lines are kept even at a price of 0, so every billed item is on a line. Then,
on fee + usage of the month: a "minimum" line tops it up to the minimum, or a "cap" line takes off the
excess (a cap counts only if every segment's plan has one). Adjustments come last, outside the
minimum and the cap.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
_SHARE = Decimal("0.0001")
_ONE = Decimal(1)
_ZERO = Decimal(0)
_MINUTE = timedelta(minutes=1)
NUISANCES = ("", "cold_call", "wrong_number")
RESERVED_CODES = frozenset(
    {
        "fee",
        "calls_included",
        "calls",
        "minutes_included",
        "minutes",
        "after_hours",
        "holiday",
        "appointments",
        "minimum",
        "cap",
    }
)


def money(x: Decimal) -> Decimal:
    """``x`` rounded to the cent, half up (away from zero)."""
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class CallItem:
    id: int
    arrived_at: datetime  # aware
    answered_at: datetime | None = None
    ended_at: datetime | None = None  # end of the conversation, or of the wait of an unanswered call
    outbound: bool = False  # a call-back the service made
    training: bool = False
    caller: str = ""  # E.164, "" withheld
    nuisance: str = ""  # "", "cold_call", "wrong_number": the secretary's pick at wrap-up
    after_hours: bool = False  # arrived outside the account's opening hours (computed by rate()'s caller)
    holiday: bool = False  # arrived on a public holiday


@dataclass(frozen=True)
class DeliveryItem:
    """One delivery of a message to one recipient by one channel."""

    id: int
    at: datetime
    channel: str  # "email", "sms", "webhook", "push", "digest", ...
    parts: int = 1  # SMS parts (1 for other channels)
    delivered: bool = True
    training: bool = False


@dataclass(frozen=True)
class AppointmentItem:
    id: int
    at: datetime  # booked at


@dataclass(frozen=True)
class Plan:
    monthly_fee: Decimal = Decimal(0)
    included_calls: int = 0
    included_minutes: int = 0
    per_call: Decimal = Decimal(0)  # each billed call beyond the included calls
    per_minute: Decimal = Decimal(0)  # each started minute of conversation beyond the included minutes
    after_hours_surcharge: Decimal = Decimal(0)  # per billed call outside the opening hours
    holiday_surcharge: Decimal = Decimal(0)  # per billed call on a public holiday (INSTEAD of after hours)
    per_message: Mapping[str, Decimal] = field(default_factory=dict)  # by channel; SMS per part
    per_appointment: Decimal = Decimal(0)
    minimum: Decimal = Decimal(0)  # monthly minimum (of fee + usage)
    cap: Decimal | None = None  # monthly maximum (of fee + usage)


@dataclass(frozen=True)
class PlanPeriod:
    start: date  # local date from which the plan applies (inclusive); the next period's start ends it
    plan: Plan


@dataclass(frozen=True)
class Rules:
    """The exclusions, as the operator configures them."""

    not_answered: bool = True  # rule "not_answered" ("short_abandon" is on while its limit is above 0)
    short_abandon_seconds: int = 0  # an unanswered call that waited < this: rule "short_abandon"
    cold_call: bool = True  # rule "cold_call"
    wrong_number: bool = True  # rule "wrong_number"
    hung_up_before_seconds: int = 0  # answered, conversation < this many seconds: rule "hung_up_early"
    callbacks: bool = True  # outbound calls: rule "callback"
    repeat_within_seconds: int = 0  # an answered call from the same (known) caller arriving within this
    # many seconds after the end of their previous BILLED inbound call: rule "repeat"
    # training calls/deliveries are always excluded: rule "training"


@dataclass(frozen=True)
class Adjustment:
    """A line added after the plan (SLA penalty, ...): the amount may be negative."""

    code: str
    label: str
    amount: Decimal


@dataclass(frozen=True)
class Line:
    code: str  # "fee", "calls_included", "calls", "minutes_included", "minutes", "after_hours",
    # "holiday", "messages:<channel>", "appointments", "minimum", "cap", or an Adjustment's code
    period_start: date  # local dates, [start, end): the plan period within the month
    period_end: date
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal  # rounded to the cent
    kind: str = ""  # "call", "delivery", "appointment" or "": what `items` are
    items: tuple[int, ...] = ()
    label: str = ""  # only for adjustments


@dataclass(frozen=True)
class Decision:
    kind: str  # "call", "delivery", "appointment"
    id: int
    billed: bool
    rule: str  # billed: "billed"; excluded: the rule name that decided
    values: Mapping[str, Any]  # the facts behind it, e.g. {"wait_seconds": 4, "limit_seconds": 10}
    lines: tuple[str, ...] = ()  # codes of the lines the item is on


@dataclass(frozen=True)
class Rating:
    lines: tuple[Line, ...]
    decisions: tuple[Decision, ...]

    @property
    def total(self) -> Decimal:
        """The sum of the line amounts."""
        return sum((line.amount for line in self.lines), _ZERO)


class RatingError(ValueError):
    pass


# --- checks ------------------------------------------------------------------------------------------


def _month_days(month: date) -> tuple[date, date]:
    if isinstance(month, datetime) or not isinstance(month, date):
        raise RatingError(f"The month is given as a date (its first day), not {month!r}.")
    if month.day != 1:
        raise RatingError(f"The month is given by its first day, not {month.isoformat()}.")
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return month, following


def _check_zone(zone: object) -> None:
    if not isinstance(zone, tzinfo):
        raise RatingError(f"The time zone must be a tzinfo (e.g. ZoneInfo('Europe/Paris')), not {zone!r}.")


def _utc(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime):
        raise RatingError(f"{what}: {moment!r} is not a datetime.")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise RatingError(f"{what}: {moment.isoformat()} has no time zone; rating needs aware datetimes.")
    return moment.astimezone(UTC)


def _price(value: object, what: str) -> Decimal:
    if not isinstance(value, Decimal):
        raise RatingError(f"{what} must be a Decimal (money is never a float), not {value!r}.")
    if not value.is_finite():
        raise RatingError(f"{what} must be a finite amount, not {value}.")
    if value < 0:
        raise RatingError(f"{what} is negative ({value}); prices are zero or more.")
    return value


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RatingError(f"{what} must be a whole number, not {value!r}.")
    if value < 0:
        raise RatingError(f"{what} is negative ({value}).")
    return value


def _check_plan(plan: Plan, start: date) -> None:
    where = f"the plan from {start.isoformat()}"
    for name in ("monthly_fee", "per_call", "per_minute", "after_hours_surcharge", "holiday_surcharge"):
        _price(getattr(plan, name), f"{name} of {where}")
    _price(plan.per_appointment, f"per_appointment of {where}")
    _price(plan.minimum, f"minimum of {where}")
    if plan.cap is not None:
        _price(plan.cap, f"cap of {where}")
        if plan.minimum > plan.cap:
            raise RatingError(f"The minimum {plan.minimum} of {where} is above its cap {plan.cap}.")
    _count(plan.included_calls, f"included_calls of {where}")
    _count(plan.included_minutes, f"included_minutes of {where}")
    for channel, price in plan.per_message.items():
        _price(price, f"per_message[{channel!r}] of {where}")


def _check_rules(rules: Rules) -> None:
    for name in ("short_abandon_seconds", "hung_up_before_seconds", "repeat_within_seconds"):
        _count(getattr(rules, name), f"Rules.{name}")


# --- plan segments -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    start: date
    end: date
    plan: Plan
    days: int
    month_days: int

    def prorated_count(self, n: int) -> int:
        """n x days / days in the month, to the nearest whole number, half up."""
        return (2 * n * self.days + self.month_days) // (2 * self.month_days)

    def prorated_money(self, amount: Decimal) -> Decimal:
        return money(amount * self.days / self.month_days)

    @property
    def share(self) -> Decimal:
        if self.days == self.month_days:
            return _ONE
        return (Decimal(self.days) / Decimal(self.month_days)).quantize(_SHARE, rounding=ROUND_HALF_UP)


def _segments(first: date, following: date, periods: Sequence[PlanPeriod]) -> list[_Segment]:
    ordered = sorted(periods, key=lambda p: p.start)
    for period in ordered:
        if isinstance(period.start, datetime) or not isinstance(period.start, date):
            raise RatingError(f"A plan period starts on a date, not {period.start!r}.")
    for before, after in zip(ordered, ordered[1:], strict=False):
        if before.start == after.start:
            raise RatingError(f"Two plan periods start on the same day, {after.start.isoformat()}.")
    for period in ordered:
        _check_plan(period.plan, period.start)
    if not ordered or ordered[0].start > first:
        raise RatingError(f"There is no plan for {first.isoformat()}, the first day of the month.")
    month_days = (following - first).days
    out = []
    for index, period in enumerate(ordered):
        start = max(period.start, first)
        end = min(ordered[index + 1].start, following) if index + 1 < len(ordered) else following
        if start < end:
            out.append(_Segment(start, end, period.plan, (end - start).days, month_days))
    return out


# --- items -------------------------------------------------------------------------------------------


@dataclass
class _Call:
    item: CallItem
    arrived: datetime  # UTC
    answered: datetime | None
    ended: datetime | None
    day: date  # local date of arrival

    @property
    def talk(self) -> timedelta | None:
        if self.answered is None or self.ended is None:
            return None
        return max(timedelta(0), self.ended - self.answered)


def _seconds(span: timedelta) -> float:
    return round(span.total_seconds(), 6)


def _unique(ids: Iterable[int], kind: str) -> None:
    seen: set[int] = set()
    for id in ids:
        if id in seen:
            raise RatingError(f"The {kind} {id} is given twice.")
        seen.add(id)


def _decide_calls(
    calls: Iterable[CallItem], zone: tzinfo, first: date, following: date, rules: Rules
) -> list[tuple[_Call, str, dict[str, Any]]]:
    """The month's calls in arrival order, each with the rule that decided and its values."""
    prepared: list[_Call] = []
    for given in calls:
        what = f"call {given.id}"
        arrived = _utc(given.arrived_at, f"{what} arrived_at")
        answered = None if given.answered_at is None else _utc(given.answered_at, f"{what} answered_at")
        ended = None if given.ended_at is None else _utc(given.ended_at, f"{what} ended_at")
        if given.nuisance not in NUISANCES:
            raise RatingError(f"{what}: unknown nuisance {given.nuisance!r} (one of {NUISANCES}).")
        day = arrived.astimezone(zone).date()
        if day < following:
            prepared.append(_Call(given, arrived, answered, ended, day))
    _unique((c.item.id for c in prepared), "call")
    prepared.sort(key=lambda c: (c.arrived, c.item.id))
    short_limit = timedelta(seconds=rules.short_abandon_seconds)
    early_limit = timedelta(seconds=rules.hung_up_before_seconds)
    repeat_window = timedelta(seconds=rules.repeat_within_seconds)
    last_answered: dict[str, _Call] = {}  # by caller: their latest BILLED answered call with an end
    out: list[tuple[_Call, str, dict[str, Any]]] = []
    for call in prepared:
        item = call.item
        rule, values = _rule(call, rules, short_limit, early_limit, repeat_window, last_answered)
        if call.day >= first:
            out.append((call, rule, values))
        # only a billed call opens the window: a call left out (hung up early, a wrong number…) never makes
        # the next one free, and repeats do not chain
        if (rule == "billed" and item.caller and not item.outbound and call.answered is not None
                and call.ended is not None):
            last_answered[item.caller] = call
    return out


def _rule(
    call: _Call,
    rules: Rules,
    short_limit: timedelta,
    early_limit: timedelta,
    repeat_window: timedelta,
    last_answered: Mapping[str, _Call],
) -> tuple[str, dict[str, Any]]:
    item = call.item
    if item.training:
        return "training", {}
    if item.outbound and rules.callbacks:
        return "callback", {"outbound": True}
    if call.answered is None:
        wait = None if call.ended is None else max(timedelta(0), call.ended - call.arrived)
        if rules.short_abandon_seconds and wait is not None and wait < short_limit:
            return "short_abandon", {
                "wait_seconds": _seconds(wait),
                "limit_seconds": rules.short_abandon_seconds,
            }
        if rules.not_answered:
            return "not_answered", {"wait_seconds": None if wait is None else _seconds(wait)}
    if item.nuisance == "cold_call" and rules.cold_call:
        return "cold_call", {"nuisance": "cold_call"}
    if item.nuisance == "wrong_number" and rules.wrong_number:
        return "wrong_number", {"nuisance": "wrong_number"}
    talk = call.talk
    if rules.hung_up_before_seconds and talk is not None and talk < early_limit:
        return "hung_up_early", {
            "talk_seconds": _seconds(talk),
            "limit_seconds": rules.hung_up_before_seconds,
        }
    if rules.repeat_within_seconds and call.answered is not None and item.caller and not item.outbound:
        previous = last_answered.get(item.caller)
        if previous is not None and previous.ended is not None:
            gap = call.arrived - previous.ended
            if gap <= repeat_window:
                return "repeat", {
                    "previous_call": previous.item.id,
                    "seconds_after_previous": _seconds(gap),
                    "limit_seconds": rules.repeat_within_seconds,
                }
    minutes = _minutes(talk)
    return "billed", {"talk_seconds": None if talk is None else _seconds(talk), "minutes": minutes}


def _minutes(talk: timedelta | None) -> int:
    """Started minutes of conversation."""
    if talk is None:
        return 0
    return -(-talk // _MINUTE)


# --- lines -------------------------------------------------------------------------------------------


@dataclass
class _Bucket:
    """What goes on one line of a segment."""

    quantity: int = 0
    items: list[int] = field(default_factory=list)


def _line(segment: _Segment, code: str, bucket: _Bucket, unit_price: Decimal, kind: str) -> Line:
    quantity = Decimal(bucket.quantity)
    return Line(
        code,
        segment.start,
        segment.end,
        quantity,
        unit_price,
        money(quantity * unit_price),
        kind,
        tuple(bucket.items),
    )


def rate(
    month: date,
    zone: tzinfo,
    periods: Sequence[PlanPeriod],
    rules: Rules,
    calls: Iterable[CallItem] = (),
    deliveries: Iterable[DeliveryItem] = (),
    appointments: Iterable[AppointmentItem] = (),
    adjustments: Sequence[Adjustment] = (),
) -> Rating:
    """Rate the local month starting on ``month``: its lines and a decision for each of its items."""
    first, following = _month_days(month)
    _check_zone(zone)
    _check_rules(rules)
    segments = _segments(first, following, periods)
    starts = [s.start for s in segments]

    def segment_of(day: date) -> int:
        return bisect.bisect_right(starts, day) - 1

    # per segment: code -> bucket, and the codes of each item's lines
    buckets: list[dict[str, _Bucket]] = [{} for _ in segments]
    item_lines: dict[tuple[str, int], list[str]] = {}

    def put(index: int, code: str, kind: str, id: int, quantity: int) -> None:
        bucket = buckets[index].setdefault(code, _Bucket())
        bucket.quantity += quantity
        bucket.items.append(id)
        item_lines.setdefault((kind, id), []).append(code)

    decided = _decide_calls(calls, zone, first, following, rules)
    used_calls = [0] * len(segments)
    used_minutes = [0] * len(segments)
    for call, rule, values in decided:
        if rule != "billed":
            continue
        index = segment_of(call.day)
        segment = segments[index]
        id = call.item.id
        if used_calls[index] < segment.prorated_count(segment.plan.included_calls):
            put(index, "calls_included", "call", id, 1)
        else:
            put(index, "calls", "call", id, 1)
        used_calls[index] += 1
        minutes: int = values["minutes"]
        allowance = segment.prorated_count(segment.plan.included_minutes)
        within = min(minutes, max(0, allowance - used_minutes[index]))
        used_minutes[index] += minutes
        values.update(minutes_included=within, minutes_beyond=minutes - within)
        if allowance or segment.plan.per_minute:
            if within:
                put(index, "minutes_included", "call", id, within)
            if minutes > within:
                put(index, "minutes", "call", id, minutes - within)
        if call.item.holiday:
            if segment.plan.holiday_surcharge:
                put(index, "holiday", "call", id, 1)
        elif call.item.after_hours and segment.plan.after_hours_surcharge:
            put(index, "after_hours", "call", id, 1)

    # (kind, id, rule, values) of each item of the month, calls first, in arrival order
    outcomes: list[tuple[str, int, str, Mapping[str, Any]]] = [
        ("call", call.item.id, rule, values) for call, rule, values in decided
    ]
    in_month: list[tuple[datetime, DeliveryItem, date]] = []
    for delivery in deliveries:
        at = _utc(delivery.at, f"delivery {delivery.id} at")
        parts = delivery.parts
        if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1:
            raise RatingError(f"delivery {delivery.id}: parts is a whole number of 1 or more, not {parts!r}.")
        day = at.astimezone(zone).date()
        if first <= day < following:
            in_month.append((at, delivery, day))
    _unique((d.id for _, d, _ in in_month), "delivery")
    in_month.sort(key=lambda entry: (entry[0], entry[1].id))
    for _, delivery, day in in_month:
        values = {"channel": delivery.channel, "parts": delivery.parts}
        if delivery.training:
            outcomes.append(("delivery", delivery.id, "training", values))
        elif not delivery.delivered:
            outcomes.append(("delivery", delivery.id, "not_delivered", values))
        else:
            put(segment_of(day), f"messages:{delivery.channel}", "delivery", delivery.id, delivery.parts)
            outcomes.append(("delivery", delivery.id, "billed", values))

    booked: list[tuple[datetime, AppointmentItem, date]] = []
    for appointment in appointments:
        at = _utc(appointment.at, f"appointment {appointment.id} at")
        day = at.astimezone(zone).date()
        if first <= day < following:
            booked.append((at, appointment, day))
    _unique((a.id for _, a, _ in booked), "appointment")
    booked.sort(key=lambda entry: (entry[0], entry[1].id))
    for _, appointment, day in booked:
        put(segment_of(day), "appointments", "appointment", appointment.id, 1)
        outcomes.append(("appointment", appointment.id, "billed", {}))

    lines: list[Line] = []
    for segment, by_code in zip(segments, buckets, strict=True):
        plan = segment.plan
        if plan.monthly_fee:
            lines.append(
                Line(
                    "fee",
                    segment.start,
                    segment.end,
                    segment.share,
                    plan.monthly_fee,
                    segment.prorated_money(plan.monthly_fee),
                )
            )
        priced = (
            ("calls_included", _ZERO, "call"),
            ("calls", plan.per_call, "call"),
            ("minutes_included", _ZERO, "call"),
            ("minutes", plan.per_minute, "call"),
            ("after_hours", plan.after_hours_surcharge, "call"),
            ("holiday", plan.holiday_surcharge, "call"),
        )
        for code, price, kind in priced:
            if code in by_code:
                lines.append(_line(segment, code, by_code[code], price, kind))
        for code in sorted(c for c in by_code if c.startswith("messages:")):
            price = plan.per_message.get(code.removeprefix("messages:"), _ZERO)
            lines.append(_line(segment, code, by_code[code], price, "delivery"))
        if "appointments" in by_code:
            lines.append(
                _line(segment, "appointments", by_code["appointments"], plan.per_appointment, "appointment")
            )

    used = sum((line.amount for line in lines), _ZERO)
    minimum = sum((s.prorated_money(s.plan.minimum) for s in segments), _ZERO)
    if used < minimum:
        lines.append(Line("minimum", first, following, _ONE, minimum - used, minimum - used))
    caps = [s.plan.cap for s in segments]
    if all(cap is not None for cap in caps):
        cap = sum((s.prorated_money(c) for s, c in zip(segments, caps, strict=True) if c is not None), _ZERO)
        if used > cap:
            lines.append(Line("cap", first, following, _ONE, cap - used, cap - used))

    for adjustment in adjustments:
        code = adjustment.code
        if not code or code in RESERVED_CODES or code.startswith("messages:"):
            raise RatingError(f"The adjustment code {code!r} is empty or reserved for the plan's lines.")
        if not isinstance(adjustment.amount, Decimal) or not adjustment.amount.is_finite():
            raise RatingError(
                f"The amount of adjustment {code!r} must be a finite Decimal, not {adjustment.amount!r}."
            )
        amount = money(adjustment.amount)
        lines.append(
            Line(adjustment.code, first, following, _ONE, adjustment.amount, amount, label=adjustment.label)
        )

    decisions = tuple(
        Decision(kind, id, rule == "billed", rule, values, tuple(item_lines.get((kind, id), ())))
        for kind, id, rule, values in outcomes
    )
    return Rating(tuple(lines), decisions)


def month_bounds(month: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The aware [start, end) of the local month starting on ``month``."""
    first, following = _month_days(month)
    _check_zone(zone)
    return datetime.combine(first, time(0), tzinfo=zone), datetime.combine(following, time(0), tzinfo=zone)


def totals(lines: Iterable[Line], vat_rate: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """Net (the sum of the lines), VAT (``money(net * vat_rate)``) and gross."""
    if not isinstance(vat_rate, Decimal) or not vat_rate.is_finite() or vat_rate < 0:
        raise RatingError(f"The VAT rate must be a Decimal of 0 or more, not {vat_rate!r}.")
    net = sum((line.amount for line in lines), _ZERO)
    vat = money(net * vat_rate)
    return net, vat, net + vat
