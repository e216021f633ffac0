"""The week page of the agenda and the private address management."""

from __future__ import annotations

import html
from datetime import datetime, time, timedelta

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
    there = (
        caldav.DAVClient(url=radicale, username="anne", password="pw")
        .principal()
        .make_calendar(name="Cabinet", cal_id=uuid.uuid4().hex)
    )
    url = f"/a/alpha/agenda/calendar/{anne.pk}"
    form = {"link-url": str(there.url), "link-username": "anne", "link-password": "pw", "action": "save"}

    # Refused on a private network unless the operator allows it (the server would fetch any address).
    refused = admin.post(url, form)
    assert refused.status_code == 400 and "réseau privé" in refused.content.decode()
    assert admin.post(url, {**form, "link-url": "ftp://x/"}).status_code == 400
    assert not CalendarLink.objects.exists()

    settings.CALENDAR_ALLOW_PRIVATE_ADDRESSES = True
    # 10:00 in two days, whatever the hour the suite runs (an hour from 23:30 would span two days)
    day = timezone.now().astimezone(alpha.tz).date() + timedelta(days=2)
    start = datetime.combine(day, time(10), alpha.tz)
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


def test_the_client_admin_sets_up_types_hours_and_exceptions(personas, alpha, beta):
    from permanence.accounts import hours
    from permanence.agenda.models import AvailabilityException, WorkingHours

    anne = Collaborator.objects.get(account=alpha)
    bruno = Collaborator.objects.get(account=beta)
    admin = signed_in(personas["client_admin"])
    assert admin.get("/a/alpha/agenda/settings/").status_code == 200

    form = {
        "name": "Première consultation",
        "code": "",
        "motives": "divorce, garde",
        "duration_minutes": "45",
        "buffer_before_minutes": "0",
        "buffer_after_minutes": "15",
        "step_minutes": "",
        "min_notice_minutes": "120",
        "horizon_days": "60",
        "places": "office, video",
        "questions": "Motif ?",
        "collaborators": [str(anne.pk)],
        "confirmation_text": "RDV le {{ when }}",
        "reminder_text": "",
        "reminder_hours": "24",
        "is_active": "on",
    }
    assert admin.post("/a/alpha/agenda/types/new", form).status_code == 302
    kind = AppointmentType.objects.get(account=alpha)
    assert kind.code == "premiere_consultation" and list(kind.collaborators.all()) == [anne]
    # Same name again, a collaborator of another account, a broken text, a place unknown: refused, said.
    again = admin.post("/a/alpha/agenda/types/new", {**form, "name": "première consultation"})
    assert again.status_code == 400 and "a déjà un type de ce nom" in again.content.decode()
    other = admin.post(
        "/a/alpha/agenda/types/new", {**form, "name": "Autre", "collaborators": [str(bruno.pk)]}
    )
    assert other.status_code == 400
    broken = admin.post(f"/a/alpha/agenda/types/{kind.pk}", {**form, "confirmation_text": "{{ when"})
    assert broken.status_code == 400
    assert admin.post(f"/a/alpha/agenda/types/{kind.pk}", {**form, "places": "moon"}).status_code == 400
    assert admin.post(f"/a/alpha/agenda/types/{kind.pk}", {**form, "duration_minutes": "45", "name": "Bilan"})
    kind.refresh_from_db()
    assert kind.name == "Bilan" and kind.code == "premiere_consultation"  # the scenarios' code stays

    # Working hours: one line per day; a wrong line is refused with the day named, nothing lost.
    week = {f"week-day{d}": "" for d in range(7)} | {
        "week-day0": "9h-12h, 14:00-18:00",
        "week-day2": "08:30-12:30",
    }
    assert admin.post(f"/a/alpha/agenda/hours/{anne.pk}", week).status_code == 302
    assert sorted(
        (r.weekday, f"{r.start:%H:%M}") for r in WorkingHours.objects.filter(collaborator=anne)
    ) == [(0, "09:00"), (0, "14:00"), (2, "08:30")]
    wrong = admin.post(f"/a/alpha/agenda/hours/{anne.pk}", {**week, "week-day1": "10:00-09:00"})
    assert wrong.status_code == 400 and "ferme avant d’ouvrir" in html.unescape(wrong.content.decode())
    assert WorkingHours.objects.filter(collaborator=anne).count() == 3
    schedule = services.schedule_of(anne)
    assert schedule.weekly[0] == hours.parse_ranges("09:00-12:00, 14:00-18:00")

    # An exception (leave), then removed.
    leave = {
        "action": "exception",
        "exc-start_date": "2027-02-01",
        "exc-end_date": "2027-02-05",
        "exc-ranges": "",
        "exc-label": "Congés",
    }
    assert admin.post(f"/a/alpha/agenda/hours/{anne.pk}", leave).status_code == 302
    row = AvailabilityException.objects.get(collaborator=anne)
    backwards = admin.post(f"/a/alpha/agenda/hours/{anne.pk}", {**leave, "exc-end_date": "2027-01-01"})
    assert backwards.status_code == 400
    page = admin.get(f"/a/alpha/agenda/hours/{anne.pk}").content.decode()
    assert f'data-testid="exception-{row.pk}"' in page and "Congés" in page
    assert admin.post(f"/a/alpha/agenda/hours/{anne.pk}/exceptions/{row.pk}/delete").status_code == 302
    assert not AvailabilityException.objects.exists()

    # Another account's collaborator or type: not found.
    assert admin.get(f"/a/alpha/agenda/hours/{bruno.pk}").status_code == 404
    beta_kind = AppointmentType.objects.create(account=beta, name="Devis")
    assert admin.get(f"/a/alpha/agenda/types/{beta_kind.pk}").status_code == 404
    assert AuditEvent.objects.filter(object_type__startswith="agenda.", action="create").count() >= 2


def test_day_view_shows_each_collaborators_hours_appointments_and_busy_times(personas, alpha, beta):
    from permanence.agenda.models import CalendarLink, ExternalEvent

    anne = Collaborator.objects.get(account=alpha)
    kind = AppointmentType.objects.create(account=alpha, name="Consultation", min_notice_minutes=0)
    kind.collaborators.add(anne)
    # From 08:00 two days on, whatever the hour the suite runs: the busy time an hour after the slot
    # must fall on the slot's own day.
    in_two_days = timezone.now().astimezone(alpha.tz).date() + timedelta(days=2)
    morning = datetime.combine(in_two_days, time(8), alpha.tz)
    slot = services.search(kind, count=1, now=morning)[0]
    assert slot.end.astimezone(alpha.tz).hour < 20
    booked = services.book(kind, anne, slot.start, caller=services.Caller("Jean Dupont", "+33612345678"))
    link = CalendarLink.objects.create(collaborator=anne, url="https://dav.example/")
    ExternalEvent.objects.create(
        link=link, href="x.ics", start=slot.end + timedelta(hours=1), end=slot.end + timedelta(hours=2)
    )
    bruno = Collaborator.objects.get(account=beta)
    beta_kind = AppointmentType.objects.create(account=beta, name="Devis", min_notice_minutes=0)
    beta_kind.collaborators.add(bruno)
    services.book(
        beta_kind,
        bruno,
        services.search(beta_kind, count=1, now=slot.start)[0].start,
        caller=services.Caller("Béatrice Secret"),
    )
    day = slot.start.astimezone(alpha.tz).date()

    secretary = signed_in(personas["secretary"])
    page = secretary.get(f"/a/alpha/agenda/?day={day.isoformat()}").content.decode()
    assert f'data-testid="column-{anne.pk}"' in page and f'data-testid="appointment-{booked.pk}"' in page
    assert 'data-testid="busy"' in page and "06 12 34 56 78" in page
    assert "Béatrice" not in page and f'data-testid="column-{bruno.pk}"' not in page
    assert 'class="working"' in page
    assert AuditEvent.objects.filter(object_type="agenda.appointment", detail__day=day.isoformat()).exists()
    assert secretary.get("/a/alpha/agenda/?day=nonsense").status_code == 200
    week = secretary.get("/a/alpha/agenda/").content.decode()
    assert "?day=" in week  # each day of the week opens its day view
