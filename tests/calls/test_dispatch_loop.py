"""The worker's dispatch loop (once per cluster, no longer a thread in every web process) takes back a
lapsed offer and gives the call to the next secretary."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from factories import make_user
from permanence import loops
from permanence.calls import services
from permanence.calls.models import Call
from permanence.messaging.management.commands import worker
from permanence.users.models import Role, Training

OPTIONS = {"sweep_every": 30.0, "escalation_every": 10.0, "rollups_every": 30.0, "calendars_every": 60.0,
           "retention_every": 600.0}


@pytest.mark.django_db(transaction=True)
def test_the_dispatch_loop_moves_a_lapsed_offer(personas, alpha, tmp_path):
    other = make_user("secretary2", Role.SECRETARY)
    Training.objects.create(secretary=other, account=alpha)
    services.set_status(personas["secretary"], "ready")
    services.set_status(other, "ready")
    call = services.call_arrived("01 45 00 00 01", None)
    services.dispatch()
    first = Call.objects.get(pk=call.pk).offered_to
    assert first is not None
    Call.objects.filter(pk=call.pk).update(offer_expires_at=timezone.now() - timedelta(seconds=1))
    [dispatch] = [
        loop for loop in worker.worker_loops(OPTIONS | {"dispatch_every": 0.05}) if loop.name == "dispatch"
    ]
    runner = loops.Runner([dispatch], loops.FileLeadership(tmp_path, "t-")).start()
    deadline = time.monotonic() + 60
    try:
        # in-memory counters only: SQLite's shared in-memory test database locks whole tables
        while runner.stats["dispatch"].turns < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        runner.stop()
    assert runner.stats["dispatch"].failures == 0
    call.refresh_from_db()
    assert call.state == "offered" and call.offered_to not in (None, first)
    assert list(call.events.values_list("kind", flat=True))[-2:] == ["offer_expired", "offered"]


def test_the_dispatch_loop_prefers_services_tick(monkeypatch):
    """services.tick (callers' patience, then dispatch) when it exists, else services.dispatch."""
    ran = []
    monkeypatch.setattr(services, "tick", lambda: ran.append("tick"), raising=False)
    monkeypatch.setattr(services, "dispatch", lambda: ran.append("dispatch"))
    worker.dispatch_desks()
    monkeypatch.delattr(services, "tick")
    worker.dispatch_desks()
    assert ran == ["tick", "dispatch"]
