"""The week page of the agenda and the private address management."""

from __future__ import annotations

import html
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


def test_linking_a_collaborators_calendar_from_the_week_page(personas, alpha, radicale, settings):
    import uuid

    import caldav

    from permanence.agenda.models import CalendarLink, ExternalEvent, SyncIssue

    anne = Collaborator.objects.get(account=alpha)
    admin = signed_in(personas["client_admin"])
    there = caldav.DAVClient(url=radicale, username="anne", password="pw").principal().make_calendar(
        name="Cabinet", cal_id=uuid.uuid4().hex
    )
    url = f"/a/alpha/agenda/calendar/{anne.pk}"
    form = {"link-url": str(there.url), "link-username": "anne", "link-password": "pw", "action": "save"}

    # Refused on a private network unless the operator allows it (the server would fetch any address).
    refused = admin.post(url, form)
    assert refused.status_code == 400 and "réseau privé" in refused.content.decode()
    assert admin.post(url, {**form, "link-url": "ftp://x/"}).status_code == 400
    assert not CalendarLink.objects.exists()

    settings.CALENDAR_ALLOW_PRIVATE_ADDRESSES = True
    start = timezone.now() + timedelta(days=2)
    there.save_event(dtstart=start, dtend=start + timedelta(hours=1), summary="Dentiste", uid="dentist")
    followed = admin.post(url, form, follow=True)
    page = followed.content.decode()
    assert "Agenda synchronisé : 1 événement(s) lu(s), 0 rendez-vous écrit(s)." in page
    link = CalendarLink.objects.get(collaborator=anne)
    assert link.password == "pw" and not link.last_error
    assert ExternalEvent.objects.filter(link=link).count() == 1

    # Its busy time shows in the week, without what it is.
    local = start.astimezone(alpha.tz)
    week = f"{local.isocalendar().year}-W{local.isocalendar().week:02d}"
    secretary = signed_in(personas["secretary"])
    page = secretary.get(f"/a/alpha/agenda/?week={week}").content.decode()
    assert 'data-testid="busy"' in page and "Dentiste" not in page
    assert 'data-testid="calendar-link"' not in page  # linking is for managers

    # Another address, unreachable: the link keeps the new address, the error is shown.
    broken = admin.post(url, {**form, "link-url": "http://127.0.0.1:9/dav/"}, follow=True).content.decode()
    broken = html.unescape(broken)
    link.refresh_from_db()
    assert link.failures == 1 and "Lecture de l'agenda : le serveur est injoignable." in broken
    assert not ExternalEvent.objects.filter(link=link).exists()  # the old calendar's busy times forgotten

    # What the sync reports is listed until someone marks it done.
    issue = SyncIssue.objects.create(link=link, kind=SyncIssue.Kind.OVERLAP, detail="10:00–11:00")
    page = secretary.get("/a/alpha/agenda/").content.decode()
    assert f'data-testid="issue-{issue.pk}"' in page
    assert secretary.post(f"/a/alpha/agenda/issues/{issue.pk}/seen").status_code == 302
    issue.refresh_from_db()
    assert issue.resolved_at is not None and issue.resolved_by == personas["secretary"]
    assert f'data-testid="issue-{issue.pk}"' not in secretary.get("/a/alpha/agenda/").content.decode()

    admin.post(url, {"action": "unlink"})
    assert not CalendarLink.objects.exists()
    assert admin.post(url, {"action": "sync"}).status_code == 404
