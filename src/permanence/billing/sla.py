"""Service-level promises checked against a month's figures. Pure core: no Django import.

Three checks, each only when its target is set: "service_level" (the share of offered calls answered
within ``answer_within_seconds``, ``kpis.indicators`` in the "offered" variant) at least
``answer_share``; "abandon_rate" (``kpis`` abandon rate, short abandons left out) at most
``max_abandon_rate``; "delivery" (the share of ``delivery_seconds`` of at most
``delivery_within_minutes`` x 60) at least ``delivery_share``. A time without its share gives no check;
a share without its time is refused.

Measured shares are Decimals rounded half up to 4 places, and the check compares that rounded share
with the target. Nothing to measure (no call offered, no message) gives ``measured=None``: met. A
missed check costs ``penalty_per_miss`` plus ``penalty_percent`` of the month's fee, rounded to the cent
half up; the report's penalty (positive) is the sum of its checks'.

The figures hold waits in 5-second buckets: the answer time is a multiple of 5 s, and the short-abandon
limit is taken down to a multiple of 5 s (abandoned within 5 s means waited at most 5 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from permanence.reporting import kpis

_PLACES = Decimal("0.0001")
_CENT = Decimal("0.01")
_ZERO = Decimal(0)
_LONGEST = (kpis.BUCKETS - 2) * kpis.BUCKET_SECONDS  # the longest threshold the buckets can tell


class SlaError(ValueError):
    pass


@dataclass(frozen=True)
class Promise:
    answer_within_seconds: int | None = None  # multiple of 5 (kpis buckets)
    answer_share: Decimal | None = None  # e.g. Decimal("0.90")
    max_abandon_rate: Decimal | None = None  # e.g. Decimal("0.05")
    delivery_within_minutes: int | None = None
    delivery_share: Decimal | None = None
    penalty_per_miss: Decimal = Decimal(0)  # amount per promise missed
    penalty_percent: Decimal = Decimal(0)  # share of the month's fee per promise missed, e.g. Decimal("0.05")
    short_abandon_seconds: int = 5


@dataclass(frozen=True)
class Check:
    name: str  # "service_level", "abandon_rate", "delivery"
    target: Decimal
    measured: Decimal | None  # None: nothing to measure (no call / no message): counts as met
    met: bool
    penalty: Decimal


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def met(self) -> bool:
        return all(check.met for check in self.checks)

    @property
    def penalty(self) -> Decimal:
        return sum((check.penalty for check in self.checks), _ZERO)


def _share(value: float | None) -> Decimal | None:
    """A share as a Decimal to 4 places, half up (from the float's shortest spelling)."""
    return None if value is None else Decimal(repr(value)).quantize(_PLACES, rounding=ROUND_HALF_UP)


def _amount(value: object, what: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise SlaError(f"{what} must be a Decimal of 0 or more, not {value!r}.")
    return value


def _target(value: object, what: str) -> Decimal:
    share = _amount(value, what)
    if share > 1:
        raise SlaError(f"{what} is a share between 0 and 1 (0.90 for 90 %), not {share}.")
    return share


def _seconds(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SlaError(f"{what} must be a whole number of 0 or more, not {value!r}.")
    return value


def _check_promise(promise: Promise) -> None:
    if promise.answer_share is not None and promise.answer_within_seconds is None:
        raise SlaError("The promise gives a share of calls answered in time but not the time.")
    if promise.delivery_share is not None and promise.delivery_within_minutes is None:
        raise SlaError("The promise gives a share of messages delivered in time but not the time.")
    if promise.answer_within_seconds is not None:
        seconds = _seconds(promise.answer_within_seconds, "answer_within_seconds")
        if seconds % kpis.BUCKET_SECONDS or seconds > _LONGEST:
            raise SlaError(
                f"answer_within_seconds is a multiple of {kpis.BUCKET_SECONDS} s up to {_LONGEST} s, "
                f"not {seconds}."
            )
    if promise.delivery_within_minutes is not None:
        _seconds(promise.delivery_within_minutes, "delivery_within_minutes")
    _seconds(promise.short_abandon_seconds, "short_abandon_seconds")
    _amount(promise.penalty_per_miss, "penalty_per_miss")
    _target(promise.penalty_percent, "penalty_percent")


def evaluate(
    promise: Promise, figures: kpis.Figures, delivery_seconds: Sequence[float], monthly_fee: Decimal
) -> Report:
    """The month's checks of ``promise``: ``figures`` are the month's (merged), ``delivery_seconds`` how
    long each message took to be delivered, ``monthly_fee`` the base of ``penalty_percent``."""
    _check_promise(promise)
    _amount(monthly_fee, "monthly_fee")
    miss_penalty = (promise.penalty_per_miss + promise.penalty_percent * monthly_fee).quantize(
        _CENT, rounding=ROUND_HALF_UP
    )
    short = min(_LONGEST, promise.short_abandon_seconds - promise.short_abandon_seconds % kpis.BUCKET_SECONDS)
    threshold = promise.answer_within_seconds if promise.answer_within_seconds is not None else 20
    indicators = kpis.indicators(
        figures, kpis.Settings(threshold_seconds=threshold, short_abandon_seconds=short, variant="offered")
    )
    checks: list[Check] = []

    def add(name: str, target: Decimal, measured: Decimal | None, met: bool) -> None:
        checks.append(Check(name, target, measured, met, _ZERO if met else miss_penalty))

    if promise.answer_share is not None:
        target = _target(promise.answer_share, "answer_share")
        measured = _share(indicators.service_level)
        add("service_level", target, measured, measured is None or measured >= target)
    if promise.max_abandon_rate is not None:
        target = _target(promise.max_abandon_rate, "max_abandon_rate")
        measured = _share(indicators.abandon_rate)
        add("abandon_rate", target, measured, measured is None or measured <= target)
    if promise.delivery_share is not None and promise.delivery_within_minutes is not None:
        target = _target(promise.delivery_share, "delivery_share")
        limit = promise.delivery_within_minutes * 60
        in_time = sum(1 for seconds in delivery_seconds if seconds <= limit)
        measured = (
            (Decimal(in_time) / Decimal(len(delivery_seconds))).quantize(_PLACES, rounding=ROUND_HALF_UP)
            if delivery_seconds
            else None
        )
        add("delivery", target, measured, measured is None or measured >= target)
    return Report(tuple(checks))
