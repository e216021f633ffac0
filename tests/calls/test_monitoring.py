"""Live supervision's service and live view (``calls.monitoring``): started, changed and stopped by a
supervisor on a call being answered, one supervisor per call, each use audited, shown to the secretary.
(The voices on the wire: tests/telephony/test_supervision.py.)"""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client

from permanence.audit.models import AuditEvent
from permanence.calls import monitoring, services
from permanence.calls.lifecycle import Kind
from permanence.calls.models import Desk, Supervision


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def answered(personas: Any, alpha: Any) -> Any:
    call = services.call_arrived("01 45 00 00 01", "0611111111", account=alpha)
    services.record(call, Kind.OFFERED, secretary=personas["secretary"])
    services.record(call, Kind.ANSWERED, secretary=personas["secretary"])
    call.refresh_from_db()
    Desk.objects.create(secretary=personas["secretary"], status="on_call")
    return call


def test_a_supervisor_starts_changes_and_stops_each_step_audited(personas, answered, settings):
    settings.TELEPHONY = "sip"
    admin = signed_in(personas["admin"])
    page = admin.get("/supervision/").content.decode()
    assert f'data-testid="supervise-{answered.pk}"' in page and "Chuchoter à la secrétaire" in page
    assert admin.post(f"/supervision/calls/{answered.pk}/supervise", {"mode": "listen"}).status_code == 302
    assert admin.post(f"/supervision/calls/{answered.pk}/supervise", {"mode": "whisper"}).status_code == 302
    row = Supervision.objects.get()
    assert row.mode == "whisper" and [m for m, _ in row.modes] == ["listen", "whisper"] and not row.ended_at
    assert row.secretary == personas["secretary"] and row.supervisor == personas["admin"]
    assert monitoring.active([answered.pk]) == {answered.pk: (row.pk, personas["admin"].pk, "whisper")}

    # one supervisor at a time
    other = signed_in(personas["assistant"])
    taken = other.post(f"/supervision/calls/{answered.pk}/supervise", {"mode": "barge"}, follow=True)
    assert "Quelqu'un d'autre supervise déjà cet appel." in html.unescape(taken.content.decode())
    assert admin.post(f"/supervision/calls/{answered.pk}/supervise", {"mode": "stop"}).status_code == 302
    row.refresh_from_db()
    assert row.ended_at and row.end_reason == "stopped" and not monitoring.active([answered.pk])
    events = AuditEvent.objects.filter(object_type="calls.supervision").order_by("pk")
    trail = list(events.values_list("action", flat=True))
    assert trail == ["create", "update", "update"]

    shown = signed_in(personas["secretary"]).get(f"/desk/calls/{answered.pk}/").content.decode()
    assert 'data-testid="supervised"' in shown and "écoute, chuchotement" in shown


def test_refusals_say_why(personas, answered):
    with pytest.raises(monitoring.MonitoringError, match="unknown mode"):
        monitoring.start(answered.pk, personas["admin"], "bored")
    answered.secretary = personas["admin"]
    answered.save()
    with pytest.raises(monitoring.MonitoringError, match="propre appel"):
        monitoring.start(answered.pk, personas["admin"], "listen")
    answered.state = "wrap_up"
    answered.save()
    with pytest.raises(monitoring.MonitoringError, match="pas en cours"):
        monitoring.start(answered.pk, personas["assistant"], "listen")
    secretary = signed_in(personas["secretary"])
    refused = secretary.post(f"/supervision/calls/{answered.pk}/supervise", {"mode": "listen"})
    assert refused.status_code == 403 and not Supervision.objects.exists()
