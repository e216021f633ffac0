"""The voice menu language (``scenarios.engine.ivr``): read and checked with line and column, and run
one key at a time: options, timeouts and wrong keys as the menu says."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from permanence.scenarios.engine import ivr

MENU = """\
language: permanence-ivr/1
start: accueil
timeout: 4
retries: 1
menus:
  accueil:
    say: "Pour un rendez-vous, tapez 1. Pour une urgence, tapez 2. Nos horaires, tapez 3."
    options:
      1: {queue: Rendez-vous}
      2: {queue: Urgence, priority: urgent}
      3: {goto: horaires}
      "#": {voicemail: Message}
    wrong_key: {queue: Choix invalide}
  horaires:
    say: "Nous sommes ouverts de 9 heures à 18 heures. Pour l'accueil, tapez 0."
    options:
      0: {goto: accueil}
    no_key: {end: "Merci de votre appel, au revoir."}
"""


def problems(text: str) -> list[str]:
    return [f"{p.line}:{p.column} {p.code}" for p in ivr.check(text).problems.sorted()]


def test_a_good_menu_reads_without_problems():
    result = ivr.check(MENU)
    assert result.ok and not result.problems.items
    menu = result.ivr
    assert menu is not None and menu.start == "accueil" and menu.timeout == 4 and menu.retries == 1
    assert menu.menus["accueil"].options["2"] == ivr.Action("queue", "Urgence", "urgent")
    assert menu.menus["accueil"].options["#"].kind == "voicemail"
    assert menu.menus["accueil"].no_key == ivr.QUEUE  # the default: the queue, no motive


def test_each_key_leads_where_the_menu_says():
    menu = ivr.check(MENU).ivr
    run = ivr.Run(menu)
    first = run.start()
    assert first.say.startswith("Pour un rendez-vous") and first.wait == 4 and first.action is None
    step = run.key("2")
    assert step.action == ivr.Action("queue", "Urgence", "urgent") and step.keys == ("2",)

    run = ivr.Run(menu)
    run.start()
    assert run.key("3").say.startswith("Nous sommes ouverts")
    assert run.key("0").say.startswith("Pour un rendez-vous")  # back
    assert run.key("1").action == ivr.Action("queue", "Rendez-vous") and run.keys == ["3", "0", "1"]


def test_no_key_and_wrong_keys_say_the_menu_again_then_follow_the_menus_rules():
    menu = ivr.check(MENU).ivr
    run = ivr.Run(menu)
    run.start()
    again = run.key("7")
    assert again.action is None and again.say.startswith(ivr.WRONG_KEY) and "rendez-vous" in again.say
    assert run.key("9").action == ivr.Action("queue", "Choix invalide")  # retries: 1

    run = ivr.Run(menu)
    run.start()
    assert run.timeout().action is None and run.timeout().action == ivr.QUEUE  # said again once, then queue

    run = ivr.Run(menu)
    run.start()
    run.key("3")
    assert run.timeout().action is None
    ended = run.timeout()
    assert ended.action == ivr.Action("end", "Merci de votre appel, au revoir.")
    assert ended.say == "Merci de votre appel, au revoir."  # said, then the call ends


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MENU.replace("{goto: horaires}", "{goto: horaire}"), ["11:17 unknown_menu"]),
        (MENU.replace("start: accueil", "start: nulle_part"), ["2:8 unknown_menu"]),
        (MENU.replace("      0: {goto: accueil}\n", "      0: {goto: horaires}\n").replace(
            "    no_key: {end: \"Merci de votre appel, au revoir.\"}\n", ""),
         []),  # the default no_key (the queue) is a way out
        (MENU.replace('"#": {voicemail', '"A": {voicemail'), ["12:7 ivr_bad_key"]),
        (MENU.replace("{queue: Rendez-vous}", "{queue: Rendez-vous, goto: horaires}"), ["9:10 ivr_action"]),
        (MENU.replace("{goto: horaires}", "{goto: horaires, priority: urgent}"),
         ["11:27 ivr_priority_not_queue"]),
        (MENU.replace("priority: urgent", "priority: vite"), ["10:37 bad_value"]),
        (MENU.replace("timeout: 4", "timeout: 600"), ["3:10 ivr_out_of_range"]),
        (MENU.replace("language: permanence-ivr/1", "language: permanence/1"), ["1:11 bad_language"]),
        (MENU.replace("    say: \"Nous sommes", "    dire: \"Nous sommes"),
         ["15:5 missing_key", "15:5 unknown_key"]),
        (MENU + "  oublie:\n    say: Personne ne vient ici.\n    options:\n      1: {queue: X}\n",
         ["20:5 ivr_unreachable"]),
    ],
)
def test_problems_have_a_line_a_column_and_a_code(text, expected):
    assert problems(text) == expected


def test_a_loop_with_no_way_out_is_an_error_where_it_starts():
    text = """\
language: permanence-ivr/1
start: a
menus:
  a:
    say: Tapez 1.
    options:
      1: {goto: b}
    no_key: {goto: b}
    wrong_key: {goto: a}
  b:
    say: Tapez 2.
    options:
      2: {goto: a}
    no_key: {goto: a}
    wrong_key: {goto: b}
"""
    assert problems(text) == ["5:5 ivr_loop", "11:5 ivr_loop"]
    result = ivr.check(text)
    assert result.ivr is None and not result.ok
    messages = [p.message() for p in result.problems.errors]
    assert "would never reach the queue" in messages[0] and "“a”" in messages[0]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_gets_problems_never_an_exception(text):
    result = ivr.check(text)
    assert result.ok or result.problems.errors


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([*ivr.KEYS, None]), max_size=30))
def test_any_keys_and_silences_end_in_an_action_within_bounds(presses):
    """Whatever the caller presses or does not, the menu never runs for ever: every run ends in an
    action within (retries + 1) steps per menu visit."""
    menu = ivr.check(MENU).ivr
    run = ivr.Run(menu)
    step = run.start()
    for press in presses:
        if step.action is not None:
            break
        step = run.timeout() if press is None else run.key(press)
    while step.action is None:  # then silence: at most retries + 1 timeouts per menu before an action
        step = run.timeout()
    assert step.action.kind in ("queue", "end", "voicemail")


def test_the_example_offered_to_start_from_reads_without_problems():
    result = ivr.check(ivr.EXAMPLE)
    assert result.ok and not result.problems.items and set(result.ivr.menus) == {"accueil", "horaires"}
