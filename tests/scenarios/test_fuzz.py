"""Any input gets problems, never a traceback or a hang; random walks always end in an outcome."""

import random
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from permanence.scenarios.engine import checker, model
from permanence.scenarios.engine.runtime import AnswerError, Person, Run, StaticEnvironment

LIBRARY = Path(__file__).resolve().parents[2] / "src" / "permanence" / "scenarios" / "library"
LEGAL = (LIBRARY / "legal.yaml").read_text()
FAST = settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


def must_not_crash(data):
    result = checker.check(data)
    for problem in result.problems.items:
        assert problem.line >= 1 and problem.column >= 1
        assert problem.message()
    return result


@FAST
@given(st.binary(max_size=2000))
def test_random_bytes(data):
    must_not_crash(data)


@FAST
@given(st.text(max_size=2000))
def test_random_text(data):
    must_not_crash(data)


WORDS = st.sampled_from(
    [
        "title",
        "start",
        "steps",
        "fields",
        "say",
        "ask",
        "next",
        "decide",
        "if",
        "goto",
        "else",
        "lookup",
        "on",
        "found",
        "not_found",
        "transfer",
        "message",
        "end",
        "use",
        "blocks",
        "params",
        "reports",
        "type",
        "choice",
        "options",
        "a",
        "b",
        "kind",
        "information",
        "refused",
        "busy",
        "no_answer",
        "other",
        "return",
        "with",
        "kind == 'a'",
        "is_open()",
        "{{ kind }}",
        "{% for %}",
        "__class__",
        "",
    ]
)
SCALARS = st.one_of(WORDS, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))
TREES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(WORDS, inner, max_size=6)),
    max_leaves=60,
)


@FAST
@given(st.dictionaries(WORDS, TREES, max_size=8))
def test_random_scenario_shaped_documents(tree):
    must_not_crash(yaml.safe_dump(tree, allow_unicode=True))


@FAST
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(LEGAL) - 1),
            st.sampled_from(
                ["", ":", "-", " ", "\n", "{", "}", "[", "]", "'", '"', "#", "&a", "*a", "!!", "?", "|", "\t"]
            ),
        ),
        max_size=8,
    )
)
def test_mutations_of_a_real_scenario(edits):
    text = LEGAL
    for position, insert in edits:
        position %= max(len(text), 1)
        text = text[:position] + insert + text[position + 1 :]
    must_not_crash(text)


def _answer_for(run, rng):
    screen = run.screen()
    kind = screen["kind"]
    if kind == "ask":
        values = {}
        for f in screen["fields"]:
            values[f["name"]] = {
                "choice": lambda f=f: rng.choice(list(f["options"])),
                "text": lambda: rng.choice(["Dupont", "Jean Martin"]),
                "phone": lambda: rng.choice(["0612345678", "+33 1 45 00 01 01"]),
                "yes_no": lambda: rng.choice(["oui", "non"]),
                "long_text": lambda: "Rappeler",
                "email": lambda: "jean@example.fr",
            }.get(f["type"], lambda: "x")()
            if f["name"] == "file_number":
                values[f["name"]] = rng.choice(["2024/0153", ""])
        return values
    if kind == "lookup":
        return {"person": rng.choice(["claire-durand", None])}
    if kind in ("transfer", "appointment"):
        return {"result": rng.choice(screen["results"])}
    return {}


@settings(max_examples=300, deadline=2000)
@given(st.integers(0, 2**32), st.booleans(), st.booleans())
def test_random_walks_end_in_an_outcome_and_the_report_renders(seed, is_open, can_transfer):
    rng = random.Random(seed)
    scenario = checker.check(LEGAL).scenario
    env = StaticEnvironment(
        people={"claire-durand": Person("claire-durand", "Maître Durand")},
        functions={"is_open": is_open, "can_transfer": lambda *a: can_transfer},
    )
    run = Run.start(scenario, env)
    for _ in range(50):
        if run.step is None:
            break
        if rng.random() < 0.1 and run.inputs:
            run.back()
            continue
        try:
            run.answer(_answer_for(run, rng))
        except AnswerError as exc:  # an optional field left empty is fine; nothing else may fail
            raise AssertionError(exc.errors) from None
    for _ in range(50):  # finish without going back
        if run.step is None:
            break
        run.answer(_answer_for(run, rng))
    assert run.outcome and run.outcome["kind"] in (
        "transfer",
        "appointment",
        "message",
        "information",
        "refusal",
    )
    report = run.report()
    assert report["subject"].startswith(model.OUTCOME_LABELS[run.outcome["kind"]])
    assert "[" not in report["subject"] and run.outcome["kind"] not in report["subject"].split()
    assert "Error" not in report["body"] and "None" not in report["body"]


# Scenarios of well-formed steps wired at random: the graph, the dataflow, the loops and the texts
# are checked on every one of them (problems, never an exception).
IDS = ["a", "b", "c", "d", "e"]
CONDITIONS = st.sampled_from(
    [
        "is_set(wanted)",
        "kind == 'client'",
        "not is_open()",
        "can_transfer(wanted, kind)",
        "can_transfer(wanted, 'notary')",
        "wanted == None",
        "is_set(name) and urgent",
        "true",
        "available(wanted) or kind != 'prospect'",
        "not (is_set(wanted) or is_set(name))",
    ]
)
TEXTS = st.sampled_from(
    [
        "Bonjour",
        "{{ wanted.name }}",
        "{{ wanted.name if wanted }}",
        "{% if name %}{{ name }}{% elif wanted %}{{ wanted.email }}{% else %}x{% endif %}",
        "{{ label.kind }} {{ label.outcome }} {{ label.nope }}",
        "{{ wanted.phone }} {{ wanted.replacement.name }}",
        "{{ name | default('x') }} {{ name.upper() }}",
        "{{ nope.x }}",
        "{% for n in notes %}{{ n }}{% endfor %}",
        "{{ (name or kind) ~ wanted.name if not wanted is none }}",
        "{% set x = name %}{{ x }}",
    ]
)
TARGET = st.sampled_from(IDS)
BRANCHES = st.lists(st.fixed_dictionaries({"if": CONDITIONS, "goto": TARGET}), max_size=3).flatmap(
    lambda ifs: TARGET.map(lambda other: [*ifs, {"else": other}])
)
STEPS = st.one_of(
    st.fixed_dictionaries({"say": TEXTS, "next": TARGET}),
    st.fixed_dictionaries(
        {
            "ask": st.lists(st.sampled_from(["kind", "name", "urgent", "name?", "caller_type"]), min_size=1),
            "next": st.one_of(TARGET, BRANCHES),
        },
        optional={"note": TEXTS},
    ),
    st.fixed_dictionaries({"decide": BRANCHES}),
    st.fixed_dictionaries(
        {"lookup": st.just("wanted"), "on": st.fixed_dictionaries({"found": TARGET, "not_found": TARGET})}
    ),
    st.fixed_dictionaries(
        {"transfer": st.sampled_from(["wanted", "anne"]), "on": st.fixed_dictionaries({"other": TARGET})}
    ),
    st.fixed_dictionaries(
        {"message": st.lists(st.sampled_from(["wanted", "account", "x@y.fr"]), max_size=2)},
        optional={"urgent": CONDITIONS},
    ),
    st.fixed_dictionaries({"end": st.sampled_from(["information", "refusal"])}, optional={"note": TEXTS}),
)
REPORTS = st.dictionaries(
    st.sampled_from(["default", "message", "information", "transfer"]),
    st.fixed_dictionaries(
        {}, optional={"subject": TEXTS, "body": TEXTS, "to": st.lists(TEXTS, max_size=2)}
    ),
    max_size=2,
)


@FAST
@given(st.dictionaries(st.sampled_from(IDS), STEPS, min_size=1), REPORTS)
def test_random_wired_scenarios(steps, reports):
    document = {
        "title": "T",
        "start": "a",
        "fields": {
            "kind": {"type": "choice", "options": {"client": "Client", "prospect": "Prospect"}},
            "caller_type": {"type": "choice", "options": ["client", "family"]},
            "name": {"type": "text", "say": "{{ wanted.name }} ?"},
            "wanted": {"type": "person"},
            "urgent": {"type": "yes_no"},
        },
        "steps": steps,
        "reports": reports,
    }
    must_not_crash(yaml.safe_dump(document, allow_unicode=True))


JSON = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.text(max_size=10), st.sampled_from(["welcome", "qualify"])
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
STORED_INPUT = st.one_of(JSON, st.tuples(st.sampled_from(["welcome", "qualify", "x"]), JSON))


@FAST
@given(
    st.one_of(
        JSON,
        st.fixed_dictionaries(
            {"inputs": st.lists(STORED_INPUT)},
            optional={"facts": JSON, "version": JSON, "unapplied": JSON},
        ),
    )
)
def test_resuming_any_stored_state_never_raises(data):
    scenario = checker.check(LEGAL).scenario
    resumed = Run.resume(scenario, StaticEnvironment(), data, version="v2")
    assert resumed.run.step is not None or resumed.run.outcome is not None
    json_state = resumed.run.to_json()
    again = Run.resume(scenario, StaticEnvironment(), json_state, version="v2")
    assert again.complete and len(again.run.unapplied) == len(resumed.run.unapplied)
