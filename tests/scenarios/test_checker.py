"""Every check of the scenario checker, with the exact line and column it reports."""

from pathlib import Path

import pytest

from permanence.scenarios.engine import checker
from permanence.scenarios.engine.checker import AccountInfo

LIBRARY = Path(__file__).resolve().parents[2] / "src" / "permanence" / "scenarios" / "library"

HEAD = """title: T
start: a
fields:
  kind: {type: choice, options: {client: Client, prospect: Prospect}}
  name: {type: text}
  wanted: {type: person}
  urgent: {type: yes_no}
steps:
"""  # steps start on line 9


def problems(steps, account=None, head=HEAD):
    result = checker.check(head + steps, account)
    return [(p.severity, p.code, p.line, p.column) for p in result.problems.sorted()]


def errors(steps, account=None, head=HEAD):
    return [(c, line, col) for s, c, line, col in problems(steps, account, head) if s == "error"]


def test_clean_scenario_has_no_problem():
    assert (
        problems(
            "  a: {ask: [kind, name], next: b}\n"
            "  b: {lookup: wanted, on: {found: c, not_found: m}}\n"
            "  c: {transfer: wanted, on: {refused: m, no_answer: m, busy: m}}\n"
            "  m: {ask: [urgent], next: [{if: is_set(wanted), goto: e}, {else: o}]}\n"
            "  e: {message: [wanted], urgent: urgent}\n"
            "  o: {message: [account], urgent: urgent}\n"
        )
        == []
    )


def test_unknown_step_in_next_branch_and_result():
    assert errors(
        "  a: {ask: [kind], next: [{if: kind == 'client', goto: zz}, {else: e}]}\n"
        "  e: {lookup: wanted, on: {found: nowhere, not_found: f}}\n"
        "  f: {end: information}\n"
    ) == [("unknown_step", 9, 56), ("unknown_step", 10, 35)]


def test_unknown_start_and_field():
    head = HEAD.replace("start: a", "start: b")
    assert errors("  a: {ask: [nope], next: e}\n  e: {end: information}\n", head=head) == [
        ("unknown_step", 2, 8),
        ("unknown_field", 9, 13),
    ]


def test_unreachable_step():
    assert errors("  a: {end: information}\n  lost: {say: hello, next: a}\n") == [("unreachable", 10, 3)]


def test_path_without_outcome_and_loop_without_way_out():
    found = errors(
        "  a: {say: hi, next: b}\n"
        "  b: {decide: [{if: is_open(), goto: a}, {else: c}]}\n"
        "  c: {decide: [{if: is_open(), goto: d}, {else: c}]}\n"
        "  d: {decide: [{else: c}]}\n"
    )
    assert ("endless_loop", 11, 3) in found
    assert ("no_outcome", 9, 3) in found and ("no_outcome", 11, 3) in found


def test_decide_needs_else_and_else_is_last():
    found = errors(
        "  a: {decide: [{if: is_open(), goto: e}]}\n"
        "  b: {decide: [{else: e}, {if: is_open(), goto: e}]}\n"
        "  e: {end: information}\n"
    )
    assert ("missing_else", 9, 15) in found
    assert ("else_not_last", 10, 27) in found


def test_duplicate_condition_is_a_warning():
    found = problems(
        "  a: {decide: [{if: is_open(), goto: e}, {if: is_open(), goto: e}, {else: e}]}\n"
        "  e: {end: information}\n"
    )
    assert ("warning", "duplicate_condition", 9, 47) in found


def test_results_must_all_be_mapped():
    assert errors("  a: {transfer: anne, on: {refused: e}}\n  e: {end: information}\n") == [
        ("missing_outcomes", 9, 27)
    ]
    assert errors("  a: {transfer: anne, on: {refused: e, other: e}}\n  e: {end: information}\n") == []
    assert errors(
        "  a: {lookup: wanted, on: {found: e, not_found: e, maybe: e}}\n  e: {end: information}\n"
    ) == [("unknown_outcome", 9, 52)]


def test_expression_errors_point_inside_the_condition():
    assert errors(
        '  a: {ask: [kind], next: [{if: kind == "clint", goto: e}, {else: e}]}\n  e: {end: information}\n'
    ) == [("not_an_option", 9, 40)]
    assert errors(
        "  a: {ask: [kind, name], next: [{if: 'name > 3', goto: e}, {else: e}]}\n  e: {end: information}\n"
    ) == [("type_mismatch", 9, 39)]
    assert errors(
        "  a: {decide: [{if: 'can_transfer(kind)', goto: e}, {else: e}]}\n  e: {end: information}\n"
    ) == [("used_before_set", 9, 21), ("arg_type", 9, 35)]
    assert errors("  a: {decide: [{if: 'is_open(1)', goto: e}, {else: e}]}\n  e: {end: information}\n") == [
        ("arity", 9, 22)
    ]
    assert errors(
        "  a: {decide: [{if: '__import__(\"os\")', goto: e}, {else: e}]}\n  e: {end: information}\n"
    ) == [("unknown_function", 9, 22)]
    assert errors(
        "  a: {decide: [{if: 'name.__class__', goto: e}, {else: e}]}\n  e: {end: information}\n"
    ) == [("expr_not_allowed", 9, 22)]
    assert (
        errors("  a: {decide: [{if: 'kind ==', goto: e}, {else: e}]}\n  e: {end: information}\n")[0][0]
        == "expr_syntax"
    )
    assert errors("  a: {decide: [{if: 'wanted.phone', goto: e}, {else: e}]}\n  e: {end: information}\n") == [
        ("used_before_set", 9, 21),
        ("unknown_attribute", 9, 22),
    ]
    assert errors(
        '  a: {decide: [{if: \'time_between("9:00", "25:00")\', goto: e}, {else: e}]}\n'
        "  e: {end: information}\n"
    ) == [("bad_time_literal", 9, 43)]


def test_condition_must_be_boolean():
    assert errors(
        "  a: {ask: [name], next: [{if: name, goto: e}, {else: e}]}\n  e: {end: information}\n"
    ) == [("not_boolean", 9, 32)]


def test_variable_used_before_any_path_sets_it():
    assert errors("  a: {decide: [{if: urgent, goto: e}, {else: e}]}\n  e: {end: information}\n") == [
        ("used_before_set", 9, 21)
    ]
    assert errors(
        "  a: {say: 'Bonjour {{ name }}', next: b}\n  b: {ask: [name], next: e}\n  e: {end: information}\n"
    ) == [("used_before_set", 9, 12)]


def test_variable_set_on_some_paths_only_is_a_warning():
    found = problems(
        "  a: {ask: [kind], next: [{if: kind == 'client', goto: b}, {else: c}]}\n"
        "  b: {ask: [urgent], next: c}\n"
        "  c: {decide: [{if: urgent, goto: e}, {else: e}]}\n"
        "  e: {end: information}\n"
    )
    assert ("warning", "maybe_unset", 11, 21) in found
    assert not [p for p in found if p[0] == "error"]


def test_template_errors():
    assert errors("  a: {say: 'Bonjour {{ nom }}', next: e}\n  e: {end: information}\n") == [
        ("unknown_name", 9, 12)
    ]
    assert errors("  a: {say: 'Bonjour {{ name | shout }}', next: e}\n  e: {end: information}\n") == [
        ("unknown_filter", 9, 12)
    ]
    assert (
        errors("  a: {say: 'Bonjour {{ name ', next: e}\n  e: {end: information}\n")[0][0]
        == "template_syntax"
    )


def test_schema_errors():
    assert errors("  a: {say: hi, next: e, colour: red}\n  e: {end: information}\n") == [
        ("unknown_key", 9, 25)
    ]
    assert errors("  a: {next: e}\n  e: {end: information}\n") == [("step_kind", 9, 3)]
    assert errors("  a: {ask: [name], end: information}\n") == [("step_kinds_many", 9, 3)]
    assert errors("  a: {end: goodbye}\n") == [("bad_end", 9, 12)]
    head = HEAD.replace("  name: {type: text}", "  name: {type: txt}")
    assert errors("  a: {end: information}\n", head=head) == [("bad_field_type", 5, 16)]
    head = HEAD.replace("  name: {type: text}", "  name: {type: text, pattern: '(['}")
    assert errors("  a: {end: information}\n", head=head) == [("bad_regex", 5, 31)]


def test_blocks_expand_with_params_and_return():
    head = HEAD + ""
    text = (
        "  a: {use: greet, with: {who: Durand}, next: e}\n"
        "  e: {end: information}\n"
        "blocks:\n"
        "  greet:\n"
        "    params: [who]\n"
        "    start: hello\n"
        "    steps:\n"
        "      hello: {say: 'Cabinet {{ params.who }}', next: back}\n"
        "      back: {return: true}\n"
    )
    result = checker.check(head + text)
    assert result.ok, [str(p) for p in result.problems.items]
    assert "a.hello" in result.scenario.steps


def test_block_problems():
    text = (
        "  a: {use: greet, with: {whom: X}}\n"
        "  b: {use: nowhere, next: a}\n"
        "blocks:\n"
        "  greet:\n"
        "    params: [who]\n"
        "    start: hello\n"
        "    steps:\n"
        "      hello: {say: hi, next: back}\n"
        "      back: {return: true}\n"
        "  lonely: {start: x, steps: {x: {end: information}}}\n"
    )
    found = problems(text)
    assert ("error", "unknown_param", 9, 3) in found
    assert ("error", "missing_param", 9, 3) in found
    assert ("error", "use_needs_next", 9, 3) in found
    assert ("error", "unknown_block", 10, 3) in found
    assert ("warning", "unused_block", 18, 11) in found


def test_references_against_the_account():
    account = AccountInfo(
        slug="durand",
        name="Cabinet Durand",
        collaborators={"claire-durand": "Claire"},
        services=frozenset({"famille"}),
        appointment_types=frozenset({"first"}),
    )
    text = (
        "  a: {transfer: paul-martin, on: {other: b}}\n"
        "  b: {appointment: second, with: claire-durand, on: {other: c}}\n"
        "  c: {lookup: wanted, service: travail, on: {other: d}}\n"
        "  d: {message: [claire-durand, accueil@example.fr]}\n"
    )
    assert errors(text, account) == [
        ("unknown_collaborator", 9, 17),
        ("unknown_appointment_type", 10, 3),
        ("unknown_service", 11, 32),
    ]
    assert errors(text) == []  # without an account, references to people are not checked


def test_interrogation_warning_and_account_threshold():
    head = HEAD + "".join(f"  q{i}: {{type: text}}\n" for i in range(8))
    head = head.replace("steps:\n", "") + "steps:\n"
    text = (
        "  a: {ask: [q0, q1, q2], next: b}\n  b: {ask: [q3, q4, q5, q6], next: e}\n  e: {end: information}\n"
    )
    found = problems(text, head=head.replace("title: T", "title: T"))
    assert any(c == "interrogation" for _, c, _, _ in found)
    lenient = AccountInfo(slug="x", max_questions=10)
    assert not any(c == "interrogation" for _, c, _, _ in problems(text, lenient, head))


def test_duplicate_text_and_unused_field_warnings():
    found = problems(
        "  a: {say: 'Ne quittez pas, je vous prie.', next: b}\n"
        "  b: {say: 'Ne quittez pas, je vous prie.', next: e}\n"
        "  e: {end: information}\n"
    )
    assert ("warning", "duplicate_text", 10, 12) in found
    assert ("warning", "unused_field", 5, 3) in found


@pytest.mark.parametrize("template", sorted(LIBRARY.glob("*.yaml")), ids=lambda p: p.stem)
def test_library_templates_are_clean(template):
    result = checker.check(template.read_bytes())
    assert [str(p) for p in result.problems.items] == []


def test_block_cycle_field_conflict_and_return_outside_a_block():
    text = (
        "  a: {use: one, next: e}\n"
        "  e: {return: true}\n"
        "blocks:\n"
        "  one:\n"
        "    fields: {name: {type: number}}\n"
        "    start: x\n"
        "    steps:\n"
        "      x: {use: two, next: y}\n"
        "      y: {return: true}\n"
        "  two:\n"
        "    start: x\n"
        "    steps:\n"
        "      x: {use: one, next: y}\n"
        "      y: {return: true}\n"
    )
    found = errors(text)
    assert ("return_outside_block", 10, 3) in found
    assert ("field_conflict", 9, 3) in found
    assert any(code == "block_cycle" for code, _, _ in found)


def test_document_level_problems():
    assert errors(
        "  a: {end: information}\n", head=HEAD.replace("title: T\n", "language: permanence/9\n")
    ) == [
        ("missing_key", 1, 1),
        ("bad_language", 1, 11),
    ]
    assert errors("  a: {end: information}\n", head=HEAD.replace("  urgent:", "  call:")) == [
        ("reserved_name", 7, 3)
    ]
    assert errors(
        "  a: {end: information}\n", head=HEAD.replace("  name: {type: text}", "  name: [text]")
    ) == [("expected_map", 5, 9)]
    assert errors("", head="title: T\nstart: a\nsteps: [a, b]\n") == [("expected_map", 3, 8)]
    assert checker.check("").problems.errors[0].code == "empty"
    assert checker.check("just text").problems.errors[0].code == "expected_map"


# ---------------------------------------------------------------- no message, transfer or report to nobody


def test_a_message_to_a_person_who_may_not_be_found_is_an_error():
    found = problems(
        "  a: {lookup: wanted, on: {found: m, not_found: m}}\n"
        "  m: {message: [wanted]}\n"
    )
    assert ("error", "no_recipient", 10, 17) in found
    result = checker.check(
        HEAD + "  a: {lookup: wanted, on: {found: m, not_found: m}}\n  m: {message: [wanted]}\n"
    )
    [problem] = [p for p in result.problems.errors if p.code == "no_recipient"]
    assert problem.params == {"name": "wanted", "path": "a → m"}


@pytest.mark.parametrize(
    "steps",
    [
        # the person surely found on this path
        "  a: {lookup: wanted, on: {found: m, not_found: o}}\n"
        "  m: {message: [wanted]}\n  o: {end: information}\n",
        # someone always known beside the person
        "  a: {lookup: wanted, on: {found: m, not_found: m}}\n  m: {message: [wanted, account]}\n",
        "  a: {lookup: wanted, on: {found: m, not_found: m}}\n  m: {message: [wanted, accueil@x.example]}\n",
        # a branch that proves the person is set
        "  a: {lookup: wanted, on: {found: d, not_found: d}}\n"
        "  d: {decide: [{if: is_set(wanted), goto: m}, {else: o}]}\n"
        "  m: {message: [wanted]}\n  o: {message: [account]}\n",
        "  a: {lookup: wanted, on: {found: d, not_found: d}}\n"
        "  d: {decide: [{if: wanted == None, goto: o}, {else: m}]}\n"
        "  m: {message: [wanted]}\n  o: {message: [account]}\n",
        "  a: {lookup: wanted, on: {found: d, not_found: d}}\n"
        "  d: {decide: [{if: 'is_open() and can_transfer(wanted)', goto: m}, {else: o}]}\n"
        "  m: {message: [wanted]}\n  o: {message: [account]}\n",
    ],
    ids=["found-only", "account", "address", "is_set", "else-of-none", "can_transfer"],
)
def test_a_message_with_a_recipient_on_every_path_is_clean(steps):
    assert [c for c, _, _ in errors(steps)] == []


def test_a_message_naming_nobody_is_an_error():
    assert errors("  a: {message: []}\n") == [("no_recipient_listed", 9, 3)]


def test_a_transfer_to_a_person_who_may_not_be_found_is_an_error():
    assert errors(
        "  a: {lookup: wanted, on: {found: t, not_found: t}}\n"
        "  t: {transfer: wanted, on: {other: e}}\n"
        "  e: {end: information}\n"
    ) == [("transfer_maybe_unset", 10, 17)]
    # found first: clean
    assert errors(
        "  a: {lookup: wanted, on: {found: t, not_found: e}}\n"
        "  t: {transfer: wanted, on: {other: e}}\n"
        "  e: {end: information}\n"
    ) == []


def test_a_report_whose_recipients_may_be_empty_is_an_error():
    steps = (
        "  a: {lookup: wanted, on: {found: e, not_found: e}}\n"
        "  e: {end: information}\n"
        "reports:\n"
        "  information:\n"
        "    to: '{{ wanted.email }}'\n"  # line 13
    )
    result = checker.check(HEAD + steps)
    [problem] = [p for p in result.problems.errors if p.code == "report_no_recipient"]
    assert (problem.line, problem.column) == (13, 9)
    assert problem.params == {"step": "e", "path": "a → e"}
    assert errors(steps.replace("'{{ wanted.email }}'", "['{{ wanted.email }}', accueil@x.example]")) == []
    fallback = "\"{{ wanted.email if wanted else 'accueil@x.example' }}\""
    assert errors(steps.replace("'{{ wanted.email }}'", fallback)) == []


# ---------------------------------------------------------------- texts that may write an empty value


def test_a_text_writing_a_person_who_may_not_be_found_is_an_error():
    steps = (
        "  a: {lookup: wanted, on: {found: s, not_found: s}}\n"
        "  s: {say: 'Je vous passe {{ wanted.name }}.', next: e}\n"
        "  e: {end: information}\n"
    )
    assert errors(steps) == [("text_maybe_unset", 10, 12)]
    result = checker.check(HEAD + steps)
    assert result.problems.errors[0].params == {"name": "wanted.name", "field": "wanted", "path": "a → s"}


@pytest.mark.parametrize(
    "text",
    [
        "Je vous passe {{ wanted.name if wanted else 'le cabinet' }}.",
        "{% if wanted %}Je vous passe {{ wanted.name }}.{% endif %}",
        "{% if not wanted %}Je prends un message.{% else %}{{ wanted.name }}{% endif %}",
        "Je vous passe {{ wanted.name | default('le cabinet') }}.",
        "Je vous passe {{ wanted.name or 'le cabinet' }}.",
        "{{ 'Pour ' ~ wanted.name if wanted }}",
    ],
)
def test_a_tested_or_defaulted_value_is_not_an_error(text):
    steps = (
        "  a: {lookup: wanted, on: {found: s, not_found: s}}\n"
        f"  s: {{say: \"{text}\", next: e}}\n"
        "  e: {end: information}\n"
    )
    assert errors(steps) == []


def test_a_note_may_write_what_its_own_step_asks_but_not_an_optional_answer():
    assert errors("  a: {ask: [name], note: 'Nom : {{ name }}', next: e}\n  e: {end: information}\n") == []
    assert errors("  a: {ask: [name?], note: 'Nom : {{ name }}', next: e}\n  e: {end: information}\n") == [
        ("text_maybe_unset", 9, 27)
    ]


def test_a_report_line_that_may_be_empty_points_at_its_line():
    steps = (
        "  a: {ask: [kind], next: [{if: kind == 'client', goto: b}, {else: e}]}\n"
        "  b: {ask: [name], next: e}\n"
        "  e: {end: information}\n"
        "reports:\n"
        "  default:\n"
        "    body: |\n"
        "      Appel pour {{ label.kind }}\n"
        "      de {{ name }}\n"  # line 16: name is not asked on the path a → e
    )
    assert errors(steps) == [("text_maybe_unset", 16, 13)]


def test_a_prefilled_field_may_be_empty_the_number_being_withheld():
    phone = "  phone: {type: phone, prefill: call.caller}\n"
    head = HEAD.replace("  urgent: {type: yes_no}\n", "  urgent: {type: yes_no}\n" + phone)
    steps = "  a: {say: 'Votre numéro : {{ phone }}', next: e}\n  e: {end: information}\n"  # line 10
    assert errors(steps, head=head) == [("text_maybe_unset", 10, 12)]


def test_attributes_that_do_not_exist_in_a_text_are_errors():
    steps = (
        "  a: {ask: [name], next: s}\n"
        "  s: {say: 'Appelez {{ wanted.phone }} ; {{ name.first }}', next: l}\n"
        "  l: {say: '{{ label.nope }} {{ call.nope }} {{ name.upper() }} {{ wanted.replacement.nom }}',"
        " next: e}\n"
        "  e: {end: information}\n"
    )
    found = checker.check(HEAD + steps).problems.errors
    attributes = [
        (p.line, p.params["owner"], p.params["name"]) for p in found if p.code == "unknown_attribute"
    ]
    assert attributes == [
        (10, "wanted", "phone"),
        (10, "name", "first"),
        (11, "label", "nope"),
        (11, "call", "nope"),
        (11, "wanted.replacement", "nom"),
    ]
    assert "direct_line" in next(p for p in found if p.params.get("name") == "phone").params["expected"]


# ---------------------------------------------------------------- loops whose way out is never taken


def test_a_loop_that_asks_again_an_answered_question_never_ends():
    """An answered question is not asked again: going round, `kind` never changes."""
    steps = (
        "  a: {ask: [kind], next: [{if: kind == 'client', goto: e}, {else: b}]}\n"
        "  b: {say: \"Je n'ai pas compris.\", next: a}\n"
        "  e: {end: information}\n"
    )
    assert errors(steps) == [("loop_exit_never_taken", 9, 3)]
    [problem] = checker.check(HEAD + steps).problems.errors
    assert problem.params == {"steps": "a, b", "names": "kind"}


def test_a_loop_waiting_for_the_opening_never_ends():
    steps = (
        "  a: {say: 'Patientez.', next: b}\n"
        "  b: {decide: [{if: is_open(), goto: e}, {else: a}]}\n"
        "  e: {end: information}\n"
    )
    assert errors(steps) == [("loop_exit_never_taken", 9, 3)]


def test_a_loop_without_any_way_out_is_an_error():
    found = errors("  a: {say: un, next: b}\n  b: {say: deux, next: a}\n")
    assert ("loop_without_exit", 9, 3) in found


@pytest.mark.parametrize(
    "steps",
    [
        # a new search may find the person
        "  a: {lookup: wanted, on: {found: e, not_found: b}}\n"
        "  b: {say: 'Cherchons encore.', next: a}\n"
        "  e: {end: information}\n",
        # an optional question left empty is asked again
        "  a: {ask: [name?], next: [{if: is_set(name), goto: e}, {else: b}]}\n"
        "  b: {say: 'Il me faut un nom.', next: a}\n"
        "  e: {end: information}\n",
        # the person found again changes the transfer rule's answer
        "  a: {lookup: wanted, on: {found: d, not_found: e}}\n"
        "  d: {decide: [{if: can_transfer(wanted), goto: e}, {else: a}]}\n"
        "  e: {end: information}\n",
    ],
    ids=["lookup", "optional", "can_transfer"],
)
def test_a_loop_with_a_live_way_out_is_clean(steps):
    assert errors(steps) == []


# ---------------------------------------------------------------- caller types of the transfer rules


def test_a_caller_type_unknown_to_the_transfer_rules_is_an_error():
    head = HEAD.replace("{client: Client, prospect: Prospect}", "{client: Client, confrere: Confrère}")
    steps = (
        "  a: {ask: [kind], next: f}\n"
        "  f: {lookup: wanted, on: {found: d, not_found: e}}\n"
        "  d: {decide: [{if: 'can_transfer(wanted, kind)', goto: e}, {else: e}]}\n"
        "  x: {decide: [{if: 'can_transfer(wanted, \"notary\")', goto: e}, {else: e}]}\n"
        "  e: {end: information}\n"
    )
    found = [(c, line, col) for c, line, col in errors(steps, head=head) if c == "unknown_caller_type"]
    # the option where it is declared (line 4), and the literal inside the condition (line 12)
    assert found == [("unknown_caller_type", 4, 50), ("unknown_caller_type", 12, 43)]


def test_a_field_named_caller_type_uses_the_vocabulary():
    head = HEAD.replace("  kind:", "  caller_type:")
    head = head.replace("{client: Client, prospect: Prospect}", "[client, family]")
    steps = "  a: {ask: [caller_type], next: e}\n  e: {end: information}\n"
    assert errors(steps, head=head) == [("unknown_caller_type", 4, 49)]
    assert errors(steps, head=head.replace("family", "colleague")) == []


def test_a_comma_left_unquoted_in_braces_is_named():
    options = "{client: Client, other: Autre (fuite, panne)}"
    head = HEAD.replace("{client: Client, prospect: Prospect}", options)
    steps = (
        "  a: {ask: [kind], next: f}\n"
        "  f: {lookup: wanted, on: {found: d, not_found: e}}\n"
        "  d: {decide: [{if: can_transfer(wanted, kind), goto: e}, {else: e}]}\n"
        "  e: {end: information}\n"
    )
    assert errors(steps, head=head) == [("unquoted_comma", 4, 71), ("unquoted_comma", 11, 16)]
    quoted = head.replace("Autre (fuite, panne)", "'Autre (fuite, panne)'")
    condition = "can_transfer(wanted, kind)"
    assert errors(steps.replace(condition, f'"{condition}"'), head=quoted) == []


# ---------------------------------------------------------------- known callers and the slot of a booking

KNOWN_HEAD = """title: T
start: a
fields:
  caller_type:
    type: choice
    options: {client: Client, colleague: Confrère}
    prefill: caller.type
  name: {type: text, prefill: caller.name}
  company: {type: text, prefill: caller.company}
  subject: {type: long_text}
steps:
"""  # steps start on line 12


def test_a_known_field_is_maybe_set_before_its_ask_step_and_surely_set_after_it():
    steps = (
        "  a: {say: 'Bonjour {{ name }}', next: b}\n"  # line 12: the caller may be unknown
        "  b: {ask: [caller_type, name, company?], next: c}\n"
        "  c: {say: 'Merci {{ name }} ({{ label.caller_type }})', next: d}\n"  # asked when not known
        "  d: {say: '{{ company }}', next: e}\n"  # line 15: optional, may have been emptied
        "  e: {end: information}\n"
    )
    assert errors(steps, head=KNOWN_HEAD) == [("text_maybe_unset", 12, 12), ("text_maybe_unset", 15, 12)]


def test_known_fields_are_not_counted_as_questions():
    steps = "  a: {ask: [caller_type, name, company, subject], next: e}\n  e: {end: information}\n"
    strict = AccountInfo(slug="x", max_questions=1)
    assert not any(c == "interrogation" for _, c, _, _ in problems(steps, strict, KNOWN_HEAD))
    unknown = KNOWN_HEAD.replace("    prefill: caller.type\n", "")
    found = checker.check(unknown + steps, strict).problems.warnings
    assert [(p.code, p.params["count"]) for p in found] == [("interrogation", 2)]  # type and subject


def test_the_known_callers_type_is_a_caller_type_of_the_vocabulary():
    steps = (
        "  a: {ask: [name], next: [{if: caller.type == 'confrere', goto: e}, {else: f}]}\n"
        "  e: {end: information}\n  f: {end: refusal}\n"
    )
    assert errors(steps, head=KNOWN_HEAD) == [("not_an_option", 12, 47)]
    assert errors(steps.replace("'confrere'", "'colleague'"), head=KNOWN_HEAD) == []


def test_the_slot_is_known_in_the_report_of_a_booking_only():
    steps = (
        "  a: {ask: [name], next: b}\n"
        "  b: {appointment: visit, say: 'Le {{ appointment.slot }} ?', on: {other: m}}\n"  # line 10
        "  m: {message: [account], note: \"{{ appointment.slot or 'pas de rendez-vous' }}\"}\n"
        "reports:\n"
        "  appointment:\n"
        "    subject: 'RDV {{ appointment.slot }} pour {{ name }}'\n"  # fine: a booking has its slot
        "  default:\n"
        "    subject: 'Message {{ appointment.slot }}'\n"  # line 16: reached by the message
        "    body: \"{% if appointment %}Créneau : {{ appointment.slot }}{% endif %}"
        "{{ appointment.when }}\"\n"
    )
    found = [p for p in checker.check(HEAD + steps).problems.sorted() if p.severity == "error"]
    assert [(p.code, p.line, p.column) for p in found] == [
        ("appointment_in_call", 10, 32),
        ("appointment_not_booked", 16, 14),
        ("unknown_attribute", 17, 11),  # and not also said to be empty
    ]
    assert found[1].params["step"] == "m" and found[1].params["path"] == "a → b → m"
    assert found[2].params["expected"] == "slot"


def test_appointment_is_a_reserved_name():
    head = HEAD.replace("  urgent: {type: yes_no}\n", "  appointment: {type: text}\n")
    steps = "  a: {ask: [appointment], next: e}\n  e: {end: information}\n"
    assert ("reserved_name", 7, 3) in errors(steps, head=head)


# ---------------------------------------------------------------- reading fast, reading the same


def test_a_scalar_read_again_keeps_the_type_of_its_style():
    from permanence.scenarios.engine import source
    from permanence.scenarios.engine.problems import Problems

    text = "a: yes\nb: 'yes'\nc: yes\nd: 12\ne: '12'\nf: 12\non: on\n"
    root = source.load(text, Problems())
    assert root is not None
    assert root.plain() == {"a": True, "b": "yes", "c": True, "d": 12, "e": "12", "f": 12, "on": True}


def test_an_alias_is_still_shared_and_a_star_in_a_text_is_a_star():
    from permanence.scenarios.engine import source
    from permanence.scenarios.engine.problems import Problems

    root = source.load("a: &x {say: hi}\nb: *x\nc: {say: 'press *'}\n", Problems())
    assert root is not None and root.value["a"] is root.value["b"]
    assert root.value["c"].plain() == {"say": "press *"}
    plain = source.load("a: {say: hi}\nb: {say: hi}\n", Problems())
    assert plain is not None and plain.value["a"] is not plain.value["b"]


def test_many_unreachable_steps_report_where_each_region_starts():
    chain = "".join(f"  lost{i}: {{say: 'Perdu {i}', next: lost{i + 1}}}\n" for i in range(300))
    steps = "  a: {end: information}\n" + chain + "  lost300: {end: information}\n"
    assert [e for e in errors(steps) if e[0] == "unreachable"] == [("unreachable", 10, 3)]


def test_a_condition_written_at_many_steps_is_reported_at_each():
    steps = "  a: {ask: [name], next: b0}\n" + "".join(
        f"  b{i}:\n    decide: [{{if: name == 3, goto: b{i + 1}}}, {{else: b{i + 1}}}]\n" for i in range(3)
    ) + "  b3: {end: information}\n"
    assert [e for e in errors(steps) if e[0] == "type_mismatch"] == [
        ("type_mismatch", 11, 19), ("type_mismatch", 13, 19), ("type_mismatch", 15, 19)
    ]


def test_what_a_check_keeps_leaves_the_young_generation_in_the_check():
    import gc

    result = checker.check(HEAD + "  a: {say: Bonjour, next: b}\n  b: {end: information}\n")
    step = result.scenario.steps["a"]
    assert gc.isenabled()
    assert not any(o is step for o in gc.get_objects(generation=0))  # collected once, in the check
    gc.disable()
    try:
        checker.check(HEAD + "  a: {end: information}\n")
        assert not gc.isenabled()  # a host that turned the collector off keeps it off
    finally:
        gc.enable()


def test_what_a_loop_sets_reaches_the_steps_after_it():
    steps = """  a: {ask: [kind], next: b}
  b:
    decide:
      - {if: "kind == 'client' and not is_set(name)", goto: c}
      - else: d
  c: {ask: [name?], next: b}
  d: {say: 'Bonjour {{ name }}', next: e}
  e: {end: information}
"""
    found = problems(steps)
    assert [p for p in found if p[0] == "error"] == [("error", "text_maybe_unset", 15, 12)]  # maybe set
    assert not [p for p in found if p[1] == "used_before_set"]  # set on the way round the loop
