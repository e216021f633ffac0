"""The template library: each scenario runs to every one of its outcomes."""

from pathlib import Path

import pytest

from permanence.scenarios.engine import checker, model
from permanence.scenarios.engine.runtime import Person, Run, StaticEnvironment

LIBRARY = Path(__file__).resolve().parents[2] / "src" / "permanence" / "scenarios" / "library"
PERSON = "p-one"


#: a caller found in the account's contacts, as ``scenarios.environment.caller_record`` gives it
KNOWN = {"known": True, "name": "Léa Martin", "company": "Martin Bâtiment", "tags": ["client"],
         "type": "client", "email": "lea@martin.example"}


def env(open_=True, can_transfer=True, caller=None):
    records = {"account": {"name": "Compte test"}, "call": {"caller": "+33612345678"}}
    if caller is not None:
        records["caller"] = caller
    return StaticEnvironment(
        people={PERSON: Person(PERSON, "Dr Une", email="une@example.fr")},
        records=records,
        functions={"is_open": open_, "can_transfer": lambda *a: can_transfer},
    )


# (template, environment options, answers in order, expected outcome kind)
WALKS = [
    ("switchboard", {}, [{}, {"caller_type": "cold_caller"}, {}], "refusal"),
    ("switchboard", {}, [{}, {"caller_type": "job_seeker"}, {}], "information"),
    (
        "switchboard",
        {},
        [{}, {"caller_type": "client"}, {"name": "Léa Martin"}, {"person": PERSON}, "accepted"],
        "transfer",
    ),
    (
        "switchboard",
        {"open_": False},
        [
            {},
            {"caller_type": "client"},
            {"name": "Léa Martin"},
            {"person": PERSON},
            {},
            {"subject": "Rappel", "urgent": "non"},
        ],
        "message",
    ),
    ("legal", {}, [{}, {"caller_type": "cold_caller"}, {}], "refusal"),
    ("legal", {}, [{}, {"caller_type": "job_seeker"}, {}], "information"),
    (
        "legal",
        {},
        [{}, {"caller_type": "client"}, {"name": "Jean Dupont"}, {"person": PERSON}, "accepted"],
        "transfer",
    ),
    (
        "legal",
        {},
        [
            {},
            {"caller_type": "prospect"},
            {"name": "Jean Dupont", "domain": "family", "subject": "Divorce"},
            "booked",
        ],
        "appointment",
    ),
    (
        "legal",
        {"can_transfer": False},
        [
            {},
            {"caller_type": "client"},
            {"name": "Jean Dupont"},
            {"person": PERSON},
            {},
            {"subject": "Rappel", "urgent": "oui"},
        ],
        "message",
    ),
    ("medical", {}, [{}, {"reason": "emergency"}, {}], "information"),
    (
        "medical",
        {},
        [
            {},
            {"reason": "appointment"},
            {"patient": "Paul Roux", "birth_date": "02/03/1980"},
            {"person": PERSON},
            "booked",
        ],
        "appointment",
    ),
    (
        "medical",
        {},
        [
            {},
            {"reason": "results"},
            {"patient": "Paul Roux", "birth_date": "02/03/1980"},
            {"person": PERSON},
            {"subject": "Résultats", "urgent": "non"},
        ],
        "message",
    ),
    (
        "real_estate",
        {},
        [{}, {"request": "visit"}, {"listing": "AP-1234", "name": "Ana Lopes"}, "booked"],
        "appointment",
    ),
    (
        "real_estate",
        {},
        [{}, {"request": "sell"}, {"name": "Ana Lopes"}, {"person": None}, {"subject": "Estimation"}],
        "message",
    ),
    (
        "ecommerce",
        {},
        [
            {},
            {"topic": "order"},
            {"order_number": "CMD-20931", "name": "Ana Lopes", "email": "ana@example.fr"},
            {},
        ],
        "information",
    ),
    (
        "ecommerce",
        {},
        [
            {},
            {"topic": "defect"},
            {"order_number": "CMD-20931", "name": "Ana Lopes", "email": "ana@example.fr"},
            {"subject": "Écran cassé", "urgent": "oui"},
        ],
        "message",
    ),
    (
        "trades",
        {},
        [
            {},
            {"need": "emergency"},
            {"name": "Ana Lopes", "address": "3 rue Haute", "subject": "Fuite"},
            {"person": PERSON},
            "accepted",
        ],
        "transfer",
    ),
    (
        "trades",
        {},
        [{}, {"need": "quote"}, {"name": "Ana Lopes", "postcode": "69003", "subject": "Salle de bain"}],
        "message",
    ),
]


def test_every_template_is_walked():
    assert {w[0] for w in WALKS} == {p.stem for p in LIBRARY.glob("*.yaml")}


@pytest.mark.parametrize(
    ("template", "options", "answers", "outcome"),
    WALKS,
    ids=[f"{w[0]}-{w[3]}-{i}" for i, w in enumerate(WALKS)],
)
def test_walk_reaches_the_outcome(template, options, answers, outcome):
    result = checker.check((LIBRARY / f"{template}.yaml").read_bytes())
    assert result.ok
    run = Run.start(result.scenario, env(**options))
    for given in answers:
        run.answer(given)
    assert run.step is None and run.outcome["kind"] == outcome
    report = run.report()
    assert report["subject"].startswith(model.OUTCOME_LABELS[outcome])  # in French, no internal code
    assert "[" not in report["subject"] and outcome not in report["subject"].split()


@pytest.mark.parametrize("template", sorted(p.stem for p in LIBRARY.glob("*.yaml")))
def test_every_outcome_of_a_template_is_walked(template):
    scenario = checker.check((LIBRARY / f"{template}.yaml").read_bytes()).scenario
    possible = set()
    for step in scenario.steps.values():
        if step.kind == "end":
            possible.add(step.end)
        elif step.kind in ("message", "transfer", "appointment"):
            possible.add(step.kind)
    walked = {w[3] for w in WALKS if w[0] == template}
    assert possible == walked
    assert possible <= set(model.OUTCOMES)


@pytest.mark.parametrize(
    ("template", "options", "answers", "outcome"),
    WALKS,
    ids=[f"{w[0]}-{w[3]}-{i}" for i, w in enumerate(WALKS)],
)
def test_a_known_caller_walks_the_same_way_with_what_is_known_kept(template, options, answers, outcome):
    """The same answers with a known caller: every step still shows (known values filled in), the outcome
    is the same, and a known value the secretary did not change is the contact's."""
    scenario = checker.check((LIBRARY / f"{template}.yaml").read_bytes()).scenario
    run = Run.start(scenario, env(**options, caller=KNOWN))
    given_names = set()
    for given in answers:
        if isinstance(given, dict):
            given_names |= set(given)
        run.answer(given)
    assert run.step is None and run.outcome["kind"] == outcome
    from_contact = {
        name: f.prefill.source.removeprefix("caller.")
        for name, f in scenario.fields.items()
        if f.prefill is not None and f.prefill.source.startswith("caller.")
    }
    kept = {n: run.answers[n] for n in from_contact if n in run.answers and n not in given_names}
    assert kept == {name: KNOWN[from_contact[name]] for name in kept}


@pytest.mark.parametrize("template", sorted(p.stem for p in LIBRARY.glob("*.yaml")))
def test_a_template_prefills_the_callers_type_name_and_company_where_it_asks_them(template):
    scenario = checker.check((LIBRARY / f"{template}.yaml").read_bytes()).scenario
    expected = {"caller_type": "caller.type", "name": "caller.name", "company": "caller.company",
                "email": "caller.email", "patient": "caller.name"}
    asked = {name for step in scenario.steps.values() for name, _, _ in step.fields}
    for name in asked & set(expected):
        assert scenario.fields[name].prefill is not None, name
        assert scenario.fields[name].prefill.source == expected[name]


def test_the_switchboard_shows_a_known_callers_type_name_and_company_filled_in():
    scenario = checker.check((LIBRARY / "switchboard.yaml").read_bytes()).scenario
    run = Run.start(scenario, env(caller=KNOWN))
    run.answer({})
    assert [(f["name"], f["known"], f["value"]) for f in run.screen()["fields"]] == [
        ("caller_type", True, "client")
    ]
    run.answer({})
    assert [(f["name"], f["known"], f["text"]) for f in run.screen()["fields"]] == [
        ("name", True, "Léa Martin"),
        ("company", True, "Martin Bâtiment"),
        ("phone", True, "06 12 34 56 78"),
    ]
