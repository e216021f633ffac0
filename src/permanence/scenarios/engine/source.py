"""Reading a scenario's YAML text into a tree that remembers where each value was written.

Pure core: no Django import. The tree is built from libyaml's event stream with
an explicit stack, so any input ends in a tree or in problems, never in a
traceback, a hang or an exhausted stack: the size, the depth and the number of
nodes (aliases included, so a "billion laughs" document stops early) are bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from permanence.scenarios.engine.problems import Problem, Problems

MAX_BYTES = 2_000_000
MAX_DEPTH = 40
MAX_NODES = 400_000

try:  # libyaml's parser is several times faster; the pure-Python one gives the same events
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_STR = "tag:yaml.org,2002:str"
_SCALAR_TAGS = {
    "tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float", _STR, "tag:yaml.org,2002:timestamp",
}


@dataclass(eq=False)
class Node:
    """A value with its position (1-based line and column) in the source."""

    kind: str  # "map", "seq" or "scalar"
    value: Any  # dict[str, Node] | list[Node] | str | int | float | bool | None
    line: int
    column: int
    key_positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    style: str | None = None  # for scalars: None (plain), "'", '"', "|" or ">"

    @property
    def pos(self) -> tuple[int, int]:
        return self.line, self.column

    def key_pos(self, key: str) -> tuple[int, int]:
        return self.key_positions.get(key, self.pos)

    def plain(self) -> Any:
        """The value without positions (for tests and JSON)."""
        if self.kind == "map":
            return {k: v.plain() for k, v in self.value.items()}
        if self.kind == "seq":
            return [v.plain() for v in self.value]
        return self.value


def _scalar(event: Any) -> Any:
    tag = event.tag
    if tag in (None, "!"):
        tag = _STR if event.style or tag == "!" else _RESOLVER.resolve(
            yaml.ScalarNode, event.value, event.implicit)
    if tag not in _SCALAR_TAGS:
        raise _Refused("tag", {"tag": tag}, event.start_mark)
    if tag in (_STR, "tag:yaml.org,2002:timestamp"):
        return event.value  # dates are kept as written and checked where they are used
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark)
    try:
        return _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, node)
    except (ValueError, OverflowError, yaml.YAMLError):
        return event.value


class _Refused(Exception):
    def __init__(self, code: str, params: dict[str, Any] | None = None, mark: Any = None) -> None:
        super().__init__(code)
        self.code = code
        self.params = params or {}
        self.mark = mark


def load(text: str | bytes, problems: Problems) -> Node | None:
    """Parse ``text``; on failure add problems and return None."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            problems.error("file_too_large", (1, 1), max=MAX_BYTES)
            return None
        if b"\x00" in text:
            problems.error("not_text", (1, 1))
            return None
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = text[: exc.start].count(b"\n") + 1
            problems.error("not_utf8", (line, 1))
            return None
    if len(text) > MAX_BYTES:
        problems.error("file_too_large", (1, 1), max=MAX_BYTES)
        return None
    if "\x00" in text:
        problems.error("not_text", (1, 1))
        return None
    try:
        return _build(text)
    except _Refused as exc:
        mark = exc.mark
        pos = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problems.error(exc.code, pos, **exc.params)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problems.error("yaml_syntax", pos, detail=str(exc.problem or exc.context or "").strip())
    except (yaml.YAMLError, RecursionError, MemoryError, ValueError) as exc:
        problems.error("yaml_syntax", (1, 1), detail=type(exc).__name__)
    return None


def _build(text: str) -> Node | None:
    stack: list[tuple[Node, list[Any]]] = []  # (container, [pending key, key mark])
    anchors: dict[str, Node] = {}
    sizes: dict[int, int] = {}
    count = 0
    root: Node | None = None
    documents = 0

    def attach(node: Node, mark: Any, weight: int) -> None:
        nonlocal root, count
        count += weight
        if count > MAX_NODES:
            raise _Refused("too_many_nodes", {"max": MAX_NODES}, mark)
        if not stack:
            root = node
            return
        parent, pending = stack[-1]
        if parent.kind == "seq":
            parent.value.append(node)
        elif pending[0] is None:
            if node.kind != "scalar" or not isinstance(node.value, (str, int, float, bool)):
                raise _Refused("complex_key", {}, mark)
            key = str(node.value) if not isinstance(node.value, str) else node.value
            if key == "<<":
                raise _Refused("merge_key", {}, mark)
            if key in parent.value:
                raise _Refused("duplicate_key", {"key": key}, mark)
            pending[0], pending[1] = key, (node.line, node.column)
        else:
            key = pending[0]
            parent.value[key] = node
            parent.key_positions[key] = pending[1]
            pending[0] = None

    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _Refused("several_documents", {}, event.start_mark)
            continue
        if isinstance(event, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)):
            continue
        mark = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            target = anchors.get(event.anchor)
            if target is None:  # libyaml reports it first, kept for the pure parser
                raise _Refused("yaml_syntax", {"detail": "unknown alias"}, mark)
            attach(target, mark, sizes.get(id(target), 1))
            continue
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(stack) >= MAX_DEPTH:
                raise _Refused("too_deep", {"max": MAX_DEPTH}, mark)
            if event.tag not in (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
                raise _Refused("tag", {"tag": event.tag}, mark)
            kind = "map" if isinstance(event, yaml.MappingStartEvent) else "seq"
            node = Node(kind, {} if kind == "map" else [], mark.line + 1, mark.column + 1)
            attach(node, mark, 1)
            stack.append((node, [None, None, count, event.anchor]))
            continue
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            node, pending = stack.pop()
            sizes[id(node)] = count - pending[2] + 1
            if pending[3]:
                anchors[pending[3]] = node
            continue
        if isinstance(event, yaml.ScalarEvent):
            # A key is a name as written: YAML 1.1 would read the key "on" as true.
            is_key = bool(stack) and stack[-1][0].kind == "map" and stack[-1][1][0] is None
            value = event.value if is_key and not event.tag else _scalar(event)
            node = Node("scalar", value, mark.line + 1, mark.column + 1, style=event.style or None)
            if event.anchor:
                anchors[event.anchor] = node
            attach(node, mark, 1)
    return root


__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "Node", "Problem", "load"]
