"""Opening-hours core: how fast is "is this account open now, until when?".

The desk asks it for every incoming call and the home page for every account
listed, so it must stay well under a millisecond. Run: make bench.
"""

from __future__ import annotations

import statistics
import time as clock
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from permanence.accounts.hours import (
    HoursException,
    Schedule,
    TimeRange,
    open_intervals,
    public_holidays,
    status_at,
)

PARIS = ZoneInfo("Europe/Paris")
R = TimeRange.parse


def _timed(label: str, func, runs: int) -> None:
    samples = []
    for _ in range(runs):
        started = clock.perf_counter()
        func()
        samples.append(clock.perf_counter() - started)
    samples.sort()
    p50 = statistics.median(samples) * 1e6
    p99 = samples[int(len(samples) * 0.99) - 1] * 1e6
    print(f"{label:<58} p50 {p50:8.1f} µs   p99 {p99:8.1f} µs   ({runs} runs)")


def main() -> None:
    office = {d: (R("09:00-12:30"), R("14:00-18:00")) for d in range(5)}
    exceptions = tuple(
        HoursException(date(2026, 1, 1) + timedelta(days=7 * i), date(2026, 1, 2) + timedelta(days=7 * i),
                       (R("10h-12h"),), f"exception {i}")
        for i in range(50)
    )
    schedule = Schedule(tz=PARIS, weekly=office, exceptions=exceptions,
                        holidays=public_holidays("FR", "57"))
    instants = [datetime(2026, 11, 23, 8, tzinfo=UTC) + timedelta(minutes=37 * i) for i in range(500)]
    it = iter(instants * 1000)
    _timed("status_at, office hours, 50 exceptions, Moselle holidays",
           lambda: status_at(schedule, next(it)), 5000)

    summer = HoursException(date(2026, 7, 1), date(2026, 9, 30), (), "Fermeture estivale")
    closed = Schedule(tz=PARIS, weekly=office, exceptions=(summer,),
                      holidays=public_holidays("FR"))
    _timed("status_at inside a 3-month closure (long scan)",
           lambda: status_at(closed, datetime(2026, 7, 15, 10, tzinfo=UTC)), 500)

    never = Schedule(tz=PARIS, weekly={})
    _timed(f"status_at, never open (worst case: full {400}-day horizon both ways)",
           lambda: status_at(never, datetime(2026, 7, 15, 10, tzinfo=UTC)), 50)

    start = datetime(2026, 1, 1, tzinfo=UTC)
    _timed("open_intervals over one year",
           lambda: open_intervals(schedule, start, start + timedelta(days=365)), 50)


if __name__ == "__main__":
    main()
