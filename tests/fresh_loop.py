"""asyncio in a thread of its own: the browser tests' Playwright (sync API) keeps an event loop running
in the test's thread for the whole session, where ``asyncio.run`` then refuses to start."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T], bound: float = 300) -> T:
    """``asyncio.run(coroutine)`` in a fresh thread; its result, or its exception re-raised here."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="fresh-loop", daemon=True)
    thread.start()
    thread.join(bound)
    if thread.is_alive():
        raise TimeoutError(f"the event loop's work did not end within {bound} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]  # type: ignore[no-any-return]
