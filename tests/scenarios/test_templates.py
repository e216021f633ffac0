"""The template library: each scenario runs to every one of its outcomes."""

from pathlib import Path

import pytest

from permanence.scenarios.engine import checker, model
from permanence.scenarios.engine.runtime import Person, Run, StaticEnvironment

LIBRARY = Path(__file__).resolve().parents[2] / "src" / "permanence" / "scenarios" / "library"
PERSON = "p-one"


def env(open_=True, can_transfer=True):
    return StaticEnvironment(
        people={PERSON: Person(PERSON, "Dr Une", email="une@example.fr")},
        records={"account": {"name": "Compte test"}, "call": {"caller": "+33612345678"}},
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
