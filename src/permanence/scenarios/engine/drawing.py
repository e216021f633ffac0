"""The flowchart (logigramme) drawn from a scenario, for a client who never saw the language.

Pure core: no Django import. Steps are boxes with their words, answers and
results label the arrows, outcomes are rounded and coloured apart; phases and
blocks become groups. Output: Mermaid text (rendered in the browser) or
Graphviz DOT.
"""

from __future__ import annotations

import ast
import re

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


def mermaid(
    scenario: Scenario, classes: dict[str, str] | None = None, ghosts: tuple[tuple[str, str], ...] = ()
) -> str:
    """Mermaid text; ``classes`` marks steps (added, changed), ``ghosts`` adds removed ones."""
    ids: dict[str, str] = {}
    lines = ["flowchart TD"]
    groups: dict[str, list[Step]] = {}
    for step in scenario.steps.values():
        groups.setdefault(step.group or step.phase, []).append(step)
    for group, steps in groups.items():
        if group:
            lines.append(f'  subgraph g{len(lines)}["{_mermaid_text(group)}"]')
        for step in steps:
            node = _ident(step.id, ids)
            text = _mermaid_text(_label(scenario, step))
            if _is_outcome(step):
                lines.append(f'    {node}(["{text}"]):::outcome')
            elif step.kind == "decide":
                lines.append(f'    {node}{{"{text}"}}')
            else:
                lines.append(f'    {node}["{text}"]')
        if group:
            lines.append("  end")
    for step in scenario.steps.values():
        for target, label in edges(scenario, step):
            arrow = f' -->|"{_mermaid_text(label)}"| ' if label else " --> "
            lines.append(f"  {_ident(step.id, ids)}{arrow}{_ident(target, ids)}")
        if step.kind in ("transfer", "appointment"):
            done = _ident(step.id + ":done", ids)
            outcome = OUTCOME_LABELS[step.kind]
            lines.append(f'  {done}(["{outcome}"]):::outcome')
            lines.append(f'  {_ident(step.id, ids)} -->|"{RESULT_LABELS[ACCEPTED[step.kind]]}"| {done}')
    if scenario.start in scenario.steps:
        lines.append(f"  start((Appel)) --> {_ident(scenario.start, ids)}")
    for step_id, label in ghosts:
        lines.append(f'  {_ident("ghost:" + step_id, ids)}["{_mermaid_text(label)}"]:::removed')
    for step_id, css in (classes or {}).items():
        if step_id in ids:
            lines.append(f"  class {ids[step_id]} {css}")
    lines.append("  classDef outcome fill:#e7f6ec,stroke:#1f7a3d,color:#0b3d1c")
    lines.append("  classDef added fill:#dcfae6,stroke:#127a3a,stroke-width:3px")
    lines.append("  classDef changed fill:#fef0c7,stroke:#a15c00,stroke-width:3px")
    lines.append("  classDef removed fill:#fee4e2,stroke:#b42318,stroke-dasharray:5 5,color:#7a271a")
    return "\n".join(lines) + "\n"


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


def outline(scenario: Scenario) -> list[dict[str, object]]:
    """The steps in words, in the order written, for the printed validation copy."""
    out: list[dict[str, object]] = []
    names = {sid: i + 1 for i, sid in enumerate(scenario.steps)}
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
