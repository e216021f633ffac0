"""What happens to a call when it arrives: served, or turned away and how. Pure core: no Django import.

The account's state, its opening hours at the instant of the call and its after-hours policy decide:

* a **terminated** account's number is "not in service" (nothing else is offered);
* an account **suspended** or still **onboarding** is not served: its after-hours policy applies;
* a **closed** account (weekly hours, public holiday, exceptional closure) is not served either: the
  closed greeting, then its policy: voicemail, forward to the on-call number, a call-back task at the
  next opening, or the greeting only;
* otherwise the call is **served**: it joins the queue.

A training call is always served (secretaries train at any hour). A policy that cannot be carried out
falls back to voicemail and says why: forwarding with no on-call number, a call-back to a withheld
number.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Action(enum.StrEnum):
    SERVE = "serve"
    VOICEMAIL = "voicemail"
    FORWARD = "forward"
    CALLBACK = "callback"
    MESSAGE = "message"  # the closed greeting only
    NOT_IN_SERVICE = "not_in_service"
    SELF_SERVICE = "self_service"  # the voice menu answered the caller (information, then goodbye)


class Reason(enum.StrEnum):
    OPEN = "open"
    TRAINING = "training"
    HOURS = "hours"  # the weekly hours say closed
    HOLIDAY = "holiday"
    EXCEPTION = "exception"  # an exceptional closure
    SUSPENDED = "suspended"
    ONBOARDING = "onboarding"
    TERMINATED = "terminated"
    VOICE_MENU = "voice_menu"  # the caller chose, in the account's voice menu, not to wait for a secretary


#: reasons of a call turned away because of the account's hours (the KPIs' "out of hours")
OUT_OF_HOURS = frozenset({Reason.HOURS, Reason.HOLIDAY, Reason.EXCEPTION})
POLICIES = (Action.VOICEMAIL, Action.FORWARD, Action.CALLBACK, Action.MESSAGE)
STATES = ("active", "suspended", "onboarding", "closed")  # accounts.AccountStatus values


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: Reason
    forward_to: str = ""  # the on-call number, for Action.FORWARD
    next_opening: datetime | None = None  # when a call-back is due (None: as soon as possible)
    note: str = ""  # why the policy could not be carried out as set, if so

    @property
    def served(self) -> bool:
        return self.action is Action.SERVE

    def detail(self) -> dict[str, str]:
        """What the call's event records (JSON)."""
        out = {"action": str(self.action), "reason": str(self.reason)}
        if self.forward_to:
            out["to"] = self.forward_to
        if self.next_opening is not None:
            out["next_opening"] = self.next_opening.isoformat()
        if self.note:
            out["note"] = self.note
        return out


class AdmissionError(ValueError):
    pass


def decide(
    *,
    state: str,
    is_open: bool,
    closed_because: str = "weekly",
    policy: str = "voicemail",
    on_call_number: str = "",
    caller: str = "",
    training: bool = False,
    next_opening: datetime | None = None,
) -> Decision:
    """The decision for a call arriving now.

    ``state`` is the account's status; ``is_open`` and ``closed_because`` ("weekly", "holiday" or
    "exception") come from the opening hours at the call's instant; ``policy`` is the after-hours
    policy (an Action other than serve and not_in_service).
    """
    if state not in STATES:
        raise AdmissionError(f"unknown account state {state!r}")
    if policy not in POLICIES:
        raise AdmissionError(f"unknown after-hours policy {policy!r}")
    if training:
        return Decision(Action.SERVE, Reason.TRAINING)
    if state == "closed":
        return Decision(Action.NOT_IN_SERVICE, Reason.TERMINATED)
    if state == "active" and is_open:
        return Decision(Action.SERVE, Reason.OPEN)
    if state == "suspended":
        reason = Reason.SUSPENDED
    elif state == "onboarding":
        reason = Reason.ONBOARDING
    else:
        reason = {"holiday": Reason.HOLIDAY, "exception": Reason.EXCEPTION}.get(closed_because, Reason.HOURS)
    action = Action(policy)
    if action is Action.FORWARD:
        if on_call_number:
            return Decision(Action.FORWARD, reason, forward_to=on_call_number)
        return Decision(Action.VOICEMAIL, reason, note="no on-call number")
    if action is Action.CALLBACK:
        if not caller:
            return Decision(Action.VOICEMAIL, reason, note="number withheld: nobody to call back")
        due = next_opening if reason in OUT_OF_HOURS else None
        return Decision(Action.CALLBACK, reason, next_opening=due)
    return Decision(action, reason)
