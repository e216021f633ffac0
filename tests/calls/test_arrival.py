"""At arrival, the account's hours, state and after-hours policy decide each call (through the database)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from factories import office_hours
from permanence.accounts.models import HoursException
from permanence.calls import services
from permanence.calls.models import Call
from permanence.messaging.models import CallbackTask

PARIS = ZoneInfo("Europe/Paris")
SATURDAY_3AM = datetime(2026, 12, 5, 3, 0, tzinfo=PARIS)
TUESDAY_10AM = datetime(2026, 12, 8, 10, 0, tzinfo=PARIS)
CHRISTMAS_10AM = datetime(2026, 12, 25, 10, 0, tzinfo=PARIS)  # a Friday
MONDAY_9AM = datetime(2026, 12, 7, 9, 0, tzinfo=PARIS)


@pytest.fixture
def alpha(alpha):
    return office_hours(alpha)


def arrive(at, caller="06 12 34 56 78", **kw):
    return services.call_arrived("01 45 00 00 01", caller, at=at, **kw)


def decision(call):
    event = call.events.order_by("seq")[1]
    return event.kind, event.detail


def test_a_call_in_the_opening_hours_is_queued_with_its_reason(alpha):
    call = arrive(TUESDAY_10AM)
    assert call.state == "queued"
    assert decision(call) == ("queued", {"action": "serve", "reason": "open"})


def test_a_call_at_3am_on_a_saturday_gets_the_closed_greeting_and_the_voicemail(alpha):
    call = arrive(SATURDAY_3AM)
    assert call.state == "not_served"
    assert decision(call) == ("not_served", {"action": "voicemail", "reason": "hours"})
    assert services.waiting_calls() == []  # nobody is offered it
    text = services.closed_text(alpha, services.admit(alpha, call.caller, SATURDAY_3AM), SATURDAY_3AM)
    assert "lundi 7 décembre à 09:00" in text  # in the account's language (French)
    assert "fermés" in text and "message après le bip" in text  # the account's language (French)


def test_a_terminated_accounts_number_is_not_in_service_even_in_its_hours(alpha):
    alpha.status = "closed"
    alpha.save()
    call = arrive(TUESDAY_10AM)
    assert decision(call) == ("not_served", {"action": "not_in_service", "reason": "terminated"})
    text = services.closed_text(alpha, services.admit(alpha, call.caller, TUESDAY_10AM))
    assert text == "Le numéro que vous avez demandé n'est plus en service."


def test_a_suspended_account_applies_its_policy_in_its_hours(alpha):
    alpha.status, alpha.after_hours = "suspended", "message"
    alpha.save()
    assert decision(arrive(TUESDAY_10AM)) == ("not_served", {"action": "message", "reason": "suspended"})


def test_public_holidays_and_exceptional_closures_are_reasons_of_their_own(alpha):
    assert decision(arrive(CHRISTMAS_10AM))[1]["reason"] == "holiday"
    HoursException.objects.create(
        account=alpha, start_date=date(2026, 12, 8), end_date=date(2026, 12, 8), label="Séminaire"
    )
    assert decision(arrive(TUESDAY_10AM))[1]["reason"] == "exception"


def test_forward_to_the_on_call_number(alpha):
    alpha.after_hours, alpha.on_call_number = "forward", "+33698765432"
    alpha.save()
    assert decision(arrive(SATURDAY_3AM)) == (
        "not_served",
        {"action": "forward", "reason": "hours", "to": "+33698765432"},
    )


def test_a_call_back_task_is_due_at_the_reopening_and_a_withheld_number_gets_the_voicemail(alpha):
    alpha.after_hours = "callback"
    alpha.save()
    call = arrive(SATURDAY_3AM)
    task = CallbackTask.objects.get(call=call)
    assert (task.number, task.due_at) == ("+33612345678", MONDAY_9AM)
    withheld = arrive(SATURDAY_3AM, caller=None)
    assert decision(withheld)[1]["action"] == "voicemail"
    assert not CallbackTask.objects.filter(call=withheld).exists()


def test_training_calls_are_served_at_any_hour(alpha):
    alpha.status = "suspended"
    alpha.save()
    call = arrive(SATURDAY_3AM, training=True)
    assert call.state == "queued"
    assert decision(call)[1] == {"action": "serve", "reason": "training"}


def test_every_account_has_a_maximum_wait_by_default(alpha):
    assert alpha.max_wait_seconds == 120
    call = arrive(TUESDAY_10AM)
    [row] = services.waiting_calls()
    router = services.load_router([row], TUESDAY_10AM)
    assert [f.call for f in router.expired(datetime(2026, 12, 8, 10, 2, 1, tzinfo=PARIS))] == [call.pk]
    assert Call.objects.get(pk=call.pk).state == "queued"  # until a dispatch acts on it
