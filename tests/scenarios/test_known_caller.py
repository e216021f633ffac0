"""A known caller is not asked again what the screen knows; a booking's report names its slot.

Pure engine: the caller's record is plain data, as ``scenarios.environment`` builds it from the contacts.
"""

from pathlib import Path

import pytest

from permanence.scenarios.engine import checker
from permanence.scenarios.engine.runtime import SLOT_NOT_GIVEN, AnswerError, Person, Run, StaticEnvironment

LIBRARY = Path(__file__).resolve().parents[2] / "src" / "permanence" / "scenarios" / "library"
LEA = {
    "known": True,
    "name": "Léa Martin",
    "company": "Martin Bâtiment",
    "tags": ["vip", "client"],
    "type": "client",
    "email": "lea@martin.example",
}
UNKNOWN = {"known": False, "tags": []}
SLOT = "mardi 30 mars 2027 à 10:00 avec Dr Bernard"


def scenario(name="switchboard", text=None):
    result = checker.check(text if text is not None else (LIBRARY / f"{name}.yaml").read_bytes())
    assert result.ok, [str(p) for p in result.problems.errors]
    return result.scenario


def env(caller=LEA, number="+33612345678"):
    return StaticEnvironment(
        people={"p-one": Person("p-one", "Dr Bernard", email="bernard@example.fr")},
        records={"account": {"name": "Cabinet Test"}, "call": {"caller": number}, "caller": dict(caller)},
    )


def fields(run):
    return {f["name"]: f for f in run.screen()["fields"]}


# ---------------------------------------------------------------- known caller


def test_a_known_callers_type_is_shown_chosen_marked_known_and_not_said():
    run = Run.start(scenario(), env())
    run.answer({})  # the greeting
    assert run.step == "qualify"  # not skipped: the secretary sees what is known
    shown = fields(run)["caller_type"]
    assert shown["known"] is True and shown["value"] == "client" and shown["text"] == "client"
    assert shown["say"] == ""  # "C'est à quel sujet ?" is not asked of the caller
    assert shown["options"]["client"] == "Client"  # still a choice: it can be changed


def test_enter_keeps_the_known_values_and_the_next_step_shows_name_and_company():
    run = Run.start(scenario(), env())
    run.answer({})
    run.answer({})  # Enter: the type is kept
    assert run.answers["caller_type"] == "client" and run.step == "identify"
    shown = fields(run)
    assert [(n, f["known"], f["text"]) for n, f in shown.items()] == [
        ("name", True, "Léa Martin"),
        ("company", True, "Martin Bâtiment"),
        ("phone", True, "06 12 34 56 78"),
    ]
    assert run.screen()["focus"] is None  # nothing left to ask here
    run.answer({})
    assert run.step == "find"
    assert run.answers == {
        "caller_type": "client",
        "name": "Léa Martin",
        "company": "Martin Bâtiment",
        "phone": "+33612345678",
    }
    report = run.report()
    assert "Société : Martin Bâtiment" in report["body"] and report["subject"].endswith("Léa Martin")


def test_a_known_value_stays_editable_and_the_change_is_what_counts():
    run = Run.start(scenario(), env())
    run.answer({})
    run.answer({"caller_type": "supplier"})  # the contact said client; the caller calls as a supplier
    assert run.answers["caller_type"] == "supplier"
    run.answer({"name": "Léa Martin-Roux", "company": "Roux Matériaux", "phone": "06 99 88 77 66"})
    assert run.answers["name"] == "Léa Martin-Roux" and run.answers["company"] == "Roux Matériaux"
    assert run.answers["phone"] == "+33699887766"
    run.back()  # undone: the known values come back, shown as known again
    assert run.step == "identify" and fields(run)["company"]["known"] is True
    assert run.answers["company"] == "Martin Bâtiment"


def test_an_optional_known_value_can_be_emptied_a_required_one_cannot():
    run = Run.start(scenario(), env())
    run.answer({})
    run.answer({})
    before = run.to_json()
    with pytest.raises(AnswerError) as info:
        run.answer({"name": "  ", "company": ""})  # "company?" is optional here, the name is not
    assert set(info.value.errors) == {"name"} and info.value.errors["name"][0] == "required"
    assert run.to_json() == before  # refused: nothing changed
    run.answer({"company": ""})  # the company on file is wrong: emptied
    assert run.answers["company"] is None and run.answers["name"] == "Léa Martin"
    assert "Société" not in run.report()["body"]


def test_a_known_field_is_asked_once_a_later_step_does_not_show_it_again():
    text = """title: T
start: a
fields:
  name: {type: text, label: Nom, say: "C'est de la part de ?", prefill: caller.name}
  subject: {type: long_text, label: Objet}
steps:
  a: {ask: [name], next: b}
  b: {ask: [name, subject], next: c}
  c: {ask: [name], next: e}
  e: {end: information}
"""
    run = Run.start(scenario(text=text), env())
    assert run.step == "a" and fields(run)["name"]["known"] is True
    run.answer({})
    assert run.step == "b" and list(fields(run)) == ["subject"]  # confirmed at a: not shown again
    run.answer({"subject": "Devis"})
    assert run.step is None and run.path == ["a", "b", "c", "e"]  # c asks nothing new: passed


def test_the_first_question_left_gets_the_focus_when_some_are_known():
    run = Run.start(scenario("legal"), env())
    run.answer({})
    run.answer({})
    assert run.step == "identify_client"
    shown = fields(run)
    assert shown["name"]["known"] and shown["phone"]["known"] and not shown["file_number"]["known"]
    assert run.screen()["focus"] == "file_number"
    assert shown["file_number"]["value"] is None and shown["file_number"]["text"] == ""


@pytest.mark.parametrize(
    ("caller", "number"),
    [(UNKNOWN, "+33699999999"), (UNKNOWN, None)],
    ids=["unknown-number", "withheld"],
)
def test_an_unknown_or_withheld_caller_is_asked_as_before(caller, number):
    run = Run.start(scenario(), env(caller, number))
    run.answer({})
    shown = fields(run)["caller_type"]
    assert shown["known"] is False and shown["value"] is None and shown["say"] == "C'est à quel sujet ?"
    with pytest.raises(AnswerError) as info:
        run.answer({})
    assert info.value.errors == {"caller_type": ("required", {})}
    run.answer({"caller_type": "client"})
    shown = fields(run)
    assert not shown["name"]["known"] and shown["name"]["say"] == "C'est de la part de ?"
    assert not shown["company"]["known"]
    assert shown["phone"]["known"] is (number is not None)  # the number, when there is one, is known
    with pytest.raises(AnswerError) as info:
        run.answer({})
    assert "name" in info.value.errors
    assert ("phone" in info.value.errors) is (number is None)


def test_a_known_type_that_is_not_an_option_here_is_asked():
    press = {**LEA, "type": "press", "tags": ["presse"]}  # the switchboard has no "press" option
    run = Run.start(scenario(), env(press))
    run.answer({})
    shown = fields(run)["caller_type"]
    assert shown["known"] is False and shown["value"] is None
    assert run.answers.get("caller_type") is None and run.answers["name"] == "Léa Martin"


def test_a_known_value_that_does_not_fit_the_field_is_left_out():
    short = {**LEA, "name": "L"}  # the field asks two characters at least
    run = Run.start(scenario(), env(short))
    assert "name" not in run.answers


def test_a_run_stored_before_known_values_were_shown_resumes_past_the_step_it_skipped():
    """Before, a step whose fields were all known was passed without an input: such a stored run
    goes on from its next input as it did, the values kept."""
    text = """title: T
start: a
fields:
  name: {type: text, label: Nom, prefill: caller.name}
  subject: {type: long_text, label: Objet}
steps:
  a: {say: Bonjour, next: b}
  b: {ask: [name], next: c}
  c: {ask: [subject], next: e}
  e: {end: information}
"""
    stored = {"version": "v1", "inputs": [["a", {}], ["c", {"subject": "Devis"}]], "facts": {}}
    resumed = Run.resume(scenario(text=text), env(), stored)
    assert resumed.complete and resumed.run.step is None
    assert resumed.run.answers == {"name": "Léa Martin", "subject": "Devis"}
    assert [s for s, _ in resumed.run.inputs] == ["a", "b", "c"]
    new = Run.start(scenario(text=text), env())
    new.answer({})
    assert new.step == "b"  # a new run shows the known name


# ---------------------------------------------------------------- a booking names its slot


def book(template, answers, slot=SLOT):
    run = Run.start(scenario(template), env(UNKNOWN))
    for given in answers:
        run.answer(given)
    assert run.step is not None and run.screen()["kind"] == "appointment"
    run.answer({"result": "booked", "slot": slot} if slot is not None else "booked")
    assert run.outcome["kind"] == "appointment"
    return run


MEDICAL = [{}, {"reason": "appointment"}, {"patient": "Paul Roux", "birth_date": "02/03/1980"},
           {"person": "p-one"}]
LEGAL = [{}, {"caller_type": "prospect"}, {"name": "Jean Dupont", "domain": "family", "subject": "Divorce"}]
REAL_ESTATE = [{}, {"request": "visit"}, {"listing": "AP-1234", "name": "Ana Lopes"}]


def test_the_default_report_of_a_booking_names_the_slot_in_subject_and_body():
    run = book("medical", MEDICAL)
    assert run.outcome["slot"] == SLOT
    report = run.report()
    assert report["subject"] == f"Rendez-vous {SLOT} — Cabinet Test — 06 12 34 56 78"
    assert report["body"].splitlines()[0] == f"Rendez-vous : {SLOT}"
    assert "Patient : Paul Roux" in report["body"]


@pytest.mark.parametrize(("template", "answers"), [("legal", LEGAL), ("real_estate", REAL_ESTATE)])
def test_each_library_booking_report_names_the_slot(template, answers):
    report = book(template, answers).report()
    assert report["subject"].startswith(f"Rendez-vous {SLOT}")
    assert f"Rendez-vous : {SLOT}" in report["body"]


def test_a_booking_without_the_slots_words_says_so():
    report = book("medical", MEDICAL, slot=None).report()
    assert report["subject"].startswith(f"Rendez-vous {SLOT_NOT_GIVEN} — ")
    assert f"Rendez-vous : {SLOT_NOT_GIVEN}" in report["body"]


def test_the_slot_is_one_line_of_plain_text():
    run = Run.start(scenario("medical"), env(UNKNOWN))
    for given in MEDICAL:
        run.answer(given)
    with pytest.raises(AnswerError) as info:
        run.answer({"result": "booked", "slot": "mardi\x00 10:00"})
    assert info.value.errors == {"slot": ("bad_characters", {})} and run.outcome is None
    run.answer({"result": "booked", "slot": "  mardi 30 mars\n  à 10:00  "})
    assert run.outcome["slot"] == "mardi 30 mars à 10:00"


def test_a_report_writes_the_slot_with_appointment_slot_and_only_a_booking_has_one():
    text = """title: T
start: a
fields:
  name: {type: text, label: Nom}
steps:
  a: {ask: [name], next: b}
  b: {appointment: visit, on: {no_slot: m, declined: m}}
  m: {message: [account]}
reports:
  appointment:
    subject: "RDV {{ appointment.slot }} pour {{ name }}"
  default:
    subject: "Message de {{ name }}{{ ' — ' ~ appointment.slot if appointment }}"
"""
    booked = Run.start(scenario(text=text), env(UNKNOWN))
    booked.answer({"name": "Jean Dupont"})
    assert booked.report()["subject"] == "Message de Jean Dupont"  # during the call: no slot yet
    booked.answer({"result": "booked", "slot": SLOT})
    assert booked.report()["subject"] == f"RDV {SLOT} pour Jean Dupont"
    declined = Run.start(scenario(text=text), env(UNKNOWN))
    declined.answer({"name": "Jean Dupont"})
    declined.answer("declined")
    assert declined.outcome["kind"] == "message" and declined.report()["subject"] == "Message de Jean Dupont"
