"""The flowchart (logigramme) drawn from a scenario, for a client who never saw the language.

Pure core: no Django import. Steps are boxes with their words, answers and
results label the arrows, outcomes are rounded and coloured apart; phases and
blocks become groups. Output: Mermaid text (rendered in the browser) or
Graphviz DOT.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from permanence.scenarios.engine.expressions import Expression
from permanence.scenarios.engine.model import ACCOUNT_RECIPIENT, Scenario, Step

RESULT_LABELS = {
    "found": "trouvé",
    "not_found": "pas trouvé",
    "refused": "refusé",
    "no_answer": "pas de réponse",
    "busy": "occupé",
    "no_slot": "pas de créneau",
    "declined": "refusé",
    "other": "autre cas",
    "accepted": "accepté",
    "booked": "rendez-vous pris",
}
OUTCOME_LABELS = {
    "transfer": "Transfert",
    "appointment": "Rendez-vous",
    "message": "Message",
    "information": "Information donnée",
    "refusal": "Appel éconduit",
}
MAX_WORDS = 18
ACCEPTED = {"transfer": "accepted", "appointment": "booked"}
OUTCOME_STYLE = 'style="rounded,filled", fillcolor="#e7f6ec"'


def _short(text: str, words: int = MAX_WORDS) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def _who(scenario: Scenario, name: str) -> str:
    field = scenario.fields.get(name)
    if field is None and name == ACCOUNT_RECIPIENT:
        return "les destinataires habituels du compte"
    return field.label.lower() if field else name


def _label(scenario: Scenario, step: Step) -> str:
    if step.title:
        head = step.title
    elif step.kind == "ask":
        labels = [scenario.fields[n].label if n in scenario.fields else n for n, _, _ in step.fields]
        head = "Demander : " + ", ".join(labels)
    elif step.kind == "decide":
        head = "Vérifier"
    elif step.kind == "lookup":
        head = "Chercher dans l'organigramme"
    elif step.kind == "transfer":
        blind = " (sans annonce)" if step.mode == "blind" else ""
        head = f"Transférer à : {_who(scenario, step.target)}{blind}"
    elif step.kind == "appointment":
        head = (
            f"Rendez-vous « {step.appointment_type} »"
            if step.appointment_type
            else "Rendez-vous (selon le motif)"
        )
    elif step.kind == "message":
        head = "Message pour : " + ", ".join(_who(scenario, r) for r, _ in step.recipients)
    elif step.kind == "end":
        head = OUTCOME_LABELS.get(step.end, step.end)
    elif step.kind == "use":
        head = f"Bloc « {step.block} »"
    elif step.kind == "return":
        head = "Retour"
    elif step.kind == "verify":
        asked = [IDENTITY_WORDS.get(k, k) for k, _ in step.identity]
        head = "Vérifier l'identité" + (" : " + ", ".join(asked) if asked else "")
    else:
        head = ""
    said = _short(readable_text(scenario, step.say.text.source, step.params)) if step.say else ""
    return f"{head}\n« {said} »" if head and said else head or f"« {said} »"


RECORD_WORDS = {
    "account.greeting": "formule d'accueil",
    "account.name": "nom du compte",
    "account.next_opening": "prochaine ouverture",
    "account.hours": "horaires",
    "call.caller": "numéro de l'appelant",
    "call.called": "numéro appelé",
    "caller.name": "nom de l'appelant",
    "agent.first_name": "prénom de la secrétaire",
    "identity.verified": "identité vérifiée",
    "identity.attempts": "essais de vérification d'identité",
}
#: the identity questions in words (a verify step's box)
IDENTITY_WORDS = {
    "file_number": "numéro de dossier",
    "birth_date": "date de naissance",
    "postcode": "code postal",
    "last_name": "nom",
    "first_name": "prénom",
    "company": "société",
    "email": "adresse e-mail",
}
WEEKDAYS_FR = {
    "monday": "lundi",
    "tuesday": "mardi",
    "wednesday": "mercredi",
    "thursday": "jeudi",
    "friday": "vendredi",
    "saturday": "samedi",
    "sunday": "dimanche",
}
_VARIABLE = re.compile(r"\{\{\s*([a-z_]+)(?:\.([a-z_]+))?[^}]*\}\}")
_BLOCK = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.S)


def readable_text(scenario: Scenario, text: str, params: dict[str, str] | None = None) -> str:
    """Words to say, with variables written as what they stand for: « [personne demandée] »."""

    def word(match: re.Match[str]) -> str:
        name, attr = match.group(1), match.group(2)
        if name == "params" and params and attr in params:
            return params[attr]
        if f"{name}.{attr}" in RECORD_WORDS:
            return f"[{RECORD_WORDS[f'{name}.{attr}']}]"
        if name in scenario.fields:
            return f"[{scenario.fields[name].label.lower()}]"
        return "[…]"

    return _BLOCK.sub("", _VARIABLE.sub(word, text))


def _value_words(scenario: Scenario, node: ast.expr, field: str | None) -> str:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            f = scenario.fields.get(field or "")
            if f is not None and node.value in f.options:
                return f.options[node.value]
            return WEEKDAYS_FR.get(node.value, node.value)
        if node.value is True or node.value is False or node.value is None:
            return {True: "oui", False: "non", None: "vide"}[node.value]
        return str(node.value)
    if isinstance(node, (ast.List, ast.Tuple)):
        return " ou ".join(_value_words(scenario, e, field) for e in node.elts)
    return _words(scenario, node)


def _subject(scenario: Scenario, node: ast.expr) -> tuple[str, str | None]:
    if isinstance(node, ast.Name):
        f = scenario.fields.get(node.id)
        return (f.label if f else node.id), node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        key = f"{node.value.id}.{node.attr}"
        if key in RECORD_WORDS:
            return RECORD_WORDS[key], None
        if key == "caller.tags":
            return "étiquettes de l'appelant", None
        if key == "caller.known":
            return "appelant connu", None
        owner = scenario.fields.get(node.value.id)
        return f"{owner.label if owner else node.value.id} ({node.attr})", None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "weekday":
        return "jour", None
    return _words(scenario, node), None


def _words(scenario: Scenario, node: ast.expr) -> str:
    """A condition in plain French for the client's copy of the flowchart."""
    if isinstance(node, ast.BoolOp):
        joiner = " et " if isinstance(node.op, ast.And) else " ou "
        return joiner.join(_words(scenario, v) for v in node.values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = node.operand
        if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id == "is_open":
            return "fermé"
        return "pas : " + _words(scenario, inner)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        subject, field = _subject(scenario, node.left)
        value = _value_words(scenario, node.comparators[0], field)
        op = node.ops[0]
        if isinstance(op, (ast.Eq, ast.In)):
            if isinstance(node.comparators[0], ast.Constant) and isinstance(op, ast.In):
                return f"{subject} contient « {value} »"
            return f"{subject} : {value}"
        if isinstance(op, (ast.NotEq, ast.NotIn)):
            return f"{subject} : pas {value}"
        symbol = {ast.Lt: "<", ast.LtE: "≤", ast.Gt: ">", ast.GtE: "≥"}.get(type(op), "?")
        return f"{subject} {symbol} {value}"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [
            _subject(scenario, a)[0] if not isinstance(a, ast.Constant) else _value_words(scenario, a, None)
            for a in node.args
        ]
        name = node.func.id
        if name == "is_open":
            return "ouvert"
        if name == "is_holiday":
            return "jour férié"
        if name == "available" and args:
            return f"{args[0].lower()} disponible"
        if name == "can_transfer" and args:
            return f"transfert permis vers {args[0].lower()}"
        if name == "has_tag" and args:
            return f"appelant « {args[0]} »"
        if name == "is_set" and args:
            return f"{args[0].lower()} renseigné"
        if name == "time_between" and len(args) == 2:
            return f"entre {args[0]} et {args[1]}"
    if isinstance(node, (ast.Name, ast.Attribute)):
        return _subject(scenario, node)[0]
    return ast.unparse(node)


def readable_condition(scenario: Scenario, expr: Expression) -> str:
    try:
        return _words(scenario, expr.tree)
    except (AttributeError, KeyError, TypeError, ValueError, RecursionError):
        return expr.source


def _condition(text: str) -> str:
    return _short(text.replace('"', "'"), 10)


def edges(scenario: Scenario, step: Step) -> list[tuple[str, str]]:
    """(target, label) for each arrow leaving ``step``."""
    out: list[tuple[str, str]] = []
    if step.next:
        out.append((step.next, ""))
    for branch in step.branches:
        if branch.condition is None:
            out.append((branch.target, "sinon"))
        else:
            out.append((branch.target, _condition(readable_condition(scenario, branch.condition.expr))))
    for result, (target, _) in step.on.items():
        out.append((target, RESULT_LABELS.get(result, result)))
    if step.enter:
        out.append((step.enter, ""))
    if step.return_to:
        out.append((step.return_to, ""))
    return [(t, label) for t, label in out if t in scenario.steps]


def _is_outcome(step: Step) -> bool:
    return step.kind in ("message", "end")


def _ident(step_id: str, ids: dict[str, str]) -> str:
    if step_id not in ids:
        ids[step_id] = "s" + str(len(ids))
    return ids[step_id]


def _mermaid_text(text: str) -> str:
    text = text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    return text.replace("\n", "<br/>")


#: Mermaid's own limits (mermaid.initialize: maxTextSize 50,000 characters, maxEdges 500 arrows): past the
#: first, the diagram is silently replaced by "Maximum text size in diagram exceeded"; past the second, it
#: fails ("Edge limit exceeded"). A page of the drawing stays well below both, whatever its steps say.
MERMAID_MAX_TEXT = 50_000
MERMAID_MAX_EDGES = 500
#: a page holds at most this many steps (and this much text and these many arrows of their own): beyond,
#: the drawing is cut into pages, arrows leaving a page end on a link to the page holding their target
PAGE_STEPS = 60
PAGE_TEXT = 32_000
PAGE_EDGES = 300
#: the line that opens each page of a drawing of several pages (a Mermaid comment): ``%% page 2/9 : title``
PAGE_MARK = "%% page "
_LINK_WORDS = 8
_LINK_CHARS = 60
_UNREACHED = 1 << 30


@dataclass(frozen=True)
class Page:
    """One page of a drawing: its number (from 1), a title, the steps drawn there, its Mermaid text."""

    number: int
    title: str
    steps: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Drawing:
    pages: tuple[Page, ...]

    @property
    def text(self) -> str:
        """One page: its Mermaid text. Several: each one after its ``%% page n/total : title`` line."""
        if len(self.pages) == 1:
            return self.pages[0].text
        total = len(self.pages)
        return "".join(f"{PAGE_MARK}{p.number}/{total} : {p.title}\n{p.text}" for p in self.pages)

    def page_of(self) -> dict[str, int]:
        return {sid: page.number for page in self.pages for sid in page.steps}


def _node_line(step: Step, text: str, node: str) -> str:
    """A step's box; ``text``: its words, written for Mermaid."""
    if _is_outcome(step):
        return f'    {node}(["{text}"]):::outcome'
    if step.kind == "decide":
        return f'    {node}{{"{text}"}}'
    return f'    {node}["{text}"]'


def _arrow(label: str) -> str:
    return f' -->|"{_mermaid_text(label)}"| ' if label else " --> "


def _head(label: str) -> str:
    """The first line of a step's box, short: what a link to it says."""
    head = label.split("\n")[0]
    said = head.startswith("« ") and head.endswith(" »")
    head = _short(head[2:-2] if said else head, _LINK_WORDS)
    head = head if len(head) <= _LINK_CHARS else head[: _LINK_CHARS - 1] + "…"
    return f"« {head} »" if said else head


def _came_from(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"⬅ depuis la page {numbers[0]}"
    return "⬅ depuis les pages " + ", ".join(str(n) for n in numbers[:5]) + (" …" if len(numbers) > 5 else "")


class _Plan:
    """The words and arrows of every step (computed once), and the Mermaid name of each."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.labels = {sid: _label(scenario, step) for sid, step in scenario.steps.items()}
        self.boxes = {sid: _mermaid_text(label) for sid, label in self.labels.items()}
        self.arrows = {sid: edges(scenario, step) for sid, step in scenario.steps.items()}
        self.index = {sid: i for i, sid in enumerate(scenario.steps)}
        self.ids: dict[str, str] = {}

    def incoming(self) -> dict[str, list[str]]:
        """The steps with an arrow to each step."""
        out: dict[str, list[str]] = {}
        for sid, arrows in self.arrows.items():
            for target, _ in arrows:
                out.setdefault(target, []).append(sid)
        return out

    def depths(self) -> dict[str, int]:
        """Arrows from the call's first step (breadth first): how far each step is from the start."""
        depth: dict[str, int] = {}
        start = self.scenario.start
        if start in self.scenario.steps:
            depth[start] = 0
            queue, head = [start], 0
            while head < len(queue):
                sid = queue[head]
                head += 1
                for target, _ in self.arrows[sid]:
                    if target not in depth:
                        depth[target] = depth[sid] + 1
                        queue.append(target)
        return depth

    def cost(self, step: Step) -> tuple[int, int]:
        """The characters and arrows a step brings to its page at most: its box (and its group's), its
        arrows, each perhaps to a link to another page, and the mark of arrows coming from other pages."""
        text = len(_node_line(step, self.boxes[step.id], "s0000")) + 31 + len(step.group or step.phase) * 2
        count = len(self.arrows[step.id]) + 1
        for _, label in self.arrows[step.id]:
            text += len(_mermaid_text(label)) + 30 + _LINK_CHARS + 90
        if step.kind in ("transfer", "appointment"):
            text += 100
            count += 1
        return text + 200, count

    def sections(self) -> list[list[str]]:
        """The steps in reading order, a section at a time: a phase or a block kept together, taken in the
        order the call reaches them (breadth first from the start; steps it never reaches last)."""
        depth = self.depths()
        rank = {sid: (depth.get(sid, _UNREACHED), i) for sid, i in self.index.items()}
        grouped: dict[str, list[str]] = {}
        units: list[list[str]] = []
        for sid, step in self.scenario.steps.items():
            group = step.group or step.phase
            if group:
                grouped.setdefault(group, []).append(sid)
            else:
                units.append([sid])

        units += [sorted(steps, key=rank.__getitem__) for steps in grouped.values()]
        units.sort(key=lambda unit: rank[unit[0]])
        return units

    def partition(self, ghosts: tuple[tuple[str, str], ...], max_steps: int) -> list[list[str]]:
        """Pages of at most ``max_steps`` steps within the text and arrow budgets; a section that fits on a
        page is not cut, a longer one fills pages in reading order; removed steps (``ghosts``) come last."""
        costs = {sid: (1, *self.cost(step)) for sid, step in self.scenario.steps.items()}
        costs.update({_GHOST + sid: (1, len(label) + 60, 0) for sid, label in ghosts})
        units = self.sections() + [[_GHOST + sid] for sid, _ in ghosts]
        empty = (0, 0, 0)

        def size(steps: list[str]) -> tuple[int, int, int]:
            if len(steps) == 1:
                return costs[steps[0]]
            return len(steps), sum(costs[s][1] for s in steps), sum(costs[s][2] for s in steps)

        def add(used: tuple[int, int, int], more: tuple[int, int, int]) -> tuple[int, int, int]:
            return used[0] + more[0], used[1] + more[1], used[2] + more[2]

        def fits(used: tuple[int, int, int], more: tuple[int, int, int]) -> bool:
            steps, text, count = add(used, more)
            return steps <= max_steps and text <= PAGE_TEXT and count <= PAGE_EDGES

        pages: list[list[str]] = []
        page: list[str] = []
        used = empty
        for unit in units:
            whole = size(unit)
            if page and not fits(used, whole) and fits(empty, whole):
                pages.append(page)  # the section fits on a page of its own: start one rather than cut it
                page, used = [], empty
            for sid in unit:
                one = costs[sid]
                if page and not fits(used, one):
                    pages.append(page)
                    page, used = [], empty
                page.append(sid)
                used = add(used, one)
        if page:
            pages.append(page)
        return pages


_GHOST = "ghost:"


def _title(plan: _Plan, steps: list[str], seen: set[str]) -> str:
    """The phases and blocks of a page (« (suite) » when the first one began on an earlier page), or the
    words of its first step."""
    groups: list[str] = []
    for sid in steps:
        step = plan.scenario.steps.get(sid)
        if step is not None and (step.group or step.phase) and (step.group or step.phase) not in groups:
            groups.append(step.group or step.phase)
    names = [g + " (suite)" if i == 0 and g in seen else g for i, g in enumerate(groups)]
    seen.update(groups)
    if not names:
        first = next((sid for sid in steps if sid in plan.labels), None)
        return "Étapes retirées" if first is None else "À partir de : " + _head(plan.labels[first])
    title = " · ".join(names[:3]) + (" · …" if len(names) > 3 else "")
    return title.replace("\n", " ")


def _page_text(
    plan: _Plan,
    steps: list[str],
    where: dict[str, int] | None,
    number: int,
    classes: dict[str, str],
    ghosts: dict[str, str],
    incoming: dict[str, list[str]],
) -> str:
    """The Mermaid text of the page ``number`` holding ``steps`` (``where``: every step's page, or None for
    a drawing of one page; ``incoming``: the steps with an arrow to each step)."""
    scenario, ids = plan.scenario, plan.ids
    here = set(steps)
    order = sorted((sid for sid in steps if sid in scenario.steps), key=plan.index.__getitem__)  # as written
    lines = ["flowchart TD"]
    groups: dict[str, list[Step]] = {}
    for sid in order:
        step = scenario.steps[sid]
        groups.setdefault(step.group or step.phase, []).append(step)
    for group, members in groups.items():
        if group:
            lines.append(f'  subgraph g{len(lines)}["{_mermaid_text(group)}"]')
        for step in members:
            lines.append(_node_line(step, plan.boxes[step.id], _ident(step.id, ids)))
        if group:
            lines.append("  end")
    links: dict[str, str] = {}
    for sid in order:
        step = scenario.steps[sid]
        for target, label in plan.arrows[sid]:
            if where is None or where[target] == number:
                lines.append(f"  {_ident(step.id, ids)}{_arrow(label)}{_ident(target, ids)}")
                continue
            link = links.get(target)
            if link is None:
                link = links[target] = f"l{number}_{_ident(target, ids)}"
                page = where[target]
                words = _mermaid_text(f"➜ page {page} : {_head(plan.labels[target])}")
                lines.append(f'  {link}[["{words}"]]:::goto')
                lines.append(f'  click {link} href "#drawing-page-{page}" "Aller à la page {page}"')
            lines.append(f"  {_ident(step.id, ids)}{_arrow(label)}{link}")
        if step.kind in ("transfer", "appointment"):
            done = _ident(step.id + ":done", ids)
            outcome = OUTCOME_LABELS[step.kind]
            lines.append(f'  {done}(["{outcome}"]):::outcome')
            lines.append(f'  {_ident(step.id, ids)} -->|"{RESULT_LABELS[ACCEPTED[step.kind]]}"| {done}')
    for target in order:
        came = sorted({where[s] for s in incoming.get(target, ()) if where[s] != number}) if where else []
        if came:
            entry = f"e{number}_{_ident(target, ids)}"
            lines.append(f'  {entry}[["{_came_from(came)}"]]:::goto')
            lines.append(f'  click {entry} href "#drawing-page-{came[0]}" "Aller à la page {came[0]}"')
            lines.append(f"  {entry} -.-> {_ident(target, ids)}")
    if scenario.start in here:
        lines.append(f"  start((Appel)) --> {_ident(scenario.start, ids)}")
    for sid in steps:
        if sid.startswith(_GHOST) and sid in ghosts:
            lines.append(f'  {_ident(sid, ids)}["{_mermaid_text(ghosts[sid])}"]:::removed')
    for step_id, css in classes.items():
        if step_id in ids and step_id in here:
            lines.append(f"  class {ids[step_id]} {css}")
    lines.append("  classDef outcome fill:#e7f6ec,stroke:#1f7a3d,color:#0b3d1c")
    lines.append("  classDef added fill:#dcfae6,stroke:#127a3a,stroke-width:3px")
    lines.append("  classDef changed fill:#fef0c7,stroke:#a15c00,stroke-width:3px")
    lines.append("  classDef removed fill:#fee4e2,stroke:#b42318,stroke-dasharray:5 5,color:#7a271a")
    if where is not None:
        lines.append("  classDef goto fill:#eef4ff,stroke:#3e63dd,color:#1d2f6f")
    return "\n".join(lines) + "\n"


def paged(
    scenario: Scenario,
    classes: dict[str, str] | None = None,
    ghosts: tuple[tuple[str, str], ...] = (),
    max_steps: int | None = PAGE_STEPS,
) -> Drawing:
    """The drawing, cut into pages of at most ``max_steps`` steps when it does not fit on one (each
    step and each arrow drawn once: an arrow to another page ends on a link to it, and a step entered
    from other pages says from which). ``max_steps=None``: one drawing, however large (Graphviz takes it,
    Mermaid does not)."""
    plan = _Plan(scenario)
    ghost_labels = {_GHOST + sid: label for sid, label in ghosts}
    marks = dict(classes or {})
    chunks = [] if max_steps is None else plan.partition(ghosts, max(1, max_steps))
    if len(chunks) <= 1:
        steps = list(scenario.steps) + list(ghost_labels)
        text = _page_text(plan, steps, None, 1, marks, ghost_labels, {})
        return Drawing((Page(1, scenario.title, tuple(scenario.steps), text),))
    where = {sid: n for n, chunk in enumerate(chunks, 1) for sid in chunk}
    seen: set[str] = set()
    pages = []
    incoming = plan.incoming()
    for n, chunk in enumerate(chunks, 1):
        title = _title(plan, chunk, seen)
        text = _page_text(plan, chunk, where, n, marks, ghost_labels, incoming)
        pages.append(Page(n, title, tuple(s for s in chunk if s in scenario.steps), text))
    return Drawing(tuple(pages))


def mermaid(
    scenario: Scenario, classes: dict[str, str] | None = None, ghosts: tuple[tuple[str, str], ...] = ()
) -> str:
    """Mermaid text; ``classes`` marks steps (added, changed), ``ghosts`` adds removed ones. A scenario too
    large for one drawing gives several, each after its ``%% page n/total : title`` line (see ``paged``)."""
    return paged(scenario, classes, ghosts).text


def _signature(scenario: Scenario, step: Step) -> tuple[object, ...]:
    return (
        step.kind,
        _label(scenario, step),
        tuple(edges(scenario, step)),
        step.note.text.source if step.note else "",
    )


def changed_steps(before: Scenario, after: Scenario) -> list[str]:
    """Steps present in both versions whose words, kind or arrows differ."""
    return sorted(
        sid
        for sid in set(before.steps) & set(after.steps)
        if _signature(before, before.steps[sid]) != _signature(after, after.steps[sid])
    )


def mermaid_diff(before: Scenario, after: Scenario) -> str:
    """The new drawing with added steps in green, changed in amber and removed ones as ghosts."""
    classes = {sid: "added" for sid in set(after.steps) - set(before.steps)}
    classes.update({sid: "changed" for sid in changed_steps(before, after)})
    ghosts = tuple(
        (sid, "✗ " + _label(before, before.steps[sid]))
        for sid in sorted(set(before.steps) - set(after.steps))
    )
    return mermaid(after, classes, ghosts)


KIND_LABELS = {
    "say": "Dire",
    "ask": "Demander",
    "decide": "Vérifier",
    "lookup": "Chercher dans l'organigramme",
    "transfer": "Transférer",
    "appointment": "Prendre rendez-vous",
    "message": "Prendre un message",
    "end": "Terminer",
    "use": "Bloc",
    "return": "Retour",
    "verify": "Vérifier l'identité",
}


def outline(scenario: Scenario, drawn: Drawing | None = None) -> list[dict[str, object]]:
    """The steps in words, in the order written, for the printed validation copy; with the ``drawn``
    drawing of several pages, the page where each step is drawn."""
    out: list[dict[str, object]] = []
    names = {sid: i + 1 for i, sid in enumerate(scenario.steps)}
    pages = drawn.page_of() if drawn is not None and len(drawn.pages) > 1 else {}
    for sid, step in scenario.steps.items():
        out.append(
            {
                "number": names[sid],
                "id": sid,
                "kind": KIND_LABELS.get(step.kind, step.kind),
                "label": _label(scenario, step),
                "phase": step.phase,
                "arrows": [
                    (label or "ensuite", names.get(target, 0), target)
                    for target, label in edges(scenario, step)
                ],
            }
        )
        if pages:
            out[-1]["page"] = pages[sid]
    return out


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def dot(scenario: Scenario) -> str:
    ids: dict[str, str] = {}
    lines = [
        "digraph scenario {",
        '  rankdir=TB; node [shape=box, style="rounded", fontname="DejaVu Sans"];',
        '  start [label="Appel", shape=circle];',
    ]
    for step in scenario.steps.values():
        node = _ident(step.id, ids)
        shape = (
            ", shape=diamond"
            if step.kind == "decide"
            else (", " + OUTCOME_STYLE if _is_outcome(step) else "")
        )
        lines.append(f'  {node} [label="{_dot_text(_label(scenario, step))}"{shape}];')
    for step in scenario.steps.values():
        for target, label in edges(scenario, step):
            attr = f' [label="{_dot_text(label)}"]' if label else ""
            lines.append(f"  {_ident(step.id, ids)} -> {_ident(target, ids)}{attr};")
        if step.kind in ("transfer", "appointment"):
            done = _ident(step.id + ":done", ids)
            lines.append(f'  {done} [label="{OUTCOME_LABELS[step.kind]}", {OUTCOME_STYLE}];')
            lines.append(f"  {_ident(step.id, ids)} -> {done};")
    if scenario.start in scenario.steps:
        lines.append(f"  start -> {_ident(scenario.start, ids)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
