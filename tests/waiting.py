"""Waiting in tests for something real to happen: poll a condition within a bound derived from the work."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], object], bound: float, step: float = 0.05) -> bool:
    """True as soon as ``condition()`` holds; False once ``bound`` seconds have passed without it."""
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True
