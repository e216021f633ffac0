"""The simulator adapter: calls ring on schedule, impatient callers hang up, transfers get a result."""

import pytest

from permanence.calls import services, simulator, telephony
from permanence.calls.models import Call


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_registry_refuses_duplicates_and_unknown_names():
    assert telephony.adapter_class("simulator") is telephony.SimulatorAdapter
    with pytest.raises(ValueError):
        telephony.register(telephony.SimulatorAdapter)
    with pytest.raises(ValueError, match="known: simulator"):
        telephony.adapter_class("asterisk")


def test_simulated_calls_ring_and_impatient_callers_hang_up(alpha):
    clock = Clock()
    adapter = telephony.SimulatorAdapter(
        [alpha], calls_per_hour=360, seed=7, clock=clock, behaviour=simulator.Behaviour(mean_patience=20)
    )
    planned = adapter.plan(600)
    assert 40 <= planned <= 80  # 60 expected in ten minutes
    clock.now = 300
    adapter.run_due()
    rung = Call.objects.filter(account=alpha).count()
    assert 0 < rung < planned
    clock.now = 10_000  # everybody has rung, and nobody answered...
    adapter.run_due()
    clock.now = 20_000  # ...then every patience has run out
    adapter.run_due()
    calls = Call.objects.filter(account=alpha)
    assert calls.count() == planned
    assert set(calls.values_list("state", flat=True)) == {"abandoned"}
    known = sum(1 for c in calls if c.caller == "+33611111111")
    assert known > 0  # Alpha's contact calls too


def test_transfer_gets_a_result_later(personas, alpha):
    clock = Clock()
    adapter = telephony.SimulatorAdapter([alpha], calls_per_hour=0, seed=3, clock=clock)
    secretary = personas["secretary"]
    services.set_status(secretary, "ready")
    call = services.call_arrived("01 45 00 00 01", "0611111111")
    services.dispatch()
    services.accept(call, secretary)
    services.request_transfer(call, secretary, "anne-alphonse", "announced")
    adapter.transfer(call, "+33145000011", "announced")
    adapter.run_due()
    call.refresh_from_db()
    assert call.state == "transferring"
    clock.now = 10
    adapter.run_due()
    call.refresh_from_db()
    assert call.events.last().kind == "transfer_result"
    assert call.state in ("talking", "wrap_up")


def test_a_callers_patience_is_kept_with_the_call_and_enforced_by_any_process(alpha):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    waiting = services.call_arrived(
        "01 45 00 00 01", "0611111111", at=now, caller_leaves_at=now + timedelta(seconds=30)
    )
    patient = services.call_arrived("01 45 00 00 01", None, at=now, caller_leaves_at=now + timedelta(hours=1))
    assert services.tick(now + timedelta(seconds=29)) == []  # no secretary: both still wait
    services.tick(now + timedelta(seconds=31))  # no simulator running here: the database says enough
    waiting.refresh_from_db()
    assert waiting.state == "abandoned"
    assert waiting.ended_at == now + timedelta(seconds=30)  # when the caller left, not when we noticed
    assert Call.objects.get(pk=patient.pk).state == "queued"


def test_at_start_up_the_calls_a_previous_run_left_open_are_closed(personas, alpha):
    from datetime import timedelta

    from django.utils import timezone

    secretary = personas["secretary"]
    before = timezone.now() - timedelta(seconds=60)  # within the maximum wait (120 s)
    old = "simulator:previousrun"
    waiting = services.call_arrived("01 45 00 00 01", None, external_id=old, at=before,
                                    caller_leaves_at=before + timedelta(seconds=40))  # fmt: skip
    talking = services.call_arrived("01 45 00 00 01", "0611111111", external_id=old, at=before)
    services.set_status(secretary, "ready")
    services.accept(talking, secretary)
    real = services.call_arrived("01 45 00 00 01", None, external_id="sip-trunk-42")
    adapter = telephony.SimulatorAdapter([alpha], calls_per_hour=0, seed=1)
    ours = services.call_arrived("01 45 00 00 01", None, external_id=adapter.call_prefix + ":1")
    adapter.start(duration=0)
    try:
        states = {c.pk: (c.state, c.ended_at) for c in Call.objects.all()}
    finally:
        adapter.stop()
    assert states[waiting.pk] == ("abandoned", before + timedelta(seconds=40))
    assert states[talking.pk][0] == "wrap_up"  # the secretary finishes the message
    assert states[real.pk][0] == states[ours.pk][0] == "queued"  # another adapter's, and this run's
