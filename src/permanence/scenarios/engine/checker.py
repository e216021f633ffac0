"""The scenario checker: every problem with its line, column and a plain sentence.

Pure core: no Django import. ``check(text, account)`` reads the YAML, expands
the blocks (call and return, inlined with prefixed step ids), then checks
references, types, the caller types given to ``can_transfer``, the graph
(reachability, outcomes, loops without a question, loops whose way out is never
taken), where fields are set before they are used (a must/may dataflow whose
edges know what a branch's condition proves: ``is_set(wanted)`` true means
``wanted`` is set), so that no message, transfer or report goes to nobody and no
text writes a value that may be empty, and the warnings (interrogation,
duplicated texts, unused blocks and fields). Any input gets problems, never an
exception.
"""

from __future__ import annotations

import ast
import dataclasses
import gc
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from permanence.directory.rules import CALLER_TYPES
from permanence.scenarios.engine import expressions as ex
from permanence.scenarios.engine import identity, model, source, templating
from permanence.scenarios.engine.model import Block, Condition, Scenario, Step
from permanence.scenarios.engine.problems import Problems

TEMPLATE_NAMES = frozenset(ex.RECORDS) | {"params", "notes", "outcome", "label", model.APPOINTMENT_RECORD}
#: a choice field of this name is the caller type: its options must be caller types
CALLER_TYPE_FIELD = "caller_type"
#: functions that are false for an empty person: true, they prove the person is set
PERSON_TESTS = frozenset({"is_set", "available", "can_transfer"})
#: the dataflow's marks besides the fields: the caller is known (from the contacts), the identity checked
KNOWN_CALLER, IDENTITY_CHECKED = "@caller", "@identity"
#: the caller's attributes that only a known caller has: one of them tested set proves the caller known
CONTACT_ATTRS = frozenset({"name", "company", "email", "type"})


@dataclass(frozen=True)
class AccountInfo:
    """What the checker and the runtime know of the account (plain data)."""

    slug: str
    name: str = ""
    collaborators: Mapping[str, str] = field(default_factory=dict)  # ref -> name
    services: frozenset[str] = frozenset()
    appointment_types: frozenset[str] | None = None  # None: not known, not checked
    max_questions: int | None = None
    rotas: frozenset[str] | None = None  # the services (slugs) with an on-call rota; None: not checked
    identity_fields: tuple[str, ...] | None = None  # the account's identity questions; None: not checked


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
            # What the check keeps (the scenario: some 16,000 objects for 2,000 steps) was made while
            # the collector was off: the next young collection would walk all of it, in whatever call
            # comes next (an answer: 5 to 15 ms), and the next middle one again. Collected here once,
            # in the loading call, it goes to the old generation.
            gc.collect(1)


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
        self.reported_to: set[model.Pos] = set()
        self.written_successors: dict[str, list[str]] = {}
        self.must: dict[str, int] = {}
        self.may: dict[str, int] = {}
        self.index: dict[str, int] = {}

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
                if step.on_call and self.account and self.account.rotas is not None \
                        and step.on_call not in self.account.rotas:
                    self.p.error("no_rota", step.on_call_pos, name=step.on_call, account=account_name,
                                 expected=", ".join(sorted(self.account.rotas)) or "—")
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
                if "@" not in recipient and "{" not in recipient and recipient != model.ACCOUNT_RECIPIENT:
                    self.person_or_collaborator(recipient, pos, account_name)
            if step.kind == "verify":
                self.identity_fields(step, account_name)

    def identity_fields(self, step: Step, account_name: str) -> None:
        """What a verify step asks: identity fields of the vocabulary, among the account's questions."""
        kept = self.account.identity_fields if self.account else None
        if not step.identity and kept is not None and not kept:
            self.p.error("no_identity_fields", step.pos, account=account_name)
        for key, pos in step.identity:
            if key not in identity.KINDS:
                self.p.error("unknown_identity_field", pos, name=key, expected=", ".join(identity.KINDS))
            elif kept is not None and key not in kept:
                self.p.error("identity_field_not_kept", pos, name=key, account=account_name,
                             expected=", ".join(kept) or "—")

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
        # The same condition written at many steps is one parsed expression: typed once for the
        # names it can read (the fields and records, and the block's parameters).
        typed: dict[tuple[int, tuple[str, ...]], list[ex.ExprError]] = {}
        for step in self.s.steps.values():
            names = by_params.get(step.param_names)
            if names is None:
                names = by_params[step.param_names] = self.s.names(step.param_names)
            for b in step.branches:
                if b.condition:
                    self.typecheck(b.condition, names, typed, step.param_names)
                    self.caller_types(b.condition)
                    self.rotas(b.condition)
            if isinstance(step.urgent, Condition):
                self.typecheck(step.urgent, names, typed, step.param_names)
                self.caller_types(step.urgent)
                self.rotas(step.urgent)
            for text in (step.say, step.note):
                if text:
                    self.template_names(text, allowed_templates)
                    self.attributes(text, step.param_names)
        every_param: tuple[str, ...] | None = None
        for f in self.s.fields.values():
            if f.prefill is not None:
                names = by_params.get(())
                if names is None:
                    names = by_params[()] = self.s.names()
                errors = ex.check(f.prefill, names, want_bool=False)
                for e in errors:
                    self.p.error(e.code, f.prefill_pos, **e.params)
            if f.say:
                say = model.TextAt(f.say, f.say_pos if f.say_pos != (0, 0) else f.pos, f.say_style)
                self.template_names(say, allowed_templates)
                if every_param is None:  # once, not once per field
                    every_param = tuple({n for s in self.s.steps.values() for n in s.param_names})
                self.attributes(say, every_param)
            if f.name == CALLER_TYPE_FIELD and f.type == "choice":
                self.caller_type_options(f)
        for report in self.s.reports.values():
            for text in (report.subject, report.body, *report.to):
                if text:
                    self.template_names(text, allowed_templates)
                    self.attributes(text, ())

    def rotas(self, cond: Condition) -> None:
        """``on_call("service")`` names a service of the account that has an on-call rota."""
        if "on_call" not in cond.expr.functions or self.account is None or self.account.rotas is None:
            return
        for node in ast.walk(cond.expr.tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "on_call" and node.args):
                continue
            arg = node.args[0]
            known = self.account.rotas
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value not in known:
                at = source.Node("scalar", None, cond.pos[0], cond.pos[1], style=cond.style)
                self.p.error(
                    "no_rota",
                    model.expr_pos(at, (arg.lineno, arg.col_offset)),
                    name=arg.value,
                    account=self.account.name or self.account.slug,
                    expected=", ".join(sorted(self.account.rotas)) or "—",
                )

    def caller_types(self, cond: Condition) -> None:
        """The caller type given to can_transfer must be a word of the transfer rules' vocabulary."""
        if "can_transfer" not in cond.expr.functions:
            return
        for node in ast.walk(cond.expr.tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "can_transfer"
                and len(node.args) >= 2
            ):
                continue
            arg = node.args[1]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value not in CALLER_TYPES:
                at = source.Node("scalar", None, cond.pos[0], cond.pos[1], style=cond.style)
                self.p.error(
                    "unknown_caller_type",
                    model.expr_pos(at, (arg.lineno, arg.col_offset)),
                    value=arg.value,
                    expected=", ".join(CALLER_TYPES),
                )
            elif isinstance(arg, ast.Name) and arg.id in self.s.fields:
                f = self.s.fields[arg.id]
                if f.type == "choice":
                    self.caller_type_options(f)

    def caller_type_options(self, f: model.Field) -> None:
        for option in f.options:
            if option not in CALLER_TYPES:
                self.p.error(
                    "unknown_caller_type",
                    f.option_pos.get(option, f.pos),
                    value=option,
                    expected=", ".join(CALLER_TYPES),
                )

    def attributes(self, text: model.TextAt, param_names: tuple[str, ...]) -> None:
        """``{{ notary.phone }}``: every attribute a text reads must exist."""
        fields = self.s.fields
        for use in text.text.uses:
            attrs = use.attrs[:-1] if use.method else use.attrs
            if not attrs:
                continue
            f = fields.get(use.name)
            table: Mapping[str, object] | None
            if f is not None:
                table = ex.PERSON_ATTRS if f.type == "person" else {}
            elif use.name in ex.RECORDS:
                table = ex.RECORDS[use.name]
            elif use.name == "label":
                table = {**dict.fromkeys(fields), "outcome": None}
            elif use.name == "params":
                table = dict.fromkeys(param_names)
            elif use.name in ("notes", "outcome"):
                table = {}
            elif use.name == model.APPOINTMENT_RECORD:
                table = model.APPOINTMENT_ATTRS
            else:
                continue  # an unknown name: reported by template_names
            owner = use.name
            for attr in attrs:
                if attr not in table:
                    self.p.error(
                        "unknown_attribute",
                        self.text_pos(text, use.line),
                        owner=owner,
                        name=attr,
                        expected=", ".join(sorted(table)) or "—",
                    )
                    break
                kind = table[attr]
                if not (isinstance(kind, ex.Type) and kind.name == "person"):
                    break  # deeper attributes of a text, a date, a list: not checked
                owner, table = f"{owner}.{attr}", ex.PERSON_ATTRS

    @staticmethod
    def text_pos(text: model.TextAt, line: int) -> model.Pos:
        node = source.Node("scalar", None, text.pos[0], text.pos[1], style=text.style)
        return model.template_pos(node, line)

    def typecheck(
        self,
        cond: Condition,
        names: Mapping[str, ex.Type],
        typed: dict[tuple[int, tuple[str, ...]], list[ex.ExprError]] | None = None,
        params: tuple[str, ...] = (),
    ) -> None:
        """``typed``: the errors found already for each (expression, parameters), whose ``names`` are
        those of these parameters."""
        if typed is None:
            errors = ex.check(cond.expr, names)
        else:
            key = (id(cond.expr), params)
            found = typed.get(key)
            errors = typed[key] = ex.check(cond.expr, names) if found is None else found
        for e in errors:
            node = source.Node("scalar", None, cond.pos[0], cond.pos[1], style=cond.style)
            self.p.error(e.code, model.expr_pos(node, e.offset), **e.params)

    def template_names(self, text: model.TextAt, allowed: Iterable[str]) -> None:
        if not isinstance(allowed, (set, frozenset)):
            allowed = set(allowed)
        for name in sorted(text.text.names):
            if name not in allowed:
                self.p.error("unknown_name", text.pos, name=name)

    # ------------------------------------------------------------ graph
    def graph(self) -> set[str]:
        steps = self.s.steps
        if self.s.start not in steps:
            return set()
        written = self.written_successors = {sid: s.successors() for sid, s in steps.items()}
        succ = {sid: [t for t in targets if t in steps] for sid, targets in written.items()}
        reachable = {self.s.start}
        todo = [self.s.start]
        while todo:
            for t in succ[todo.pop()]:
                if t not in reachable:
                    reachable.add(t)
                    todo.append(t)
        preds: dict[str, list[str]] = {sid: [] for sid in steps}
        for sid, targets in succ.items():
            for t in targets:
                preds[t].append(sid)
        # Report where an unreachable region starts, not every step below it.
        lost = {sid for sid, step in steps.items() if sid not in reachable and not step.group}
        entries = [sid for sid in lost if not any(p in lost for p in preds[sid] if p != sid)]
        if lost and not entries:
            entries = [min(lost, key=lambda sid: steps[sid].pos)]
        for sid in sorted(entries, key=lambda sid: steps[sid].pos):
            self.p.error("unreachable", steps[sid].pos, name=sid)
        # which steps can end in an outcome?
        ends = [
            sid
            for sid, s in steps.items()
            if s.kind in model.TERMINAL
            or s.kind in ("transfer", "appointment")
            or len(succ[sid]) < len(written[sid])  # dangling: reported already, not echoed
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
            if not looping:
                continue
            first = min(component, key=lambda sid: steps[sid].pos)
            shown = ", ".join(sorted(component)[:8]) + (" …" if len(component) > 8 else "")
            if not any(steps[sid].waits for sid in component):
                self.p.error("endless_loop", steps[first].pos, steps=shown)
                continue
            way_out, tested = self.loop_exits(set(component))
            if way_out is None:
                self.p.error("loop_without_exit", steps[first].pos, steps=shown)
            elif not way_out:
                names = ", ".join(sorted(tested)[:6]) or "—"
                self.p.error("loop_exit_never_taken", steps[first].pos, steps=shown, names=names)
        for sid in sorted(reachable - finishing, key=lambda sid: steps[sid].pos):
            step = steps[sid]
            if step.kind == "return" and step.return_to is None:
                continue
            self.p.error("no_outcome", step.pos, name=sid)
        self.succ = succ
        return reachable

    def loop_exits(self, component: set[str]) -> tuple[bool | None, set[str]]:
        """Can a call that went round this loop once still leave it? (None: it has no way out.)

        After one round, what an ask step asked stays answered (it is not asked again) and a
        function's answer is kept for the call, so a condition changes only through what the loop
        may still set: the person a lookup finds, an optional question left empty. A way out is
        live when the secretary chooses it (a result: found, refused, accepted…), when it is a plain
        next, or when its branch reads such a value; the names the other ways out test are returned."""
        steps, fields = self.s.steps, self.s.fields
        changing: set[str] = set()
        for sid in component:
            step = steps[sid]
            if step.kind == "lookup":
                changing.add(step.target)
            elif step.kind == "ask":
                for name, optional, _ in step.fields:
                    if optional or (name in fields and not fields[name].required):
                        changing.add(name)
        exits = False
        tested: set[str] = set()
        for sid in component:
            step = steps[sid]
            if step.kind in ("transfer", "appointment"):
                return True, tested  # accepted or booked ends the call
            if step.kind in ("message", "end"):
                return True, tested
            outside = [t for t in self.written_successors[sid] if t not in component]
            if not outside:
                continue
            exits = True
            if step.kind == "lookup" or not step.branches:
                return True, tested  # a result the secretary picks, or a plain next
            read: set[str] = set()
            for branch in step.branches:
                if branch.condition is not None:
                    read |= branch.condition.expr.names | {f"{f}()" for f in branch.condition.expr.functions
                                                            if f != "is_set"}
                if branch.target in component:
                    continue
                if branch.condition is None and len(step.branches) == 1:
                    return True, tested
                if read & changing:
                    return True, tested
                tested |= read - {"params"}
        return (False if exits else None), tested

    # ------------------------------------------------------------ dataflow
    def dataflow(self, reachable: set[str]) -> None:
        """Where each field is surely set (must) or maybe set (may), at the entry of each step.

        A forward analysis over bitsets. An edge sets what its step asks (the required fields), the
        person a lookup found (on the ``found`` edge only) and what the branch's condition proves
        (``is_set(x)``, ``x == "a"``, ``can_transfer(x)`` true; ``x == None`` false; the earlier
        branches false). A prefilled field is maybe set only (the caller's number may be withheld)."""
        steps, fields = self.s.steps, self.s.fields
        if not reachable:
            return
        index = {name: 1 << i for i, name in enumerate((*fields, KNOWN_CALLER, IDENTITY_CHECKED))}
        everything = (1 << len(index)) - 1
        known, checked = index[KNOWN_CALLER], index[IDENTITY_CHECKED]
        prefilled = 0
        for name, f in fields.items():
            if f.prefill is not None:
                prefilled |= index[name]

        def bits(names: Iterable[str]) -> int:
            out = 0
            for name in names:
                out |= index.get(name, 0)
            return out

        def asked(step: Step, required_only: bool) -> int:
            out = 0
            for name, optional, _ in step.fields:
                if name in index and not (required_only and (optional or not fields[name].required)):
                    out |= index[name]
            return out

        asked_by: dict[str, tuple[int, int]] = {}

        def asked_at(step: Step) -> tuple[int, int]:
            """What an ask step surely sets (its required fields) and may set: once per step."""
            found = asked_by.get(step.id)
            if found is None:
                found = asked_by[step.id] = (asked(step, True), asked(step, False))
            return found

        def edge(step: Step, target: str) -> tuple[int, int]:
            """What going from ``step`` to ``target`` surely sets, and what it may set."""
            must = may = 0
            kind = step.kind
            if kind == "ask":
                must, may = asked_at(step)
            elif kind == "verify":  # leaving it, the identity is checked (verified or not)
                must = may = checked
            elif kind == "lookup" and step.target in index:
                routes = {r: step.on.get(r) or step.on.get("other") for r in model.RESULTS["lookup"]}
                results = [r for r, route in routes.items() if route is not None and route[0] == target]
                if "found" in results:
                    may |= index[step.target]
                    if results == ["found"]:
                        must |= index[step.target]
            if not step.branches:
                return must, may
            proven: int | None = None
            earlier_false = 0
            for branch in step.branches:
                if branch.condition is None:
                    here = earlier_false
                else:
                    when_true, when_false = proves(branch.condition.expr)
                    here = earlier_false | when_true
                    earlier_false |= when_false
                if branch.target == target:
                    proven = here if proven is None else proven & here
            return must | (proven or 0), may

        proven_by: dict[ex.Expression, tuple[int, int]] = {}

        def proves(expr: ex.Expression) -> tuple[int, int]:
            """The fields a condition proves set when it is true, and when it is false."""
            found = proven_by.get(expr)
            if found is None:
                found = (
                    bits(_set_when(expr.tree, True)) | (known if _caller_known(expr.tree, True) else 0),
                    bits(_set_when(expr.tree, False)) | (known if _caller_known(expr.tree, False) else 0),
                )
                proven_by[expr] = found
            return found

        order = _reverse_postorder(self.s.start, self.succ, reachable)
        out_edges = {
            sid: [(t, *edge(steps[sid], t)) for t in self.succ[sid] if t in reachable] for sid in order
        }
        must = {sid: everything for sid in reachable}
        may = {sid: 0 for sid in reachable}
        must[self.s.start], may[self.s.start] = 0, prefilled
        # In reverse postorder, a step is revisited only when a way back (a loop) changed what reaches
        # it: without loops, one pass (a second pass over every edge only confirmed the first).
        dirty = set(order)
        rounds = 0
        while dirty and rounds < 100:
            rounds += 1
            for sid in order:
                if sid not in dirty:
                    continue
                dirty.discard(sid)
                m, y = must[sid], may[sid]
                for t, g_must, g_may in out_edges[sid]:
                    new_must = must[t] & (m | g_must)
                    new_may = may[t] | y | g_may
                    if new_must != must[t] or new_may != may[t]:
                        must[t], may[t] = new_must, new_may
                        dirty.add(t)
        preds: dict[str, list[tuple[str, int]]] = {sid: [] for sid in reachable}
        for sid in order:
            for t, g_must, _ in out_edges[sid]:
                preds[t].append((sid, g_must))

        def path_without(sid: str, bit: int) -> str:
            """A path from the start to ``sid`` on which the field of ``bit`` is never set."""
            back: dict[str, str | None] = {sid: None}
            todo = [sid]
            found = sid if sid == self.s.start else None
            while todo and found is None:
                nxt: list[str] = []
                for node in todo:
                    for p, g_must in preds[node]:
                        if p in back or (must[p] | g_must) & bit:
                            continue
                        back[p] = node
                        if p == self.s.start:
                            found = p
                            break
                        nxt.append(p)
                    if found:
                        break
                todo = nxt
            path, node_or_none = [], found
            while node_or_none is not None:
                path.append(node_or_none)
                node_or_none = back[node_or_none]
            if len(path) > 8:
                path = [*path[:3], "…", *path[-4:]]
            return " → ".join(path) or sid

        self.must, self.may, self.index = must, may, index
        seen: set[tuple[model.Pos, str]] = set()

        def check_text(
            text: model.TextAt | None, sid: str, sure: int, maybe: int, params: tuple[str, ...], *,
            never_set_error: bool = True, outcome: str | None = None,
        ) -> None:
            """``outcome``: the kind of outcome a report is written at (None: a text said during the call)."""
            if text is None:
                return
            for use in text.text.uses:
                if use.name == model.IDENTITY_RECORD:
                    if not maybe & checked and never_set_error and (text.pos, use.name) not in seen:
                        seen.add((text.pos, use.name))
                        self.p.error("identity_before_check", self.text_pos(text, use.line), name=use.name)
                    continue
                if use.name == model.APPOINTMENT_RECORD:  # known in the report of a booking only
                    known_attr = all(a in model.APPOINTMENT_ATTRS for a in use.attrs[:1])  # else: reported
                    if use.needed and outcome != "appointment" and known_attr:
                        self.appointment_unset(text, use, sid, outcome, path_without)
                    continue
                name = use.attrs[0] if use.name == "label" and use.attrs else use.name
                if name not in index or (use.name == "label" and not use.attrs):
                    continue
                bit = index[name]
                if not maybe & bit and never_set_error:
                    pos = self.text_pos(text, use.line)
                    if (pos, name) not in seen:
                        seen.add((pos, name))
                        self.p.error("used_before_set", pos, name=name)
                elif use.needed and not sure & bit and (self.text_pos(text, use.line), name) not in seen:
                    pos = self.text_pos(text, use.line)
                    seen.add((pos, name))
                    shown = ".".join((use.name, *use.attrs))
                    self.p.error("text_maybe_unset", pos, name=shown, field=name, path=path_without(sid, bit))

        guarded_by: dict[ex.Expression, frozenset[str]] = {}
        for sid in sorted(reachable, key=lambda sid: steps[sid].pos):
            step = steps[sid]
            if step.kind == "ask":
                after, after_may = asked_at(step)
            else:
                after = after_may = checked if step.kind == "verify" else 0
            conditions = [b.condition for b in step.branches if b.condition]
            if isinstance(step.urgent, Condition):
                conditions.append(step.urgent)
            for cond in conditions:
                if model.IDENTITY_RECORD in cond.expr.names and not (may[sid] | after_may) & checked:
                    self.p.error("identity_before_check", cond.pos, name=model.IDENTITY_RECORD)
                for name in sorted(n for n in cond.expr.names if n in index):
                    bit = index[name]
                    if not (may[sid] | after_may) & bit:
                        self.p.error("used_before_set", cond.pos, name=name)
                    elif not (must[sid] | after) & bit:
                        guarded = guarded_by.get(cond.expr)
                        if guarded is None:  # once per condition, written at many steps
                            guarded = guarded_by[cond.expr] = _guarded_names(cond.expr)
                        if name not in guarded:
                            self.p.warning("maybe_unset", cond.pos, name=name)
            check_text(step.say, sid, must[sid], may[sid], step.param_names)
            if step.kind in ("message", "end"):  # written as the call reaches its outcome
                check_text(step.note, sid, must[sid], may[sid], step.param_names)
            else:  # written as the step is left
                check_text(step.note, sid, must[sid] | after, may[sid] | after_may, step.param_names)
            for name, _optional, _ in step.fields:
                asked_field = fields.get(name)
                if asked_field is not None and asked_field.say is not None:
                    at = asked_field.say_pos if asked_field.say_pos != (0, 0) else asked_field.pos
                    say = model.TextAt(asked_field.say, at, asked_field.say_style)
                    check_text(say, sid, must[sid], may[sid], step.param_names)
            if step.kind == "transfer" and step.target in index and not must[sid] & index[step.target]:
                bit = index[step.target]
                self.p.error(
                    "transfer_maybe_unset", step.target_pos, name=step.target, path=path_without(sid, bit)
                )
            if step.kind == "verify" and not must[sid] & known:
                self.p.error("verify_without_contact", step.pos, path=path_without(sid, known))
            if step.kind == "message":
                self.recipients(step, must[sid], path_without)
            if step.kind in ("message", "end", "transfer", "appointment"):
                self.report_at(step, must[sid], check_text, path_without)

    def appointment_unset(
        self,
        text: model.TextAt,
        use: templating.Use,
        sid: str,
        outcome: str | None,
        path_without: Callable[[str, int], str],
    ) -> None:
        """``{{ appointment.slot }}`` written where no booking is known: during the call, or in a report
        that also serves another outcome, where it is empty."""
        pos = self.text_pos(text, use.line)
        shown = ".".join((use.name, *use.attrs))
        if outcome is None:
            self.p.error("appointment_in_call", pos, name=shown)
        else:
            self.p.error("appointment_not_booked", pos, name=shown, step=sid, path=path_without(sid, 0))

    def recipients(self, step: Step, sure: int, path_without: Callable[[str, int], str]) -> None:
        """A message must reach someone on every path: one recipient at least is surely known."""
        if not step.recipients:
            self.p.error("no_recipient_listed", step.pos)
            return
        unset: list[tuple[str, model.Pos]] = []
        for recipient, pos in step.recipients:
            f = self.s.fields.get(recipient)
            if f is None or f.type != "person" or sure & self.index[recipient]:
                return  # an address, a collaborator, the account's recipients, a person surely found
            unset.append((recipient, pos))
        name, pos = unset[0]
        self.p.error("no_recipient", pos, name=name, path=path_without(step.id, self.index[name]))

    def report_at(
        self, step: Step, sure: int, check_text: Callable[..., None], path_without: Callable[[str, int], str]
    ) -> None:
        """The report written when the call ends at ``step``: its texts and its recipients."""
        kind = step.end if step.kind == "end" else step.kind
        spec = self.s.reports.get(kind) or self.s.reports.get("default")
        if spec is None:
            return
        for text in (spec.subject, spec.body):  # a recipient left empty is dropped: checked below
            check_text(text, step.id, sure, sure, (), never_set_error=False, outcome=kind)
        if not spec.to:
            return

        def is_set(name: str) -> bool:
            return name in self.index and bool(sure & self.index[name])

        if all(t.text.may_render_empty(is_set) for t in spec.to):
            unset = [
                u.name for t in spec.to for u in t.text.uses if u.name in self.index and not is_set(u.name)
            ]
            path = path_without(step.id, self.index[unset[0]]) if unset else step.id
            if spec.to[0].pos not in self.reported_to:  # once per report, at its first outcome
                self.reported_to.add(spec.to[0].pos)
                self.p.error("report_no_recipient", spec.to[0].pos, step=step.id, path=path)

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
            elif step.kind == "verify":  # each identity question once a call (the check is not repeated)
                names = ["identity:" + key for key, _ in step.identity] or ["identity:*"]
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
            best.append((total, follow, comp[0] if len(comp) == 1 else min(comp, key=lambda s: steps[s].pos)))
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


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _set_when(node: ast.expr, truth: bool) -> set[str]:
    """The names a condition proves set when it is ``truth``: ``is_set(x)``, ``x == "a"``,
    ``can_transfer(x)`` true, ``x == None`` false; ``and``, ``or`` and ``not`` combine them."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _set_when(node.operand, not truth)
    if isinstance(node, ast.BoolOp):
        parts = [_set_when(v, truth) for v in node.values]
        if isinstance(node.op, ast.And) == truth:  # every operand has this truth
            return set().union(*parts)
        return set.intersection(*parts) if parts else set()
    if isinstance(node, (ast.Name, ast.Attribute)):
        root = _root(node)
        return {root} if truth and root else set()
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
        root = _root(node.args[0])
        return {root} if truth and root and node.func.id in PERSON_TESTS else set()
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, op, right = node.left, node.ops[0], node.comparators[0]
        root = _root(left)
        if root is None:
            root, right = _root(right), left
        if root is None:
            return set()
        is_none = isinstance(right, ast.Constant) and right.value is None
        if isinstance(right, ast.Name) and right.id in ex.LITERAL_NAMES:
            is_none = ex.LITERAL_NAMES[right.id] is None
        if isinstance(op, ast.Eq):
            return {root} if truth != is_none else set()
        if isinstance(op, ast.NotEq):
            return {root} if truth == is_none else set()
        if isinstance(op, (ast.In, ast.Lt, ast.LtE, ast.Gt, ast.GtE)) and truth and not is_none:
            return {root}
    return set()


def _caller_known(node: ast.expr, truth: bool) -> bool:
    """Does the condition, when ``truth``, prove the caller known (found in the account's contacts)?
    ``caller.known``, ``caller.known == true``, ``has_tag(…)``, ``is_set(caller.name)``,
    ``caller.type == "client"``; ``not``, ``and`` and ``or`` combine them."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _caller_known(node.operand, not truth)
    if isinstance(node, ast.BoolOp):
        parts = [_caller_known(v, truth) for v in node.values]
        return any(parts) if isinstance(node.op, ast.And) == truth else all(parts)
    if _is_caller_attr(node, "known"):
        return truth
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id == "has_tag":
            return truth
        if node.func.id == "is_set" and node.args:
            return truth and any(_is_caller_attr(node.args[0], a) for a in CONTACT_ATTRS)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, op, right = node.left, node.ops[0], node.comparators[0]
        if not _is_caller_attr(left, None):
            left, right = right, left
        value = _literal(right)
        if _is_caller_attr(left, "known") and isinstance(value, bool):
            if isinstance(op, ast.Eq):
                return truth == value
            if isinstance(op, ast.NotEq):
                return truth != value
        elif any(_is_caller_attr(left, a) for a in CONTACT_ATTRS) and value is not None:
            return truth and isinstance(op, (ast.Eq, ast.In))
    return False


def _is_caller_attr(node: ast.expr, attr: str | None) -> bool:
    """``caller.<attr>`` (any attribute when ``attr`` is None)."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "caller"
        and (attr is None or node.attr == attr)
    )


def _literal(node: ast.expr) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in ex.LITERAL_NAMES:
        return ex.LITERAL_NAMES[node.id]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e) for e in node.elts]
    return None


def _guarded_names(expr: ex.Expression) -> frozenset[str]:
    """Names tested with is_set(…) or against None: reading them empty is intended."""
    out: set[str] = set()
    for node in ast.walk(expr.tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "is_set":
            out.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Compare) and any(
            isinstance(c, ast.Constant) and c.value is None for c in node.comparators
        ):
            out.update(n.id for n in ast.walk(node.left) if isinstance(n, ast.Name))
    return frozenset(out)


def strongly_connected(nodes: set[str], succ: Mapping[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components come in reverse topological order.

    Each node's successors are walked once, by an iterator kept on the work stack (the list of a
    node's successors was filtered again each time the walk came back to it)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(succ[root]))]
        while work:
            node, children = work[-1]
            for t in children:
                if t not in nodes:
                    continue
                if t not in index:
                    index[t] = low[t] = counter
                    counter += 1
                    stack.append(t)
                    on_stack.add(t)
                    work.append((t, iter(succ[t])))
                    break
                if t in on_stack and index[t] < low[node]:
                    low[node] = index[t]
            else:
                work.pop()
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
                    if low[node] < low[parent]:
                        low[parent] = low[node]
    return out
