"""Simulated callers: when they ring, who they are, how long they wait. Pure core.

Arrivals per account follow a Poisson process (exponential gaps at the given
rate); a caller is one of the account's contacts or an unknown mobile number;
patience is exponential too, so some hang up while queued; and the simulated
collaborator accepts, refuses or does not answer a transfer.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SimAccount:
    id: int
    called: str  # one of the account's numbers, E.164
    contacts: tuple[str, ...] = ()  # the contacts' numbers
    calls_per_hour: float = 20.0


@dataclass(frozen=True)
class SimCall:
    at: float  # seconds from the start
    account: int
    called: str
    caller: str | None  # None: number withheld
    patience: float  # seconds the caller waits before hanging up


@dataclass(frozen=True)
class Behaviour:
    known_share: float = 0.6  # of callers among the account's contacts
    withheld_share: float = 0.05
    mean_patience: float = 90.0
    transfer: tuple[tuple[str, float], ...] = (("accepted", 0.5), ("refused", 0.2), ("no_answer", 0.3))


def arrivals(
    accounts: Sequence[SimAccount], duration: float, rng: random.Random, behaviour: Behaviour | None = None
) -> list[SimCall]:
    """All the calls of ``duration`` seconds, in time order."""
    b = behaviour or Behaviour()
    calls: list[SimCall] = []
    for account in accounts:
        if account.calls_per_hour <= 0:
            continue
        rate = account.calls_per_hour / 3600.0
        t = rng.expovariate(rate)
        while t < duration:
            calls.append(
                SimCall(
                    t,
                    account.id,
                    account.called,
                    caller(account, rng, b),
                    rng.expovariate(1.0 / b.mean_patience),
                )
            )
            t += rng.expovariate(rate)
    return sorted(calls, key=lambda c: (c.at, c.account))


def caller(account: SimAccount, rng: random.Random, b: Behaviour) -> str | None:
    draw = rng.random()
    if draw < b.withheld_share:
        return None
    if account.contacts and draw < b.withheld_share + b.known_share:
        return rng.choice(account.contacts)
    return "+336" + "".join(str(rng.randrange(10)) for _ in range(8))


def transfer_result(rng: random.Random, behaviour: Behaviour | None = None) -> str:
    outcomes, weights = zip(*(behaviour or Behaviour()).transfer, strict=True)
    return str(rng.choices(outcomes, weights=weights)[0])
