"""The week page of the agenda and the private address management."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.test import Client
from django.utils import timezone

from permanence.agenda import services
from permanence.agenda.models import AppointmentType, CalendarFeed
from permanence.audit.models import AuditEvent
from permanence.directory.models import Collaborator


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_week_page_shows_appointments_and_manages_the_private_address(personas, alpha, beta):
    anne = Collaborator.objects.get(account=alpha)
    kind = AppointmentType.objects.create(account=alpha, name="Consultation", min_notice_minutes=0)
    kind.collaborators.add(anne)
    today = timezone.now().astimezone(alpha.tz).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    start = datetime.combine(monday, datetime.min.time().replace(hour=10), tzinfo=alpha.tz)
    booked = services.book(kind, anne, start, caller=services.Caller("Jean Dupont", "+33612345678"))
    week = f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}"

    page = signed_in(personas["client_user"]).get(f"/a/alpha/agenda/?week={week}").content.decode()
    assert (
        f'data-testid="appointment-{booked.pk}"' in page
        and "Jean Dupont" in page
        and "06 12 34 56 78" in page
    )
    assert 'data-testid="feed"' not in page  # a collaborator of the client cannot issue addresses
    assert AuditEvent.objects.filter(object_type="agenda.appointment", action="list").exists()
    this_week = signed_in(personas["client_user"]).get("/a/alpha/agenda/").content.decode()
    assert "Jean Dupont" not in this_week
    garbage = signed_in(personas["client_user"]).get("/a/alpha/agenda/?week=nonsense&collaborator=x")
    assert garbage.status_code == 200

    admin = signed_in(personas["client_admin"])
    page = admin.get(f"/a/alpha/agenda/?collaborator={anne.pk}").content.decode()
    assert 'data-testid="feed"' in page and 'data-testid="feed-url"' not in page
    admin.post(f"/a/alpha/agenda/feed/{anne.pk}")
    feed = CalendarFeed.objects.get(collaborator=anne, revoked_at__isnull=True)
    page = admin.get(f"/a/alpha/agenda/?collaborator={anne.pk}").content.decode()
    assert f"/agenda/feed/{feed.token}.ics" in page
    assert Client().get(f"/agenda/feed/{feed.token}.ics").status_code == 200
    admin.post(f"/a/alpha/agenda/feed/{anne.pk}", {"revoke": "1"})
    assert Client().get(f"/agenda/feed/{feed.token}.ics").status_code == 404
    bruno = Collaborator.objects.get(account=beta)
    assert admin.post(f"/a/alpha/agenda/feed/{bruno.pk}").status_code == 404
