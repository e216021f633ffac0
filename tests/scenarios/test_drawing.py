"""The flowchart a client reads: words instead of code, outcomes apart, and the diff marks."""

import re
from pathlib import Path

from permanence.scenarios.engine import checker, drawing
from scenario_helpers import large_scenario

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


# A large scenario (issue 21): Mermaid refuses one drawing past 500 arrows (maxEdges) or 50,000 characters
# (maxTextSize); the drawing is cut into pages, each step and each arrow drawn once, links between pages.

NODE = re.compile(r"^ {2,4}(s\d+)[\[({]")
ARROW = re.compile(r'^  (\S+) (?:-->\|"([^"]*)"\||-->|-\.->) (\S+)$')


def large(groups=200, phase_every=4, lonely=True):
    """``groups`` × 10 steps; every ``phase_every`` groups share a phase; one step no arrow reaches."""
    result = checker.check(large_scenario(groups, phase_every, lonely))
    errors = [str(p) for p in result.problems.errors if p.params.get("name") != "lonely"]
    assert not errors, errors[:3]
    return result.scenario


def parse(page):
    """The steps drawn on a page (their Mermaid ids) and its arrows (source, label, target)."""
    nodes, arrows = set(), []
    for line in page.text.splitlines():
        if m := NODE.match(line):
            nodes.add(m.group(1))
        elif m := ARROW.match(line):
            arrows.append((m.group(1), m.group(2) or "", m.group(3)))
    return nodes, arrows


def test_a_small_scenario_is_one_drawing_as_before():
    drawn = drawing.paged(scenario())
    assert len(drawn.pages) == 1 and drawn.text == drawing.mermaid(scenario())
    assert drawn.text.startswith("flowchart TD")
    assert drawing.PAGE_MARK not in drawn.text and ":::goto" not in drawn.text


def test_a_large_scenario_is_cut_into_pages_mermaid_accepts():
    big = large()
    assert len(big.steps) == 2002
    flat = drawing.paged(big, max_steps=None)  # what one drawing would be: past both Mermaid limits
    assert len(flat.pages) == 1
    assert len(flat.text) > drawing.MERMAID_MAX_TEXT and flat.text.count("-->") > drawing.MERMAID_MAX_EDGES
    drawn = drawing.paged(big)
    assert 2002 / drawing.PAGE_STEPS <= len(drawn.pages) <= 2 * 2002 / drawing.PAGE_STEPS
    for page in drawn.pages:
        assert page.text.startswith("flowchart TD\n")
        assert 0 < len(page.steps) <= drawing.PAGE_STEPS
        assert len(page.text) < drawing.MERMAID_MAX_TEXT
        assert len(parse(page)[1]) < drawing.MERMAID_MAX_EDGES


def test_every_step_and_every_arrow_is_drawn_once_arrows_leaving_a_page_end_on_a_link():
    big = large()
    drawn = drawing.paged(big)
    where = drawn.page_of()
    assert sorted(where) == sorted(big.steps)  # every step on exactly one page
    assert sum(len(p.steps) for p in drawn.pages) == len(big.steps)
    ident = {}  # the Mermaid id of each step: the node defined on its page whose label is its own
    drawn_nodes = {}
    for page in drawn.pages:
        nodes, _ = parse(page)
        for node in nodes:
            assert node not in drawn_nodes, f"{node} drawn twice"
            drawn_nodes[node] = page.number
    flat = drawing.paged(big, max_steps=None).pages[0]
    flat_nodes, flat_arrows = parse(flat)
    assert len(drawn_nodes) == len(flat_nodes)  # steps and the outcomes after transfers, all drawn
    for line in flat.text.splitlines():
        if m := NODE.match(line):
            ident[m.group(1)] = line.split(m.group(1), 1)[1]
    links = {}
    for page in drawn.pages:
        for line in page.text.splitlines():
            if m := re.match(r'^  (l\d+_s\d+)\[\["➜ page (\d+) : ', line):
                links[m.group(1)] = int(m.group(2))
    arrows = set()
    for page in drawn.pages:
        for source, label, target in parse(page)[1]:
            if source.startswith("e") or source == "start((Appel))":
                continue  # the marks of arrows coming from another page, and the call's start
            if target in links:
                number = links[target]
                real = target.split("_", 1)[1]
                assert drawn_nodes[real] == number != page.number  # the link names the target's page
                target = real
            else:
                assert drawn_nodes[target] == page.number
            arrows.add((source, label, target))
    # the same arrows as the one drawing (step ids differ: compare by the words of both ends)
    def words(arrow_set, labels):
        return sorted((labels[s], label, labels[t]) for s, label, t in arrow_set)

    paged_labels = {}
    for page in drawn.pages:
        for line in page.text.splitlines():
            if m := NODE.match(line):
                paged_labels[m.group(1)] = line.split(m.group(1), 1)[1]
    assert len(arrows) == len(flat_arrows) - 1  # all but the flat drawing's start arrow
    flat_set = {a for a in flat_arrows if a[0] != "start((Appel))"}
    assert words(arrows, paged_labels) == words(flat_set, ident)


def test_pages_follow_the_call_and_keep_a_phase_together():
    big = large()
    drawn = drawing.paged(big)
    where = drawn.page_of()
    assert where["s0"] == 1 and drawn.pages[0].text.count("start((Appel))") == 1
    assert all("start((Appel))" not in p.text for p in drawn.pages[1:])
    # a phase (4 groups, 40 steps) fits on a page: never cut
    phases = {}
    for sid, step in big.steps.items():
        if step.phase:
            phases.setdefault(step.phase, set()).add(where[sid])
    assert all(len(pages) == 1 for pages in phases.values()), phases
    assert all(p.title.startswith("Partie ") for p in drawn.pages[:-1])
    # pages in the order of the call: the phases' pages never go back
    firsts = [min(where[s] for s, st in big.steps.items() if st.phase == f"Partie {n}") for n in range(50)]
    assert firsts == sorted(firsts)
    # the step no arrow reaches is drawn too, on the last page
    assert where["lonely"] == len(drawn.pages)


def test_a_step_entered_from_another_page_says_from_where_and_links_back():
    drawn = drawing.paged(large())
    where = drawn.page_of()
    second = drawn.pages[where["s40"] - 1]  # Partie 1 starts a page: s39 -> s40 comes from page 1
    assert where["s39"] == where["s40"] - 1
    assert '[["⬅ depuis la page 1"]]:::goto' in second.text
    assert 'href "#drawing-page-1"' in second.text
    first = drawn.pages[0]
    assert f'➜ page {where["s40"]} : ' in first.text and f'href "#drawing-page-{where["s40"]}"' in first.text


def test_a_section_longer_than_a_page_fills_pages_in_reading_order():
    drawn = drawing.paged(large(groups=30, phase_every=30, lonely=False))  # one phase of 300 steps
    *full, rest = drawn.pages
    assert len(full) >= 300 // drawing.PAGE_STEPS and all(len(p.steps) >= 50 for p in full)  # filled
    assert [p.title for p in drawn.pages] == ["Partie 0"] + ["Partie 0 (suite)"] * len(full)
    where = drawn.page_of()
    assert where["s0"] == 1 and where["s299"] == where["done"] == rest.number


def test_the_text_of_a_drawing_of_several_pages_marks_each_page():
    drawn = drawing.paged(large())
    text = drawing.mermaid(large())
    assert text == drawn.text
    marks = [line for line in text.splitlines() if line.startswith(drawing.PAGE_MARK)]
    total = len(drawn.pages)
    assert marks[0] == f"%% page 1/{total} : Partie 0" and len(marks) == total
    assert all(m.startswith(f"%% page {n}/{total} : ") for n, m in enumerate(marks, 1))
    chunks = re.split(r"^%% page .*\n", text, flags=re.M)[1:]
    assert [c for c in chunks] == [p.text for p in drawn.pages]


def test_the_diff_of_a_large_scenario_marks_steps_on_their_page():
    before, after = large(), large()
    after.steps.pop("lonely")
    text = drawing.mermaid_diff(before, after)
    assert text.count(drawing.PAGE_MARK) > 1 and text.count(":::removed") == 1
    last = re.split(r"^%% page .*\n", text, flags=re.M)[-1]
    assert '"✗ « Jamais atteinte »"]:::removed' in last  # removed steps come last
    out = drawing.paged(after, {"s1500": "changed"}, (("lonely", "✗ Jamais atteinte"),))
    where = out.page_of()
    page = out.pages[where["s1500"] - 1]
    assert re.search(r"^  class s\d+ changed$", page.text, re.M)
    assert sum(len(re.findall(r"^  class s\d+ changed$", p.text, re.M)) for p in out.pages) == 1
    assert "✗ Jamais atteinte" in out.pages[-1].text and ":::removed" in out.pages[-1].text


def test_the_outline_says_on_which_page_each_step_is_drawn():
    big = large()
    drawn = drawing.paged(big)
    rows = drawing.outline(big, drawn)
    assert rows[0]["page"] == 1 and {r["id"]: r["page"] for r in rows} == drawn.page_of()
    assert all("page" not in r for r in drawing.outline(scenario()))
