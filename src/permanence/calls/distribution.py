"""Which ready secretary gets which waiting call. Pure core: no Django import.

Until the routing issue brings skills and priorities: calls are served in the
order they arrived; each goes to a ready secretary trained on its account who
has not just let this call's offer lapse, the one idle the longest first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Agent:
    id: int
    ready: bool
    accounts: frozenset[int]
    idle_since: datetime


@dataclass(frozen=True)
class Waiting:
    call: int
    account: int
    queued_at: datetime
    passed_by: frozenset[int] = field(default_factory=frozenset)  # let the offer expire or declined


def assign(waiting: Iterable[Waiting], agents: Iterable[Agent]) -> list[tuple[int, int]]:
    """(call, agent) offers to make now; a call nobody can take keeps waiting."""
    free = sorted((a for a in agents if a.ready), key=lambda a: (a.idle_since, a.id))
    offers: list[tuple[int, int]] = []
    for call in sorted(waiting, key=lambda w: (w.queued_at, w.call)):
        for agent in free:
            if call.account in agent.accounts and agent.id not in call.passed_by:
                offers.append((call.call, agent.id))
                free.remove(agent)
                break
        if not free:
            break
    return offers
