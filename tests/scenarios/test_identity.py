"""The identity check (``verify``): answers normalised and compared in constant time by a prepared
verifier, only the outcome and the number of attempts kept by the run, bounded attempts, and the
checker's problems for a badly written step."""

import json
from datetime import date

import pytest

from permanence.scenarios.engine import checker, identity
from permanence.scenarios.engine.checker import AccountInfo
from permanence.scenarios.engine.identity import IdentityInputError, Simulated, Verifier, normalise
from permanence.scenarios.engine.runtime import AnswerError, Run, StaticEnvironment

TODAY = date(2026, 12, 7)

# ---------------------------------------------------------------- normalising


@pytest.mark.parametrize("written", [
    "24/12/1980", "24-12-1980", "24.12.1980", "24 12 1980", "24121980", "241280", "24/12/80",
    "1980-12-24", "1980/12/24", "24 décembre 1980", "24 DECEMBRE 1980", "24 déc. 1980", "24 dec 80",
    "mercredi 24 décembre 1980", " 24 / 12 / 1980 ", "24décembre1980",
])
def test_a_date_in_any_common_french_writing(written):
    assert normalise("birth_date", written, TODAY) == "1980-12-24"


def test_first_of_the_month_and_two_digit_years_in_the_past():
    assert normalise("birth_date", "1er janvier 2001", TODAY) == "2001-01-01"
    assert normalise("birth_date", "1er févr. 05", TODAY) == "2005-02-01"
    assert normalise("birth_date", "03/04/26", TODAY) == "2026-04-03"
    assert normalise("birth_date", "03/04/27", TODAY) == "1927-04-03"  # a birth date is in the past


@pytest.mark.parametrize(
    "written", ["31/02/1980", "24/13/1980", "hier", "24/12", "12/24/80/1", "", "24 foo 1980"]
)
def test_what_is_not_a_date_is_said_without_counting(written):
    with pytest.raises(IdentityInputError):
        normalise("birth_date", written, TODAY)


def test_a_two_digit_year_needs_todays_date():
    with pytest.raises(IdentityInputError):
        normalise("birth_date", "24/12/80")


def test_file_numbers_postcodes_names_and_addresses():
    assert normalise("file_number", " ab-2024 / 0153 ") == normalise("file_number", "AB20240153")
    assert normalise("file_number", "ab 2024.0153") == "ab20240153"
    assert normalise("postcode", "75 001") == normalise("postcode", "75001") == "75001"
    assert normalise("postcode", "sw1a 1aa") == "SW1A1AA"
    assert normalise("last_name", "  Le Bœuf-D'Éon ") == normalise("last_name", "le boeuf d eon")
    assert normalise("email", " Claire@Garnier.FR ") == "claire@garnier.fr"
    with pytest.raises(IdentityInputError):
        normalise("file_number", " -/ ")
    with pytest.raises(IdentityInputError):
        normalise("last_name", "a\x00b")


# ---------------------------------------------------------------- the verifier


def verifier(**stored):
    return Verifier(("file_number", "birth_date"), stored, today=TODAY)


def test_the_verifier_keeps_digests_not_values():
    check = verifier(file_number="AB-2024-0153", birth_date="24/12/1980")
    kept = repr(check) + repr(vars(check))
    for secret in ("AB-2024-0153", "ab20240153", "1980-12-24", "24/12/1980"):
        assert secret not in kept
    assert check.keys == ("file_number", "birth_date")


def test_the_verifier_matches_normalised_answers_all_of_them():
    check = verifier(file_number="AB-2024-0153", birth_date="1980-12-24")
    right = {"file_number": check.normalise("file_number", "ab 2024 0153"),
             "birth_date": check.normalise("birth_date", "24 décembre 1980")}
    assert check.matches(right)
    assert not check.matches({**right, "birth_date": check.normalise("birth_date", "25/12/1980")})
    assert not check.matches({**right, "file_number": "ab20240154"})
    assert not check.matches({})  # nothing asked: nothing proved


def test_a_value_the_contact_does_not_keep_matches_nothing():
    check = verifier(file_number="AB1", birth_date=None)
    assert not check.matches({"file_number": "ab1", "birth_date": "1980-12-24"})
    assert not check.matches({"file_number": "ab1", "birth_date": ""})
    unreadable = verifier(file_number="AB1", birth_date="not a date")
    assert not unreadable.matches({"file_number": "ab1", "birth_date": "1980-12-24"})


def test_each_verifier_has_its_own_key():
    a, b = verifier(file_number="AB1"), verifier(file_number="AB1")
    assert a._digests["file_number"] != b._digests["file_number"]


def test_the_comparison_is_constant_time(monkeypatch):
    """Every answer goes through hmac.compare_digest, the others' results notwithstanding."""
    compared = []
    real = identity.hmac.compare_digest
    monkeypatch.setattr(identity.hmac, "compare_digest", lambda a, b: compared.append(1) or real(a, b))
    check = verifier(file_number="AB1", birth_date="1980-12-24")
    assert not check.matches({"file_number": "wrong", "birth_date": "1980-12-24"})
    assert len(compared) == 2


# ---------------------------------------------------------------- the run

SCENARIO = """
title: Cabinet médical
start: welcome
fields:
  reason: {type: long_text, label: Motif, sensitive: true}
steps:
  welcome:
    say: "Cabinet médical, bonjour."
    next:
      - {if: caller.known, goto: check}
      - else: message
  check:
    verify: [file_number, birth_date]
    say: "Pour vérifier votre identité : votre numéro de dossier et votre date de naissance ?"
    note: "Identité {{ 'vérifiée' if identity.verified else 'non vérifiée' }}"
    next:
      - {if: identity.verified, goto: reason}
      - else: message
  reason:
    ask: [reason]
    next: message
  message:
    message: [account]
"""
RIGHT = {"file_number": "ab 2024 0153", "birth_date": "24 décembre 1980"}
WRONG = {"file_number": "AB-2024-9999", "birth_date": "01/01/1990"}


def run_with(check=None, text=SCENARIO, sensitive=frozenset()):
    result = checker.check(text)
    assert result.ok, [str(p) for p in result.problems.errors]
    env = StaticEnvironment(records={"caller": {"known": True, "name": "Jean Dupont"}}, identity=check,
                            sensitive=sensitive)
    run = Run.start(result.scenario, env)
    run.answer({})  # welcome
    return run


def contact():
    stored = {"file_number": "AB-2024-0153", "birth_date": "1980-12-24"}
    return Verifier(("file_number", "birth_date"), stored, today=TODAY)


def typed_nowhere(run, *values):
    state = json.dumps(run.to_json(), ensure_ascii=False) + json.dumps(run.report(), ensure_ascii=False)
    state += json.dumps(run.screen(), ensure_ascii=False, default=str)
    for value in values:
        assert value not in state, value


def test_a_verified_caller_goes_on_and_only_the_outcome_is_kept():
    run = run_with(contact())
    screen = run.screen()
    assert screen["kind"] == "verify"
    assert [f["name"] for f in screen["identity"]["fields"]] == ["file_number", "birth_date"]
    assert screen["identity"]["remaining"] == 3
    run.answer(RIGHT)
    assert run.step == "reason"
    assert run.inputs[-1] == ("check", {"result": "verified"})
    assert run.to_json()["identity"] == {"checked": True, "verified": True, "attempts": 1}
    assert "Identité vérifiée" in run.notes
    assert "Identité : vérifiée" in run.report()["body"]
    typed_nowhere(run, *RIGHT.values(), "AB-2024-0153", "ab20240153", "1980-12-24", "décembre")


def test_wrong_answers_are_asked_again_then_not_verified_after_the_attempts():
    run = run_with(contact())
    run.answer(WRONG)
    assert run.step == "check" and run.screen()["identity"]["remaining"] == 2
    assert run.inputs[-1] == ("check", {"result": "failed"})
    run.answer(WRONG)
    run.answer(RIGHT | {"birth_date": "25/12/1980"})
    assert run.step is None and run.outcome["kind"] == "message"  # not verified: straight to the message
    assert run.to_json()["identity"] == {"checked": True, "verified": False, "attempts": 3}
    assert "Identité : non vérifiée" in run.report()["body"]
    typed_nowhere(run, *WRONG.values(), "25/12/1980", "ab20249999", "1990-01-01")


def test_an_unreadable_answer_counts_no_attempt_and_nothing_is_stored():
    run = run_with(contact())
    with pytest.raises(AnswerError) as exc:
        run.answer({"file_number": "AB1", "birth_date": "31/02/1980"})
    assert exc.value.errors == {"birth_date": ("identity_bad_date", {})}
    with pytest.raises(AnswerError) as exc:
        run.answer({"file_number": " "})
    assert set(exc.value.errors) == {"file_number", "birth_date"}
    assert run.inputs == [("welcome", {})] and run.verification["attempts"] == 0


def test_the_secretary_may_go_on_without_checking_and_never_say_verified():
    run = run_with(contact())
    with pytest.raises(AnswerError):
        run.answer({"result": "verified"})  # a real check is never told its outcome
    with pytest.raises(AnswerError):
        run.answer({"result": "verified", **RIGHT})
    run.answer("not_verified")
    assert run.outcome["kind"] == "message" and run.verification["attempts"] == 0


def test_an_unknown_caller_has_nothing_to_compare_with():
    run = run_with(None)
    assert run.screen()["identity"]["contact"] is False
    with pytest.raises(AnswerError) as exc:
        run.answer(RIGHT)
    assert exc.value.errors == {"": ("identity_no_contact", {})}
    run.answer({"result": "not_verified"})
    assert run.step is None


def test_a_simulated_check_takes_the_secretarys_word():
    run = run_with(Simulated(("last_name",)))
    assert run.screen()["identity"]["simulated"] is True
    run.answer("failed")
    run.answer("verified")
    assert run.step == "reason" and run.verification["attempts"] == 2


def test_attempts_cannot_be_undone_nor_the_check_made_again():
    text = SCENARIO.replace("      - else: message\n  reason:", "      - else: again\n  reason:")
    text = text.replace("    next:\n      - {if: identity.verified",
                        "    attempts: 2\n    next:\n      - {if: identity.verified")
    text += ("  again: {say: \"Reprenons.\", next: check_again}\n"
             "  check_again: {verify: [file_number], next: message}\n")
    result = checker.check(text)
    assert result.ok, [str(p) for p in result.problems.errors]
    env = StaticEnvironment(records={"caller": {"known": True}}, identity=contact())
    run = Run.start(result.scenario, env)
    run.answer({})
    run.answer(WRONG)
    with pytest.raises(AnswerError) as exc:
        run.back()
    assert exc.value.errors == {"": ("identity_no_undo", {})}
    run.answer(WRONG)  # the second and last attempt
    assert run.step == "again"
    run.answer({})  # the second check is passed: an identity is checked once a call
    assert run.step is None and run.path[-2:] == ["check_again", "message"]
    assert run.verification == {"checked": True, "verified": False, "attempts": 2, "done": True}


def test_a_stored_run_resumes_from_its_outcomes_without_any_verifier():
    run = run_with(contact())
    run.answer(WRONG)
    run.answer(RIGHT)
    stored = json.loads(json.dumps(run.to_json()))
    again = Run.from_json(run.scenario, StaticEnvironment(records={"caller": {"known": True}}), stored)
    assert again.step == "reason" and again.verification["verified"]
    resumed = Run.resume(run.scenario, StaticEnvironment(records={"caller": {"known": True}}), stored)
    assert resumed.complete and resumed.run.verification["attempts"] == 2
    assert run.replay(run.scenario)["diverges"] is False


def test_a_forged_stored_input_is_refused():
    run = run_with(contact())
    stored = run.to_json()
    stored["inputs"].append(["check", {"result": "yes please"}])
    resumed = Run.resume(run.scenario, StaticEnvironment(records={"caller": {"known": True}}), stored)
    assert resumed.unapplied and resumed.run.step == "check"


def test_verify_identity_asks_the_accounts_questions():
    text = SCENARIO.replace("verify: [file_number, birth_date]", "verify: identity")
    run = run_with(Verifier(("email",), {"email": "jean@dupont.fr"}), text=text)
    assert [f["name"] for f in run.screen()["identity"]["fields"]] == ["email"]
    run.answer({"email": "Jean@Dupont.fr "})
    assert run.verification["verified"]


# ---------------------------------------------------------------- sensitive fields


def test_a_sensitive_answer_is_shown_but_masked_in_the_report_and_notes():
    text = SCENARIO.replace("    next: message\n  message:",
                            "    note: \"Motif : {{ reason }}\"\n    next: message\n  message:")
    run = run_with(contact(), text=text)
    run.answer(RIGHT)
    run.answer({"reason": "Douleurs thoraciques depuis hier"})
    assert run.answers["reason"] == "Douleurs thoraciques depuis hier"
    report = run.report()
    assert "Douleurs" not in json.dumps(report, ensure_ascii=False)
    assert "Motif : [confidentiel : à lire en ligne]" in report["body"]
    assert run.notes[-1] == "Motif : [confidentiel : à lire en ligne]"
    assert run.sensitive_answers() == [{"name": "reason", "label": "Motif",
                                        "value": "Douleurs thoraciques depuis hier",
                                        "text": "Douleurs thoraciques depuis hier"}]


def test_the_account_names_sensitive_fields_too():
    text = SCENARIO.replace("sensitive: true", "required: true")
    run = run_with(contact(), text=text, sensitive=frozenset({"reason", "nothing_such"}))
    run.answer(RIGHT)
    run.answer({"reason": "Garde à vue"})
    assert run.sensitive_names() == {"reason"}
    assert "Garde" not in run.report()["body"]
    assert run_with(contact(), text=text).sensitive_names() == frozenset()


def test_a_custom_report_reads_the_mask():
    text = SCENARIO + """
reports:
  default:
    subject: "Appel — {{ reason or 'sans motif' }}"
    body: "{{ label.reason or '' }} / {{ reason or '' }}"
"""
    run = run_with(contact(), text=text)
    run.answer(RIGHT)
    run.answer({"reason": "Divorce"})
    report = run.report()
    assert "Divorce" not in report["subject"] + report["body"]
    assert report["body"] == "[confidentiel : à lire en ligne] / [confidentiel : à lire en ligne]"


# ---------------------------------------------------------------- the checker

HEAD = "title: T\nstart: welcome\nfields:\n  reason: {type: text}\nsteps:\n"
KNOWN = ("  welcome:\n    say: Bonjour\n    next:\n      - {if: caller.known, goto: check}\n"
         "      - else: done\n")


def problems(steps, account=None):
    return checker.check(HEAD + steps, account).problems


def codes(steps, account=None):
    return sorted({p.code for p in problems(steps, account).errors})


def test_a_well_written_check_is_clean():
    steps = KNOWN + ("  check:\n    verify: [file_number, birth_date]\n    attempts: 2\n"
                     "    next: [{if: identity.verified, goto: done}, {else: done}]\n"
                     "  done: {end: information}\n")
    assert codes(steps) == []
    assert codes(steps, AccountInfo("a", identity_fields=("file_number", "birth_date"))) == []


@pytest.mark.parametrize(("welcome", "ok"), [
    ("{if: caller.known, goto: check}", True),
    ("{if: caller.known == true, goto: check}", True),
    ("{if: has_tag(\"patient\") and is_open(), goto: check}", True),
    ("{if: caller.type == \"client\", goto: check}", True),
    ("{if: is_set(caller.name), goto: check}", True),
    ("{if: not caller.known, goto: done}", True),  # the else branch: known
    ("{if: caller.known or is_open(), goto: check}", False),
    ("{if: is_open(), goto: check}", False),
    ("{if: caller.known == false, goto: check}", False),
])
def test_the_check_needs_a_known_caller_on_every_path(welcome, ok):
    steps = (f"  welcome:\n    say: Bonjour\n    next:\n      - {welcome}\n"
             "      - else: " + ("check" if "not caller" in welcome else "done") + "\n"
             "  check:\n    verify: [file_number]\n    next: done\n  done: {end: information}\n")
    found = [p for p in problems(steps).errors if p.code == "verify_without_contact"]
    assert (found == []) is ok, found
    if not ok:
        assert "welcome → check" in found[0].message()


def test_badly_written_steps():
    steps = KNOWN + ("  check:\n    verify: [file_numbr, birth_date]\n    attempts: 9\n    next: done\n"
                     "  done: {end: information}\n")
    found = {p.code: p for p in problems(steps).errors}
    assert {"unknown_identity_field", "out_of_range"} <= set(found)
    unknown = found["unknown_identity_field"]
    assert unknown.line == 12 and "file_number" in unknown.message()
    empty = KNOWN + "  check:\n    verify: []\n    next: done\n  done: {end: information}\n"
    assert codes(empty) == ["verify_empty"]
    assert "missing_key" in codes(KNOWN + "  check:\n    verify: identity\n  done: {end: information}\n")


def test_against_the_accounts_identity_questions():
    steps = KNOWN + "  check:\n    verify: [file_number, email]\n    next: done\n  done: {end: information}\n"
    account = AccountInfo("a", name="Cabinet A", identity_fields=("email", "last_name"))
    found = [p for p in problems(steps, account).errors]
    assert [p.code for p in found] == ["identity_field_not_kept"]
    assert "email, last_name" in found[0].message()
    whole = KNOWN + "  check:\n    verify: identity\n    next: done\n  done: {end: information}\n"
    assert codes(whole, account) == []
    assert codes(whole, AccountInfo("a", identity_fields=())) == ["no_identity_fields"]
    assert codes(whole) == []  # without the account: checked at the desk


def test_identity_read_before_any_check():
    steps = ("  welcome:\n    say: \"{{ 'ok' if identity.verified }}\"\n"
             "    next: [{if: identity.verified, goto: done}, {else: done}]\n  done: {end: information}\n")
    found = [p.code for p in problems(steps).errors]
    assert found.count("identity_before_check") == 2
    assert "identity_before_check" not in codes(steps.replace("identity.verified, goto", "is_open(), goto")
                                                 .replace("'ok' if identity.verified", "'ok'"))


def test_identity_attributes_are_checked():
    steps = KNOWN + ("  check:\n    verify: [email]\n"
                     "    next: [{if: identity.passed, goto: done}, {else: done}]\n"
                     "  done: {end: information}\n")
    assert "unknown_attribute" in codes(steps)


def test_each_identity_question_counts_in_the_interrogation():
    steps = KNOWN + ("  check:\n"
                     "    verify: [file_number, birth_date, postcode, email, last_name, first_name]\n"
                     "    next: ask\n  ask: {ask: [reason], next: done}\n  done: {end: information}\n")
    assert [p.code for p in problems(steps).warnings] == ["interrogation"]


def test_sensitive_must_be_true_or_false():
    steps = "  welcome: {ask: [reason], next: done}\n  done: {end: information}\n"
    text = HEAD.replace("{type: text}", "{type: text, sensitive: oui}") + steps
    assert "expected_bool" in {p.code for p in checker.check(text).problems.errors}
    marked = checker.check(HEAD.replace("{type: text}", "{type: text, sensitive: true}") + steps)
    assert marked.scenario.fields["reason"].sensitive


def test_the_flowchart_says_what_is_checked():
    from permanence.scenarios.engine import drawing

    scenario = checker.check(SCENARIO).scenario
    text = drawing.mermaid(scenario)
    assert "Vérifier l'identité : numéro de dossier, date de naissance" in text
    assert "identité vérifiée" in text
    assert any(row["kind"] == "Vérifier l'identité" for row in drawing.outline(scenario))


def test_the_published_schema_knows_the_check_and_sensitive_fields():
    from pathlib import Path

    from jsonschema import Draft202012Validator

    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "scenario.schema.json").read_text())
    validator = Draft202012Validator(schema)

    def doc(check, field=None):
        return {"title": "T", "start": "a", "fields": {"reason": field or {"type": "text"}},
                "steps": {"a": {"verify": check, "attempts": 3, "say": "Votre date de naissance ?",
                                "next": "b"}, "b": {"end": "information"}}}

    assert not list(validator.iter_errors(doc("identity", {"type": "text", "sensitive": True})))
    assert not list(validator.iter_errors(doc(["file_number", "birth_date"])))
    assert list(validator.iter_errors(doc(["shoe_size"])))
    assert list(validator.iter_errors(doc("everything")))
    assert list(validator.iter_errors(doc("identity", {"type": "text", "sensitive": "oui"})))
