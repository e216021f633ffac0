"""Call-centre figures from call events. Pure core: no Django import.

A call's events (``calls.lifecycle``) are first reduced to its ``CallFacts``; the facts of many calls
add up into ``Figures`` per key (account, secretary, or everything) and per interval (15, 30 or 60
minutes, a day, a month, in local time). ``Figures`` only holds sums, counts, maxima and histograms,
so figures of small intervals add up exactly into larger ones (the rollups store them); the
indicators (service level, ASA, AHT…) are read from them with ``Settings`` (threshold, short-abandon
limit, service-level variant). Each definition is in ``docs/kpis.md``.

A call counts in the interval of its arrival (its wait, answer and handling too); occupancy, which
is about time, splits the secretaries' handling and presence over the intervals they fall in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, tzinfo
from typing import Literal

from permanence.calls import admission, lifecycle

BUCKET_SECONDS = 5
BUCKETS = 121  # waits of 0 s, up to 5 s, …, up to 600 s; the last one also holds the longer ones
Grain = Literal["15min", "30min", "60min", "day", "month"]
GRAINS: tuple[Grain, ...] = ("15min", "30min", "60min", "day", "month")
Variant = Literal["offered", "answered", "without_short_abandons", "without_abandons_in_time"]
VARIANTS: tuple[Variant, ...] = ("offered", "answered", "without_short_abandons", "without_abandons_in_time")


class KpiError(ValueError):
    pass


@dataclass(frozen=True)
class CallFacts:
    call: int
    account: int
    caller: str  # "" when withheld
    arrived_at: datetime
    secretary: int | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None  # end of the conversation (or the hang-up of an abandoned call)
    wrapped_up_at: datetime | None = None
    abandoned: bool = False
    diverted: bool = False  # sent to the account's fallback at its maximum wait
    not_served: str | None = None  # turned away at arrival: the reason (``calls.admission.Reason``)
    hold_seconds: float = 0.0
    transferred: bool = False  # put through to a collaborator who took it

    @property
    def wait_seconds(self) -> float | None:
        end = self.answered_at or (self.ended_at if self.abandoned or self.diverted else None)
        return None if end is None else max(0.0, (end - self.arrived_at).total_seconds())


def facts(call: int, account: int, caller: str, events: Iterable[lifecycle.Event]) -> CallFacts | None:
    """A call's facts from its events (None for a call that never arrived)."""
    summary = lifecycle.Summary()
    hold = 0.0
    held_since: datetime | None = None
    for event in events:
        lifecycle.apply(summary, event)
        if event.kind is lifecycle.Kind.ON_HOLD:
            held_since = event.at
        elif held_since is not None and event.kind in (
            lifecycle.Kind.RESUMED,
            lifecycle.Kind.ENDED,
            lifecycle.Kind.CALLER_HUNG_UP,
            lifecycle.Kind.TRANSFER_REQUESTED,
            lifecycle.Kind.LINE_LOST,
        ):
            hold += (event.at - held_since).total_seconds()
            held_since = None
    if summary.arrived_at is None:
        return None
    return CallFacts(
        call=call,
        account=account,
        caller=caller,
        arrived_at=summary.arrived_at,
        secretary=summary.secretary,
        answered_at=summary.answered_at,
        ended_at=summary.ended_at,
        wrapped_up_at=summary.wrapped_up_at,
        abandoned=summary.abandoned,
        diverted=summary.diverted_to is not None,
        not_served=summary.not_served,
        hold_seconds=hold,
        transferred=any(t.get("result") == lifecycle.TRANSFER_ACCEPTED for t in summary.transfers),
    )


def _bucket(wait: float) -> int:
    return min(BUCKETS - 1, math.ceil(wait / BUCKET_SECONDS - 1e-9)) if wait > 0 else 0


@dataclass
class Figures:
    """Additive figures of a set of calls (and of secretaries' time)."""

    offered: int = 0  # calls served: queued in the account's hours (turned-away calls are counted apart)
    out_of_hours: int = 0  # turned away because the account was closed (hours, holiday, closure)
    not_in_service: int = 0  # turned away because of the account's state (suspended, terminated...)
    voice_menu: int = 0  # served by the voice menu: information then goodbye, or a voicemail by choice
    answered: int = 0
    abandoned: int = 0
    diverted: int = 0  # sent to the fallback (voicemail, call-back) at the account's maximum wait
    answered_waits: list[int] = field(default_factory=lambda: [0] * BUCKETS)  # histogram
    abandoned_waits: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    wait_answered_seconds: float = 0.0
    wait_all_seconds: float = 0.0
    longest_wait_seconds: float = 0.0
    handled: int = 0  # answered calls whose handling is over (ended and wrapped up)
    talk_seconds: float = 0.0
    hold_seconds: float = 0.0
    wrap_seconds: float = 0.0
    transferred: int = 0
    fcr_eligible: int = 0  # answered, caller known, the whole window observed
    fcr_resolved: int = 0  # of those, no new call from the caller to the account within the window
    handling_seconds: float = 0.0  # secretaries' time on calls (answer to wrap-up), by time
    staffed_seconds: float = 0.0  # secretaries' time available or on calls, by time
    messages_sent: int = 0
    messages_acknowledged: int = 0

    def add(self, other: Figures) -> Figures:
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.longest_wait_seconds = max(self.longest_wait_seconds, other.longest_wait_seconds)
        self.answered_waits = [a + b for a, b in zip(self.answered_waits, other.answered_waits, strict=True)]
        self.abandoned_waits = [
            a + b for a, b in zip(self.abandoned_waits, other.abandoned_waits, strict=True)
        ]
        return self

    def answered_within(self, seconds: float) -> int:
        return sum(self.answered_waits[: _threshold_index(seconds) + 1])

    def abandoned_within(self, seconds: float) -> int:
        return sum(self.abandoned_waits[: _threshold_index(seconds) + 1])


#: the figures that add up as plain sums (every field but the longest wait and the histograms)
_MERGED_OTHERWISE = ("longest_wait_seconds", "answered_waits", "abandoned_waits")
_SUMMED = tuple(f.name for f in fields(Figures) if f.name not in _MERGED_OTHERWISE)


def _threshold_index(seconds: float) -> int:
    if seconds < 0 or seconds % BUCKET_SECONDS or seconds > (BUCKETS - 2) * BUCKET_SECONDS:
        raise KpiError(
            f"Thresholds are whole multiples of {BUCKET_SECONDS} s up to {(BUCKETS - 2) * BUCKET_SECONDS} s."
        )
    return int(seconds // BUCKET_SECONDS)


@dataclass(frozen=True)
class Settings:
    threshold_seconds: float = 20.0
    short_abandon_seconds: float = 5.0
    variant: Variant = "offered"
    fcr_window: timedelta = timedelta(hours=72)

    def __post_init__(self) -> None:
        _threshold_index(self.threshold_seconds)
        _threshold_index(self.short_abandon_seconds)
        if self.variant not in VARIANTS:
            raise KpiError(f"Unknown service level variant {self.variant!r}.")


@dataclass(frozen=True)
class Indicators:
    offered: int
    out_of_hours: int
    not_in_service: int
    voice_menu: int
    answered: int
    abandoned: int
    short_abandoned: int
    diverted: int
    service_level: float | None
    asa_seconds: float | None
    average_wait_seconds: float | None
    longest_wait_seconds: float
    aht_seconds: float | None
    transfer_rate: float | None
    first_call_resolution: float | None
    occupancy: float | None
    abandon_rate: float | None
    messages_sent: int
    messages_acknowledged: int


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def indicators(f: Figures, s: Settings = Settings()) -> Indicators:
    short = f.abandoned_within(s.short_abandon_seconds)
    in_time = f.answered_within(s.threshold_seconds)
    denominator = {
        "offered": f.offered,
        "answered": f.answered,
        "without_short_abandons": f.offered - short,
        "without_abandons_in_time": f.offered - f.abandoned_within(s.threshold_seconds),
    }[s.variant]
    return Indicators(
        offered=f.offered,
        out_of_hours=f.out_of_hours,
        not_in_service=f.not_in_service,
        voice_menu=f.voice_menu,
        answered=f.answered,
        abandoned=f.abandoned - short,
        short_abandoned=short,
        diverted=f.diverted,
        service_level=_share(in_time, denominator),
        asa_seconds=_share(f.wait_answered_seconds, f.answered),
        average_wait_seconds=_share(f.wait_all_seconds, f.answered + f.abandoned + f.diverted),
        longest_wait_seconds=f.longest_wait_seconds,
        aht_seconds=_share(f.talk_seconds + f.hold_seconds + f.wrap_seconds, f.handled),
        transfer_rate=_share(f.transferred, f.answered),
        first_call_resolution=_share(f.fcr_resolved, f.fcr_eligible),
        occupancy=_share(f.handling_seconds, f.staffed_seconds),
        abandon_rate=_share(f.abandoned - short, f.offered - short),
        messages_sent=f.messages_sent,
        messages_acknowledged=f.messages_acknowledged,
    )


def interval_start(at: datetime, grain: Grain, zone: tzinfo) -> datetime:
    """The start of the interval holding ``at``, in local time (an aware datetime)."""
    if at.tzinfo is None:
        raise KpiError("Timestamps must carry a time zone.")
    local = at.astimezone(zone)
    if grain == "month":
        return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if grain == "day":
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
    minutes = {"15min": 15, "30min": 30, "60min": 60}.get(grain)
    if minutes is None:
        raise KpiError(f"Unknown interval {grain!r}.")
    # on the UTC timeline (a local clock going back at the end of summer time repeats an hour)
    utc = at.timestamp()
    return datetime.fromtimestamp(utc - utc % (minutes * 60), zone)


def _next_start(start: datetime, grain: Grain, zone: tzinfo) -> datetime:
    if grain == "month":
        first = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        return first.replace(tzinfo=zone)
    if grain == "day":
        return datetime.combine(start.date() + timedelta(days=1), start.time(), tzinfo=zone)
    minutes = {"15min": 15, "30min": 30, "60min": 60}[grain]
    return datetime.fromtimestamp(start.timestamp() + minutes * 60, zone)


Key = int | None  # an account, a secretary, or None for everything
By = Literal["account", "secretary", "total"]


@dataclass(frozen=True)
class Presence:
    """A secretary available or on calls from ``start`` to ``end`` (pauses and offline excluded)."""

    secretary: int
    account: int | None  # None: not tied to one account
    start: datetime
    end: datetime


@dataclass(frozen=True)
class MessageFact:
    account: int
    secretary: int | None
    sent_at: datetime
    acknowledged: bool


def _key(by: By, account: int, secretary: int | None) -> Key:
    return account if by == "account" else secretary if by == "secretary" else None


def _spread(
    out: dict[tuple[Key, datetime], Figures],
    key: Key,
    start: datetime,
    end: datetime,
    grain: Grain,
    zone: tzinfo,
    attribute: str,
) -> None:
    """Add the seconds of [start, end) to each interval they fall in."""
    cursor = interval_start(start, grain, zone)
    moment = start
    while moment < end:
        following = _next_start(cursor, grain, zone)
        piece = (min(end, following) - moment).total_seconds()
        target = out.setdefault((key, cursor), Figures())
        setattr(target, attribute, getattr(target, attribute) + piece)
        moment, cursor = min(end, following), following


def compute(
    calls: Sequence[CallFacts],
    *,
    by: By,
    grain: Grain,
    zone: tzinfo,
    fcr_window: timedelta = Settings().fcr_window,
    observed_until: datetime | None = None,
    presences: Iterable[Presence] = (),
    messages: Iterable[MessageFact] = (),
    arrivals: Iterable[tuple[int, str, datetime]] | None = None,
) -> dict[tuple[Key, datetime], Figures]:
    """Figures per key and interval. First-call resolution needs what came after each call: pass all
    the calls of the period plus the window after it, or every arrival as (account, caller, time) in
    ``arrivals``; a call whose window goes past ``observed_until`` is not counted yet."""
    out: dict[tuple[Key, datetime], Figures] = {}
    later_calls: dict[tuple[int, str], list[datetime]] = {}
    seen = arrivals if arrivals is not None else ((c.account, c.caller, c.arrived_at) for c in calls)
    for account, caller, arrived in seen:
        if caller:
            later_calls.setdefault((account, caller), []).append(arrived)
    for call in calls:
        key = _key(by, call.account, call.secretary)
        f = out.setdefault((key, interval_start(call.arrived_at, grain, zone)), Figures())
        if call.not_served is not None:
            if call.not_served in admission.OUT_OF_HOURS:
                f.out_of_hours += 1
            elif call.not_served == admission.Reason.VOICE_MENU:
                f.voice_menu += 1
            else:
                f.not_in_service += 1
            continue
        f.offered += 1
        wait = call.wait_seconds
        if wait is not None:
            f.wait_all_seconds += wait
            f.longest_wait_seconds = max(f.longest_wait_seconds, wait)
        if call.abandoned:
            f.abandoned += 1
            f.abandoned_waits[_bucket(wait or 0.0)] += 1
        elif call.diverted:
            f.diverted += 1
        elif call.answered_at is not None:
            f.answered += 1
            f.answered_waits[_bucket(wait or 0.0)] += 1
            f.wait_answered_seconds += wait or 0.0
            f.transferred += call.transferred
            if call.ended_at is not None and call.wrapped_up_at is not None:
                f.handled += 1
                f.talk_seconds += (call.ended_at - call.answered_at).total_seconds() - call.hold_seconds
                f.hold_seconds += call.hold_seconds
                f.wrap_seconds += (call.wrapped_up_at - call.ended_at).total_seconds()
            if call.caller and (observed_until is None or call.arrived_at + fcr_window <= observed_until):
                f.fcr_eligible += 1
                others = later_calls.get((call.account, call.caller), [])
                again = any(call.arrived_at < other <= call.arrived_at + fcr_window for other in others)
                f.fcr_resolved += not again
            handled_until = call.wrapped_up_at or call.ended_at
            if handled_until is not None:
                _spread(out, key, call.answered_at, handled_until, grain, zone, "handling_seconds")
    for presence in presences:
        key = presence.secretary if by == "secretary" else presence.account if by == "account" else None
        if by == "account" and presence.account is None:
            continue
        _spread(out, key, presence.start, presence.end, grain, zone, "staffed_seconds")
    for message in messages:
        f = out.setdefault(
            (_key(by, message.account, message.secretary), interval_start(message.sent_at, grain, zone)),
            Figures(),
        )
        f.messages_sent += 1
        f.messages_acknowledged += message.acknowledged
    return out


def merge(parts: Iterable[Figures]) -> Figures:
    total = Figures()
    for part in parts:
        total.add(part)
    return total


@dataclass(frozen=True)
class Csat:
    """Customer satisfaction from 1-5 answers: CSAT is the share of satisfied answers (4 or 5), the
    usual definition; the mean is shown beside it."""

    answers: int
    satisfied: int
    mean: float | None

    @property
    def percent(self) -> float | None:
        return _share(100 * self.satisfied, self.answers)


def csat(ratings: Iterable[int]) -> Csat:
    given = list(ratings)
    wrong = [r for r in given if isinstance(r, bool) or r not in (1, 2, 3, 4, 5)]
    if wrong:
        raise KpiError(f"a satisfaction answer is 1 to 5, not {wrong[0]!r}")
    return Csat(len(given), sum(1 for r in given if r >= 4), sum(given) / len(given) if given else None)
