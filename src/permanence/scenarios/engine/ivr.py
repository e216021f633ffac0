"""The voice menu (*SVI*) an account may put before its queue: a small sibling of the scenario language,
read and checked with the same machinery (``source`` positions, ``Problems`` sentences with line and
column), and run by the call control one key at a time.

Pure core: no Django import. A menu says its text and waits for a key; each option does one thing:

- ``queue: <motive>`` (and ``priority: urgent``): the caller joins the queue; the secretary sees the
  motive as the scenario's first answer;
- ``goto: <menu>``: another menu;
- ``end: <text>``: the text said, then the call ends (self-service: opening hours, an address);
- ``voicemail: <motive>``: the caller leaves a voicemail.

No key within ``timeout`` seconds, or a key the menu does not offer: the menu is said again, at most
``retries`` times, then its ``no_key`` / ``wrong_key`` option is taken (by default: the queue with no
motive, so that nobody is lost in a menu): see ``EXAMPLE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from permanence.scenarios.engine import source
from permanence.scenarios.engine.problems import Problems
from permanence.scenarios.engine.source import Node

LANGUAGE = "permanence-ivr/1"
KEYS = "0123456789*#"
ACTIONS = ("queue", "goto", "end", "voicemail")
PRIORITIES = ("normal", "urgent")
TOP_KEYS = ("language", "title", "start", "timeout", "retries", "menus")
MENU_KEYS = ("say", "options", "no_key", "wrong_key")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
LONGEST_TEXT = 500
EXAMPLE = """language: permanence-ivr/1
start: accueil
menus:
  accueil:
    say: "Pour prendre rendez-vous, tapez 1. Pour une urgence, tapez 2. Pour nos horaires, tapez 3."
    options:
      1: {queue: Rendez-vous}
      2: {queue: Urgence, priority: urgent}
      3: {goto: horaires}
  horaires:
    say: "Nous sommes ouverts du lundi au vendredi, de 9 heures à 18 heures. Pour l'accueil, tapez 0."
    options:
      0: {goto: accueil}
    no_key: {end: "Merci de votre appel, au revoir."}
"""  # a menu to start from (the page's, when an account has none)
WRONG_KEY = "Ce choix n'est pas valide."  # said before the menu again after a key it does not offer


@dataclass(frozen=True)
class Action:
    """What an option does: ``kind`` in ACTIONS; ``value`` the motive, the menu or the text."""

    kind: str
    value: str = ""
    priority: str = "normal"
    pos: tuple[int, int] = field(default=(0, 0), compare=False)  # where it was written


QUEUE = Action("queue")  # the default after the retries: the queue, no motive


@dataclass
class Menu:
    name: str
    say: str
    options: dict[str, Action] = field(default_factory=dict)
    no_key: Action = QUEUE
    wrong_key: Action = QUEUE


@dataclass
class Ivr:
    start: str
    menus: dict[str, Menu]
    timeout: float = 5.0
    retries: int = 2
    title: str = ""


@dataclass
class Result:
    ivr: Ivr | None
    problems: Problems

    @property
    def ok(self) -> bool:
        return self.ivr is not None and not self.problems.errors


def check(text: str | bytes) -> Result:
    """Read and check a menu; any input gets problems, never an exception."""
    problems = Problems()
    root = source.load(text, problems)
    if root is None:
        if not problems.errors:
            problems.error("empty", (1, 1))
        return Result(None, problems)
    if root.kind != "map":
        problems.error("expected_map", root.pos, what="The menu")
        return Result(None, problems)
    top: dict[str, Node] = root.value
    _known(root, TOP_KEYS, "the menu", problems)
    language = top.get("language")
    if language is None:
        problems.error("missing_key", root.pos, what="The menu", key="language")
    elif language.value != LANGUAGE:
        problems.error("bad_language", language.pos, value=language.value, expected=LANGUAGE)
    timeout = _number(top.get("timeout"), 5.0, 2, 30, "timeout", problems)
    retries = int(_number(top.get("retries"), 2, 0, 5, "retries", problems))
    title = _text(top.get("title"), "title", problems, required=False)
    menus: dict[str, Menu] = {}
    where: dict[str, Node] = {}
    menus_node = top.get("menus")
    if menus_node is None:
        problems.error("missing_key", root.pos, what="The menu", key="menus")
    elif menus_node.kind != "map" or not menus_node.value:
        problems.error("expected_map", menus_node.pos, what="“menus”")
    else:
        for name, node in menus_node.value.items():
            if not NAME.match(name):
                problems.error("bad_name", menus_node.key_pos(name), name=name)
                continue
            menu = _menu(name, node, problems)
            if menu is not None:
                menus[name], where[name] = menu, node
    start_node = top.get("start")
    start = ""
    if start_node is None:
        problems.error("missing_key", root.pos, what="The menu", key="start")
    elif not isinstance(start_node.value, str) or start_node.value not in menus:
        if menus or menus_node is None:
            problems.error("unknown_menu", start_node.pos, name=start_node.value)
    else:
        start = start_node.value
    _targets(menus, where, problems)
    if start and not problems.errors:
        _graph(start, menus, where, problems)
    ivr = Ivr(start, menus, timeout, retries, title) if start and not problems.errors else None
    return Result(ivr, problems)


def _known(node: Node, allowed: tuple[str, ...], what: str, problems: Problems) -> None:
    for key in node.value:
        if key not in allowed:
            problems.error("unknown_key", node.key_pos(key), key=key, what=what, expected=", ".join(allowed))


def _number(node: Node | None, default: float, low: float, high: float, what: str,
            problems: Problems) -> float:  # fmt: skip
    if node is None:
        return default
    if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
        problems.error("expected_number", node.pos, what=f"“{what}”")
        return default
    if not low <= node.value <= high:
        problems.error("ivr_out_of_range", node.pos, what=what, low=low, high=high)
        return default
    return float(node.value)


def _text(node: Node | None, what: str, problems: Problems, required: bool = True) -> str:
    if node is None:
        return ""
    if node.kind != "scalar" or not isinstance(node.value, str) or (required and not node.value.strip()):
        problems.error("expected_text", node.pos, what=f"“{what}”")
        return ""
    if len(node.value) > LONGEST_TEXT:
        problems.error("ivr_text_too_long", node.pos, max=LONGEST_TEXT)
        return ""
    return " ".join(node.value.split())


def _menu(name: str, node: Node, problems: Problems) -> Menu | None:
    if node.kind != "map":
        problems.error("expected_map", node.pos, what=f"The menu “{name}”")
        return None
    _known(node, MENU_KEYS, f"the menu “{name}”", problems)
    if "say" not in node.value:
        problems.error("missing_key", node.pos, what=f"The menu “{name}”", key="say")
    menu = Menu(name, _text(node.value.get("say"), "say", problems))
    options = node.value.get("options")
    if options is None:
        problems.error("missing_key", node.pos, what=f"The menu “{name}”", key="options")
    elif options.kind != "map" or not options.value:
        problems.error("expected_map", options.pos, what="“options”")
    else:
        for key, option in options.value.items():
            digit = str(key)
            if len(digit) != 1 or digit not in KEYS:
                problems.error("ivr_bad_key", options.key_pos(key), key=digit, keys=" ".join(KEYS))
                continue
            action = _action(option, problems)
            if action is not None:
                menu.options[digit] = action
    for when in ("no_key", "wrong_key"):
        if when in node.value:
            action = _action(node.value[when], problems)
            if action is not None:
                setattr(menu, when, action)
    return menu


def _action(node: Node, problems: Problems) -> Action | None:
    if node.kind != "map":
        problems.error("expected_map", node.pos, what="An option")
        return None
    kinds = [k for k in node.value if k in ACTIONS]
    _known(node, (*ACTIONS, "priority"), "an option", problems)
    if len(kinds) != 1:
        problems.error("ivr_action", node.pos, actions=", ".join(ACTIONS))
        return None
    kind = kinds[0]
    value_node = node.value[kind]
    value = _text(value_node, kind, problems, required=kind in ("goto", "end"))
    priority = "normal"
    if "priority" in node.value:
        p = node.value["priority"]
        if kind != "queue":
            problems.error("ivr_priority_not_queue", node.key_pos("priority"))
        elif p.value not in PRIORITIES:
            expected = ", ".join(PRIORITIES)
            problems.error("bad_value", p.pos, value=p.value, what="“priority”", expected=expected)
        else:
            priority = str(p.value)
    return Action(kind, value, priority, value_node.pos)


def _actions(menu: Menu) -> list[Action]:
    return [*menu.options.values(), menu.no_key, menu.wrong_key]


def _targets(menus: dict[str, Menu], where: dict[str, Node], problems: Problems) -> None:
    for menu in menus.values():
        for action in _actions(menu):
            if action.kind == "goto" and action.value not in menus:
                problems.error("unknown_menu", action.pos, name=action.value)


def _graph(start: str, menus: dict[str, Menu], where: dict[str, Node], problems: Problems) -> None:
    """Unreachable menus (a warning), and menus from which no path leaves the menus: the caller would go
    round for ever (an error)."""
    seen, todo = {start}, [start]
    while todo:
        for action in _actions(menus[todo.pop()]):
            if action.kind == "goto" and action.value not in seen:
                seen.add(action.value)
                todo.append(action.value)
    for name in menus:
        if name not in seen:
            problems.warning("ivr_unreachable", where[name].pos, name=name)
    leaves = {name for name, menu in menus.items() if any(a.kind != "goto" for a in _actions(menu))}
    changed = True
    while changed:  # the menus from which some path leaves
        changed = False
        for name, menu in menus.items():
            if name not in leaves and any(a.kind == "goto" and a.value in leaves for a in _actions(menu)):
                leaves.add(name)
                changed = True
    for name in menus:
        if name in seen and name not in leaves:
            problems.error("ivr_loop", where[name].pos, name=name)


# -- running a menu -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """What the call control does next: ``say`` a text then wait for a key (``wait`` seconds), or
    finish with ``action`` (queue, end or voicemail)."""

    say: str = ""
    wait: float = 0.0
    action: Action | None = None
    keys: tuple[str, ...] = ()  # the keys pressed so far, for the call's record


class Run:
    """One caller in the menu. ``start()``, then ``key(digit)`` or ``timeout()`` until a step has an
    action. The retries count per menu visit."""

    def __init__(self, ivr: Ivr) -> None:
        self.ivr = ivr
        self.menu = ivr.menus[ivr.start]
        self.tries = 0
        self.keys: list[str] = []

    def start(self) -> Step:
        return self._enter(self.ivr.start)

    def _enter(self, name: str) -> Step:
        self.menu, self.tries = self.ivr.menus[name], 0
        return Step(self.menu.say, self.ivr.timeout, None, tuple(self.keys))

    def _do(self, action: Action) -> Step:
        if action.kind == "goto":
            return self._enter(action.value)
        return Step(action.value if action.kind == "end" else "", 0.0, action, tuple(self.keys))

    def key(self, digit: str) -> Step:
        self.keys.append(digit)
        if digit in self.menu.options:
            return self._do(self.menu.options[digit])
        return self._again(self.menu.wrong_key, WRONG_KEY)

    def timeout(self) -> Step:
        return self._again(self.menu.no_key, "")

    def _again(self, fallback: Action, before: str) -> Step:
        self.tries += 1
        if self.tries > self.ivr.retries:
            return self._do(fallback)
        said = " ".join(t for t in (before, self.menu.say) if t)
        return Step(said, self.ivr.timeout, None, tuple(self.keys))

