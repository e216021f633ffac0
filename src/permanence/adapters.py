"""One registry for the adapters to external systems. Pure core: no Django import.

Each kind of external system (the messaging channels, the SMS providers, the remote calendars, the
telephony adapters) keeps its adapters in a ``Registry``: a name, chosen by a setting or a stored row
(``SMS_PROVIDER``, a delivery's channel, a calendar link's kind), gives the adapter.

    CHANNELS: Registry[Channel] = Registry("channel")
    CHANNELS.register("email", EmailChannel())

    @ADAPTERS.register("simulator")
    class SimulatorAdapter: ...

A name is registered once: a second adapter under the same name is refused (``DuplicateAdapter``),
as is an unknown name at lookup (``UnknownAdapter``, whose message lists the known names). Both are
``ValueError``s, as the registries they replace raised.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, overload

T = TypeVar("T")


class _Missing(enum.Enum):
    ADAPTER = enum.auto()  # ``register(name)`` without an adapter: the decorator form


class DuplicateAdapter(ValueError):
    """A name is registered already in this registry."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind, self.name = kind, name
        super().__init__(f"the {kind} name {name!r} is already taken")


class UnknownAdapter(LookupError, ValueError):
    """No adapter of this kind has that name; ``known`` holds the names there are, sorted."""

    def __init__(self, kind: str, name: str, known: tuple[str, ...]) -> None:
        self.kind, self.name, self.known = kind, name, known
        super().__init__(f"no {kind} named {name!r}; known: {', '.join(known) or '(none)'}")


class Registry(Generic[T]):
    """The adapters of one kind ("channel", "SMS provider"...), by name, in the order registered."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._adapters: dict[str, T] = {}

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, adapter: T) -> T: ...

    def register(self, name: str, adapter: T | _Missing = _Missing.ADAPTER) -> T | Callable[[T], T]:
        """Register ``adapter`` under ``name`` and return it; without an adapter, a decorator that
        registers what it decorates. A name already taken raises ``DuplicateAdapter``."""

        def add(item: T) -> T:
            if name in self._adapters:
                raise DuplicateAdapter(self.kind, name)
            self._adapters[name] = item
            return item

        return add if isinstance(adapter, _Missing) else add(adapter)

    def get(self, name: str) -> T:
        """The adapter registered under ``name``; ``UnknownAdapter`` if there is none."""
        try:
            return self._adapters[name]
        except KeyError:
            raise UnknownAdapter(self.kind, name, tuple(sorted(self._adapters))) from None

    def names(self) -> tuple[str, ...]:
        """The registered names, in the order registered."""
        return tuple(self._adapters)

    def __contains__(self, name: object) -> bool:
        return name in self._adapters

    def __iter__(self) -> Iterator[str]:
        """The registered names, in the order registered."""
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._adapters)

    def __repr__(self) -> str:
        return f"<Registry of {self.kind}s: {', '.join(self._adapters) or '(none)'}>"
