"""What a secretary's desk is told, as typed events: an offer made or withdrawn, her status changed, a
call of hers ended, its caller gone, a transfer's result.

``calls.services`` publishes them once the transaction that made them true has committed (never from
inside it: a page told of an offer that a rollback undid would show a call that is not hers); each
reaches her open desk pages over the WebSocket (group ``desk.<user id>``) as its ``payload()``, whose
``type`` the desk's script dispatches on. ``fold`` rebuilds a desk's state from its events, which is
what the pages do and what the tests compare with the database.

Plain Python: no Django import.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class DeskEvent:
    secretary: int

    type = ""  # the payload's type, read by the desk's script (desk:<type> in the browser)

    def payload(self) -> dict[str, Any]:
        data = asdict(self)
        del data["secretary"]
        return {"type": self.type, **data}


@dataclass(frozen=True)
class OfferMade(DeskEvent):
    call: int
    account: str
    account_slug: str
    caller: str  # as shown: formatted, or "" when withheld
    training: bool
    expires_at: str | None  # ISO 8601

    type = "offer"


@dataclass(frozen=True)
class OfferWithdrawn(DeskEvent):
    """The offer is no longer hers: it rang out, she declined it or paused, or the caller left."""

    call: int
    why: str  # "expired", "declined", "caller_hung_up"

    type = "offer_withdrawn"


@dataclass(frozen=True)
class StatusChanged(DeskEvent):
    """Her desk's status: ready, paused (with the reason), offline, on a call or wrapping one up; with
    the call she has, if any (on it, wrapping it up, or gone offline in its middle)."""

    status: str
    reason: str = ""
    call: int | None = None

    type = "status"


@dataclass(frozen=True)
class CallerHungUp(DeskEvent):
    call: int

    type = "caller_hung_up"


@dataclass(frozen=True)
class TransferResult(DeskEvent):
    call: int
    result: str

    type = "transfer_result"


@dataclass(frozen=True)
class CallEnded(DeskEvent):
    """Her call is over: wrapped up (or closed without her)."""

    call: int

    type = "call_ended"


BUSY = ("on_call", "wrap_up")  # the statuses that name a call


@dataclass
class DeskState:
    """What a desk page knows from its events alone."""

    status: str = "offline"
    offer: int | None = None  # the call offered to her
    call: int | None = None  # the call she is on or wrapping up
    seen: list[str] = field(default_factory=list)


def fold(state: DeskState, event: DeskEvent) -> DeskState:
    """Apply one event to a desk's state (in place; returned for chaining)."""
    state.seen.append(event.type)
    if isinstance(event, OfferMade):
        state.offer = event.call
    elif isinstance(event, OfferWithdrawn):
        if state.offer == event.call:
            state.offer = None
    elif isinstance(event, StatusChanged):
        state.status, state.call = event.status, event.call  # offline mid-call: the call is still hers
        if event.call is not None and state.offer == event.call:
            state.offer = None  # answered
    elif isinstance(event, CallEnded) and state.call == event.call:
        state.call = None
    return state


KINDS: dict[str, type[DeskEvent]] = {
    kind.type: kind
    for kind in (OfferMade, OfferWithdrawn, StatusChanged, CallerHungUp, TransferResult, CallEnded)
}


def parse(secretary: int, payload: dict[str, Any]) -> DeskEvent:
    """The event a payload carries (what a desk page received), for ``fold``."""
    data = dict(payload)
    kind = KINDS[data.pop("type")]
    return kind(secretary=secretary, **data)
