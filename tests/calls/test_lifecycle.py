"""Every event of a call's life, in order, with timestamps that never go back."""

from datetime import UTC, datetime, timedelta

import pytest

from permanence.calls.lifecycle import Event, Kind, LifecycleError, State, fold

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def at(seconds):
    return T0 + timedelta(seconds=seconds)


def events(*items):
    return [
        Event(Kind(kind), at(s), **extra) for kind, s, *rest in items for extra in [rest[0] if rest else {}]
    ]


def test_a_full_call_with_a_refused_transfer_then_a_message():
    summary = fold(
        events(
            ("arrived", 0),
            ("queued", 0),
            ("offered", 2, {"secretary": 7}),
            ("offer_expired", 12),
            ("offered", 12, {"secretary": 8}),
            ("answered", 15, {"secretary": 8}),
            ("transfer_requested", 60, {"detail": {"to": "claire-durand", "mode": "announced"}}),
            ("transfer_result", 80, {"detail": {"result": "refused"}}),
            ("on_hold", 85),
            ("resumed", 95),
            ("ended", 140),
            ("wrapped_up", 170),
        )
    )
    assert summary.state is State.DONE
    assert summary.wait_seconds == 15 and summary.talk_seconds == 125
    assert summary.offers == 2 and summary.secretary == 8
    assert summary.transfers == [
        {"to": "claire-durand", "mode": "announced", "requested_at": at(60), "result": "refused"}
    ]
    assert summary.ended_by == "secretary" and summary.wrapped_up_at == at(170)


def test_an_accepted_transfer_ends_the_secretarys_part():
    summary = fold(
        events(
            ("arrived", 0),
            ("queued", 0),
            ("offered", 1),
            ("answered", 3),
            ("transfer_requested", 30, {"detail": {"to": "x", "mode": "blind"}}),
            ("transfer_result", 35, {"detail": {"result": "accepted"}}),
            ("wrapped_up", 50),
        )
    )
    assert summary.state is State.DONE and summary.ended_by == "transfer" and summary.talk_seconds == 32


def test_caller_hanging_up_while_queued_is_abandoned_with_its_wait():
    summary = fold(
        events(("arrived", 0), ("queued", 0), ("offered", 5), ("offer_expired", 15), ("caller_hung_up", 47))
    )
    assert summary.abandoned and summary.wait_seconds == 47 and summary.answered_at is None
    assert summary.talk_seconds is None and summary.ended_by == "caller"


def test_caller_hanging_up_during_the_call_is_not_abandoned():
    summary = fold(
        events(
            ("arrived", 0),
            ("queued", 0),
            ("offered", 1),
            ("answered", 2),
            ("caller_hung_up", 30),
            ("wrapped_up", 40),
        )
    )
    assert not summary.abandoned and summary.state is State.DONE and summary.ended_by == "caller"


@pytest.mark.parametrize(
    "items",
    [
        [("arrived", 0), ("answered", 1)],  # never offered
        [("arrived", 0), ("queued", 0), ("offered", 1), ("answered", 2), ("answered", 3)],
        [("arrived", 0), ("queued", 0), ("caller_hung_up", 3), ("queued", 4)],  # after the end
        [("arrived", 0), ("queued", 0), ("offered", 1), ("answered", 2), ("wrapped_up", 3)],  # not ended
        [("queued", 0)],
    ],
)
def test_impossible_orders_are_refused(items):
    with pytest.raises(LifecycleError):
        fold(events(*items))


def test_timestamps_never_go_back_and_must_be_aware():
    with pytest.raises(LifecycleError, match="back in time"):
        fold(events(("arrived", 10), ("queued", 5)))
    with pytest.raises(LifecycleError, match="aware"):
        fold([Event(Kind.ARRIVED, datetime(2026, 1, 1))])


def test_transfer_result_must_be_known():
    with pytest.raises(LifecycleError):
        fold(
            events(
                ("arrived", 0),
                ("queued", 0),
                ("offered", 1),
                ("answered", 2),
                ("transfer_requested", 3, {"detail": {"to": "x"}}),
                ("transfer_result", 4, {"detail": {"result": "maybe"}}),
            )
        )


def test_a_call_diverted_at_the_maximum_wait_is_over_with_its_wait():
    summary = fold(events(("arrived", 0), ("queued", 0), ("diverted", 90, {"detail": {"to": "callback"}})))
    assert summary.state is State.DIVERTED and summary.diverted_to == "callback"
    assert summary.wait_seconds == 90 and summary.answered_at is None and not summary.abandoned
    with pytest.raises(LifecycleError, match="diverted to one of"):
        fold(events(("arrived", 0), ("queued", 0), ("diverted", 90, {"detail": {"to": "nowhere"}})))
    with pytest.raises(LifecycleError, match="cannot happen"):  # only a queued call: not once answered
        fold(
            events(
                ("arrived", 0),
                ("queued", 0),
                ("offered", 1),
                ("answered", 2),
                ("diverted", 9, {"detail": {"to": "voicemail"}}),
            )
        )


def test_a_call_turned_away_at_arrival_is_over_with_its_reason_and_no_wait():
    summary = fold(
        events(("arrived", 0), ("not_served", 0, {"detail": {"action": "voicemail", "reason": "holiday"}}))
    )
    assert summary.state is State.NOT_SERVED
    assert (summary.not_served, summary.turned_to, summary.ended_by) == ("holiday", "voicemail", "account")
    assert summary.wait_seconds is None and summary.answered_at is None


@pytest.mark.parametrize(
    "detail", [{}, {"action": "voicemail"}, {"action": "queue", "reason": "hours"}, {"reason": "hours"}]
)
def test_not_served_must_say_why_and_what_the_caller_got(detail):
    with pytest.raises(LifecycleError):
        fold(events(("arrived", 0), ("not_served", 0, {"detail": detail})))


def test_a_queued_call_cannot_be_turned_away_afterwards():
    with pytest.raises(LifecycleError):
        fold(
            events(
                ("arrived", 0),
                ("queued", 0),
                ("not_served", 5, {"detail": {"action": "voicemail", "reason": "hours"}}),
            )
        )
