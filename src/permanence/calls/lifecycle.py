"""A call's life as timestamped events, and what they add up to. Pure core: no Django import.

The events are the single source for the desk, the KPIs and billing: they are
appended, never changed, and every one must be a legal next step of the call
with a timestamp no earlier than the previous one::

    arrived → queued → offered ─┬→ answered ─┬→ ended → wrapped_up
                 ▲              │            ├→ on_hold ⇄ resumed
                 ├ offer_expired/declined    └→ transfer_requested → transfer_result
                 └──────── line_lost (the secretary's phone left the call: the caller waits again)
    (caller_hung_up before answered: an abandoned call, with its waiting time;
     diverted: the account's maximum wait reached, the caller sent to its fallback;
     arrived → not_served: the account closed, suspended or terminated, see ``admission``)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Kind(enum.StrEnum):
    ARRIVED = "arrived"
    QUEUED = "queued"
    OFFERED = "offered"
    OFFER_EXPIRED = "offer_expired"
    OFFER_DECLINED = "offer_declined"
    ANSWERED = "answered"
    ON_HOLD = "on_hold"
    RESUMED = "resumed"
    TRANSFER_REQUESTED = "transfer_requested"
    TRANSFER_RESULT = "transfer_result"
    CALLER_HUNG_UP = "caller_hung_up"
    ENDED = "ended"
    WRAPPED_UP = "wrapped_up"
    DIVERTED = "diverted"  # waited the account's maximum: to voicemail, or a call-back task
    NOT_SERVED = "not_served"  # turned away at arrival (closed, suspended, terminated): ``admission``
    LINE_LOST = "line_lost"  # the secretary's phone left the call (browser closed...): back to the queue


class State(enum.StrEnum):
    NEW = "new"
    ARRIVED = "arrived"
    QUEUED = "queued"
    OFFERED = "offered"
    TALKING = "talking"
    ON_HOLD = "on_hold"
    TRANSFERRING = "transferring"
    WRAP_UP = "wrap_up"  # the line is closed, the secretary finishes the message
    DONE = "done"
    ABANDONED = "abandoned"
    DIVERTED = "diverted"
    NOT_SERVED = "not_served"


TRANSITIONS: dict[tuple[State, Kind], State] = {
    (State.NEW, Kind.ARRIVED): State.ARRIVED,
    (State.ARRIVED, Kind.QUEUED): State.QUEUED,
    (State.ARRIVED, Kind.NOT_SERVED): State.NOT_SERVED,
    (State.QUEUED, Kind.OFFERED): State.OFFERED,
    (State.OFFERED, Kind.OFFER_EXPIRED): State.QUEUED,
    (State.OFFERED, Kind.OFFER_DECLINED): State.QUEUED,
    (State.OFFERED, Kind.ANSWERED): State.TALKING,
    (State.TALKING, Kind.ON_HOLD): State.ON_HOLD,
    (State.ON_HOLD, Kind.RESUMED): State.TALKING,
    (State.TALKING, Kind.TRANSFER_REQUESTED): State.TRANSFERRING,
    (State.ON_HOLD, Kind.TRANSFER_REQUESTED): State.TRANSFERRING,
    (State.TRANSFERRING, Kind.TRANSFER_RESULT): State.TALKING,  # refused or unanswered: back to the caller
    (State.TALKING, Kind.ENDED): State.WRAP_UP,
    (State.ON_HOLD, Kind.ENDED): State.WRAP_UP,
    (State.TRANSFERRING, Kind.ENDED): State.WRAP_UP,
    (State.WRAP_UP, Kind.WRAPPED_UP): State.DONE,
    (State.ARRIVED, Kind.CALLER_HUNG_UP): State.ABANDONED,
    (State.QUEUED, Kind.CALLER_HUNG_UP): State.ABANDONED,
    (State.QUEUED, Kind.DIVERTED): State.DIVERTED,
    (State.OFFERED, Kind.CALLER_HUNG_UP): State.ABANDONED,
    (State.TALKING, Kind.CALLER_HUNG_UP): State.WRAP_UP,
    (State.ON_HOLD, Kind.CALLER_HUNG_UP): State.WRAP_UP,
    (State.TRANSFERRING, Kind.CALLER_HUNG_UP): State.WRAP_UP,
    (State.TALKING, Kind.LINE_LOST): State.QUEUED,
    (State.ON_HOLD, Kind.LINE_LOST): State.QUEUED,
    (State.TRANSFERRING, Kind.LINE_LOST): State.QUEUED,
}
#: a transfer accepted connects the caller to the collaborator: the secretary's part ends
TRANSFER_ACCEPTED = "accepted"
TRANSFER_RESULTS = ("accepted", "refused", "no_answer", "busy")
FALLBACKS = ("voicemail", "callback")
#: the states of a call whose caller waits for an answer (not yet talking to anyone)
UNANSWERED = (State.ARRIVED, State.QUEUED, State.OFFERED)
#: the states of a call that is over
OVER = (State.DONE, State.ABANDONED, State.DIVERTED, State.NOT_SERVED)
#: what a call turned away at arrival gets (``admission.Action`` other than serve)
TURNED_AWAY = ("voicemail", "forward", "callback", "message", "not_in_service", "self_service")


class LifecycleError(ValueError):
    """An event that cannot happen now (wrong order, or a timestamp going back)."""


@dataclass(frozen=True)
class Event:
    kind: Kind
    at: datetime
    secretary: int | None = None
    detail: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Summary:
    """What a call's events add up to (for the desk, KPIs and billing)."""

    state: State = State.NEW
    arrived_at: datetime | None = None
    queued_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    wrapped_up_at: datetime | None = None
    secretary: int | None = None
    offers: int = 0
    transfers: list[dict[str, Any]] = field(default_factory=list)
    ended_by: str | None = None
    diverted_to: str | None = None  # the fallback: voicemail or callback
    not_served: str | None = None  # turned away at arrival: the reason (hours, holiday, terminated...)
    turned_to: str | None = None  # ...and what the caller got (voicemail, forward, not_in_service...)
    last_at: datetime | None = None

    @property
    def abandoned(self) -> bool:
        return self.state is State.ABANDONED

    @property
    def wait_seconds(self) -> float | None:
        """From arrival to answer, or to the hang-up of an abandoned call."""
        end = self.answered_at or (self.ended_at if self.abandoned or self.diverted_to else None)
        if self.arrived_at is None or end is None:
            return None
        return (end - self.arrived_at).total_seconds()

    @property
    def talk_seconds(self) -> float | None:
        if self.answered_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.answered_at).total_seconds()


def apply(summary: Summary, event: Event) -> Summary:
    """The summary after ``event``; raises LifecycleError if it cannot happen now."""
    if event.at.tzinfo is None:
        raise LifecycleError("event timestamps must be aware")
    if summary.last_at is not None and event.at < summary.last_at:
        raise LifecycleError(f"{event.kind}: timestamp {event.at.isoformat()} goes back in time")
    if event.kind is Kind.TRANSFER_RESULT and event.detail.get("result") not in TRANSFER_RESULTS:
        raise LifecycleError(f"transfer result must be one of {', '.join(TRANSFER_RESULTS)}")
    if event.kind is Kind.DIVERTED and event.detail.get("to") not in FALLBACKS:
        raise LifecycleError(f"a call is diverted to one of {', '.join(FALLBACKS)}")
    if event.kind is Kind.NOT_SERVED and (
        event.detail.get("action") not in TURNED_AWAY or not event.detail.get("reason")
    ):
        raise LifecycleError(f"a call not served says why and goes to one of {', '.join(TURNED_AWAY)}")
    target = TRANSITIONS.get((summary.state, event.kind))
    if target is None:
        raise LifecycleError(f"{event.kind} cannot happen to a call that is {summary.state}")
    summary.state = target
    summary.last_at = event.at
    if event.kind is Kind.ARRIVED:
        summary.arrived_at = event.at
    elif event.kind is Kind.QUEUED:
        summary.queued_at = summary.queued_at or event.at
    elif event.kind is Kind.OFFERED:
        summary.offers += 1
    elif event.kind is Kind.ANSWERED:
        summary.answered_at = event.at
        summary.secretary = event.secretary
    elif event.kind is Kind.TRANSFER_REQUESTED:
        summary.transfers.append(
            {
                "to": event.detail.get("to"),
                "mode": event.detail.get("mode", "announced"),
                "requested_at": event.at,
                "result": None,
            }
        )
    elif event.kind is Kind.TRANSFER_RESULT:
        summary.transfers[-1]["result"] = event.detail["result"]
        if event.detail["result"] == TRANSFER_ACCEPTED:  # the caller now talks to the collaborator
            summary.state = State.WRAP_UP
            summary.ended_at = event.at
            summary.ended_by = "transfer"
    elif event.kind in (Kind.ENDED, Kind.CALLER_HUNG_UP):
        summary.ended_at = event.at
        summary.ended_by = "caller" if event.kind is Kind.CALLER_HUNG_UP else "secretary"
    elif event.kind is Kind.WRAPPED_UP:
        summary.wrapped_up_at = event.at
    elif event.kind is Kind.DIVERTED:
        summary.ended_at = event.at
        summary.ended_by = "fallback"
        summary.diverted_to = event.detail["to"]
    elif event.kind is Kind.NOT_SERVED:
        summary.ended_at = event.at
        summary.ended_by = "account"
        summary.not_served = str(event.detail["reason"])
        summary.turned_to = str(event.detail["action"])
    return summary


def fold(events: Iterable[Event]) -> Summary:
    summary = Summary()
    for event in events:
        apply(summary, event)
    return summary
