"""Slot search: the first 5 free slots for one collaborator with a year of appointments, and for
"any of 50 collaborators" each with a year of appointments. Aim (issue 6): under 20 ms each.

Each collaborator works Monday-Friday 09:00-12:00 and 14:00-18:00 (Paris, French public
holidays closed) and has about 80 % of the year's half-hour slots booked, at random;
searches start at random instants of that year. Run: make bench.
"""

from __future__ import annotations

import random
import statistics
import time as clock
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from permanence.accounts.hours import Schedule, TimeRange, public_holidays
from permanence.agenda.slots import AppointmentType, Person, Preference, find_slots

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 1, 1, tzinfo=PARIS)
WEEKLY = {d: (TimeRange(time(9), time(12)), TimeRange(time(14), time(18))) for d in range(5)}
KIND = AppointmentType(
    duration=timedelta(minutes=30), buffer_after=timedelta(minutes=5), horizon=timedelta(days=90)
)
RUNS = 300


def booked_year(
    rng: random.Random, schedule: Schedule, share: float = 0.8
) -> list[tuple[datetime, datetime]]:
    busy = []
    for offset in range(366):
        for start, end in schedule.day_intervals((START + timedelta(days=offset)).date()):
            moment = start
            while moment + timedelta(minutes=30) <= end:
                if rng.random() < share:
                    busy.append((moment, moment + timedelta(minutes=35)))  # with its 5-minute buffer
                moment += timedelta(minutes=30)
    return busy


def measure(people: list[Person], rng: random.Random, preference: Preference) -> tuple[float, float, float]:
    times = []
    found = 0
    for _ in range(RUNS):
        now = (START + timedelta(minutes=rng.randrange(300 * 24 * 60))).astimezone(UTC)
        began = clock.perf_counter()
        slots = find_slots(KIND, people, now=now, count=5, preference=preference)
        times.append((clock.perf_counter() - began) * 1000)
        found += len(slots)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1], found / RUNS


def main() -> None:
    rng = random.Random(6)
    schedule = Schedule(tz=PARIS, weekly=WEEKLY, holidays=public_holidays("FR"))
    people = [Person(f"c{i}", schedule, booked_year(rng, schedule)) for i in range(50)]
    print(f"{len(people[0].busy)} appointments in the year for each collaborator")
    for label, group in (("one collaborator", people[:1]), ("any of 50 collaborators", people)):
        for preference in (Preference(), Preference(no_gaps=True), Preference("afternoon")):
            p50, p99, per_search = measure(group, rng, preference)
            name = "no gaps" if preference.no_gaps else preference.part_of_day
            print(
                f"{label:24} {name:10} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  ({per_search:.1f} slots found)"
            )


if __name__ == "__main__":
    main()
