"""Calls made through the desk's services, with their events at chosen times."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from permanence.calls import services
from permanence.calls.lifecycle import Kind

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=PARIS)


def make_calls(alpha, beta, personas, count=60, seed=4):
    rng = random.Random(seed)
    secretaries = [personas["secretary"], personas["secretary_beta"]]
    made = []
    for i in range(count):
        account = alpha if i % 3 else beta
        arrived = T0 + timedelta(minutes=rng.uniform(0, 60 * 30))  # over two days
        caller = rng.choice(["0611111111", "0622222222", "0633333333", None])
        call = services.call_arrived(
            "01 45 00 00 01", caller, account=account, at=arrived, training=(i % 17 == 0)
        )
        wait = rng.uniform(0, 90)
        if rng.random() < 0.25:
            services.record(call, Kind.CALLER_HUNG_UP, at=arrived + timedelta(seconds=wait))
        else:
            who = secretaries[0] if account == alpha else secretaries[1]
            at = arrived + timedelta(seconds=wait)
            services.record(call, Kind.OFFERED, at=at, secretary=who)
            services.record(call, Kind.ANSWERED, at=at, secretary=who)
            talk = rng.uniform(30, 400)
            if rng.random() < 0.3:
                services.record(call, Kind.ON_HOLD, at=at + timedelta(seconds=10))
                services.record(call, Kind.RESUMED, at=at + timedelta(seconds=40))
            services.record(call, Kind.ENDED, at=at + timedelta(seconds=talk))
            if rng.random() < 0.9:  # a few still in wrap-up: not over, not counted yet
                services.record(call, Kind.WRAPPED_UP, at=at + timedelta(seconds=talk + rng.uniform(0, 60)))
        made.append(call)
    return made
