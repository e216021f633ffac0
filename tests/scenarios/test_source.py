"""Reading YAML: positions, duplicate keys, and bounded work on hostile input."""

from permanence.scenarios.engine import source
from permanence.scenarios.engine.problems import Problems


def load(text):
    problems = Problems()
    return source.load(text, problems), problems


def test_positions_are_one_based_line_and_column():
    root, problems = load("title: T\nsteps:\n  a: {say: hi, next: b}\n")
    assert not problems
    steps = root.value["steps"]
    assert root.key_pos("steps") == (2, 1)
    assert steps.key_pos("a") == (3, 3)
    assert steps.value["a"].value["next"].pos == (3, 22)


def test_the_key_on_stays_a_word():
    root, _ = load("on: {found: a}\nyes: 1\n")
    assert set(root.value) == {"on", "yes"}


def test_duplicate_key_is_an_error_at_its_line():
    _, problems = load("steps:\n  a: {say: x}\n  a: {say: y}\n")
    assert [(p.code, p.line, p.column) for p in problems.items] == [("duplicate_key", 3, 3)]


def test_billion_laughs_stops_early():
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 12):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    _, problems = load("\n".join(lines))
    assert [p.code for p in problems.errors] == ["too_many_nodes"]


def test_deep_nesting_is_refused_not_a_crash():
    _, problems = load("[" * 100 + "]" * 100)
    assert [p.code for p in problems.errors] == ["too_deep"]
    _, problems = load("[" * 100_000 + "]" * 100_000)  # libyaml's own limit answers first
    assert len(problems.errors) == 1


def test_python_tags_are_refused():
    _, problems = load("title: !!python/object/apply:os.system ['true']\n")
    assert problems.errors[0].code == "tag"


def test_binary_and_non_utf8_and_huge_input():
    assert load(b"\x00\x01PK")[1].errors[0].code == "not_text"
    assert load(b"title: \xff\xfe\n")[1].errors[0].code == "not_utf8"
    assert load("x" * (source.MAX_BYTES + 1))[1].errors[0].code == "file_too_large"


def test_syntax_error_has_a_position():
    _, problems = load("title: T\nsteps: [a, b\n")
    error = problems.errors[0]
    assert error.code == "yaml_syntax" and error.line >= 2


def test_several_documents_are_refused():
    _, problems = load("title: a\n---\ntitle: b\n")
    assert problems.errors[0].code == "several_documents"
