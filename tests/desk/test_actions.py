"""The desk's domain actions without HTTP: the engine's requests applied (booking before the run moves
on, the transfer recorded with its result, a failed identity check counted), the transfer button, hold,
and finishing a call (refusals, twice)."""

from __future__ import annotations

from datetime import datetime, timedelta

from factories import make_contact
from permanence.agenda.models import Appointment, AppointmentType
from permanence.audit.models import Action, AuditEvent
from permanence.calls import identity_limits
from permanence.calls import services as call_services
from permanence.calls.lifecycle import Kind, State
from permanence.calls.models import Call
from permanence.desk import actions
from permanence.directory.models import Collaborator
from permanence.messaging.models import Message
from permanence.scenarios import live
from permanence.scenarios.engine.runtime import (
    AppointmentRequested,
    IdentityChecked,
    ReportReady,
    TransferRequested,
)
from permanence.scenarios.models import Run
from scenario_helpers import put_in_service

SCENARIO = """
language: permanence/1
title: Cabinet Alpha
start: welcome
fields:
  name: {type: text, label: Nom}
  what: {type: choice, label: Demande, options: {talk: Parler, meet: Rendez-vous, check: Dossier}}
steps:
  welcome:
    say: "Cabinet Alpha, bonjour."
    next: ask
  ask:
    ask: [name, what]
    next:
      - {if: what == "talk", goto: put_through}
      - {if: what == "meet", goto: book}
      - {if: caller.known, goto: check}
      - else: take
  put_through:
    transfer: anne-alphonse
    mode: announced
    on: {refused: take, no_answer: take, busy: take}
  book:
    appointment: consultation
    with: anne-alphonse
    on: {no_slot: take, declined: take}
  check:
    verify: identity
    next: take
  take:
    message: [account]
"""
STORED_EMAIL = "claire.garnier@garnier-conseil.fr"


def answered_call(alpha, secretary, caller="0612345678"):
    call = call_services.call_arrived("01 45 00 00 01", caller, account=alpha)
    call_services.record(call, Kind.OFFERED, secretary=secretary)
    call_services.record(call, Kind.ANSWERED, secretary=secretary)
    return Call.objects.select_related("account").get(pk=call.pk)


def at(personas, alpha, what, caller="0612345678"):
    """A call answered by the secretary, its run past the greeting and the question: at ``what``'s step."""
    if live.in_service(alpha) is None:
        alpha.identity_fields = "last_name, email"  # what the check asks
        alpha.save()
        put_in_service(alpha, "Accueil", SCENARIO, personas["admin"])
    secretary = personas["secretary"]
    call = answered_call(alpha, secretary, caller)
    for given in ({}, {"name": "Jean Dupont", "what": what}):
        out = actions.answer_step(call, secretary, actions.load_run(call, secretary), given)
        assert out.errors == {} and out.notices == []
    return call, secretary


def step_of(call):
    return Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id).state["step"]


def consultation(alpha):
    anne = Collaborator.objects.get(account=alpha)
    kind = AppointmentType.objects.create(account=alpha, name="Consultation", code="consultation",
                                          min_notice_minutes=0, horizon_days=30)
    kind.collaborators.add(anne)
    return anne, kind


def a_free_slot(call, alpha, kind, anne):
    from permanence.agenda import desk as agenda_desk

    offer = agenda_desk.offer(alpha, {"kind": "appointment", "appointment_type": "consultation",
                                      "person": {"ref": "anne-alphonse"}})
    assert offer.slots, offer.problem
    return offer.slots[0]["value"]


# ---------------------------------------------------------------- the appointment


def test_the_slot_picked_is_booked_then_the_run_moves_on(personas, alpha):
    anne, kind = consultation(alpha)
    call, secretary = at(personas, alpha, "meet")
    assert step_of(call) == "book"
    pick = a_free_slot(call, alpha, kind, anne)
    out = actions.answer_step(call, secretary, actions.load_run(call, secretary), {"result": "booked"},
                              slot_pick=pick)
    assert out.errors == {} and out.notices == []
    assert [type(r) for r in out.requests] == [AppointmentRequested, ReportReady]
    booked = Appointment.objects.get(call=call)
    assert booked.start == datetime.fromisoformat(pick.split("|")[0]) and booked.collaborator == anne
    stored = Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id)
    assert stored.state["step"] is None and stored.outcome == "appointment"
    assert "avec Maître Anne Alphonse" in stored.state["outcome"]["slot"]


def test_a_slot_taken_meanwhile_is_said_and_the_run_stays_at_its_step(personas, alpha):
    anne, kind = consultation(alpha)
    call, secretary = at(personas, alpha, "meet")
    pick = a_free_slot(call, alpha, kind, anne)
    start = datetime.fromisoformat(pick.split("|")[0])
    Appointment.objects.create(account=alpha, collaborator=anne, appointment_type=kind, start=start,
                               end=start + timedelta(minutes=30), blocked_from=start,
                               blocked_until=start + timedelta(minutes=30))
    before = Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id).state
    out = actions.answer_step(call, secretary, actions.load_run(call, secretary), {"result": "booked"},
                              slot_pick=pick)
    assert [n.level for n in out.notices] == ["error"]
    assert "taken" in out.notices[0].text or "pris" in out.notices[0].text
    after = Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id)
    assert after.state["inputs"] == before["inputs"] and after.state["step"] == "book"
    assert after.outcome == ""
    assert not Appointment.objects.filter(call=call).exists()


def test_a_booking_by_hand_books_nothing_and_keeps_what_she_typed(personas, alpha):
    consultation(alpha)
    call, secretary = at(personas, alpha, "meet")
    out = actions.answer_step(call, secretary, actions.load_run(call, secretary),
                              {"result": "booked", "slot": "jeudi matin"})
    assert isinstance(out.requests[0], AppointmentRequested) and out.requests[0].slot == "jeudi matin"
    assert not Appointment.objects.exists()
    stored = Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id)
    assert stored.state["outcome"]["slot"] == "jeudi matin" and stored.outcome == "appointment"


# ---------------------------------------------------------------- the transfer


def test_a_transfer_answered_is_recorded_with_its_result(personas, alpha):
    call, secretary = at(personas, alpha, "talk")
    out = actions.answer_step(call, secretary, actions.load_run(call, secretary), {"result": "no_answer"})
    assert out.requests[0] == TransferRequested("put_through", "anne-alphonse", "announced", "direct",
                                                "+33145000011", "no_answer")
    kinds = list(call.events.order_by("pk").values_list("kind", flat=True))
    assert kinds[-2:] == [Kind.TRANSFER_REQUESTED, Kind.TRANSFER_RESULT]
    assert call.events.get(kind=Kind.TRANSFER_RESULT).detail["result"] == "no_answer"
    assert Call.objects.get(pk=call.pk).state == State.TALKING  # back with the caller
    assert step_of(call) is None  # the message outcome


def test_the_transfer_button_starts_the_steps_transfer_and_only_there(personas, alpha):
    call, secretary = at(personas, alpha, "meet")
    refused = actions.transfer(call, secretary, actions.load_run(call, secretary))
    assert [n.level for n in refused.notices] == ["error"] and refused.requests == ()
    assert Call.objects.get(pk=call.pk).state == State.TALKING
    other, _secretary = at(personas, alpha, "talk", caller="0698765432")
    Call.objects.filter(pk=call.pk).update(state=State.DONE, secretary=None)  # one call at a time
    out = actions.transfer(other, secretary, actions.load_run(other, secretary))
    assert out.notices == [] and out.requests[0].person_ref == "anne-alphonse"
    requested = other.events.get(kind=Kind.TRANSFER_REQUESTED).detail
    assert requested["to"] == "anne-alphonse" and requested["number"] == "+33145000011"
    assert Call.objects.get(pk=other.pk).state == State.TRANSFERRING


def test_hold_and_take_back(personas, alpha):
    call, secretary = at(personas, alpha, "talk")
    assert actions.hold(call, secretary).notices == []
    assert Call.objects.get(pk=call.pk).state == State.ON_HOLD
    actions.hold(call, secretary)
    assert Call.objects.get(pk=call.pk).state == State.TALKING
    Call.objects.filter(pk=call.pk).update(state=State.WRAP_UP)
    assert [n.level for n in actions.hold(call, secretary).notices] == ["error"]


# ---------------------------------------------------------------- the identity check


def claire(alpha):
    return make_contact(alpha, ("+33622334455",), first_name="Claire", last_name="Garnier",
                        email=STORED_EMAIL)


def test_a_failed_identity_check_is_counted_against_the_caller(personas, alpha):
    contact = claire(alpha)
    call, secretary = at(personas, alpha, "check", caller="06 22 33 44 55")
    assert step_of(call) == "check"
    out = actions.answer_step(call, secretary, actions.load_run(call, secretary),
                              {"last_name": "Dupontel", "email": "x@exemple.org"}, ip="192.0.2.7")
    assert out.requests == (IdentityChecked("check", "failed", 1, False),)
    row = AuditEvent.objects.get(action=Action.IDENTIFY, object_id=str(contact.pk))
    assert row.detail["what"] == identity_limits.FAILED and row.ip_address == "192.0.2.7"
    right = actions.answer_step(call, secretary, actions.load_run(call, secretary),
                                {"last_name": "Garnier", "email": STORED_EMAIL})
    assert right.requests[0] == IdentityChecked("check", "verified", 2, True)
    assert AuditEvent.objects.filter(action=Action.IDENTIFY).count() == 1


def test_a_caller_refused_lately_is_not_verified_at_once_and_she_is_told(personas, alpha):
    contact = claire(alpha)
    call, secretary = at(personas, alpha, "talk", caller="06 22 33 44 55")
    for _ in range(identity_limits.LIMIT):
        identity_limits.record_failure(secretary, contact, call)
    Call.objects.filter(pk=call.pk).update(state=State.DONE, secretary=None)
    other = answered_call(alpha, secretary, "06 22 33 44 55")
    for given in ({}, {"name": "Claire", "what": "check"}):  # the check is reached: answered at once
        out = actions.answer_step(other, secretary, actions.load_run(other, secretary), given)
    assert [n.level for n in out.notices] == ["warning"]
    assert IdentityChecked("check", "not_verified", 0, True) in out.requests
    assert step_of(other) is None


def test_an_attempt_on_a_run_changed_meanwhile_is_not_applied(personas, alpha):
    claire(alpha)
    call, secretary = at(personas, alpha, "check", caller="06 22 33 44 55")
    run = actions.load_run(call, secretary)
    Run.objects.filter(pk=run.stored.pk).update(updated=run.stored.updated + timedelta(seconds=1))
    out = actions.answer_step(call, secretary, run, {"last_name": "Garnier", "email": STORED_EMAIL})
    assert out.stale and out.requests == ()
    assert Run.objects.get(pk=run.stored.pk).state["identity"]["attempts"] == 0


# ---------------------------------------------------------------- finishing


def test_finish_before_the_outcome_is_refused_then_sends_to_the_named_recipients(personas, alpha):
    call, secretary = at(personas, alpha, "talk")
    early = actions.finish(call, secretary, actions.Report(send=True, subject="S", body="B"))
    assert early.not_ready and Call.objects.get(pk=call.pk).state == State.TALKING
    actions.answer_step(call, secretary, actions.load_run(call, secretary), {"result": "busy"})
    stranger = actions.finish(call, secretary, actions.Report(send=True, subject="S", body="B",
                                                              recipients="someone@elsewhere.example"))
    assert stranger.refused and "someone@elsewhere.example" in stranger.notices[0].text
    assert stranger.run is not None and not Message.objects.exists()
    done = actions.finish(call, secretary, actions.Report(send=True, subject="Rappel", body="Merci"))
    assert not (done.refused or done.not_ready or done.already)
    assert done.message is not None and done.message.subject == "Rappel"
    call.refresh_from_db()
    assert call.state == State.DONE and call.events.filter(kind=Kind.WRAPPED_UP).exists()
    again = actions.finish(call, secretary, actions.Report(send=True, subject="Rappel", body="Merci"))
    assert again.already and [n.level for n in again.notices] == ["info"]
    assert Message.objects.count() == 1


def test_a_half_given_nuisance_is_refused(personas, alpha):
    call, secretary = at(personas, alpha, "talk")
    out = actions.finish(call, secretary, actions.Report(nuisance="wrong_number", force=True))
    assert out.refused and Call.objects.get(pk=call.pk).state == State.TALKING


def test_the_desk_resumes_the_run_on_the_parsed_scenario_without_checking_it_again(personas, alpha,
                                                                                   monkeypatch):
    call, secretary = at(personas, alpha, "talk")
    checked = []
    real = live.checker.check
    monkeypatch.setattr(live.checker, "check", lambda *a, **k: checked.append(1) or real(*a, **k))
    for _ in range(3):
        assert actions.load_run(call, secretary).engine.step == "put_through"
    assert checked == []  # cached by the text's and the shared blocks' hashes
    live.clear_cache()
    actions.load_run(call, secretary)
    assert checked == [1]
