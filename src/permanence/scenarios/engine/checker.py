"""The scenario checker: every problem with its line, column and a plain sentence.

Pure core: no Django import. ``check(text, account)`` reads the YAML, expands
the blocks (call and return, inlined with prefixed step ids), then checks
references, types, the graph (reachability, outcomes, loops), where fields are
set before they are used, and the warnings (interrogation, duplicated texts,
unused blocks and fields). Any input gets problems, never an exception.
"""

from __future__ import annotations

import ast
import dataclasses
import gc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from permanence.scenarios.engine import expressions as ex
from permanence.scenarios.engine import model, source
from permanence.scenarios.engine.model import Block, Condition, Scenario, Step
from permanence.scenarios.engine.problems import Problems

TEMPLATE_NAMES = frozenset(ex.RECORDS) | {"params", "notes", "outcome", "label"}


@dataclass(frozen=True)
class AccountInfo:
    """What the checker and the runtime know of the account (plain data)."""

    slug: str
    name: str = ""
    collaborators: Mapping[str, str] = field(default_factory=dict)  # ref -> name
    services: frozenset[str] = frozenset()
    appointment_types: frozenset[str] | None = None  # None: not known, not checked
    max_questions: int | None = None


@dataclass
class Result:
    scenario: Scenario
    problems: Problems

    @property
    def ok(self) -> bool:
        return not self.problems.errors


def check(
    text: str | bytes, account: AccountInfo | None = None, library: Mapping[str, Block] | None = None
) -> Result:
    # Reading creates tens of thousands of small acyclic objects: the cyclic
    # collector would run many times for nothing (it doubled the time of a
    # 2,000-step check). Reference counting frees them all the same.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _check(text, account, library)
    finally:
        if enabled:
            gc.enable()


def _check(text: str | bytes, account: AccountInfo | None, library: Mapping[str, Block] | None) -> Result:
    problems = Problems()
    root = source.load(text, problems)
    scenario = model.read(root, problems)
    if root is not None and scenario.steps:
        Checker(scenario, problems, account, library or {}).run()
    deduplicated: dict[tuple[object, ...], model.Pos] = {}
    unique = []
    for p in problems.items:
        key = (p.severity, p.code, p.line, p.column, tuple(sorted(map(str, p.params.items()))))
        if key not in deduplicated:
            deduplicated[key] = (p.line, p.column)
            unique.append(p)
    problems.items = unique
    return Result(scenario, problems)


def read_block(text: str | bytes, name: str, problems: Problems) -> Block | None:
    """A block kept in its own file (a shared library): the same shape as under ``blocks:``."""
    root = source.load(text, problems)
    if root is None:
        return None
    return model.Reader(problems).block(name, root)


class Checker:
    def __init__(
        self,
        scenario: Scenario,
        problems: Problems,
        account: AccountInfo | None,
        library: Mapping[str, Block],
    ) -> None:
        self.s = scenario
        self.p = problems
        self.account = account
        self.library = library

    def run(self) -> None:
        self.expand()
        self.references()
        self.conditions_and_texts()
        if self.s.broken:  # the graph checks would only echo the unreadable steps
            return
        reachable = self.graph()
        self.dataflow(reachable)
        self.interrogation(reachable)
        self.lints(reachable)

    # ------------------------------------------------------------ blocks
    def expand(self) -> None:
        blocks = {**self.library, **self.s.blocks}
        pending: list[tuple[Step, tuple[str, ...]]] = [
            (step, ()) for step in self.s.steps.values() if step.kind == "use"
        ]
        steps = self.s.steps
        while pending:
            use, chain = pending.pop()
            block = blocks.get(use.block)
            if block is None:
                self.p.error("unknown_block", use.pos, name=use.block)
                continue
            if use.block in chain:
                self.p.error("block_cycle", use.pos, name=use.block, chain=" → ".join((*chain, use.block)))
                continue
            block.used = True
            for pname in use.params:
                if pname not in block.params:
                    self.p.error("unknown_param", use.pos, block=block.name, name=pname)
            params = {k: v for k, v in block.params.items() if v is not None}
            params.update(use.params)
            for pname in block.params:
                if pname not in params:
                    self.p.error("missing_param", use.pos, block=block.name, name=pname)
            for fname, f in block.fields.items():
                mine = self.s.fields.get(fname)
                if mine is None:
                    self.s.fields[fname] = dataclasses.replace(f, origin=block.name)
                elif mine.signature() != f.signature():
                    self.p.error("field_conflict", use.pos, block=block.name, name=fname)
            if block.start not in block.steps:
                self.p.error("unknown_step", block.start_pos, name=block.start)
                continue
            prefix = use.id + "."
            use.enter = prefix + block.start
            returns = any(s.kind == "return" for s in block.steps.values())
            if returns and not use.next and not use.branches:
                self.p.error("use_needs_next", use.pos, block=block.name)

            def local(target: str, block: Block = block, prefix: str = prefix) -> str:
                return prefix + target if target in block.steps else target

            for bstep in block.steps.values():
                copy = dataclasses.replace(
                    bstep,
                    id=prefix + bstep.id,
                    next=local(bstep.next) if bstep.next else None,
                    branches=[dataclasses.replace(b, target=local(b.target)) for b in bstep.branches],
                    on={k: (local(t), pos) for k, (t, pos) in bstep.on.items()},
                    params=dict(params) if bstep.kind != "use" else dict(bstep.params),
                    param_names=tuple(block.params),
                    group=use.id,
                    fields=list(bstep.fields),
                    recipients=list(bstep.recipients),
                )
                if copy.kind == "return":
                    copy.return_to = use.next or (use.branches[0].target if use.branches else None)
                steps[copy.id] = copy
                if copy.kind == "use":
                    pending.append((copy, (*chain, use.block)))

    # ------------------------------------------------------------ references
    def references(self) -> None:
        fields = self.s.fields
        steps = {**self.s.steps, **dict.fromkeys(self.s.broken)}
        if self.s.start and self.s.start not in steps:
            self.p.error("unknown_step", self.s.start_pos, name=self.s.start)
        account_name = self.account.name or self.account.slug if self.account else ""
        for step in self.s.steps.values():
            if step.next and step.next not in steps:
                self.p.error("unknown_step", step.next_pos, name=step.next)
            for b in step.branches:
                if b.target not in steps:
                    self.p.error("unknown_step", b.target_pos, name=b.target)
            for target, pos in step.on.values():
                if target not in steps:
                    self.p.error("unknown_step", pos, name=target)
            for name, _optional, pos in step.fields:
                if name not in fields:
                    self.p.error("unknown_field", pos, name=name)
            if step.kind == "lookup" and step.target:
                f = fields.get(step.target)
                if f is None:
                    self.p.error("unknown_field", step.target_pos, name=step.target)
                elif f.type != "person":
                    self.p.error("not_person_field", step.target_pos, name=step.target)
                if step.service and self.account and step.service not in self.account.services:
                    self.p.error("unknown_service", step.service_pos, name=step.service, account=account_name)
            if step.kind in ("transfer", "appointment") and step.target:
                self.person_or_collaborator(step.target, step.target_pos, account_name)
            known_types = self.account.appointment_types if self.account else None
            unknown_type = (  # empty: the type is chosen at the desk from the caller's motive
                known_types is not None
                and step.appointment_type != ""
                and step.appointment_type not in known_types
            )
            if step.kind == "appointment" and unknown_type:
                self.p.error(
                    "unknown_appointment_type", step.pos, name=step.appointment_type, account=account_name
                )
            for recipient, pos in step.recipients:
                if "@" not in recipient and "{" not in recipient:
                    self.person_or_collaborator(recipient, pos, account_name)

    def person_or_collaborator(self, name: str, pos: model.Pos, account_name: str) -> None:
        f = self.s.fields.get(name)
        if f is not None:
            if f.type != "person":
                self.p.error("not_person_field", pos, name=name)
            return
        if self.account is not None and name not in self.account.collaborators:
            self.p.error("unknown_collaborator", pos, name=name, account=account_name)
        elif self.account is None and not model.NAME.match(name.replace("-", "_").replace(".", "_")):
            self.p.error("unknown_field", pos, name=name)

    # ------------------------------------------------------------ types
    def conditions_and_texts(self) -> None:
        allowed_templates = TEMPLATE_NAMES | set(self.s.fields)
        by_params: dict[tuple[str, ...], Mapping[str, ex.Type]] = {}
        for step in self.s.steps.values():
            names = by_params.get(step.param_names)
            if names is None:
                names = by_params[step.param_names] = self.s.names(step.param_names)
            for b in step.branches:
                if b.condition:
                    self.typecheck(b.condition, names)
            if isinstance(step.urgent, Condition):
                self.typecheck(step.urgent, names)
            for text in (step.say, step.note):
                if text:
                    self.template_names(text, allowed_templates)
        for f in self.s.fields.values():
            if f.prefill is not None:
                errors = ex.check(f.prefill, self.s.names(), want_bool=False)
                for e in errors:
                    self.p.error(e.code, f.prefill_pos, **e.params)
            if f.say:
                self.template_names(model.TextAt(f.say, f.pos, None), allowed_templates)
        for report in self.s.reports.values():
            for text in (report.subject, report.body, *report.to):
                if text:
                    self.template_names(text, allowed_templates)

    def typecheck(self, cond: Condition, names: Mapping[str, ex.Type]) -> None:
        for e in ex.check(cond.expr, names):
            node = source.Node("scalar", None, cond.pos[0], cond.pos[1], style=cond.style)
            self.p.error(e.code, model.expr_pos(node, e.offset), **e.params)

    def template_names(self, text: model.TextAt, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for name in sorted(text.text.names):
            if name not in allowed:
                self.p.error("unknown_name", text.pos, name=name)

    # ------------------------------------------------------------ graph
    def graph(self) -> set[str]:
        steps = self.s.steps
        if self.s.start not in steps:
            return set()
        succ = {sid: [t for t in s.successors() if t in steps] for sid, s in steps.items()}
        reachable = {self.s.start}
        todo = [self.s.start]
        while todo:
            for t in succ[todo.pop()]:
                if t not in reachable:
                    reachable.add(t)
                    todo.append(t)
        # Report where an unreachable region starts, not every step below it.
        lost = {sid for sid, step in steps.items() if sid not in reachable and not step.group}
        entries = [sid for sid in lost if not any(sid in succ[p] for p in lost if p != sid)]
        if lost and not entries:
            entries = [min(lost, key=lambda sid: steps[sid].pos)]
        for sid in sorted(entries, key=lambda sid: steps[sid].pos):
            self.p.error("unreachable", steps[sid].pos, name=sid)
        # which steps can end in an outcome?
        preds: dict[str, list[str]] = {sid: [] for sid in steps}
        for sid, targets in succ.items():
            for t in targets:
                preds[t].append(sid)
        ends = [
            sid
            for sid, s in steps.items()
            if s.kind in model.TERMINAL
            or s.kind in ("transfer", "appointment")
            or any(t not in steps for t in s.successors())  # dangling: reported already, not echoed
            or (s.kind == "use" and s.enter is None)  # its block is unknown: reported already
        ]
        finishing = set(ends)
        todo = list(ends)
        while todo:
            for p in preds[todo.pop()]:
                if p not in finishing:
                    finishing.add(p)
                    todo.append(p)
        self.components = strongly_connected(reachable, succ)
        for component in self.components:
            looping = len(component) > 1 or component[0] in succ[component[0]]
            if looping and not any(steps[sid].waits for sid in component):
                first = min(component, key=lambda sid: steps[sid].pos)
                self.p.error("endless_loop", steps[first].pos, steps=", ".join(sorted(component)[:8]))
        for sid in sorted(reachable - finishing, key=lambda sid: steps[sid].pos):
            step = steps[sid]
            if step.kind == "return" and step.return_to is None:
                continue
            self.p.error("no_outcome", step.pos, name=sid)
        self.succ = succ
        return reachable

    # ------------------------------------------------------------ dataflow
    def dataflow(self, reachable: set[str]) -> None:
        steps, fields = self.s.steps, self.s.fields
        if not reachable:
            return
        index = {name: 1 << i for i, name in enumerate(fields)}
        everything = (1 << len(fields)) - 1
        prefilled = 0
        for name, f in fields.items():
            if f.prefill is not None:
                prefilled |= index[name]

        def gen(step: Step, target: str, required_only: bool) -> int:
            bits = 0
            for name, optional, _ in step.fields:
                if name in index and not (required_only and (optional or not fields[name].required)):
                    bits |= index[name]
            if step.kind == "lookup" and step.target in index:
                found = step.on.get("found", ("", None))[0]
                other_found = "other" in step.on and "found" not in step.on
                if target == found or other_found or not required_only:
                    bits |= index[step.target]
            return bits

        # Forward must/may analysis over bitsets, in reverse post-order (one or two passes on a DAG).
        order = _reverse_postorder(self.s.start, self.succ, reachable)
        out_edges = {
            sid: [
                (t, gen(steps[sid], t, True), gen(steps[sid], t, False))
                for t in self.succ[sid]
                if t in reachable
            ]
            for sid in order
        }
        must = {sid: everything for sid in reachable}
        may = {sid: 0 for sid in reachable}
        must[self.s.start] = may[self.s.start] = prefilled
        changed = True
        rounds = 0
        while changed and rounds < 100:
            changed = False
            rounds += 1
            for sid in order:
                m, y = must[sid], may[sid]
                for t, g_must, g_may in out_edges[sid]:
                    new_must = must[t] & (m | g_must)
                    new_may = may[t] | y | g_may
                    if new_must != must[t] or new_may != may[t]:
                        must[t], may[t] = new_must, new_may
                        changed = True
        for sid in reachable:
            step = steps[sid]
            after = gen(step, "", True) if step.kind == "ask" else 0
            after_may = gen(step, "", False) if step.kind == "ask" else 0
            conditions = [b.condition for b in step.branches if b.condition]
            if isinstance(step.urgent, Condition):
                conditions.append(step.urgent)
            for cond in conditions:
                for name in sorted(n for n in cond.expr.names if n in index):
                    bit = index[name]
                    if not (may[sid] | after_may) & bit:
                        self.p.error("used_before_set", cond.pos, name=name)
                    elif not (must[sid] | after) & bit and name not in _guarded_names(cond.expr):
                        self.p.warning("maybe_unset", cond.pos, name=name)
            for text in (step.say,):
                if text is None:
                    continue
                for name in sorted(text.text.names & set(index)):
                    if not may[sid] & index[name]:
                        self.p.error("used_before_set", text.pos, name=name)

    # ------------------------------------------------------------ warnings
    def interrogation(self, reachable: set[str]) -> None:
        steps = self.s.steps
        limit = (
            self.account.max_questions
            if self.account and self.account.max_questions
            else self.s.max_questions
        )
        if not reachable:
            return

        prefilled = {n for n, f in self.s.fields.items() if f.prefill is not None}
        bits: dict[str, int] = {}

        def asked(sid: str) -> int:
            """The questions a step asks, as a bitset (a field already answered is not asked again)."""
            step = steps[sid]
            if step.kind == "ask":
                names = [n for n, _, _ in step.fields if n not in prefilled]
            elif step.kind == "lookup":
                names = ["lookup:" + sid]
            else:
                return 0
            out = 0
            for name in names:
                out |= bits.setdefault(name, 1 << len(bits))
            return out

        # Longest path by distinct questions over the components' DAG (greedy on the
        # distinct count: an upper estimate of what one caller may be asked).
        components = self.components
        comp_of = {sid: i for i, comp in enumerate(components) for sid in comp}
        best: list[tuple[int, int, str]] = []  # (questions bitset, next component or -1, first step)
        for i, comp in enumerate(components):  # successors come first
            own = 0
            for sid in comp:
                own |= asked(sid)
            follow, follow_count = -1, own.bit_count()
            for sid in comp:
                for t in self.succ[sid]:
                    j = comp_of.get(t)
                    if j is not None and j != i:
                        count = (own | best[j][0]).bit_count()
                        if count > follow_count:
                            follow, follow_count = j, count
            total = own | best[follow][0] if follow >= 0 else own
            best.append((total, follow, min(comp, key=lambda s: steps[s].pos)))
        start = comp_of[self.s.start]
        count = best[start][0].bit_count()
        if count > limit:
            path, at, seen, k = [], None, 0, start
            while k >= 0:
                path.append(best[k][2])
                for sid in components[k]:
                    seen |= asked(sid)
                if at is None and seen.bit_count() > limit:
                    at = steps[best[k][2]].pos
                k = best[k][1]
            shown = " → ".join(path[:12]) + (" …" if len(path) > 12 else "")
            self.p.warning("interrogation", at or steps[path[0]].pos, count=count, max=limit, path=shown)

    def lints(self, reachable: set[str]) -> None:
        seen: dict[str, str] = {}
        for sid, step in self.s.steps.items():
            if step.group or step.say is None or len(step.say.text.source) < 12:
                continue
            text = " ".join(step.say.text.source.split())
            if text in seen:
                self.p.warning("duplicate_text", step.say.pos, other=seen[text])
            else:
                seen[text] = sid
        for name, block in self.s.blocks.items():
            if not block.used:
                self.p.warning("unused_block", block.pos, name=name)
        used: set[str] = set()
        for step in self.s.steps.values():
            used.update(name for name, _, _ in step.fields)
            if step.kind == "lookup":
                used.add(step.target)
        for name, f in self.s.fields.items():
            if name not in used and f.prefill is None and not f.origin:
                self.p.warning("unused_field", f.pos, name=name)


def _reverse_postorder(start: str, succ: Mapping[str, list[str]], nodes: set[str]) -> list[str]:
    seen = {start}
    post: list[str] = []
    work = [(start, iter(succ[start]))]
    while work:
        node, children = work[-1]
        for child in children:
            if child in nodes and child not in seen:
                seen.add(child)
                work.append((child, iter(succ[child])))
                break
        else:
            work.pop()
            post.append(node)
    return post[::-1]


def _guarded_names(expr: ex.Expression) -> set[str]:
    """Names tested with is_set(…) or against None: reading them empty is intended."""
    out: set[str] = set()
    for node in ast.walk(expr.tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "is_set":
            out.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Compare) and any(
            isinstance(c, ast.Constant) and c.value is None for c in node.comparators
        ):
            out.update(n.id for n in ast.walk(node.left) if isinstance(n, ast.Name))
    return out


def strongly_connected(nodes: set[str], succ: Mapping[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components come in reverse topological order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = [t for t in succ[node] if t in nodes]
            if i < len(targets):
                work.append((node, i + 1))
                t = targets[i]
                if t not in index:
                    work.append((t, 0))
                elif t in on_stack:
                    low[node] = min(low[node], index[t])
                continue
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                out.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return out
