"""What a run asks of its host (``Run.submit``): a transfer, an appointment (confirmed by the host before
the run moves on), an identity check's attempt, the report ready. The engine only says it."""

import pytest

from permanence.scenarios.engine import checker
from permanence.scenarios.engine.identity import Verifier
from permanence.scenarios.engine.runtime import (
    AnswerError,
    AppointmentRequested,
    IdentityChecked,
    Person,
    Recipient,
    ReportReady,
    Run,
    StaticEnvironment,
    TransferRequested,
)

SCENARIO = """
title: Cabinet Bernard
start: welcome
fields:
  wanted: {type: person, label: Collaborateur}
  name: {type: text, label: Nom}
  reason: {type: long_text, label: Motif, sensitive: true}
  what: {type: choice, label: Demande, options: {talk: Parler, meet: Rendez-vous, check: Dossier}}
steps:
  welcome:
    say: "Cabinet Bernard, bonjour."
    next: ask
  ask:
    ask: [name, reason, what]
    next:
      - {if: what == "talk", goto: find}
      - {if: what == "meet", goto: book}
      - {if: caller.known, goto: check}
      - else: take
  find:
    lookup: wanted
    on: {found: put_through, not_found: take}
  put_through:
    transfer: wanted
    mode: blind
    line: mobile
    on: {refused: take, no_answer: take, busy: take}
  book:
    appointment: consultation
    with: anne-bernard
    on: {no_slot: take, declined: take}
  check:
    verify: [file_number]
    attempts: 2
    next: take
  take:
    message: [anne-bernard, account]
    urgent: true
"""

ANNE = Person("anne-bernard", "Dr Anne Bernard", email="anne@bernard.example", direct_line="+33145000111",
              mobile="+33612000111")


def start(what, identity=None):
    result = checker.check(SCENARIO)
    assert result.ok, [str(p) for p in result.problems.errors]
    env = StaticEnvironment(people={ANNE.ref: ANNE}, records={"caller": {"known": True}}, identity=identity)
    run = Run.start(result.scenario, env)
    assert run.submit({}) == ()  # the greeting: nothing for the host
    assert run.submit({"name": "Jean Dupont", "reason": "Douleurs", "what": what}) == ()
    return run


def test_a_transfer_answered_asks_the_host_to_put_through_with_the_person_mode_and_result():
    run = start("talk")
    assert run.submit({"person": "anne-bernard"}) == ()  # the lookup
    before = run.transfer_request()
    assert before == TransferRequested("put_through", "anne-bernard", "blind", "mobile", "+33612000111", "")
    requests = run.submit({"result": "no_answer"})
    assert requests == (
        TransferRequested("put_through", "anne-bernard", "blind", "mobile", "+33612000111", "no_answer"),
        ReportReady(
            "take", "message", (Recipient(ref="anne-bernard", name="Dr Anne Bernard",
                                          email="anne@bernard.example"), Recipient(default=True)),
            urgent=True,
        ),
    )
    assert run.step is None and run.transfer_request() is None


def test_a_transfer_accepted_is_the_outcome_and_its_report():
    run = start("talk")
    run.submit({"person": "anne-bernard"})
    requests = run.submit({"result": "accepted"})
    assert [type(r) for r in requests] == [TransferRequested, ReportReady]
    assert requests[0].result == "accepted"
    assert requests[1] == ReportReady("put_through", "transfer", person_ref="anne-bernard")
    assert run.ready_report() == requests[1]


def test_no_transfer_request_at_another_step():
    run = start("meet")
    assert run.transfer_request() is None


def test_an_appointment_is_requested_and_the_run_waits_for_the_hosts_confirmation():
    run = start("meet")
    before = run.to_json()
    (request,) = run.submit({"result": "booked", "slot": "mardi à 10:00"})
    assert isinstance(request, AppointmentRequested)
    assert (request.step, request.appointment_type, request.person_ref, request.slot) == (
        "book", "consultation", "anne-bernard", "mardi à 10:00")
    assert dict(request.answers) == {"name": "Jean Dupont", "what": "meet"}  # the sensitive reason left out
    assert run.step == "book" and run.outcome is None and run.to_json() == before  # not moved on
    assert run.ready_report() is None
    requests = run.confirm(request, "mercredi 2 décembre à 10:00 avec Dr Anne Bernard")
    assert requests == (ReportReady("book", "appointment", person_ref="anne-bernard"),)
    assert run.step is None
    assert run.outcome["slot"] == "mercredi 2 décembre à 10:00 avec Dr Anne Bernard"
    assert run.inputs[-1] == ("book", {"result": "booked",
                                       "slot": "mercredi 2 décembre à 10:00 avec Dr Anne Bernard"})


def test_a_booking_by_hand_is_confirmed_with_what_was_typed():
    run = start("meet")
    (request,) = run.submit({"result": "booked", "slot": "  jeudi   matin "})
    run.confirm(request)
    assert run.outcome["slot"] == "jeudi matin"


def test_a_booking_that_failed_leaves_the_run_at_its_step_and_an_answer_refused_books_nothing():
    run = start("meet")
    run.submit({"result": "booked"})  # the host could not book: it never confirms
    assert run.step == "book" and run.inputs[-1][0] == "ask"
    with pytest.raises(AnswerError):
        run.submit({"result": "booked", "slot": "mardi\x01"})  # refused before any booking
    with pytest.raises(AnswerError):
        run.submit({"result": "maybe"})
    assert run.submit({"result": "declined"})[-1].outcome == "message"  # not booked: no request


def test_a_confirmation_for_a_step_the_run_has_left_is_refused():
    run = start("meet")
    (request,) = run.submit({"result": "booked"})
    run.submit({"result": "declined"})
    with pytest.raises(AnswerError) as refused:
        run.confirm(request, "mardi")
    assert refused.value.errors[""][0] == "wrong_step"
    assert run.outcome["kind"] == "message"


def test_an_identity_check_says_each_attempt_and_when_it_is_done():
    check = Verifier(("file_number",), {"file_number": "AB-1"})
    run = start("check", identity=check)
    assert run.checks_identity
    assert run.submit({"file_number": "ZZ-9"}) == (IdentityChecked("check", "failed", 1, False),)
    assert run.checks_identity
    requests = run.submit({"file_number": "ZZ-8"})
    assert requests[0] == IdentityChecked("check", "failed", 2, True)
    assert isinstance(requests[1], ReportReady) and not run.checks_identity
    verified = start("check", identity=check).submit({"file_number": "ab 1"})
    assert verified[0] == IdentityChecked("check", "verified", 1, True)


def test_answer_still_applies_a_booking_at_once_without_a_host():
    """The test mode and the command line book nothing: ``answer`` moves on as before."""
    run = start("meet")
    run.answer({"result": "booked", "slot": "mardi"})
    assert run.outcome["kind"] == "appointment" and run.outcome["slot"] == "mardi"
