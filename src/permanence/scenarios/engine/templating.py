"""Texts with variables: the words to say and the call report, in a Jinja2 sandbox.

Pure core: no Django import. Templates see plain data only; there are no
globals (no ``range``), repetition operators are refused, and an empty value
renders as nothing rather than "None". Dates and times are written the French
way with Babel (``{{ call.date | date }}``, ``{{ account.next_opening }}``).
"""

from __future__ import annotations

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


@dataclass
class TemplateProblem:
    code: str
    line: int  # 1-based line within the template
    params: dict[str, Any]


@dataclass
class Text:
    """A checked text: its names, and a compiled template when it has variables."""

    source: str
    names: frozenset[str]
    tree: Any = None  # the parsed template (or its source), compiled on first render
    _template: Any = None

    @property
    def is_plain(self) -> bool:
        return self.tree is None

    def render(self, context: Mapping[str, Any]) -> str:
        if self.tree is None:
            return self.source
        try:
            if self._template is None:
                self._template = ENV.from_string(self.tree)
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
