"""The runtime: valid and invalid answers, back, resume from JSON, replay on a new version."""

import json
from pathlib import Path

import pytest

from permanence.scenarios.engine import checker
from permanence.scenarios.engine.runtime import AnswerError, Person, Run, StaticEnvironment

LEGAL = (
    Path(__file__).resolve().parents[2] / "src" / "permanence" / "scenarios" / "library" / "legal.yaml"
).read_text()


def scenario(text=LEGAL):
    result = checker.check(text)
    assert result.ok, [str(p) for p in result.problems.errors]
    return result.scenario


def env(open_=True, can_transfer=True, caller="+33612345678"):
    durand = Person(
        "claire-durand",
        "Maître Claire Durand",
        email="c.durand@example.fr",
        direct_line="+33145000111",
        mobile="+33612000111",
    )
    return StaticEnvironment(
        people={"claire-durand": durand},
        records={
            "call": {"caller": caller, "called": "+33145000101"},
            "account": {
                "name": "Cabinet Durand",
                "greeting": "Cabinet Durand et Associés",
                "next_opening": "lundi 30 novembre à 09:00",
            },
            "agent": {"first_name": "Camille"},
        },
        functions={"is_open": open_, "can_transfer": lambda person, *args: can_transfer},
    )


def client_run(**kw):
    run = Run.start(scenario(), env(**kw))
    run.answer({})  # welcome said
    run.answer({"caller_type": "client"})
    run.answer({"name": "Jean Dupont", "file_number": "2024/0153"})
    return run


def test_first_screen_says_the_greeting():
    run = Run.start(scenario(), env())
    screen = run.screen()
    assert screen["step"] == "welcome"
    assert screen["say"] == "Cabinet Durand et Associés."
    assert screen["draft"]["subject"].startswith("Appel en cours")


def test_invalid_answer_is_an_error_for_the_field_and_changes_nothing():
    run = Run.start(scenario(), env())
    run.answer({})
    run.answer({"caller_type": "client"})
    before = run.to_json()
    with pytest.raises(AnswerError) as info:
        run.answer({"name": "J", "file_number": "abc"})
    assert set(info.value.errors) == {"name", "file_number"}
    assert info.value.messages()["name"] == "At least 2 characters."
    assert run.to_json() == before


def test_prefilled_phone_is_not_asked_again_and_transfer_ends_the_call():
    run = client_run()
    assert run.answers["phone"] == "+33612345678"
    assert run.step == "find"
    run.answer({"person": "claire-durand"})
    assert run.step == "put_through"
    screen = run.screen()
    assert screen["number"] == "+33145000111"
    assert screen["results"] == ["accepted", "refused", "no_answer", "busy"]
    run.answer("accepted")
    assert run.step is None
    assert run.outcome == {
        "kind": "transfer",
        "step": "put_through",
        "person": "claire-durand",
        "line": "direct",
        "mode": "announced",
    }
    assert run.path[:3] == ["welcome", "qualify", "identify_client"]


def test_unanswered_transfer_leads_to_an_urgent_message_and_its_report():
    run = client_run()
    run.answer({"person": "claire-durand"})
    run.answer({"result": "no_answer"})
    assert run.step == "take_message"
    run.answer({"subject": "Audience avancée", "urgent": "oui"})
    assert run.outcome["kind"] == "message" and run.outcome["urgent"] is True
    assert run.outcome["recipients"] == [
        {"ref": "claire-durand", "name": "Maître Claire Durand", "email": "c.durand@example.fr"}
    ]
    report = run.report()
    assert report["subject"] == "Message URGENT : Client du cabinet — Jean Dupont"
    assert "Objet : Audience avancée" in report["body"]
    assert "• Client, dossier 2024/0153." in report["body"]
    assert "(06 12 34 56 78)" in report["body"]


def test_closed_account_takes_a_message():
    run = client_run(open_=False)
    run.answer({"person": "claire-durand"})
    assert run.step == "closed"
    assert "lundi 30 novembre à 09:00" in run.screen()["say"]
    assert run.facts == {"is_open()": False}


def test_the_draft_grows_from_the_first_step():
    run = Run.start(scenario(), env())
    first = run.report()["body"]
    run.answer({})
    run.answer({"caller_type": "client"})
    assert "Client du cabinet" in run.report()["body"] and "Client du cabinet" not in first


def test_cold_caller_block_ends_in_a_refusal():
    run = Run.start(scenario(), env())
    run.answer({})
    run.answer({"caller_type": "cold_caller"})
    assert run.step == "refusal.refuse"
    assert "contact@cabinet.example" in run.screen()["say"]
    run.answer({})
    assert run.outcome == {"kind": "refusal", "step": "refusal.done"}
    assert "Démarchage éconduit." in run.notes


def test_back_undoes_the_last_answer():
    run = client_run()
    run.answer({"person": "claire-durand"})
    run.back()
    assert run.step == "find" and run.answers.get("wanted") is None
    run.back()
    assert run.step == "identify_client" and "name" not in run.answers
    for _ in range(2):
        run.back()
    assert run.step == "welcome"
    with pytest.raises(AnswerError):
        run.back()


def test_lookup_refuses_an_unknown_person():
    run = client_run()
    with pytest.raises(AnswerError) as info:
        run.answer({"person": "nobody"})
    assert info.value.errors["person"][0] == "unknown_person"


def test_resume_from_json_gives_the_same_state_and_keeps_recorded_facts():
    run = client_run(open_=False)
    run.answer({"person": "claire-durand"})
    stored = json.loads(json.dumps(run.to_json()))
    # the account has opened since: the resumed run keeps what the call saw
    resumed = Run.from_json(scenario(), env(open_=True), stored)
    assert resumed.step == run.step == "closed"
    assert resumed.to_json() == run.to_json()


def test_replay_on_a_new_version_shows_where_it_diverges():
    run = client_run()
    run.answer({"person": "claire-durand"})
    run.answer("accepted")
    assert run.replay(scenario())["diverges"] is False
    changed = LEGAL.replace(
        '{if: caller_type == "client", goto: identify_client}',
        '{if: caller_type == "client", goto: reassure}',
    ).replace(
        "  identify_client:\n",
        "  reassure: {say: 'Je note votre appel.', next: identify_client}\n  identify_client:\n",
    )
    report = run.replay(scenario(changed))
    assert report["diverges"] is True and report["at_input"] == 2
    assert report["expected_step"] == "identify_client" and report["reached_step"] == "reassure"


def test_answer_after_the_end_is_refused():
    run = client_run()
    run.answer({"person": "claire-durand"})
    run.answer("accepted")
    with pytest.raises(AnswerError) as info:
        run.answer({})
    assert info.value.errors[""][0] == "finished"


FIELDS = """title: T
start: a
fields:
  when: {type: date}
  mail: {type: email}
  code: {type: postcode}
  count: {type: number, min: 1, max: 10}
  ok: {type: yes_no}
  kind: {type: choice, options: {a: Alpha, b: Beta}}
steps:
  a: {ask: [when, mail, code, count, ok, kind], next: e}
  e: {end: information}
"""


@pytest.mark.parametrize(
    ("field", "raw", "clean"),
    [
        ("when", "24/12/2026", "2026-12-24"),
        ("when", "2026-12-24", "2026-12-24"),
        ("mail", " Jean@Example.FR ", "Jean@example.fr"),
        ("code", "57000", "57000"),
        ("count", "3", 3),
        ("count", "2,5", 2.5),
        ("ok", "non", False),
        ("kind", "beta", "b"),
    ],
)
def test_field_values_are_normalised(field, raw, clean):
    values = {"when": "2026-01-01", "mail": "a@b.fr", "code": "75001", "count": 1, "ok": True, "kind": "a"}
    values[field] = raw
    run = Run.start(scenario(FIELDS), StaticEnvironment())
    run.answer(values)
    assert run.answers[field] == clean


@pytest.mark.parametrize(
    ("field", "raw", "code"),
    [
        ("when", "31/02/2026", "bad_date"),
        ("mail", "jean@", "bad_email"),
        ("code", "7500", "bad_postcode"),
        ("count", "12", "above_max"),
        ("count", "douze", "bad_number"),
        ("ok", "peut-être", "bad_yes_no"),
        ("kind", "gamma", "bad_choice"),
        ("kind", "", "required"),
    ],
)
def test_bad_field_values_are_reported(field, raw, code):
    values = {"when": "2026-01-01", "mail": "a@b.fr", "code": "75001", "count": 1, "ok": True, "kind": "a"}
    values[field] = raw
    run = Run.start(scenario(FIELDS), StaticEnvironment())
    with pytest.raises(AnswerError) as info:
        run.answer(values)
    assert info.value.errors[field][0] == code


def test_conditions_accept_yaml_spellings_of_true_false_and_none():
    text = FIELDS.replace(
        "  a: {ask: [when, mail, code, count, ok, kind], next: e}",
        "  a: {ask: [when, mail, code, count, ok, kind], next: [{if: ok == false and when != none,"
        " goto: e}, {else: f}]}\n  f: {end: refusal}",
    )
    run = Run.start(scenario(text), StaticEnvironment())
    run.answer(
        {"when": "2026-01-01", "mail": "a@b.fr", "code": "75001", "count": 1, "ok": "non", "kind": "a"}
    )
    assert run.outcome["kind"] == "information"


def test_control_characters_in_an_answer_are_refused():
    run = Run.start(scenario(FIELDS), StaticEnvironment())
    values = {"when": "2026-01-01", "mail": "a@b.fr", "code": "75001", "count": 1, "ok": True, "kind": "a"}
    with pytest.raises(AnswerError) as info:
        run.answer(values | {"kind": "a\x00"})
    assert info.value.errors["kind"][0] == "bad_characters"
    assert run.inputs == []
