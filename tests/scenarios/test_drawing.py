"""The flowchart a client reads: words instead of code, outcomes apart, and the diff marks."""

from pathlib import Path

from permanence.scenarios.engine import checker, drawing

LIBRARY = Path(__file__).resolve().parents[2] / "src" / "permanence" / "scenarios" / "library"
LEGAL = (LIBRARY / "legal.yaml").read_text()


def scenario(text=LEGAL):
    return checker.check(text).scenario


def test_conditions_and_texts_are_in_plain_french():
    text = drawing.mermaid(scenario())
    assert '-->|"Type d\'appelant : Démarchage"|' in text
    assert '-->|"fermé"|' in text
    assert '-->|"transfert permis vers personne demandée"|' in text
    assert "[personne demandée] n'est pas disponible" in text
    assert "écrire à contact@cabinet.example" in text  # a block's parameter, filled in
    assert (
        "{{" not in text and "==" not in text and "#gt;" not in text.split("classDef")[0].replace("<br/>", "")
    )


def test_outcomes_are_distinct_and_results_label_the_arrows():
    text = drawing.mermaid(scenario())
    # refusal, information, message to the person, message to the office, transfer done, appointment made
    assert text.count(":::outcome") == 6
    assert "les destinataires habituels du compte" in text or "Message au cabinet" in text
    assert '-->|"pas de réponse"|' in text and '-->|"rendez-vous pris"|' in text
    assert "subgraph" in text and "Qualifier le motif" in text


def test_more_condition_words():
    text = """title: T
start: a
fields:
  urgent: {type: yes_no, label: Urgent}
  wanted: {type: person, label: Avocat}
steps:
  a: {ask: [urgent], next: b}
  b: {lookup: wanted, on: {found: c, not_found: e}}
  c:
    decide:
      - {if: 'weekday() in ["saturday", "sunday"]', goto: e}
      - {if: 'has_tag("vip") and available(wanted)', goto: e}
      - {if: 'time_between("12:00", "14:00") or urgent', goto: e}
      - {if: 'not is_set(wanted)', goto: e}
      - else: e
  e: {end: information}
"""
    out = drawing.mermaid(scenario(text))
    assert "jour : samedi ou dimanche" in out
    assert "appelant « vip » et avocat disponible" in out
    assert "entre 12:00 et 14:00 ou Urgent" in out
    assert "pas : avocat renseigné" in out


def test_dot_export():
    out = drawing.dot(scenario())
    assert out.startswith("digraph scenario {") and out.rstrip().endswith("}")
    assert 'label="Type d\'appelant : Démarchage"' in out and "shape=diamond" in out


def test_diff_marks_added_changed_and_removed_steps():
    before = scenario()
    after_text = LEGAL.replace("Je vous propose un premier rendez-vous.", "Je vous propose un rendez-vous.")
    after_text = after_text.replace(
        "    next: jobs_end\n"
        '  jobs_end: {end: information, note: "Candidature : renvoyée vers recrutement@."}\n',
        "    next: thanks\n  thanks: {end: information}\n",
    )
    after = scenario(after_text)
    assert drawing.changed_steps(before, after) == ["book", "jobs"]
    out = drawing.mermaid_diff(before, after)
    assert ":::removed" in out and "class " in out and " added" in out and " changed" in out


def test_outline_for_printing():
    outline = drawing.outline(scenario())
    first = outline[0]
    assert first["number"] == 1 and first["kind"] == "Dire" and first["arrows"][0][1] == 2
