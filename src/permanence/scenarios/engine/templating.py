"""Texts with variables: the words to say and the call report, in a Jinja2 sandbox.

Pure core: no Django import. Templates see plain data only; there are no
globals (no ``range``), repetition operators are refused, and an empty value
renders as nothing rather than "None". Dates and times are written the French
way with Babel (``{{ call.date | date }}``, ``{{ account.next_opening }}``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from babel.dates import format_date, format_datetime, format_time
from jinja2 import TemplateError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from permanence.accounts import phones

MAX_TEMPLATE = 20_000
MAX_OUTPUT = 50_000


def _instant(value: Any) -> Any:
    """An ISO text as a datetime; anything else as it is."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _date(value: Any, locale: str = "fr") -> str:
    value = _instant(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return str(format_date(value, format="full", locale=locale))
    return "" if value is None else str(value)


def _time(value: Any, locale: str = "fr") -> str:
    value = _instant(value)
    if isinstance(value, datetime):
        return str(format_time(value, format="short", locale=locale))
    return "" if value is None else str(value)


def _datetime(value: Any, locale: str = "fr") -> str:
    value = _instant(value)
    if isinstance(value, datetime):
        return str(format_datetime(value, format="EEEE d MMMM 'à' HH:mm", locale=locale))
    return "" if value is None else str(value)


def _phone(value: Any) -> str:
    if not value:
        return ""
    try:
        return phones.display(str(value))
    except (ValueError, phones.PhoneNumberError):
        return str(value)


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
        if not numbers or abs(right) > 1000 or abs(left) > 10**9:
            raise SecurityError("repetition is not allowed in a text")
        return super().call_binop(context, operator, left, right)


def _finalize(value: Any) -> Any:
    return "" if value is None else value


ENV = _Sandbox(autoescape=False, finalize=_finalize, keep_trailing_newline=False)
ENV.globals.clear()
ENV.filters.update({"date": _date, "time": _time, "datetime": _datetime, "phone": _phone})
SAFE_FILTERS = frozenset(
    {
        "abs",
        "capitalize",
        "default",
        "d",
        "first",
        "join",
        "last",
        "length",
        "count",
        "lower",
        "replace",
        "round",
        "string",
        "title",
        "trim",
        "truncate",
        "upper",
        "wordcount",
        "date",
        "time",
        "datetime",
        "phone",
        "striptags",
        "int",
        "float",
        "sort",
        "unique",
        "list",
        "center",
        "indent",
        "wordwrap",
    }
)
for _name in list(ENV.filters):
    if _name not in SAFE_FILTERS:
        del ENV.filters[_name]


@dataclass(slots=True)
class TemplateProblem:
    code: str
    line: int  # 1-based line within the template
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Use:
    """A value a text reads: ``{{ wanted.name }}`` is Use("wanted", ("name",), 1, needed=True).

    ``needed``: the text prints it as it is, so an empty value leaves a hole. A value only tested
    (``{% if wanted %}``, ``… if wanted``), read under such a test, or given a fallback
    (``wanted.name or '…'``, ``| default('…')``) is not needed."""

    name: str
    attrs: tuple[str, ...]
    line: int  # 1-based line within the text
    needed: bool
    method: bool = False  # the last attribute is called: ``{{ name.upper() }}``


@dataclass(slots=True)
class Text:
    """A checked text: its names, and a compiled template when it has variables."""

    source: str
    names: frozenset[str]
    tree: Any = None  # the parsed template (or its source), compiled on first render
    _template: Any = None
    _uses: tuple[Use, ...] | None = None

    @property
    def is_plain(self) -> bool:
        return self.tree is None

    @property
    def uses(self) -> tuple[Use, ...]:
        """Every field, record or attribute the text reads, where, and whether it must be set."""
        if self._uses is None:
            if self.tree is None:
                self._uses = ()
            elif isinstance(self.tree, str):
                self._uses = tuple(
                    Use(m.group(1), tuple(m.group(2).split(".")[1:]), self.tree.count("\n", 0, m.start()) + 1,
                        True)
                    for m in _SIMPLE_USE.finditer(self.tree)
                )
            else:
                walker = _Walker()
                walker.node(self.tree, frozenset(), needed=True)
                self._uses = tuple(walker.out)
        return self._uses

    def may_render_empty(self, is_set: Any) -> bool:
        """Could this text render as nothing? ``is_set(name)`` says whether a root name surely has a
        value. Text around the variables is never empty; a variable is empty when it may be unset."""
        if self.tree is None:
            return not self.source.strip()
        if isinstance(self.tree, str):
            if _SIMPLE.sub("", self.tree).strip():
                return False
            return not any(is_set(m.group(1)) for m in _SIMPLE_USE.finditer(self.tree))
        return not _surely_text(self.tree, is_set)

    def render(self, context: Mapping[str, Any]) -> str:
        if self.tree is None:
            return self.source
        if isinstance(self.tree, str):  # only ``{{ name.attr }}``: written without Jinja when it is sure
            out = _render_simple(self.tree, context)
            if out is not None:
                return out if len(out) <= MAX_OUTPUT else out[:MAX_OUTPUT] + "…"
        try:
            if self._template is None:
                self._template = _compiled(self.source)
            out = str(self._template.render(dict(context)))
        except (
            TemplateError,
            SecurityError,
            ArithmeticError,
            TypeError,
            ValueError,
            AttributeError,
            RecursionError,
        ) as exc:
            return f"[{type(exc).__name__}: {exc}]"
        return out if len(out) <= MAX_OUTPUT else out[:MAX_OUTPUT] + "…"


_SIMPLE = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)(?:\.[a-z_][a-z0-9_]*)*\s*\}\}")
_SIMPLE_USE = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)((?:\.[a-z_][a-z0-9_]*)*)\s*\}\}")
_FALLBACK_FILTERS = frozenset({"default", "d"})
_NEWLINE = re.compile(r"\r\n|\r|\n")  # Jinja writes every line break of a template as "\n"
#: names Jinja reads as constants or operators: such a text is left to Jinja
_JINJA_WORDS = frozenset({"true", "false", "none", "not", "and", "or", "in", "is", "if", "else"})
#: the values written as ``str()`` writes them, as Jinja does
_PLAIN_TYPES = (str, int, float, bool)


@functools.lru_cache(maxsize=4096)
def _compiled(source: str) -> Any:
    """A text's Jinja template, compiled once per process for each distinct text: a scenario checked
    again (a new version, another worker's cache) renders without compiling its texts again."""
    return ENV.from_string(source)


def _render_simple(source: str, context: Mapping[str, Any]) -> str | None:
    """A text whose only variables are ``{{ name }}`` or ``{{ name.attr… }}``, written as Jinja would
    write it, without compiling a template (a first render cost about 0.4 ms). None when the result
    could differ from Jinja's (an attribute of a missing value, of something else than a plain dict or
    named like a dict's method, a value that is not a text, a number, a boolean or None): then Jinja
    renders it. A missing name or key is written as nothing, as Jinja writes its undefined."""
    parts: list[str] = []
    last = 0
    for match in _SIMPLE_USE.finditer(source):
        root = match.group(1)
        attrs = match.group(2).split(".")[1:]
        if root in _JINJA_WORDS:
            return None
        if root not in context:
            if attrs:  # an attribute of an undefined name: Jinja's error
                return None
            value = None  # an undefined name is written as nothing
        else:
            value = context[root]
        final = len(attrs) - 1
        for i, attr in enumerate(attrs):
            if attr in _JINJA_WORDS:
                return None
            if value is None and i == final:
                break  # None.attr: Jinja's undefined, written as nothing
            if type(value) is not dict or hasattr(dict, attr):
                return None
            if attr not in value:
                if i < final:  # an attribute of an undefined value: Jinja's error
                    return None
                value = None  # a key the record lacks: undefined, written as nothing
                break
            value = value[attr]
        if value is not None and type(value) not in _PLAIN_TYPES:
            return None
        parts.append(source[last:match.start()])
        parts.append("" if value is None else str(value))
        last = match.end()
    parts.append(source[last:])
    if "\r" in source or source.endswith("\n"):
        return _render_lines(parts)
    return "".join(parts)


def _render_lines(parts: list[str]) -> str:
    """The same, for a text with line breaks to normalise: Jinja writes its text's breaks as "\n" and
    drops one final break (``keep_trailing_newline`` is off); a value's own breaks are kept."""
    literal = [_NEWLINE.sub("\n", p) if i % 2 == 0 else p for i, p in enumerate(parts)]
    if literal[-1].endswith("\n"):
        literal[-1] = literal[-1][:-1]
    return "".join(literal)


def _chain(node: Any) -> tuple[str, tuple[str, ...]] | None:
    """``wanted.replacement.name`` (or ``wanted['name']``) as ("wanted", ("replacement", "name"))."""
    attrs: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            attrs.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(
            node.arg.value, str
        ):
            attrs.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name):
            return node.name, tuple(reversed(attrs))
        else:
            return None


def _set_if(test: Any, truth: bool) -> frozenset[str]:
    """The names surely set when ``test`` is ``truth``: ``wanted`` true means wanted is set."""
    if isinstance(test, nodes.Not):
        return _set_if(test.node, not truth)
    if isinstance(test, (nodes.And, nodes.Or)):
        left, right = _set_if(test.left, truth), _set_if(test.right, truth)
        both_needed = isinstance(test, nodes.And) == truth
        return left | right if both_needed else left & right
    chain = _chain(test)
    if chain is not None:
        return frozenset({chain[0]}) if truth else frozenset()
    if isinstance(test, nodes.Test) and test.name == "none":
        chain = _chain(test.node)
        return frozenset({chain[0]}) if chain and not truth else frozenset()
    if isinstance(test, nodes.Compare) and len(test.ops) == 1:
        chain, op = _chain(test.expr), test.ops[0]
        other = op.expr
        if chain is None:
            chain, other = _chain(other), test.expr
        if chain is None or not isinstance(other, nodes.Const):
            return frozenset()
        equal_means_set = other.value is not None
        if (op.op == "eq" and truth == equal_means_set) or (op.op == "ne" and truth != equal_means_set):
            return frozenset({chain[0]})
        if op.op in ("in", "lt", "lteq", "gt", "gteq") and truth:
            return frozenset({chain[0]})
    return frozenset()


class _Walker:
    """Collects the values a template reads; names set by the template itself are left out."""

    def __init__(self) -> None:
        self.out: list[Use] = []
        self.local: set[str] = {"loop"}

    def node(self, node: Any, guards: frozenset[str], *, needed: bool) -> None:
        if node is None:
            return
        if isinstance(node, list):
            for item in node:
                self.node(item, guards, needed=needed)
            return
        if isinstance(node, (nodes.For, nodes.Assign, nodes.AssignBlock, nodes.With, nodes.Macro)):
            for name in node.find_all(nodes.Name):
                if name.ctx in ("store", "param"):
                    self.local.add(name.name)
        if isinstance(node, nodes.If):
            self.node(node.test, guards, needed=False)
            self.node(node.body, guards | _set_if(node.test, True), needed=needed)
            otherwise = guards | _set_if(node.test, False)
            for elif_ in node.elif_:
                self.node(elif_.test, otherwise, needed=False)
                self.node(elif_.body, otherwise | _set_if(elif_.test, True), needed=needed)
                otherwise = otherwise | _set_if(elif_.test, False)
            self.node(node.else_, otherwise, needed=needed)
        elif isinstance(node, nodes.CondExpr):
            self.node(node.test, guards, needed=False)
            self.node(node.expr1, guards | _set_if(node.test, True), needed=needed)
            self.node(node.expr2, guards | _set_if(node.test, False), needed=needed)
        elif isinstance(node, nodes.Or):
            self.node(node.left, guards, needed=False)  # empty: the right side is written instead
            self.node(node.right, guards | _set_if(node.left, False), needed=needed)
        elif isinstance(node, nodes.And):
            self.node(node.left, guards, needed=False)
            self.node(node.right, guards | _set_if(node.left, True), needed=needed)
        elif isinstance(node, (nodes.Not, nodes.Compare, nodes.Test)):
            for child in node.iter_child_nodes():
                self.node(child, guards, needed=False)
        elif isinstance(node, nodes.For):
            self.node(node.iter, guards, needed=False)  # an empty list writes nothing
            self.node(node.test, guards, needed=False)
            self.node(node.body, guards, needed=needed)
            self.node(node.else_, guards, needed=needed)
        elif isinstance(node, nodes.Filter):
            fallback = node.name in _FALLBACK_FILTERS
            self.node(node.node, guards, needed=needed and not fallback)
            for child in (*node.args, *(k.value for k in node.kwargs)):
                self.node(child, guards, needed=needed)
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
            chain = _chain(node.node)
            if chain is not None:  # a method of the value: ``name.upper()``
                self.use(chain[0], chain[1], node.lineno, guards, needed=needed, method=True)
            else:
                self.node(node.node.node, guards, needed=needed)
            for child in (*node.args, *(k.value for k in node.kwargs)):
                self.node(child, guards, needed=False)
        elif isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)):
            chain = _chain(node)
            if chain is not None:
                self.use(chain[0], chain[1], node.lineno, guards, needed=needed)
            else:
                for child in node.iter_child_nodes():
                    self.node(child, guards, needed=needed)
        else:
            for child in node.iter_child_nodes():
                self.node(child, guards, needed=needed)

    def use(
        self, name: str, attrs: tuple[str, ...], line: int, guards: frozenset[str], *, needed: bool,
        method: bool = False,
    ) -> None:
        if name in self.local:
            return
        self.out.append(Use(name, attrs, line or 1, needed and name not in guards, method))


def _surely_text(node: Any, is_set: Any, known: frozenset[str] = frozenset()) -> bool:
    """Does this part of a template surely write something (not only spaces)? ``known``: the names
    an enclosing test proved set (``{{ wanted.email if wanted else '…' }}``)."""

    def surely(child: Any, more: frozenset[str] = frozenset()) -> bool:
        return _surely_text(child, is_set, known | more)

    if isinstance(node, nodes.Template):
        return any(surely(child) for child in node.body)
    if isinstance(node, nodes.Output):
        return any(surely(child) for child in node.nodes)
    if isinstance(node, nodes.TemplateData):
        return bool(node.data.strip())
    if isinstance(node, nodes.Const):
        return node.value is not None and bool(str(node.value).strip())
    if isinstance(node, nodes.If):
        branches = [(node.body, _set_if(node.test, True))]
        otherwise = _set_if(node.test, False)
        for elif_ in node.elif_:
            branches.append((elif_.body, otherwise | _set_if(elif_.test, True)))
            otherwise |= _set_if(elif_.test, False)
        branches.append((node.else_, otherwise))
        return all(any(surely(child, proven) for child in body) for body, proven in branches)
    if isinstance(node, nodes.CondExpr):
        if node.expr2 is None:
            return False
        return surely(node.expr1, _set_if(node.test, True)) and surely(node.expr2, _set_if(node.test, False))
    if isinstance(node, nodes.Or):
        return surely(node.left) or surely(node.right, _set_if(node.left, False))
    if isinstance(node, nodes.Concat):
        return any(surely(child) for child in node.nodes)
    if isinstance(node, nodes.Filter):
        if node.name in _FALLBACK_FILTERS and node.args and surely(node.args[0]):
            return True
        return node.node is not None and surely(node.node)
    chain = _chain(node)
    if chain is not None:
        return chain[0] in known or bool(is_set(chain[0]))
    return False


def compile_text(source: str) -> tuple[Text | None, list[TemplateProblem]]:
    """Parse a text. Plain texts cost nothing; texts whose only variables are
    ``{{ name }}`` or ``{{ name.attribute }}`` are read without Jinja's parser."""
    if "{" not in source:
        return Text(source, frozenset()), []
    if "{%" not in source and "{#" not in source:
        rest = _SIMPLE.sub("", source)
        if "{{" not in rest and "}}" not in rest:
            return Text(source, frozenset(_SIMPLE.findall(source)), source), []
    if len(source) > MAX_TEMPLATE:
        return None, [TemplateProblem("template_syntax", 1, {"detail": f"longer than {MAX_TEMPLATE}"})]
    try:
        tree = ENV.parse(source)
    except TemplateError as exc:
        return None, [
            TemplateProblem(
                "template_syntax",
                getattr(exc, "lineno", 1) or 1,
                {"detail": getattr(exc, "message", None) or str(exc)},
            )
        ]
    except RecursionError:
        return None, [TemplateProblem("template_syntax", 1, {"detail": "too deeply nested"})]
    problems: list[TemplateProblem] = []
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        known = ENV.filters if isinstance(node, nodes.Filter) else ENV.tests
        if node.name not in known:
            problems.append(
                TemplateProblem(
                    "unknown_filter", node.lineno, {"name": node.name, "expected": ", ".join(sorted(known))}
                )
            )
    if problems:
        return None, problems
    try:
        names = frozenset(meta.find_undeclared_variables(tree))
    except (TemplateError, RecursionError) as exc:
        return None, [
            TemplateProblem("template_syntax", getattr(exc, "lineno", 1) or 1, {"detail": str(exc)})
        ]
    if "{{" not in source and "{%" not in source and "{#" not in source:
        return Text(source, frozenset()), []
    return Text(source, names, tree), []
