"""When to try a failed delivery again. Pure core: no Django import.

Exponential backoff with full jitter within ±20 %: 30 s, 1 min, 2 min… capped
at one hour; after ``MAX_ATTEMPTS`` the delivery is a dead letter.
"""

from __future__ import annotations

import random

BASE = 30.0
CAP = 3600.0
MAX_ATTEMPTS = 8


def delay(attempt: int, rng: random.Random | None = None, base: float = BASE, cap: float = CAP) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first)."""
    raw: float = min(cap, base * float(2 ** min(max(0, attempt - 1), 30)))
    source: random.Random = rng or random.Random()
    return raw * source.uniform(0.8, 1.2)


def exhausted(attempt: int) -> bool:
    return attempt >= MAX_ATTEMPTS
