"""Slot search and booking through the database: what the desk and the API pay, reading the
collaborators' hours, exceptions, absences, appointments and calendar busy times from the database
(``bench_slots.py`` measures the pure search alone). Aim (issue 6): under 20 ms per search.

50 collaborators of one account work Monday-Friday 09:00-12:00 and 14:00-18:00; each has a year of
appointments (80 % of the half-hour slots booked, at random) and a busy time from their own calendar
every day (appointments of 25 minutes and 5 minutes of buffer, on a half-hour grid).
Runs on a throwaway SQLite database (or on the database named by DATABASE_URL).
Run: make bench.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time as clock
from datetime import datetime, time, timedelta
from io import StringIO

PEOPLE = 50
RUNS = 200


def main() -> None:
    os.environ.setdefault("PERMANENCE_DATA_DIR", tempfile.mkdtemp(prefix="permanence-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "permanence.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, stdout=StringIO())

    from permanence.accounts.models import Account
    from permanence.agenda import services
    from permanence.agenda.models import (
        Appointment,
        AppointmentType,
        CalendarLink,
        ExternalEvent,
        WorkingHours,
    )
    from permanence.directory.models import Collaborator

    Account.objects.filter(slug="bench-agenda").delete() if not Appointment.objects.filter(
        account__slug="bench-agenda"
    ).exists() else None
    account, created = Account.objects.get_or_create(
        slug="bench-agenda", defaults={"name": "Bench agenda", "greeting": "Bench"}
    )
    zone = account.tz
    rng = random.Random(6)
    first_day = (datetime.now(zone) - timedelta(days=30)).date()
    if created or not Appointment.objects.filter(account=account).exists():
        people = Collaborator.objects.bulk_create(
            Collaborator(account=account, last_name=f"Collab{i:02d}", first_name="Bench")
            for i in range(PEOPLE)
        )
        WorkingHours.objects.bulk_create(
            WorkingHours(collaborator=p, weekday=d, start=s, end=e)
            for p in people
            for d in range(5)
            for s, e in ((time(9), time(12)), (time(14), time(18)))
        )
        kind = AppointmentType.objects.create(
            account=account,
            name="Consultation",
            min_notice_minutes=0,
            horizon_days=90,
            buffer_after_minutes=5,
        )
        kind.collaborators.set(people)
        rows, busy = [], []
        for person in people:
            link = CalendarLink.objects.create(collaborator=person, url="https://dav.example/")
            for offset in range(366):
                day = first_day + timedelta(days=offset)
                if day.weekday() >= 5:
                    continue
                busy.append(
                    ExternalEvent(
                        link=link,
                        href=f"{day}.ics",
                        start=datetime.combine(day, time(12, 30), tzinfo=zone),
                        end=datetime.combine(day, time(13, 30), tzinfo=zone),
                    )
                )
                for hour, minute in [(h, m) for h in (9, 10, 11, 14, 15, 16, 17) for m in (0, 30)]:
                    if rng.random() < 0.8:
                        start = datetime.combine(day, time(hour, minute), tzinfo=zone)
                        rows.append(
                            Appointment(
                                account=account,
                                collaborator=person,
                                appointment_type=kind,
                                start=start,
                                end=start + timedelta(minutes=25),
                                blocked_from=start,
                                blocked_until=start + timedelta(minutes=30),
                            )
                        )
        began = clock.perf_counter()
        Appointment.objects.bulk_create(rows, batch_size=2000)
        ExternalEvent.objects.bulk_create(busy, batch_size=2000)
        print(
            f"stored {len(rows)} appointments, {len(busy)} busy times in {clock.perf_counter() - began:.1f} s"
        )
    kind = AppointmentType.objects.get(account=account)
    people = list(kind.collaborators.order_by("pk"))
    print(
        f"database: {connection.vendor}; {Appointment.objects.filter(account=account).count()} appointments, "
        f"{len(people)} collaborators"
    )

    def measure(label: str, search: object) -> None:
        times = []
        found = 0
        for _ in range(RUNS):
            now = datetime.combine(first_day, time(0), tzinfo=zone) + timedelta(
                minutes=rng.randrange(250 * 24 * 60)
            )
            began = clock.perf_counter()
            slots = search(now)  # type: ignore[operator]
            times.append((clock.perf_counter() - began) * 1000)
            found += len(slots)
        times.sort()
        print(
            f"{label}: p50 {statistics.median(times):.1f} ms, p99 {times[int(len(times) * 0.99) - 1]:.1f} ms "
            f"({found / RUNS:.1f} slots found on average; aim: 20 ms)"
        )

    one = people[0]
    measure("one collaborator, first 5 slots", lambda now: services.search(kind, collaborator=one, now=now))
    measure(f"any of {len(people)} collaborators, first 5 slots", lambda now: services.search(kind, now=now))


if __name__ == "__main__":
    main()
