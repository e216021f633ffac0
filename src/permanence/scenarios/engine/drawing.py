"""The flowchart (logigramme) drawn from a scenario, for a client who never saw the language.

Pure core: no Django import. Steps are boxes with their words, answers and
results label the arrows, outcomes are rounded and coloured apart; phases and
blocks become groups. Output: Mermaid text (rendered in the browser) or
Graphviz DOT.
"""

from __future__ import annotations

import re

from permanence.scenarios.engine.model import Scenario, Step

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
        head = f"Transférer à {step.target}" + (" (sans annonce)" if step.mode == "blind" else "")
    elif step.kind == "appointment":
        head = f"Rendez-vous « {step.appointment_type} »"
    elif step.kind == "message":
        head = "Message pour " + ", ".join(r for r, _ in step.recipients)
    elif step.kind == "end":
        head = OUTCOME_LABELS.get(step.end, step.end)
    elif step.kind == "use":
        head = f"Bloc « {step.block} »"
    elif step.kind == "return":
        head = "Retour"
    else:
        head = ""
    said = _short(step.say.text.source) if step.say else ""
    return f"{head}\n« {said} »" if head and said else head or f"« {said} »"


def _condition(text: str) -> str:
    return _short(text.replace('"', "'"), 10)


def edges(scenario: Scenario, step: Step) -> list[tuple[str, str]]:
    """(target, label) for each arrow leaving ``step``."""
    out: list[tuple[str, str]] = []
    if step.next:
        out.append((step.next, ""))
    for branch in step.branches:
        out.append(
            (branch.target, "sinon" if branch.condition is None else _condition(branch.condition.expr.source))
        )
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
    text = text.replace('"', "#quot;").replace("\n", "<br/>")
    return re.sub(r"[<>](?!br/>)", lambda m: "#lt;" if m.group() == "<" else "#gt;", text)


def mermaid(scenario: Scenario) -> str:
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
            lines.append(
                f'  {_ident(step.id, ids)} -->|"{RESULT_LABELS[ACCEPTED[step.kind]]}"| {done}'
            )
    if scenario.start in scenario.steps:
        lines.append(f"  start((Appel)) --> {_ident(scenario.start, ids)}")
    lines.append("  classDef outcome fill:#e7f6ec,stroke:#1f7a3d,color:#0b3d1c")
    return "\n".join(lines) + "\n"


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
            lines.append(
                f'  {done} [label="{OUTCOME_LABELS[step.kind]}", {OUTCOME_STYLE}];'
            )
            lines.append(f"  {_ident(step.id, ids)} -> {done};")
    if scenario.start in scenario.steps:
        lines.append(f"  start -> {_ident(scenario.start, ids)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
