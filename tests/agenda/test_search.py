"""``services.search`` reads the busy times window by window; its answer must be the one the pure
core gives with every busy time of the horizon loaded at once."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

import pytest

from permanence.agenda import services, slots
from permanence.agenda.models import Appointment, AppointmentType, WorkingHours
from permanence.directory.models import Collaborator


@pytest.mark.parametrize("seed", range(4))
def test_windowed_search_gives_the_whole_horizon_answer(alpha, seed, monkeypatch):
    rng = random.Random(seed)
    zone = alpha.tz
    people = [Collaborator.objects.get(account=alpha)] + [
        Collaborator.objects.create(account=alpha, last_name=f"N{i}", first_name="Test") for i in range(2)
    ]
    for person in people[1:]:
        for weekday in range(rng.choice([1, 3, 5])):
            WorkingHours.objects.create(collaborator=person, weekday=weekday, start=time(9), end=time(13))
    kind = AppointmentType.objects.create(
        account=alpha,
        name="Bilan",
        duration_minutes=45,
        buffer_after_minutes=15,
        step_minutes=15,
        min_notice_minutes=rng.choice([0, 240, 3000]),
        horizon_days=60,
    )
    kind.collaborators.set(people)
    now = datetime.combine(datetime.now(zone).date() + timedelta(days=1), time(8), tzinfo=zone)
    for person in people:  # crowded first weeks, so that the search has to widen its window
        for _ in range(120):
            start = now + timedelta(minutes=15 * rng.randrange(4 * 24 * 25))
            end = start + timedelta(minutes=45)
            if not services.busy_times(person, start, end + timedelta(minutes=15)):
                Appointment.objects.create(
                    account=alpha,
                    collaborator=person,
                    appointment_type=kind,
                    start=start,
                    end=end,
                    blocked_from=start,
                    blocked_until=end + timedelta(minutes=15),
                )
    base = alpha.schedule()
    core = kind.as_core()
    everything = [
        slots.Person(
            str(p.pk),
            services.schedule_of(p, base),
            services.busy_times(p, now - timedelta(days=1), now + timedelta(days=62)),
        )
        for p in sorted(people, key=lambda p: (p.last_name, p.first_name, p.pk))
    ]
    reads = []
    real = services.busy_by_person

    def counted(*args, **kwargs):
        reads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "busy_by_person", counted)
    widened = 0
    for preference in (
        slots.Preference(),
        slots.Preference(no_gaps=True),
        slots.Preference(part_of_day="afternoon"),
        slots.Preference(day=(now + timedelta(days=9)).date()),
    ):
        for count in (1, 5, 12, 200):
            expected = slots.find_slots(core, everything, now=now, count=count, preference=preference)
            reads.clear()
            assert services.search(kind, now=now, count=count, preference=preference) == expected
            widened += len(reads) > 1
            one = everything[1]
            alone = slots.find_slots(core, [one], now=now, count=count, preference=preference)
            found = services.search(
                kind,
                collaborator=Collaborator.objects.get(pk=int(one.key)),
                now=now,
                count=count,
                preference=preference,
            )
            assert found == alone
    assert widened  # some searches read several windows
