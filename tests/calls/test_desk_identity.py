"""At the desk: the identity check compares what the caller answers with the caller's contact, never
shown to the secretary; only the outcome and the attempts are kept (not in the run, the message, the
call's events nor the audit trail); a sensitive answer is shown to her and never goes in the message's
text, which carries a link instead."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from factories import make_contact
from permanence.audit.models import AuditEvent
from permanence.calls import services
from permanence.calls.models import Call, CallEvent
from permanence.messaging import sensitive
from permanence.messaging.models import Message
from permanence.scenarios.models import Run
from scenario_helpers import put_in_service

SCENARIO = """
language: permanence/1
title: Cabinet médical Alpha
start: welcome
fields:
  name: {type: text, label: Nom, prefill: caller.name}
  reason: {type: long_text, label: Motif médical, sensitive: true}
steps:
  welcome:
    say: "Cabinet Alpha, bonjour."
    next:
      - {if: caller.known, goto: check}
      - else: take
  check:
    verify: identity
    say: "Pour vérifier votre identité : votre nom et l'adresse e-mail de votre dossier ?"
    next: take
  take:
    ask: [name, reason]
    next: message
  message:
    message: [account]
"""
STORED_EMAIL = "claire.garnier@garnier-conseil.fr"
WRONG = {"identity_last_name": "Dupontel", "identity_email": "c.dupontel@exemple.org"}
RIGHT = {"identity_last_name": "  GARNIER ", "identity_email": "Claire.Garnier@Garnier-Conseil.FR "}
REASON = "Douleurs thoraciques depuis hier soir"


@pytest.fixture
def medical(personas, alpha):
    alpha.identity_fields = "last_name, email"
    alpha.save()
    make_contact(alpha, ("+33622334455",), first_name="Claire", last_name="Garnier", email=STORED_EMAIL)
    put_in_service(alpha, "Médical", SCENARIO, personas["admin"])
    return alpha


def answered(personas, caller="06 22 33 44 55"):
    secretary = personas["secretary"]
    services.set_status(secretary, "ready")
    call = services.call_arrived("01 45 00 00 01", caller)
    services.dispatch()
    services.accept(call, secretary)
    client = Client()
    client.force_login(secretary)
    return call, client, f"/desk/calls/{call.pk}/"


def nowhere(call, *typed):
    """What was typed is in no stored row: the run, the message, the call's events, the audit trail."""
    call.refresh_from_db()
    rows = [json.dumps(Run.objects.get(pk=call.run_id).state, ensure_ascii=False)]
    for message in Message.objects.filter(call=call):
        rows += [message.subject, message.body, json.dumps(message.fields, ensure_ascii=False)]
    rows += [json.dumps(e.detail, ensure_ascii=False) for e in CallEvent.objects.filter(call=call)]
    rows += [json.dumps([a.detail, a.object_repr], ensure_ascii=False) for a in AuditEvent.objects.all()]
    text = "\n".join(rows)
    for value in typed:  # as typed (the contact's own name is rightly in the caller's card and the message)
        assert value.strip() not in text, value


def test_a_caller_verified_at_the_second_attempt_then_a_sensitive_answer(personas, medical):
    call, desk, url = answered(personas)
    desk.post(url, {})  # the greeting
    page = desk.get(url).content.decode()
    assert 'data-testid="identity-check"' in page
    assert 'name="identity_last_name"' in page and 'name="identity_email"' in page
    assert STORED_EMAIL not in page  # compared with, never shown

    assert desk.post(url, WRONG).status_code == 302
    page = desk.get(url).content.decode()
    assert 'data-testid="identity-failed"' in page
    assert all(value not in page for value in WRONG.values())  # not shown again
    state = Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id).state
    assert state["step"] == "check"
    assert state["identity"] == {"checked": True, "verified": False, "attempts": 1}

    desk.post(url, RIGHT)
    state = Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id).state
    assert state["step"] == "take" and state["identity"]["verified"] is True
    assert [i for i in state["inputs"] if i[0] == "check"] == [["check", {"result": "failed"}],
                                                               ["check", {"result": "verified"}]]

    desk.post(url, {"name": "Claire Garnier", "reason": REASON})
    page = desk.get(url).content.decode()
    assert 'data-testid="sensitive-answers"' in page and REASON in page  # shown to her during the call
    draft = page.split('data-testid="body">')[1].split("</textarea>")[0]
    assert REASON not in draft and "Identité : vérifiée" in draft

    refused = desk.post(url + "finish", {"send": "1", "subject": "Message", "body": draft + "\n" + REASON})
    assert refused.status_code == 400 and REASON in refused.content.decode()  # nothing lost
    assert not Message.objects.filter(call=call).exists()
    assert desk.post(url + "finish", {"send": "1", "subject": "Message", "body": draft}).status_code == 302
    message = Message.objects.get(call=call)
    assert REASON not in message.body and message.fields["reason"] == REASON
    assert sensitive.marked(message.fields) == {"reason": "Motif médical"}
    assert sensitive.public_fields(message.fields) == {"name": "Claire Garnier"}
    nowhere(call, *WRONG.values(), *RIGHT.values(), STORED_EMAIL)


def test_three_wrong_answers_give_not_verified(personas, medical):
    call, desk, url = answered(personas)
    desk.post(url, {})
    for _ in range(3):
        desk.post(url, WRONG)
    state = Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id).state
    assert state["step"] == "take"
    assert state["identity"] == {"checked": True, "verified": False, "attempts": 3}
    desk.post(url, {"name": "Claire Garnier", "reason": "Renouvellement"})
    page = desk.get(url).content.decode()
    assert "Identité : non vérifiée" in page
    desk.post(url + "finish", {"send": "1", "subject": "Message", "body": "Identité : non vérifiée"})
    nowhere(call, *WRONG.values())


def test_an_unreadable_answer_is_said_and_counts_no_attempt(personas, medical):
    call, desk, url = answered(personas)
    desk.post(url, {})
    page = desk.post(url, {"identity_last_name": "Garnier", "identity_email": ""}).content.decode()
    assert 'data-testid="error-identity_email"' not in page  # the field's error is under its field
    assert 'data-testid="error-email"' in page and 'value="Garnier"' not in page
    state = Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id).state
    assert state["identity"]["attempts"] == 0


def test_back_stops_at_the_check_and_going_on_unverified(personas, medical):
    call, desk, url = answered(personas)
    desk.post(url, {})
    desk.post(url, WRONG)
    refused = desk.post(url, {"back": "1"}, follow=True).content.decode()  # its attempts would be made again
    assert "identity check cannot be undone" in refused or "ne peut pas être défaite" in refused
    state = Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id).state
    assert state["identity"]["attempts"] == 1 and state["step"] == "check"
    desk.post(url, {"result": "verified"})  # the outcome is never taken from the form
    assert Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id).state["identity"]["verified"] is False
    desk.post(url, {"result": "not_verified"})
    state = Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id).state
    assert state["step"] == "take" and state["identity"]["verified"] is False


def test_an_unknown_caller_is_not_checked(personas, medical):
    call, desk, url = answered(personas, caller="06 99 99 99 99")
    desk.post(url, {})
    state = Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id).state
    assert state["step"] == "take" and state["identity"]["checked"] is False


def test_the_account_says_what_is_asked_among_what_the_contacts_keep(alpha):
    alpha.identity_fields = "Email, last_name"
    alpha.full_clean()
    assert alpha.identity_field_list() == ["email", "last_name"]
    alpha.identity_fields = "file_number, birth_date, postcode"  # the contacts keep them too
    alpha.full_clean()
    assert alpha.identity_field_list() == ["file_number", "birth_date", "postcode"]
    alpha.identity_fields = "email, shoe_size"
    with pytest.raises(ValidationError) as exc:
        alpha.full_clean()
    assert "identity_fields" in exc.value.message_dict
    alpha.identity_fields, alpha.sensitive_fields = "", "reason, Not a name"
    with pytest.raises(ValidationError) as exc:
        alpha.full_clean()
    assert "sensitive_fields" in exc.value.message_dict


def test_the_checker_knows_the_accounts_questions(personas, alpha):
    from permanence.scenarios import services as scenario_services

    alpha.identity_fields = "email"
    alpha.save()
    wrong = SCENARIO.replace("verify: identity", "verify: [email, birth_date]")
    codes = [p.code for p in scenario_services.check(wrong, alpha).problems.errors]
    assert codes == ["identity_field_not_kept"]
    assert scenario_services.check(SCENARIO, alpha).ok


def test_the_account_names_sensitive_fields(personas, medical):
    medical.sensitive_fields = "name"
    medical.save()
    call, desk, url = answered(personas)
    desk.post(url, {})
    desk.post(url, {"result": "not_verified"})
    desk.post(url, {"name": "Claire Garnier", "reason": REASON})
    page = desk.get(url).content.decode()
    draft = page.split('data-testid="body">')[1].split("</textarea>")[0]
    assert "Claire Garnier" not in draft and REASON not in draft


def test_test_mode_simulates_the_check(personas, medical):
    from permanence.scenarios.models import ScenarioVersion

    version = ScenarioVersion.objects.get(scenario__account=medical, scenario__name="Médical")
    client = Client()
    client.force_login(personas["assistant"])
    path = f"/a/alpha/scenarios/{version.scenario_id}/v/{version.number}/test"
    client.post(path, {"restart": "1", "caller": "06 22 33 44 55"})
    page = client.post(path, {}).content.decode()
    assert 'data-testid="identity-check"' in page and STORED_EMAIL not in page
    page = client.post(path, {"result": "verified"}).content.decode()
    assert 'name="reason"' in page


def test_the_command_line_simulates_the_check(alpha, tmp_path):
    from scenario_helpers import scenario_cmd

    alpha.identity_fields = "last_name"
    alpha.save()
    source, answers = tmp_path / "medical.yaml", tmp_path / "answers.json"
    source.write_text(SCENARIO, encoding="utf-8")
    answers.write_text(json.dumps({"welcome": {}, "check": ["failed", "verified"],
                                   "take": {"reason": "Renouvellement"}}), encoding="utf-8")
    code, out, _ = scenario_cmd("run", str(source), "--account", "alpha", "--caller", "06 11 11 11 11",
                                "--answers", str(answers))
    data = json.loads(out)
    assert code == 0 and data["error"] is None and data["outcome"]["kind"] == "message"
    body = data["message"]["body"]
    assert "Identité : vérifiée" in body and "Renouvellement" not in body


# a file number with a date of birth (issue 18) ---------------------------------------------------------

STORED_FILE, STORED_BIRTH = "AB-2024/0153", date(1975, 3, 12)
FILE_SCENARIO = SCENARIO.replace("votre nom et l'adresse e-mail de votre dossier ?",
                                 "votre numéro de dossier et votre date de naissance ?")


@pytest.fixture
def patient_file(personas, alpha):
    alpha.identity_fields = "file_number, birth_date"
    alpha.full_clean()
    alpha.save()
    make_contact(alpha, ("+33622334455",), first_name="Claire", last_name="Garnier", file_number=STORED_FILE,
                 birth_date=STORED_BIRTH)
    put_in_service(alpha, "Médical", FILE_SCENARIO, personas["admin"])
    return alpha


def stored_written(*more):
    """The contact's values as they could be written anywhere: they must be nowhere either."""
    return (STORED_FILE, "AB20240153", "ab20240153", STORED_BIRTH.isoformat(), "12/03/1975", *more)


@pytest.mark.parametrize("birth, number", [("12/03/1975", " ab 2024 0153 "),
                                           ("12 mars 1975", "Ab-2024.0153"),
                                           ("mercredi 12 mars 1975", "AB 2024/0153")])
def test_a_file_number_and_a_date_of_birth_written_another_way_verify(personas, patient_file, birth, number):
    call, desk, url = answered(personas)
    desk.post(url, {})
    page = desk.get(url).content.decode()
    assert 'name="identity_file_number"' in page and 'name="identity_birth_date"' in page
    assert 'name="identity_email"' not in page
    assert all(value not in page for value in stored_written())  # compared with, never shown
    assert desk.post(url, {"identity_file_number": number, "identity_birth_date": birth}).status_code == 302
    state = Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id).state
    assert state["step"] == "take"
    assert state["identity"] == {"checked": True, "verified": True, "attempts": 1}
    desk.post(url, {"name": "Claire Garnier", "reason": REASON})
    page = desk.get(url).content.decode()
    draft = page.split('data-testid="body">')[1].split("</textarea>")[0]
    assert "Identité : vérifiée" in draft
    assert all(value not in page for value in stored_written(number.strip(), birth))
    assert desk.post(url + "finish", {"send": "1", "subject": "Message", "body": draft}).status_code == 302
    nowhere(call, number, birth, *stored_written())


def test_a_wrong_date_of_birth_is_not_verified_after_the_attempts(personas, patient_file):
    call, desk, url = answered(personas)
    desk.post(url, {})
    wrong = {"identity_file_number": "ab-2024-0153", "identity_birth_date": "13/03/1975"}  # the file is right
    for attempt in (1, 2):
        desk.post(url, wrong)
        state = Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id).state
        assert state["step"] == "check" and state["identity"]["attempts"] == attempt
        page = desk.get(url).content.decode()
        assert 'data-testid="identity-failed"' in page and "13/03/1975" not in page
    unreadable = desk.post(url, {**wrong, "identity_birth_date": "31/02/1975"}).content.decode()
    assert 'data-testid="error-birth_date"' in unreadable  # said, no attempt counted
    assert Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id).state["identity"]["attempts"] == 2
    desk.post(url, {**wrong, "identity_birth_date": "12 mars 1976"})
    state = Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id).state
    assert state["step"] == "take"
    assert state["identity"] == {"checked": True, "verified": False, "attempts": 3}
    desk.post(url, {"name": "Claire Garnier", "reason": "Renouvellement"})
    page = desk.get(url).content.decode()
    assert "Identité : non vérifiée" in page
    desk.post(url + "finish", {"send": "1", "subject": "Message", "body": "Identité : non vérifiée"})
    nowhere(call, "ab-2024-0153", "13/03/1975", "31/02/1975", "12 mars 1976", *stored_written())


def test_a_contact_without_the_date_of_birth_is_never_verified(personas, patient_file):
    from permanence.contacts.models import Contact

    Contact.objects.filter(account=patient_file).update(birth_date=None)
    call, desk, url = answered(personas)
    desk.post(url, {})
    for _ in range(3):
        desk.post(url, {"identity_file_number": STORED_FILE, "identity_birth_date": "12/03/1975"})
    state = Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id).state
    assert state["step"] == "take" and state["identity"]["verified"] is False
