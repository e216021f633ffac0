"""The arrival decision: the account's state, hours and after-hours policy decide each call."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from permanence.calls.admission import Action, AdmissionError, Reason, decide

MONDAY_9 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def test_an_open_active_account_serves_the_call():
    decision = decide(state="active", is_open=True)
    assert (decision.action, decision.reason, decision.served) == (Action.SERVE, Reason.OPEN, True)
    assert decision.detail() == {"action": "serve", "reason": "open"}


def test_a_terminated_account_is_not_in_service_at_any_hour_whatever_its_policy():
    for is_open in (True, False):
        for policy in ("voicemail", "forward", "callback", "message"):
            decision = decide(state="closed", is_open=is_open, policy=policy, on_call_number="+33600000000")
            assert (decision.action, decision.reason) == (Action.NOT_IN_SERVICE, Reason.TERMINATED)
            assert not decision.served


@pytest.mark.parametrize(
    ("because", "reason"),
    [("weekly", Reason.HOURS), ("holiday", Reason.HOLIDAY), ("exception", Reason.EXCEPTION)],
)
def test_a_closed_account_applies_its_policy_with_the_reason_of_the_closure(because, reason):
    decision = decide(state="active", is_open=False, closed_because=because, policy="message")
    assert (decision.action, decision.reason) == (Action.MESSAGE, reason)


def test_suspended_and_onboarding_accounts_are_not_served_even_when_open():
    assert decide(state="suspended", is_open=True).reason is Reason.SUSPENDED
    assert decide(state="suspended", is_open=True).action is Action.VOICEMAIL
    assert decide(state="onboarding", is_open=True, policy="message").action is Action.MESSAGE
    assert decide(state="onboarding", is_open=True).reason is Reason.ONBOARDING


def test_forward_goes_to_the_on_call_number_and_falls_back_to_voicemail_without_one():
    forwarded = decide(state="active", is_open=False, policy="forward", on_call_number="+33612345678")
    assert (forwarded.action, forwarded.forward_to) == (Action.FORWARD, "+33612345678")
    assert forwarded.detail()["to"] == "+33612345678"
    nowhere = decide(state="active", is_open=False, policy="forward")
    assert (nowhere.action, nowhere.note) == (Action.VOICEMAIL, "no on-call number")


def test_a_callback_is_due_at_the_next_opening_and_needs_the_callers_number():
    due = decide(
        state="active", is_open=False, policy="callback", caller="+33612345678", next_opening=MONDAY_9
    )
    assert (due.action, due.next_opening) == (Action.CALLBACK, MONDAY_9)
    assert due.detail()["next_opening"] == "2026-12-07T08:00:00+00:00"
    withheld = decide(state="active", is_open=False, policy="callback", caller="", next_opening=MONDAY_9)
    assert withheld.action is Action.VOICEMAIL
    assert "withheld" in withheld.note
    suspended = decide(state="suspended", is_open=True, policy="callback", caller="+33612345678",
                       next_opening=MONDAY_9)  # fmt: skip
    assert suspended.next_opening is None  # not a matter of hours: as soon as someone can


def test_training_calls_are_served_at_any_hour_and_in_any_state():
    for state in ("active", "suspended", "onboarding", "closed"):
        decision = decide(state=state, is_open=False, training=True)
        assert (decision.action, decision.reason) == (Action.SERVE, Reason.TRAINING)


def test_unknown_states_and_policies_are_refused():
    with pytest.raises(AdmissionError):
        decide(state="paused", is_open=True)
    with pytest.raises(AdmissionError):
        decide(state="active", is_open=False, policy="serve")
