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


# ---------------------------------------------------------------- recipients and words the client reads


def test_nobody_found_the_message_goes_to_the_accounts_usual_recipients():
    run = client_run()
    run.answer({"person": None})  # not in the directory
    assert run.step == "take_message"
    run.answer({"subject": "Rappel", "urgent": "non"})
    assert run.outcome["step"] == "message_office"
    assert run.outcome["recipients"] == [{"default": True}]
    assert run.report()["subject"] == "Message : Client du cabinet — Jean Dupont"


DEFAULT_REPORT = """title: T
start: a
fields:
  name: {type: text, label: Nom}
steps:
  a: {ask: [name], next: m}
  m: {message: [account], urgent: true}
"""


def test_the_default_subject_has_no_internal_code():
    run = Run.start(scenario(DEFAULT_REPORT), env())
    assert run.report()["subject"] == "Appel en cours — Cabinet Durand — 06 12 34 56 78"
    run.answer({"name": "Jean Dupont"})
    assert run.report()["subject"] == "Message URGENT — Cabinet Durand — Jean Dupont"
    assert run.report()["body"] == "Nom : Jean Dupont"


@pytest.mark.parametrize(
    ("end", "word"), [("information", "Information"), ("refusal", "Refus")]
)
def test_every_outcome_is_written_in_french(end, word):
    text = DEFAULT_REPORT.replace("  m: {message: [account], urgent: true}", f"  m: {{end: {end}}}")
    text += "reports:\n  default: {subject: \"{{ label.outcome }} ({{ name }})\"}\n"
    run = Run.start(scenario(text), env())
    run.answer({"name": "Jean Dupont"})
    assert run.report()["subject"] == f"{word} (Jean Dupont)"


# ---------------------------------------------------------------- a stored run is never restarted


def test_a_run_whose_text_changed_keeps_what_still_applies_and_returns_the_rest():
    run = Run.start(scenario(), env(), version="v1")
    for given in ({}, {"caller_type": "client"}, {"name": "Jean Dupont", "file_number": "2024/0153"}):
        run.answer(given)
    run.answer({"person": "claire-durand"})
    run.answer({"result": "no_answer"})
    stored = json.loads(json.dumps(run.to_json()))  # at take_message, five inputs
    # the new text says something to clients before identifying them: the path changes at input 3
    branch = '{if: caller_type == "client", goto: %s}'
    changed = LEGAL.replace(branch % "identify_client", branch % "reassure").replace(
        "  identify_client:\n",
        "  reassure: {say: 'Je note votre appel.', next: identify_client}\n  identify_client:\n",
    )
    resumed = Run.resume(scenario(changed), env(), stored, version="v2")
    assert resumed.changed and not resumed.complete
    assert [step for step, _ in resumed.run.inputs] == ["welcome", "qualify"]
    assert resumed.run.step == "reassure"
    assert [(u.step, u.reason, u.at) for u in resumed.unapplied] == [
        ("identify_client", "other_step", "reassure"),
        ("find", "after", None),
        ("put_through", "after", None),
    ]
    assert resumed.unapplied[0].values == (("Nom", "Jean Dupont"), ("N° de dossier", "2024/0153"))
    assert resumed.unapplied[1].values == (("", "Maître Claire Durand"),)
    # what could not be applied is kept with the run: saving it loses nothing
    saved = json.loads(json.dumps(resumed.run.to_json()))
    assert [u["step"] for u in saved["unapplied"]] == ["identify_client", "find", "put_through"]
    again = Run.resume(scenario(changed), env(), saved, version="v2")
    assert again.complete and not again.changed
    assert [u.step for u in again.run.unapplied] == ["identify_client", "find", "put_through"]


def test_an_answer_no_longer_valid_is_returned_with_what_was_typed():
    run = client_run()
    stored = run.to_json()  # name "Jean Dupont", file number "2024/0153"
    stricter = LEGAL.replace("pattern: '\\d{4}/\\d{3,5}'", "pattern: '\\d{6}'")
    resumed = Run.resume(scenario(stricter), env(), stored)
    assert resumed.run.step == "identify_client"
    [lost] = resumed.unapplied
    assert lost.reason == "invalid" and lost.step == "identify_client"
    assert set(lost.errors) == {"file_number"}
    assert ("Nom", "Jean Dupont") in lost.values and ("N° de dossier", "2024/0153") in lost.values


def test_a_step_that_is_gone_is_returned_and_the_unchanged_run_resumes_whole():
    run = client_run()
    stored = run.to_json()
    resumed = Run.resume(scenario(), env(), stored, version=run.version)
    assert resumed.complete and not resumed.changed and resumed.run.to_json() == run.to_json()
    renamed = LEGAL.replace("identify_client", "who_is_it")
    resumed = Run.resume(scenario(renamed), env(), stored)
    assert [(u.step, u.reason) for u in resumed.unapplied] == [("identify_client", "unknown_step")]
    assert resumed.run.step == "who_is_it"


# ---------------------------------------------------------------- texts written without Jinja

SIMPLE_TEXTS = [
    "Bonjour {{ name }}.",
    "{{ wanted.name }} ({{ wanted.email }})",
    "{{wanted.replacement.name}}",
    "{{ count }} appel(s), urgent : {{ urgent }}, taux {{ rate }}",
    "Ligne 1\r\nLigne 2 {{ name }}\rfin\n",
    "{{ name }}\n\n",
    "{{ multi }}",
    "{{ missing }} et {{ missing.attr }}",
    "{{ wanted.items }} {{ wanted.keys }}",
    "{{ true }} {{ none }} {{ nothing.name }} {{ nothing.a.b }}",
    "{{ listed }} {{ record }} {{ wanted.nope }}",
]
CONTEXTS = [
    {
        "name": "Léa",
        "wanted": {"name": "Dr Une", "email": "une@example.fr", "replacement": {"name": "Dr Deux"},
                   "items": "x", "keys": "y"},
        "count": 3,
        "urgent": True,
        "rate": 0.5,
        "multi": "a\r\nb\n",
        "nothing": None,
        "listed": ["a"],
        "record": {"k": 1},
    },
    {"name": None, "wanted": None, "count": 0, "urgent": False, "rate": 2.0, "multi": "", "nothing": None},
    {},
]


@pytest.mark.parametrize("source", SIMPLE_TEXTS)
@pytest.mark.parametrize("context", CONTEXTS)
def test_a_simple_text_is_written_as_jinja_writes_it(source, context):
    from permanence.scenarios.engine import templating

    text, problems = templating.compile_text(source)
    assert not problems and text is not None and isinstance(text.tree, str)  # the simple form
    jinja = templating.Text(source, text.names, templating.ENV.parse(source)).render(context)  # by Jinja
    fast = templating._render_simple(source, context)
    assert fast is None or fast == jinja  # None: left to Jinja
    assert text.render(context) == jinja


def test_common_texts_are_written_without_compiling_a_template():
    from permanence.scenarios.engine import templating

    context = CONTEXTS[0]
    for source in SIMPLE_TEXTS[:7]:
        assert templating._render_simple(source, context) is not None, source
    # an unknown caller's name, a name the context lacks: written as nothing, as Jinja writes them
    unknown = "Rappeler {{ caller.name }}{{ nobody }} au {{ call.caller }}"
    values = {"caller": {}, "call": {"caller": "+33612345678"}}
    jinja = templating.Text(unknown, frozenset(), templating.ENV.parse(unknown)).render(values)
    assert templating._render_simple(unknown, values) == jinja == "Rappeler  au +33612345678"
    templating._compiled.cache_clear()
    text, _ = templating.compile_text("Rappeler {{ wanted.name }} au {{ count }}")
    assert text is not None
    assert text.render(context) == "Rappeler Dr Une au 3"
    assert templating._compiled.cache_info().currsize == 0


def test_a_text_is_compiled_once_for_every_scenario_that_writes_it():
    from permanence.scenarios.engine import templating

    templating._compiled.cache_clear()
    texts = [templating.compile_text("{% if urgent %}URGENT {% endif %}{{ name }}")[0] for _ in range(3)]
    assert all(t is not None for t in texts) and texts[0] is not texts[1]
    assert [t.render({"urgent": True, "name": "Léa"}) for t in texts if t] == ["URGENT Léa"] * 3
    assert templating._compiled.cache_info().misses == 1


LAZY = """
title: Lazy
start: ask
fields:
  name: {type: text, label: Nom}
  health: {type: text, label: Santé, sensitive: true}
  kind: {type: choice, options: {client: Client, other: Autre}}
  wanted: {type: person}
  other_person: {type: person}
  urgent: {type: yes_no}
steps:
  ask: {ask: [name, health, kind, wanted, urgent], next: pick}
  pick:
    decide:
      - {if: kind == 'client', goto: done}
      - else: done
  done: {end: information}
"""


def _run_at_outcome():
    people = {"claire-durand": Person("claire-durand", "Maître Claire Durand", email="c@example.fr")}
    calls = []

    class Counting(StaticEnvironment):
        def person(self, ref):
            calls.append(ref)
            return super().person(ref)

    run = Run.start(scenario(LAZY), Counting(people=people, records={"account": {"name": "Cabinet"}}))
    return run, calls


def test_what_texts_read_is_the_same_mapping_read_name_by_name():
    run, _ = _run_at_outcome()
    run.answer(
        {"name": "Léa", "health": "asthme", "kind": "client", "wanted": "claire-durand", "urgent": "oui"}
    )
    masked = run._context(None, masked=True)
    plain = run._context(None)
    whole = dict(masked)
    assert set(whole) == {*run.env.values(), *run.scenario.fields, "params", "identity", "notes", "outcome",
                          "label", "appointment"}
    assert all(masked.get(k) == v and k in masked for k, v in whole.items())
    assert whole["health"] == "[confidentiel : à lire en ligne]" and plain["health"] == "asthme"
    assert whole["wanted"]["name"] == "Maître Claire Durand" and whole["other_person"] is None
    assert whole["label"] == {"name": "Léa", "health": "[confidentiel : à lire en ligne]", "kind": "Client",
                              "wanted": "Maître Claire Durand", "other_person": None, "urgent": "oui",
                              "outcome": "Information"}
    assert whole["account"] == {"name": "Cabinet"} and whole["outcome"] == "information"
    assert "nothing" not in masked and masked.get("nothing") is None and len(masked) == len(whole)


def test_a_condition_reads_only_the_names_it_names():
    run, calls = _run_at_outcome()
    run.answer({"name": "Léa", "health": "x", "kind": "client", "wanted": "claire-durand", "urgent": "non"})
    assert run.outcome["kind"] == "information"
    step = run.scenario.steps["pick"]
    calls.clear()
    assert run._eval(step.branches[0].condition.expr, step) is True
    assert calls == []  # ``kind == 'client'``: no person looked up
    assert run._eval(checker.ex.parse("wanted.name == 'Maître Claire Durand'"), step) is True
    assert calls == ["claire-durand"]  # the one person read, once
