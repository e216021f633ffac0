"""The scenario model, read from the positioned YAML tree, blocks expanded.

Pure core: no Django import. ``read`` turns a source tree into a ``Scenario``
and reports every shape problem it meets with its line and column, going on
past errors so that one check shows them all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from permanence.scenarios.engine import expressions as ex
from permanence.scenarios.engine import templating
from permanence.scenarios.engine.identity import DEFAULT_ATTEMPTS, MAX_ATTEMPTS
from permanence.scenarios.engine.problems import Problems
from permanence.scenarios.engine.source import Node

LANGUAGE = "permanence/1"
FIELD_TYPES = (
    "text",
    "long_text",
    "phone",
    "email",
    "date",
    "postcode",
    "number",
    "yes_no",
    "choice",
    "person",
)
OUTCOMES = ("transfer", "appointment", "message", "information", "refusal")
#: the outcomes in the words the client reads (report subjects, ``{{ label.outcome }}``)
OUTCOME_LABELS = {
    "transfer": "Transfert",
    "appointment": "Rendez-vous",
    "message": "Message",
    "information": "Information",
    "refusal": "Refus",
    "error": "Incident",
}
IN_PROGRESS_LABEL = "Appel en cours"
#: the message recipient that stands for the account's usual recipients (its settings)
ACCOUNT_RECIPIENT = "account"
END_OUTCOMES = ("information", "refusal")
KINDS = (
    "say", "ask", "decide", "lookup", "transfer", "appointment", "message", "end", "use", "return", "verify",
)
#: results each step kind must map under ``on`` (the successful one ends the call)
RESULTS: dict[str, tuple[str, ...]] = {
    "lookup": ("found", "not_found"),
    "transfer": ("refused", "no_answer", "busy"),
    "appointment": ("no_slot", "declined"),
}
TERMINAL = frozenset({"message", "end"})
#: what texts (the reports) read of the booking a call ended with: ``{{ appointment.slot }}``
APPOINTMENT_RECORD = "appointment"
APPOINTMENT_ATTRS: dict[str, ex.Type] = {"slot": ex.TEXT}
#: what a run knows of its identity check (``{{ identity.verified }}``): the outcome, never the answers
IDENTITY_RECORD = "identity"
#: ``verify: identity``: the account's identity questions (its settings)
ACCOUNT_IDENTITY = "identity"
#: a sensitive field's value in a report: the recipients read it after signing in, never in what is sent
SENSITIVE_MASK = "[confidentiel : à lire en ligne]"
IDENTITY_WORDS = {True: "vérifiée", False: "non vérifiée"}
RESERVED = (frozenset(ex.RECORDS) | {"params", "notes", "outcome", "label", "draft", APPOINTMENT_RECORD}
            | set(ex.FUNCTIONS) | set(ex.LITERAL_NAMES))
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
STEP_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,120}$")
DEFAULT_MAX_QUESTIONS = 6
_KINDS_BESIDE_SAY = tuple(k for k in KINDS if k != "say")

Pos = tuple[int, int]

COMMON_STEP_KEYS = ("say", "help", "note", "title", "phase")
STEP_KEYS: dict[str, tuple[str, ...]] = {
    "say": ("next",),
    "ask": ("next",),
    "decide": (),
    "lookup": ("by", "service", "on_call", "on"),
    "transfer": ("line", "mode", "on"),
    "appointment": ("with", "on"),
    "message": ("urgent",),
    "end": (),
    "use": ("with", "next"),
    "return": (),
    "verify": ("attempts", "next"),
}
#: the keys a step of each kind may have
_STEP_ALLOWED = {kind: tuple(dict.fromkeys((kind, *COMMON_STEP_KEYS, *STEP_KEYS[kind]))) for kind in KINDS}
_STEP_ALLOWED_SET = {kind: frozenset(keys) for kind, keys in _STEP_ALLOWED.items()}


@dataclass(slots=True)
class Field:
    name: str
    type: str
    pos: Pos
    label: str = ""
    say: templating.Text | None = None
    help: str = ""
    required: bool = True
    options: dict[str, str] = field(default_factory=dict)
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: re.Pattern[str] | None = None
    prefill: ex.Expression | None = None
    prefill_pos: Pos = (0, 0)
    origin: str = ""  # the block that declared it
    say_pos: Pos = (0, 0)
    say_style: str | None = None
    option_pos: dict[str, Pos] = field(default_factory=dict)
    sensitive: bool = False  # health, legal: never in what is sent; the recipients read it after signing in

    def signature(self) -> tuple[Any, ...]:
        return (self.type, tuple(self.options), self.pattern.pattern if self.pattern else None)

    def expr_type(self) -> ex.Type:
        if self.type == "choice":
            return ex.Type("choice", tuple(self.options), label=self.name)
        if self.type == "yes_no":
            return ex.Type("bool", label=self.name)
        return ex.Type(self.type, label=self.name)


@dataclass(slots=True)
class Condition:
    expr: ex.Expression
    pos: Pos
    style: str | None  # YAML scalar style: the column of an error inside depends on quoting


@dataclass(slots=True)
class Branch:
    condition: Condition | None  # None: else
    target: str
    pos: Pos
    target_pos: Pos


@dataclass(slots=True)
class TextAt:
    text: templating.Text
    pos: Pos
    style: str | None


@dataclass(slots=True)
class Step:
    id: str
    kind: str
    pos: Pos
    say: TextAt | None = None
    help: str = ""
    note: TextAt | None = None
    title: str = ""
    phase: str = ""
    fields: list[tuple[str, bool, Pos]] = field(default_factory=list)  # (name, optional, pos)
    next: str | None = None
    next_pos: Pos = (0, 0)
    branches: list[Branch] = field(default_factory=list)
    on: dict[str, tuple[str, Pos]] = field(default_factory=dict)
    target: str = ""  # lookup: the person field; transfer/appointment "with": field or collaborator
    target_pos: Pos = (0, 0)
    by: str = "any"
    service: str = ""
    service_pos: Pos = (0, 0)
    on_call: str = ""  # lookup: the service whose person on call is proposed (its rota)
    on_call_pos: Pos = (0, 0)
    enter: str | None = None  # for use steps: the first step of the block
    line: str = "direct"
    mode: str = "announced"
    appointment_type: str = ""
    recipients: list[tuple[str, Pos]] = field(default_factory=list)
    urgent: Condition | bool = False
    end: str = ""
    block: str = ""
    params: dict[str, str] = field(default_factory=dict)
    param_names: tuple[str, ...] = ()  # names a block's steps may read under ``params``
    return_to: str | None = None  # for return steps of an expanded block
    group: str = ""  # the use step an expanded step belongs to
    # verify: the identity fields asked (none listed: the account's, ``verify: identity``), the attempts
    identity: list[tuple[str, Pos]] = field(default_factory=list)
    attempts: int = DEFAULT_ATTEMPTS

    def successors(self) -> list[str]:
        """The steps this one may go to, each once, in the order written."""
        out: list[str] = []
        if self.next:
            out.append(self.next)
        for b in self.branches:
            out.append(b.target)
        for t, _ in self.on.values():
            out.append(t)
        if self.return_to:
            out.append(self.return_to)
        if self.enter:
            out.append(self.enter)
        return out if len(out) < 2 else list(dict.fromkeys(out))

    @property
    def waits(self) -> bool:
        """Does the secretary act at this step (an answer, a click)?"""
        return self.kind in ("say", "ask", "lookup", "transfer", "appointment", "verify")


@dataclass(slots=True)
class Report:
    subject: TextAt | None
    body: TextAt | None
    to: list[TextAt]
    pos: Pos


@dataclass(slots=True)
class Block:
    name: str
    pos: Pos
    params: dict[str, str | None]  # name -> default (None: required)
    start: str
    start_pos: Pos
    fields: dict[str, Field]
    steps: dict[str, Step]
    used: bool = False


@dataclass(slots=True)
class Scenario:
    title: str = ""
    description: str = ""
    start: str = ""
    start_pos: Pos = (1, 1)
    max_questions: int = DEFAULT_MAX_QUESTIONS
    region: str = "FR"
    fields: dict[str, Field] = field(default_factory=dict)
    steps: dict[str, Step] = field(default_factory=dict)
    blocks: dict[str, Block] = field(default_factory=dict)
    reports: dict[str, Report] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)  # steps written but unreadable

    def names(self, params: tuple[str, ...] = ()) -> dict[str, ex.Type]:
        """What conditions may read: the fields and the records."""
        out: dict[str, ex.Type] = {n: f.expr_type() for n, f in self.fields.items()}
        for record in ex.RECORDS:
            out[record] = ex.Type("record", record=record)
        out["params"] = ex.Type("record", params, record="params")
        return out


# ---------------------------------------------------------------- reading


class Reader:
    def __init__(self, problems: Problems) -> None:
        self.p = problems
        self.broken: set[str] = set()

    # small typed accessors -------------------------------------------------
    def keys(self, node: Node, allowed: tuple[str, ...], what: str) -> bool:
        if node.kind != "map":
            self.p.error("expected_map", node.pos, what=what)
            return False
        for key in node.value:
            if key not in allowed:
                self.p.error(
                    "unknown_key", node.key_pos(key), key=key, what=what, expected=", ".join(allowed)
                )
        return True

    def text(self, node: Node | None, what: str) -> str | None:
        if node is None:
            return None
        if node.kind != "scalar" or isinstance(node.value, bool) or node.value is None:
            self.p.error("expected_text", node.pos, what=what)
            return None
        return str(node.value)

    def integer(self, node: Node | None, what: str) -> int | None:
        if node is None:
            return None
        if node.kind != "scalar" or isinstance(node.value, bool) or not isinstance(node.value, int):
            self.p.error("expected_number", node.pos, what=what)
            return None
        return node.value

    def number(self, node: Node | None, what: str) -> float | None:
        if node is None:
            return None
        if node.kind != "scalar" or isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            self.p.error("expected_number", node.pos, what=what)
            return None
        return float(node.value)

    def boolean(self, node: Node | None, what: str) -> bool | None:
        if node is None:
            return None
        if node.kind != "scalar" or not isinstance(node.value, bool):
            self.p.error("expected_bool", node.pos, what=what)
            return None
        return node.value

    def name(self, node: Node, value: str, pattern: re.Pattern[str] = NAME) -> bool:
        if not pattern.match(value):
            self.p.error("bad_name", node.pos, name=value)
            return False
        return True

    def template(self, node: Node | None, what: str) -> TextAt | None:
        value = self.text(node, what)
        if value is None or node is None:
            return None
        compiled, problems = templating.compile_text(value)
        for tp in problems:
            self.p.error(tp.code, template_pos(node, tp.line), **tp.params)
        return TextAt(compiled, node.pos, getattr(node, "style", None)) if compiled else None

    def condition(self, node: Node, what: str) -> Condition | None:
        if node.kind == "scalar" and isinstance(node.value, bool):
            return Condition(ex.parse("True" if node.value else "False"), node.pos, None)
        value = self.text(node, what)
        if value is None:
            return None
        try:
            return Condition(ex.parse(value), node.pos, getattr(node, "style", None))
        except ex.ExprError as exc:
            self.p.error(exc.code, expr_pos(node, exc.offset), **exc.params)
            return None

    # the document -----------------------------------------------------------
    def scenario(self, root: Node | None) -> Scenario:
        scenario = Scenario()  # the positioned tree is not kept: a cached scenario holds half the objects
        if root is None:
            if not self.p.errors:  # nothing but blanks and comments
                self.p.error("empty", (1, 1))
            return scenario
        if root.kind == "scalar" and root.value is None:
            self.p.error("empty", root.pos)
            return scenario
        top = (
            "language",
            "title",
            "description",
            "start",
            "settings",
            "fields",
            "steps",
            "blocks",
            "reports",
        )
        if not self.keys(root, top, "scenario"):
            return scenario
        v = root.value
        language = self.text(v.get("language"), "language")
        if language is not None and language != LANGUAGE:
            self.p.error("bad_language", v["language"].pos, value=language, expected=LANGUAGE)
        scenario.title = self.text(v.get("title"), "title") or ""
        scenario.description = self.text(v.get("description"), "description") or ""
        for key in ("title", "start", "steps"):
            if key not in v:
                self.p.error("missing_key", root.pos, what="scenario", key=key)
        if "start" in v:
            scenario.start = self.text(v["start"], "start") or ""
            scenario.start_pos = v["start"].pos
        if "settings" in v and self.keys(v["settings"], ("max_questions", "region"), "settings"):
            settings = v["settings"].value
            max_q = self.integer(settings.get("max_questions"), "max_questions")
            if max_q is not None:
                scenario.max_questions = max_q
            scenario.region = self.text(settings.get("region"), "region") or "FR"
        if "fields" in v:
            scenario.fields = self.fields(v["fields"])
        if "blocks" in v and self.keys(
            v["blocks"], tuple(v["blocks"].value) if v["blocks"].kind == "map" else (), "blocks"
        ):
            for name, node in v["blocks"].value.items():
                block = self.block(name, node)
                if block:
                    scenario.blocks[name] = block
        if "steps" in v:
            scenario.steps = self.steps(v["steps"], in_block=False)
        if "reports" in v:
            scenario.reports = self.reports(v["reports"])
        scenario.broken = self.broken
        return scenario

    def fields(self, node: Node) -> dict[str, Field]:
        out: dict[str, Field] = {}
        if node.kind != "map":
            self.p.error("expected_map", node.pos, what="fields")
            return out
        for name, spec in node.value.items():
            pos = node.key_pos(name)
            if not NAME.match(name):
                self.p.error("bad_name", pos, name=name)
                continue
            if name in RESERVED:
                self.p.error("reserved_name", pos, name=name, reserved=", ".join(sorted(RESERVED)))
                continue
            f = self.field(name, spec, pos)
            if f:
                out[name] = f
        return out

    def field(self, name: str, node: Node, pos: Pos) -> Field | None:
        allowed = (
            "type",
            "label",
            "say",
            "help",
            "required",
            "options",
            "min_length",
            "max_length",
            "min",
            "max",
            "pattern",
            "prefill",
            "sensitive",
        )
        if not self.keys(node, allowed, f"fields.{name}"):
            return None
        v = node.value
        kind = self.text(v.get("type"), "type")
        if kind is None:
            if "type" not in v:
                self.p.error("missing_key", pos, what=f"fields.{name}", key="type")
            return None
        if kind not in FIELD_TYPES:
            self.p.error("bad_field_type", v["type"].pos, value=kind, expected=", ".join(FIELD_TYPES))
            return None
        f = Field(name, kind, pos)
        f.label = self.text(v.get("label"), "label") or name.replace("_", " ").capitalize()
        say = self.template(v.get("say"), "say")
        f.say = say.text if say else None
        if say:
            f.say_pos, f.say_style = say.pos, say.style
        f.help = self.text(v.get("help"), "help") or ""
        required = self.boolean(v.get("required"), "required")
        f.required = True if required is None else required
        f.sensitive = bool(self.boolean(v.get("sensitive"), "sensitive"))
        if kind == "choice":
            options = v.get("options")
            if options is None or (options.kind in ("map", "seq") and not options.value):
                self.p.error("no_options", pos if options is None else options.pos, field=name)
            elif options.kind == "map":
                for key, label in options.value.items():
                    if NAME.match(key) is None:
                        # "{a: Urgence (fuite, panne)}": the comma cut the label, the rest became a key
                        comma = label.kind == "scalar" and label.value is None
                        self.p.error(
                            "unquoted_comma" if comma else "bad_name", options.key_pos(key), name=key
                        )
                        continue
                    f.options[key] = self.text(label, "option") or key
                    f.option_pos[key] = options.key_pos(key)
            elif options.kind == "seq":
                for item in options.value:
                    key = self.text(item, "option")
                    if key is None:
                        continue
                    if not NAME.match(key):
                        self.p.error("bad_name", item.pos, name=key)
                        continue
                    f.options[key] = key.replace("_", " ").capitalize()
                    f.option_pos[key] = item.pos
            else:
                self.p.error("expected_map", options.pos, what="options")
        elif "options" in v:
            self.p.error(
                "unknown_key",
                node.key_pos("options"),
                key="options",
                what=f"fields.{name}",
                expected="type: choice",
            )
        f.min_length = self.integer(v.get("min_length"), "min_length")
        f.max_length = self.integer(v.get("max_length"), "max_length")
        f.minimum = self.number(v.get("min"), "min")
        f.maximum = self.number(v.get("max"), "max")
        for low, high in ((f.min_length, f.max_length), (f.minimum, f.maximum)):
            if low is not None and high is not None and low > high:
                self.p.error("min_above_max", pos, field=name)
        pattern = self.text(v.get("pattern"), "pattern")
        if pattern is not None:
            try:
                f.pattern = re.compile(pattern)
            except (re.error, RecursionError, OverflowError) as exc:
                self.p.error("bad_regex", v["pattern"].pos, field=name, detail=str(exc))
        if "prefill" in v:
            cond = self.condition(v["prefill"], "prefill")
            if cond:
                f.prefill = cond.expr
                f.prefill_pos = v["prefill"].pos
        return f

    def block(self, name: str, node: Node) -> Block | None:
        if not NAME.match(name):
            self.p.error("bad_name", node.pos, name=name)
            return None
        if not self.keys(node, ("params", "fields", "start", "steps", "description"), f"blocks.{name}"):
            return None
        v = node.value
        params: dict[str, str | None] = {}
        pnode = v.get("params")
        if pnode is not None:
            if pnode.kind == "seq":
                for item in pnode.value:
                    pname = self.text(item, "parameter")
                    if pname and self.name(item, pname):
                        params[pname] = None
            elif pnode.kind == "map":
                for pname, default in pnode.value.items():
                    if self.name(pnode, pname):
                        params[pname] = None if default.value is None else self.text(default, "default")
            else:
                self.p.error("expected_list", pnode.pos, what="params")
        for key in ("start", "steps"):
            if key not in v:
                self.p.error("missing_key", node.pos, what=f"blocks.{name}", key=key)
        start = self.text(v.get("start"), "start") or ""
        return Block(
            name,
            node.pos,
            params,
            start,
            v["start"].pos if "start" in v else node.pos,
            self.fields(v["fields"]) if "fields" in v else {},
            self.steps(v["steps"], in_block=True) if "steps" in v else {},
        )

    def steps(self, node: Node, *, in_block: bool) -> dict[str, Step]:
        out: dict[str, Step] = {}
        if node.kind != "map":
            self.p.error("expected_map", node.pos, what="steps")
            return out
        for sid, spec in node.value.items():
            pos = node.key_pos(sid)
            if not STEP_ID.match(sid) or "." in sid:
                self.p.error("bad_name", pos, name=sid)
                continue
            step = self.step(sid, spec, pos, in_block)
            if step:
                out[sid] = step
            else:
                self.broken.add(sid)
        return out

    def step(self, sid: str, node: Node, pos: Pos, in_block: bool) -> Step | None:
        if node.kind != "map":
            self.p.error("expected_map", node.pos, what=f"steps.{sid}")
            return None
        v = node.value
        kinds = [k for k in _KINDS_BESIDE_SAY if k in v]
        if not kinds and "say" in v:
            kinds = ["say"]
        if not kinds:
            self.p.error("step_kind", pos, kinds=", ".join(KINDS))
            return None
        if len(kinds) > 1:
            self.p.error("step_kinds_many", pos, kinds=", ".join(kinds))
            return None
        kind = kinds[0]
        allowed = _STEP_ALLOWED[kind]
        if not v.keys() <= _STEP_ALLOWED_SET[kind]:  # the sentence is built only for a step that needs it
            self.keys(node, allowed, f"steps.{sid}")
        step = Step(sid, kind, pos)
        if "say" in v:  # the keys a step leaves out keep their defaults (None or "")
            step.say = self.template(v["say"], "say")
        if "help" in v:
            step.help = self.text(v["help"], "help") or ""
        if "note" in v:
            step.note = self.template(v["note"], "note")
        if "title" in v:
            step.title = self.text(v["title"], "title") or ""
        if "phase" in v:
            step.phase = self.text(v["phase"], "phase") or ""
        if kind in ("say", "ask", "use", "verify"):
            if "next" in v:
                self.next(step, v["next"])
            elif kind != "use":
                self.p.error("missing_key", pos, what=f"steps.{sid}", key="next")
        if kind == "ask":
            self.ask(step, v["ask"])
        elif kind == "decide":
            self.branches(step, v["decide"])
            if step.branches and step.branches[-1].condition is not None:
                self.p.error("missing_else", v["decide"].pos)
        elif kind in RESULTS:
            self.outcomes(step, kind, v, pos)
            target = self.text(v[kind], kind)
            if target:
                if kind == "appointment":
                    step.appointment_type = target
                else:
                    step.target, step.target_pos = target, v[kind].pos
            if kind == "appointment" and "with" in v:
                step.target = self.text(v["with"], "with") or ""
                step.target_pos = v["with"].pos
            if kind == "lookup":
                step.by = self.choice(v.get("by"), "by", ("name", "need", "any")) or "any"
                if "service" in v:
                    step.service = self.text(v["service"], "service") or ""
                    step.service_pos = v["service"].pos
                if "on_call" in v:
                    step.on_call = self.text(v["on_call"], "on_call") or ""
                    step.on_call_pos = v["on_call"].pos
            if kind == "transfer":
                step.line = self.choice(v.get("line"), "line", ("direct", "mobile")) or "direct"
                step.mode = self.choice(v.get("mode"), "mode", ("announced", "blind")) or "announced"
        elif kind == "message":
            recipients = v["message"]
            items = recipients.value if recipients.kind == "seq" else [recipients]
            for item in items:
                value = self.text(item, "message")
                if value:
                    step.recipients.append((value, item.pos))
            if "urgent" in v:
                cond = self.condition(v["urgent"], "urgent")
                step.urgent = cond if cond else False
        elif kind == "end":
            value = self.text(v["end"], "end")
            if value is not None and value not in END_OUTCOMES:
                self.p.error("bad_end", v["end"].pos, expected=", ".join(END_OUTCOMES))
            step.end = value or "information"
        elif kind == "use":
            step.block = self.text(v["use"], "use") or ""
            if "with" in v and self.keys(
                v["with"], tuple(v["with"].value) if v["with"].kind == "map" else (), "with"
            ):
                for pname, pnode in v["with"].value.items():
                    value = self.text(pnode, pname)
                    if value is not None:
                        step.params[pname] = value
        elif kind == "return" and not in_block:
            self.p.error("return_outside_block", pos)
        elif kind == "verify":
            self.verify(step, v)
        return step

    def choice(self, node: Node | None, what: str, allowed: tuple[str, ...]) -> str | None:
        value = self.text(node, what)
        if value is not None and value not in allowed:
            assert node is not None
            self.p.error("bad_value", node.pos, value=value, what=what, expected=", ".join(allowed))
            return None
        return value

    def verify(self, step: Step, v: Mapping[str, Node]) -> None:
        """``verify: identity`` (the account's questions) or ``verify: [file_number, birth_date]``."""
        node = v["verify"]
        if node.kind == "scalar" and node.value == ACCOUNT_IDENTITY:
            pass  # the account's identity questions: known at the desk, checked with --account
        else:
            items = node.value if node.kind == "seq" else [node]
            for item in items:
                key = self.text(item, "verify")
                if key is not None:
                    step.identity.append((key, item.pos))
            if not items:
                self.p.error("verify_empty", node.pos)
        if "attempts" in v:
            attempts = self.integer(v["attempts"], "attempts")
            if attempts is not None and not 1 <= attempts <= MAX_ATTEMPTS:
                self.p.error("out_of_range", v["attempts"].pos, what="attempts", low=1, high=MAX_ATTEMPTS)
            elif attempts is not None:
                step.attempts = attempts

    def ask(self, step: Step, node: Node) -> None:
        items = node.value if node.kind == "seq" else [node]
        for item in items:
            value = self.text(item, "ask")
            if value is None:
                continue
            optional = value.endswith("?")
            name = value.rstrip("?").strip()
            if self.name(item, name):
                step.fields.append((name, optional, item.pos))

    def next(self, step: Step, node: Node) -> None:
        if node.kind == "scalar":
            target = self.text(node, "next")
            if target:
                step.next, step.next_pos = target, node.pos
            return
        self.branches(step, node)

    def branches(self, step: Step, node: Node) -> None:
        if node.kind != "seq" or not node.value:
            self.p.error("expected_list", node.pos, what="next")
            return
        seen_else = False
        seen: dict[str, Pos] = {}
        for item in node.value:
            if item.kind != "map" or set(item.value) not in ({"if", "goto"}, {"else"}):
                extra = [k for k in item.value if k not in ("if", "goto")] if item.kind == "map" else []
                comma = "if" in extra or not extra or any(item.value[k].value is not None for k in extra)
                # "{if: can_transfer(wanted, kind), goto: x}": the comma cut the condition in two
                self.p.error("branch_shape" if comma else "unquoted_comma", item.pos, name=", ".join(extra))
                continue
            if seen_else:
                self.p.error("else_not_last", item.pos)
            if "else" in item.value:
                seen_else = True
                target = self.text(item.value["else"], "else")
                if target:
                    step.branches.append(Branch(None, target, item.pos, item.value["else"].pos))
                continue
            cond = self.condition(item.value["if"], "if")
            target = self.text(item.value["goto"], "goto")
            if cond is None or target is None:
                continue
            key = " ".join(cond.expr.source.split())
            if key in seen:
                self.p.warning("duplicate_condition", item.value["if"].pos)
            seen[key] = item.pos
            step.branches.append(Branch(cond, target, item.pos, item.value["goto"].pos))

    def outcomes(self, step: Step, kind: str, v: Mapping[str, Node], pos: Pos) -> None:
        expected = RESULTS[kind]
        node = v.get("on")
        if node is None:
            self.p.error("missing_outcomes", pos, missing=", ".join(expected))
            return
        if node.kind != "map":
            self.p.error("expected_map", node.pos, what="on")
            return
        for key, target_node in node.value.items():
            if key not in expected and key != "other":
                self.p.error("unknown_outcome", node.key_pos(key), key=key, expected=", ".join(expected))
                continue
            target = self.text(target_node, key)
            if target:
                step.on[key] = (target, target_node.pos)
        missing = [r for r in expected if r not in step.on]
        if missing and "other" not in step.on:
            self.p.error("missing_outcomes", node.pos, missing=", ".join(missing))

    def reports(self, node: Node) -> dict[str, Report]:
        out: dict[str, Report] = {}
        allowed = ("default", *OUTCOMES)
        if not self.keys(node, allowed, "reports"):
            return out
        for key, spec in node.value.items():
            if key not in allowed:
                continue
            if not self.keys(spec, ("to", "subject", "body"), f"reports.{key}"):
                continue
            to: list[TextAt] = []
            tnode = spec.value.get("to")
            if tnode is not None:
                for item in tnode.value if tnode.kind == "seq" else [tnode]:
                    t = self.template(item, "to")
                    if t:
                        to.append(t)
            out[key] = Report(
                self.template(spec.value.get("subject"), "subject"),
                self.template(spec.value.get("body"), "body"),
                to,
                node.key_pos(key),
            )
        return out


def template_pos(node: Node, line: int) -> Pos:
    """Where line ``line`` of a text written at ``node`` sits in the file."""
    style = getattr(node, "style", None)
    if style in ("|", ">"):
        return node.line + line, node.column + 2
    return node.line + line - 1, node.column


def expr_pos(node: Node, offset: tuple[int, int]) -> Pos:
    """Where a position inside a condition written at ``node`` sits in the file."""
    line, col = offset
    style = getattr(node, "style", None)
    if line <= 1 and style not in ("|", ">"):
        return node.line, node.column + col + (1 if style in ("'", '"') else 0)
    return template_pos(node, line)


def read(root: Node | None, problems: Problems) -> Scenario:
    return Reader(problems).scenario(root)
