"""The condition language of scenarios: Python's expression syntax, a small typed subset.

Pure core: no Django import. A condition is parsed with the standard ``ast``
module, then checked against a whitelist of node kinds and typed against the
scenario's fields; evaluation walks the checked tree itself (no ``eval``), over
plain data only. Examples::

    caller_type == "client" and not has_tag("blocked")
    "vip" in caller.tags or urgent
    is_open() and can_transfer(wanted, caller_type, urgent)
    is_set(on_call("urgences")) and available(on_call("urgences"))
    weekday() in ["saturday", "sunday"] or not time_between("09:00", "18:00")
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from permanence.directory.rules import CALLER_TYPES

TEXT_LIKE = frozenset({"text", "long_text", "phone", "email", "postcode", "choice"})
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ABSENCE_KINDS = ("absent", "leave", "meeting", "consultation", "other")
TRANSFER_MODES = ("always", "conditional", "never")
MAX_EXPRESSION = 2000
#: YAML's spellings, accepted in conditions as in the rest of the file
LITERAL_NAMES: dict[str, bool | None] = {"true": True, "false": False, "none": None, "null": None}
_TIME = re.compile(r"^([01]?\d|2[0-3])[:h]([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class Type:
    name: (
        str  # text, long_text, phone, email, postcode, choice, number, bool, date, person, list, none, record
    )
    options: tuple[str, ...] = ()
    record: str = ""  # for name == "record": call, caller, account, agent, params
    label: str = ""  # the field's name, for messages

    def __str__(self) -> str:
        if self.label:
            return self.label
        if self.name == "choice" and self.options:
            return "choice (" + ", ".join(self.options[:6]) + ("…" if len(self.options) > 6 else "") + ")"
        return self.record or self.name


TEXT = Type("text")
NUMBER = Type("number")
BOOL = Type("bool")
NONE = Type("none")
PHONE = Type("phone")
DATE = Type("date")
PERSON = Type("person")
LIST = Type("list")

RECORDS: dict[str, dict[str, Type]] = {
    "call": {"called": PHONE, "caller": PHONE, "date": DATE, "motive": TEXT},  # motive: the voice menu's
    # the caller found in the account's contacts; ``type``: the caller type its tags say (a CallerType)
    "caller": {
        "known": BOOL,
        "name": TEXT,
        "company": TEXT,
        "tags": LIST,
        "email": TEXT,
        "type": Type("choice", CALLER_TYPES),
    },
    "account": {"name": TEXT, "greeting": TEXT, "next_opening": TEXT, "hours": TEXT},
    "agent": {"first_name": TEXT, "name": TEXT},
    # the call's identity check (a ``verify`` step): its outcome only, never what was typed
    "identity": {"verified": BOOL, "attempts": NUMBER},
}
PERSON_ATTRS: dict[str, Type] = {
    "name": TEXT,
    "title": TEXT,
    "email": TEXT,
    "service": TEXT,
    "ref": TEXT,
    "direct_line": PHONE,
    "mobile": PHONE,
    "available": BOOL,
    "transfer": Type("choice", TRANSFER_MODES),
    "absence": Type("choice", ABSENCE_KINDS),
    "until": TEXT,
    "replacement": PERSON,
}


@dataclass(frozen=True, slots=True)
class Function:
    params: tuple[tuple[str, ...], ...]  # accepted type names per argument
    required: int
    result: Type
    pure: bool = False  # pure functions are not recorded as facts

    def describe(self) -> str:
        names = [" or ".join(p) for p in self.params]
        if not names:
            return "no argument"
        return ", ".join(n if i < self.required else f"[{n}]" for i, n in enumerate(names))


FUNCTIONS: dict[str, Function] = {
    "is_open": Function((), 0, BOOL),
    "is_holiday": Function((), 0, BOOL),
    "time_between": Function((("time",), ("time",)), 2, BOOL),
    "weekday": Function((), 0, Type("choice", WEEKDAYS)),
    "has_tag": Function((("text",),), 1, BOOL),
    "available": Function((("person",),), 1, BOOL),
    "can_transfer": Function((("person",), ("text", "choice", "none"), ("bool", "none")), 1, BOOL),
    # the person on call now in the service's rota (astreinte), or None
    "on_call": Function((("text",),), 1, PERSON),
    "is_set": Function((("any",),), 1, BOOL, pure=True),
}


class ExprError(Exception):
    def __init__(self, code: str, offset: tuple[int, int] = (1, 0), **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.offset = offset  # (line within the expression, 0-based column)
        self.params = params


@dataclass(frozen=True, slots=True)
class Expression:
    source: str
    tree: ast.expr
    names: frozenset[str]  # fields and records read
    functions: frozenset[str]


@functools.lru_cache(maxsize=8192)
def parse(source: str) -> Expression:
    """Parse a condition; raises ExprError on syntax or a forbidden construct.

    Expressions are immutable, so the same condition written many times is parsed once."""
    if not isinstance(source, str) or not source.strip():
        raise ExprError("expr_syntax", detail="empty")
    if len(source) > MAX_EXPRESSION:
        raise ExprError("expr_syntax", detail=f"longer than {MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExprError(
            "expr_syntax", (exc.lineno or 1, max((exc.offset or 1) - 1, 0)), detail=exc.msg
        ) from None
    except (ValueError, RecursionError, MemoryError):
        raise ExprError("expr_syntax", detail="too complex") from None
    names: set[str] = set()
    functions: set[str] = set()
    if len(source) > 200:  # short conditions cannot nest deeply
        depth_guard(tree)
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExprError("expr_not_allowed", _at(node), what=_describe(node))
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.keywords:
                raise ExprError("expr_not_allowed", _at(node), what=_describe(node))
            functions.add(node.func.id)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ExprError("expr_not_allowed", _at(node), what="_")
    names -= functions
    names -= set(LITERAL_NAMES)
    return Expression(source, tree, frozenset(names), frozenset(functions))


def depth_guard(tree: ast.AST, limit: int = 50) -> None:
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise ExprError("expr_syntax", detail="too deeply nested")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


_ALLOWED = (
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Attribute,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.USub,
)


def _at(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 1), getattr(node, "col_offset", 0)


def _describe(node: ast.AST) -> str:
    return {
        ast.BinOp: "arithmetic",
        ast.Lambda: "lambda",
        ast.IfExp: "if … else",
        ast.Subscript: "[…]",
        ast.Dict: "{…}",
        ast.Set: "{…}",
        ast.ListComp: "comprehension",
        ast.GeneratorExp: "comprehension",
        ast.Starred: "*",
        ast.NamedExpr: ":=",
        ast.Is: "is",
        ast.IsNot: "is not",
        ast.Await: "await",
        ast.JoinedStr: "f-string",
    }.get(type(node), type(node).__name__)


# ---------------------------------------------------------------- typing

Names = Mapping[str, Type]


def check(expr: Expression, names: Names, *, want_bool: bool = True) -> list[ExprError]:
    """Type-check ``expr`` against the scenario's names; returns the errors found."""
    errors: list[ExprError] = []
    result = _type(expr.tree, names, errors)
    if want_bool and not errors and result.name not in ("bool", "none"):
        errors.append(ExprError("not_boolean", _at(expr.tree), got=str(result)))
    return errors


def _type(node: ast.expr, names: Names, errors: list[ExprError]) -> Type:
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None:
            return NONE
        if isinstance(value, bool):
            return BOOL
        if isinstance(value, (int, float)):
            return NUMBER
        if isinstance(value, str):
            return Type("literal", (value,))
        errors.append(ExprError("expr_not_allowed", _at(node), what=type(value).__name__))
        return NONE
    if isinstance(node, ast.Name):
        if node.id in LITERAL_NAMES:
            value = LITERAL_NAMES[node.id]
            return NONE if value is None else BOOL
        found = names.get(node.id)
        if found is None:
            errors.append(ExprError("unknown_name", _at(node), name=node.id))
            return NONE
        return found
    if isinstance(node, ast.Attribute):
        owner = _type(node.value, names, errors)
        table = (
            PERSON_ATTRS
            if owner.name == "person"
            else (_record_attrs(owner) if owner.name == "record" else None)
        )
        if table is None:
            if owner.name != "none" or not errors:
                errors.append(
                    ExprError("unknown_attribute", _at(node), owner=str(owner), name=node.attr, expected="—")
                )
            return NONE
        if node.attr not in table:
            errors.append(
                ExprError(
                    "unknown_attribute",
                    _at(node),
                    owner=str(owner),
                    name=node.attr,
                    expected=", ".join(sorted(table)),
                )
            )
            return NONE
        return table[node.attr]
    if isinstance(node, ast.UnaryOp):
        operand = _type(node.operand, names, errors)
        if isinstance(node.op, ast.USub):
            if operand.name != "number":
                errors.append(ExprError("expr_not_allowed", _at(node), what="-"))
            return NUMBER
        _want_bool(node.operand, operand, errors)
        return BOOL
    if isinstance(node, ast.BoolOp):
        for operand_node in node.values:
            _want_bool(operand_node, _type(operand_node, names, errors), errors)
        return BOOL
    if isinstance(node, ast.Compare):
        left = _type(node.left, names, errors)
        left_node = node.left
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _type(right_node, names, errors)
            _compare(op, left, right, left_node, right_node, node, errors)
            left, left_node = right, right_node
        return BOOL
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_type(e, names, errors) for e in node.elts]
        literals = tuple(o for t in items if t.name == "literal" for o in t.options)
        if items and len(literals) == len(items):
            return Type("list_literal", literals)
        return LIST
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        fn = FUNCTIONS.get(node.func.id)
        if fn is None:
            errors.append(
                ExprError(
                    "unknown_function",
                    _at(node),
                    name=node.func.id,
                    expected=", ".join(f"{n}()" for n in FUNCTIONS),
                )
            )
            return NONE
        if not fn.required <= len(node.args) <= len(fn.params):
            errors.append(ExprError("arity", _at(node), name=node.func.id, expected=fn.describe()))
            return fn.result
        for index, (arg, accepted) in enumerate(zip(node.args, fn.params, strict=False), start=1):
            got = _type(arg, names, errors)
            if not _accepts(accepted, got, arg, errors):
                errors.append(
                    ExprError(
                        "arg_type",
                        _at(arg),
                        index=index,
                        name=node.func.id,
                        expected=" or ".join(accepted),
                        got=str(_show(got)),
                    )
                )
        return fn.result
    errors.append(ExprError("expr_not_allowed", _at(node), what=_describe(node)))
    return NONE


def _record_attrs(owner: Type) -> dict[str, Type] | None:
    if owner.record == "params":  # a block's parameters: texts, named in ``options``
        return {name: TEXT for name in owner.options}
    return RECORDS.get(owner.record)


def _show(t: Type) -> Type | str:
    return f"“{t.options[0]}”" if t.name == "literal" else t


def _accepts(accepted: tuple[str, ...], got: Type, node: ast.expr, errors: list[ExprError]) -> bool:
    if "any" in accepted or got.name in accepted:
        return True
    if got.name == "literal":
        value = got.options[0]
        if "time" in accepted:
            if not _TIME.match(value):
                errors.append(ExprError("bad_time_literal", _at(node), value=value))
            return True
        return "text" in accepted or "choice" in accepted
    if got.name in TEXT_LIKE and ("text" in accepted or "choice" in accepted):
        return True
    return got.name == "none" and "none" in accepted


def _want_bool(node: ast.expr, t: Type, errors: list[ExprError]) -> None:
    if t.name not in ("bool", "none"):
        errors.append(ExprError("not_boolean", _at(node), got=f"{_show(t)} (use is_set(…) to test a value)"))


def _base(t: Type) -> str:
    if t.name in TEXT_LIKE or t.name == "literal":
        return "text"
    return t.name


def _compare(
    op: ast.cmpop,
    left: Type,
    right: Type,
    left_node: ast.expr,
    right_node: ast.expr,
    node: ast.Compare,
    errors: list[ExprError],
) -> None:
    symbol = {
        ast.Eq: "==",
        ast.NotEq: "!=",
        ast.Lt: "<",
        ast.LtE: "<=",
        ast.Gt: ">",
        ast.GtE: ">=",
        ast.In: "in",
        ast.NotIn: "not in",
    }[type(op)]
    if isinstance(op, (ast.In, ast.NotIn)):
        if right.name == "list_literal":
            if left.name == "choice":
                _options(left, right.options, right_node, errors)
            elif _base(left) != "text" and left.name != "none":
                errors.append(
                    ExprError(
                        "type_mismatch", _at(node), left=str(_show(left)), right="a list of texts", op=symbol
                    )
                )
            return
        if right.name == "list" or _base(right) == "text":
            if _base(left) != "text" and left.name != "none":
                errors.append(
                    ExprError("type_mismatch", _at(node), left=str(_show(left)), right=str(right), op=symbol)
                )
            return
        errors.append(
            ExprError("type_mismatch", _at(node), left=str(_show(left)), right=str(right), op=symbol)
        )
        return
    if left.name == "none" or right.name == "none":
        if symbol not in ("==", "!="):
            errors.append(
                ExprError(
                    "type_mismatch", _at(node), left=str(_show(left)), right=str(_show(right)), op=symbol
                )
            )
        return
    if left.name == "choice" and right.name == "literal":
        _options(left, right.options, right_node, errors)
    elif right.name == "choice" and left.name == "literal":
        _options(right, left.options, left_node, errors)
    if _base(left) != _base(right) or left.name in ("list", "list_literal", "record"):
        errors.append(
            ExprError("type_mismatch", _at(node), left=str(_show(left)), right=str(_show(right)), op=symbol)
        )
        return
    if symbol not in ("==", "!=") and _base(left) not in ("number", "date", "text"):
        errors.append(
            ExprError("type_mismatch", _at(node), left=str(_show(left)), right=str(_show(right)), op=symbol)
        )


def _options(choice: Type, values: tuple[str, ...], node: ast.expr, errors: list[ExprError]) -> None:
    for value in values:
        if choice.options and value not in choice.options:
            errors.append(
                ExprError(
                    "not_an_option",
                    _at(node),
                    value=value,
                    field=str(choice),
                    expected=", ".join(choice.options),
                )
            )


# ---------------------------------------------------------------- evaluation

Call = Callable[[str, tuple[Any, ...]], Any]


def evaluate(expr: Expression, values: Mapping[str, Any], call: Call) -> Any:
    """Evaluate a checked expression. ``values`` holds plain data (str, numbers,
    bools, None, lists, dicts for records and persons); ``call`` runs functions."""
    return _eval(expr.tree, values, call)


def _eval(node: ast.expr, values: Mapping[str, Any], call: Call) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in LITERAL_NAMES:
            return LITERAL_NAMES[node.id]
        return values.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _eval(node.value, values, call)
        return owner.get(node.attr) if isinstance(owner, dict) else None
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, values, call)
        if isinstance(node.op, ast.USub):
            return -value if isinstance(value, (int, float)) else None
        return not value
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return all(_eval(v, values, call) for v in node.values)
        return any(_eval(v, values, call) for v in node.values)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, values, call)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, values, call)
            if not _apply(op, left, right):
                return False
            left = right
        return True
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(e, values, call) for e in node.elts]
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        args = tuple(_eval(a, values, call) for a in node.args)
        if node.func.id == "is_set":
            return args[0] not in (None, "", [])
        return call(node.func.id, args)
    raise ExprError("expr_not_allowed", _at(node), what=_describe(node))  # pragma: no cover - checked


def _apply(op: ast.cmpop, left: Any, right: Any) -> bool:
    if isinstance(op, ast.Eq):
        return bool(left == right)
    if isinstance(op, ast.NotEq):
        return bool(left != right)
    if isinstance(op, (ast.In, ast.NotIn)):
        if right is None or left is None:
            found = False
        elif isinstance(right, str):
            found = isinstance(left, str) and left.casefold() in right.casefold()
        else:
            found = left in right
        return found if isinstance(op, ast.In) else not found
    if left is None or right is None:
        return False
    try:
        if isinstance(op, ast.Lt):
            return bool(left < right)
        if isinstance(op, ast.LtE):
            return bool(left <= right)
        if isinstance(op, ast.Gt):
            return bool(left > right)
        return bool(left >= right)
    except TypeError:
        return False
