"""The agenda over the HTTP API: slots, booking (201, 409 with the next free slots, 422), moving,
cancelling; caller data reads are audited."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from django.test import Client

from factories import office_hours
from permanence.agenda.models import Appointment, AppointmentType
from permanence.audit.models import AuditEvent
from permanence.directory.models import Collaborator


@pytest.fixture
def alpha(alpha):
    """Office hours (Monday to Friday 9:00-18:00, closed on public holidays): these tests are about them."""
    return office_hours(alpha)



def next_monday(account, hour):
    from django.utils import timezone

    today = timezone.now().astimezone(account.tz).date()
    monday = today + timedelta(days=7 - today.weekday())
    return datetime.combine(monday, datetime.min.time().replace(hour=hour), tzinfo=account.tz)


def post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def test_book_through_the_api(personas, alpha):
    anne = Collaborator.objects.get(account=alpha)
    kind = AppointmentType.objects.create(
        account=alpha, name="Consultation", min_notice_minutes=0, places="office, video"
    )
    kind.collaborators.add(anne)
    client = Client()
    client.force_login(personas["secretary"])
    types = client.get("/api/v1/accounts/alpha/appointment-types").json()
    assert types == [
        {
            "id": kind.pk,
            "name": "Consultation",
            "motives": [],
            "duration_minutes": 30,
            "places": ["office", "video"],
            "questions": [],
            "collaborators": [anne.pk],
        }
    ]
    start = next_monday(alpha, 10)
    slots = client.get(
        f"/api/v1/accounts/alpha/slots?appointment_type={kind.pk}&after={start.isoformat()}".replace(
            "+", "%2B"
        )
    ).json()
    assert slots[0]["collaborator"] == anne.pk
    assert datetime.fromisoformat(slots[0]["start"]) == start

    body = {
        "appointment_type": kind.pk,
        "collaborator": anne.pk,
        "start": start.isoformat(),
        "caller": {"name": "Jean Dupont", "phone": "+33612345678"},
        "place": "video",
    }
    created = post(client, "/api/v1/accounts/alpha/appointments", body)
    assert created.status_code == 201, created.content
    booked = created.json()
    assert booked["place"] == "video" and booked["source"] == "api" and booked["caller_name"] == "Jean Dupont"

    again = post(client, "/api/v1/accounts/alpha/appointments", body)
    assert again.status_code == 409
    assert again.json()["detail"] == "This slot has just been taken."
    assert datetime.fromisoformat(again.json()["alternatives"][0]["start"]) == start + timedelta(minutes=30)

    saturday = post(
        client,
        "/api/v1/accounts/alpha/appointments",
        body | {"start": (start + timedelta(days=5)).isoformat()},
    )
    assert saturday.status_code == 422 and "does not work" in saturday.json()["detail"]
    naive = post(client, "/api/v1/accounts/alpha/appointments", body | {"start": "2026-12-07T10:00:00"})
    assert naive.status_code == 422
    assert Appointment.objects.count() == 1

    moved = post(
        client,
        f"/api/v1/accounts/alpha/appointments/{booked['id']}/reschedule",
        {"start": (start + timedelta(hours=4)).isoformat()},
    )
    assert moved.status_code == 200 and datetime.fromisoformat(moved.json()["start"]) == start + timedelta(
        hours=4
    )
    listed = client.get("/api/v1/accounts/alpha/appointments").json()
    assert [a["id"] for a in listed] == [booked["id"]]
    assert AuditEvent.objects.filter(object_type="agenda.appointment", action="list").exists()
    cancelled = post(client, f"/api/v1/accounts/alpha/appointments/{booked['id']}/cancel", {})
    assert cancelled.json()["status"] == "cancelled"
    assert client.get("/api/v1/accounts/alpha/appointments").json() == []
