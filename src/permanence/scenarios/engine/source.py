"""Reading a scenario's YAML text into a tree that remembers where each value was written.

Pure core: no Django import. The tree is built from libyaml's event stream with
an explicit stack, so any input ends in a tree or in problems, never in a
traceback, a hang or an exhausted stack: the size, the depth and the number of
nodes (aliases included, so a "billion laughs" document stops early) are bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
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

_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCALAR_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    _STR,
    "tag:yaml.org,2002:timestamp",
}


@dataclass(eq=False, slots=True)
class Node:
    """A value with its position (1-based line and column) in the source."""

    kind: str  # "map", "seq" or "scalar"
    value: Any  # dict[str, Node] | list[Node] | str | int | float | bool | None
    line: int
    column: int
    key_positions: dict[str, tuple[int, int]] | None = None  # for maps
    style: str | None = None  # for scalars: None (plain), "'", '"', "|" or ">"

    @property
    def pos(self) -> tuple[int, int]:
        return self.line, self.column

    def key_pos(self, key: str) -> tuple[int, int]:
        return self.key_positions.get(key, self.pos) if self.key_positions else self.pos

    def plain(self) -> Any:
        """The value without positions (for tests and JSON)."""
        if self.kind == "map":
            return {k: v.plain() for k, v in self.value.items()}
        if self.kind == "seq":
            return [v.plain() for v in self.value]
        return self.value


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
        raw = text
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
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
    """Compose with libyaml (aliases stay shared, nesting is bounded by libyaml),
    then convert iteratively, counting each alias as the size of what it repeats."""
    loader = _Loader(text)
    try:
        document = loader.get_single_node()
    except yaml.composer.ComposerError as exc:
        if "expected a single document" in str(exc):
            raise _Refused("several_documents", {}, exc.problem_mark) from None
        raise
    finally:
        loader.dispose()
    if document is None:
        return None
    converted: dict[int, Node] = {}
    aliases = "*" in text  # an alias is written "*name": without a "*", each node is met once
    count = 0
    root: Node | None = None
    work: list[tuple[Any, Node | None, str | None, int]] = [(document, None, None, 0)]
    pop = work.pop
    while work:
        ynode, parent, key, depth = pop()
        node = converted.get(id(ynode)) if aliases else None
        if node is not None:  # an alias: count what it repeats (a "billion laughs" stops here)
            count += _size(node)
        else:
            count += 1
            mark = ynode.start_mark
            if depth > MAX_DEPTH:
                raise _Refused("too_deep", {"max": MAX_DEPTH}, mark)
            kind, tag = ynode.id, ynode.tag
            if kind == "scalar":
                if tag == _STR:
                    value = ynode.value
                elif tag in _SCALAR_TAGS:
                    value = _value(ynode)
                else:
                    raise _Refused("tag", {"tag": tag}, mark)
                node = Node("scalar", value, mark.line + 1, mark.column + 1, None, ynode.style or None)
            elif kind == "mapping":
                if tag != _MAP:
                    raise _Refused("tag", {"tag": tag}, mark)
                positions: dict[str, tuple[int, int]] = {}
                node = Node("map", {}, mark.line + 1, mark.column + 1, positions)
                children = []
                for knode, vnode in ynode.value:
                    if knode.id != "scalar":
                        raise _Refused("complex_key", {}, knode.start_mark)
                    name = knode.value  # a key is a name as written: YAML 1.1 reads "on" as true
                    kmark = knode.start_mark
                    if name == "<<" and knode.tag == "tag:yaml.org,2002:merge":
                        raise _Refused("merge_key", {}, kmark)
                    if name in positions:
                        raise _Refused("duplicate_key", {"key": name}, kmark)
                    positions[name] = (kmark.line + 1, kmark.column + 1)
                    children.append((vnode, node, name, depth + 1))
                children.reverse()
                work.extend(children)
            else:
                if tag != _SEQ:
                    raise _Refused("tag", {"tag": tag}, mark)
                node = Node("seq", [], mark.line + 1, mark.column + 1)
                work.extend([(child, node, None, depth + 1) for child in reversed(ynode.value)])
            if aliases:
                converted[id(ynode)] = node
        if count > MAX_NODES:
            raise _Refused("too_many_nodes", {"max": MAX_NODES}, ynode.start_mark)
        if parent is None:
            root = node
        elif key is None:
            parent.value.append(node)
        else:
            parent.value[key] = node
    return root


def _size(node: Node) -> int:
    """How many values a converted node holds (for aliases), bounded by MAX_NODES."""
    total, work = 0, [node]
    while work and total <= MAX_NODES:
        current = work.pop()
        total += 1
        if current.kind == "map":
            work.extend(current.value.values())
        elif current.kind == "seq":
            work.extend(current.value)
    return total


def _value(ynode: Any) -> Any:
    tag = ynode.tag
    if tag in (_STR, "tag:yaml.org,2002:timestamp"):
        return ynode.value  # dates are kept as written and checked where they are used
    try:
        return _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, ynode)
    except (ValueError, OverflowError, yaml.YAMLError):
        return ynode.value


__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "Node", "Problem", "load"]
