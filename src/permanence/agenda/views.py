"""Agenda pages: a week per collaborator; the private iCalendar feed (no sign-in, the secret address
is the key) and its management."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from permanence import policy
from permanence.agenda import feeds
from permanence.agenda.models import Appointment, CalendarFeed
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.directory.models import Collaborator
from permanence.policy import Perm
from permanence.portal.access import member_required


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    feed = feeds.active(token)
    if feed is None:
        raise Http404
    response = HttpResponse(feeds.calendar(feed.collaborator), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    response["Content-Disposition"] = 'inline; filename="agenda.ics"'
    return response


def _week_start(text: str, today: date) -> date:
    """Monday of ISO week ``2026-W50``; this week when absent or unreadable."""
    try:
        year, week = text.split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    except (ValueError, TypeError):
        return today - timedelta(days=today.weekday())


def feed_url(feed: CalendarFeed) -> str:
    """The address to subscribe to, on the public site (SITE_URL), not the address this page came by."""
    return settings.SITE_URL.rstrip("/") + reverse("calendar_feed", args=[feed.token])


@member_required
@require_GET
def agenda_week(request: HttpRequest, slug: str) -> HttpResponse:
    """A collaborator's week (or every collaborator's), day by day, for secretaries and clients."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_AGENDA)
    zone = account.tz
    today = timezone.now().astimezone(zone).date()
    monday = _week_start(request.GET.get("week", ""), today)
    people = list(Collaborator.objects.filter(account=account, is_active=True))
    chosen = next((p for p in people if str(p.pk) == request.GET.get("collaborator", "")), None)
    start = datetime.combine(monday, time(0), tzinfo=zone)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=zone)
    rows = Appointment.objects.filter(
        account=account, status=Appointment.Status.BOOKED, start__lt=end, end__gt=start
    ).select_related("collaborator", "appointment_type")
    if chosen is not None:
        rows = rows.filter(collaborator=chosen)
    by_day: dict[date, list[Appointment]] = {monday + timedelta(days=i): [] for i in range(7)}
    for appointment in rows.order_by("start"):
        by_day.setdefault(appointment.start.astimezone(zone).date(), []).append(appointment)
    trail.record(
        request.user,
        Action.LIST,
        account=account,
        object_type="agenda.appointment",
        request=request,
        week=monday.isoformat(),
        collaborator=chosen.pk if chosen else None,
    )
    feed = None
    if chosen is not None and policy.has_perm(request.user, Perm.MANAGE_AGENDA):
        feed = CalendarFeed.objects.filter(collaborator=chosen, revoked_at__isnull=True).first()
    week_text = f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}"
    previous, following = monday - timedelta(days=7), monday + timedelta(days=7)
    return render(
        request,
        "agenda/week.html",
        {
            "account": account,
            "people": people,
            "chosen": chosen,
            "days": [(day, by_day[day], day == today) for day in sorted(by_day)],
            "week": week_text,
            "previous": f"{previous.isocalendar().year}-W{previous.isocalendar().week:02d}",
            "following": f"{following.isocalendar().year}-W{following.isocalendar().week:02d}",
            "feed_url": feed_url(feed) if feed else "",
            "monday": monday,
            "can_manage": policy.has_perm(request.user, Perm.MANAGE_AGENDA),
        },
    )


@member_required
@require_POST
def agenda_feed(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Issue a new private iCalendar address for a collaborator (the old one stops), or revoke it."""
    account = policy.get_account_or_404(request.user, slug, Perm.MANAGE_AGENDA)
    person = Collaborator.objects.filter(account=account, pk=pk).first()
    if person is None:
        raise Http404
    if request.POST.get("revoke"):
        feeds.revoke(person)
        messages.success(request, _("The private address of %(name)s no longer works.") % {"name": person})
    else:
        issued = feeds.issue(person)
        messages.success(
            request,
            _("New private address for %(name)s; the previous one no longer works.") % {"name": person},
        )
        trail.record(request.user, Action.CREATE, issued, account=account, request=request)
    return redirect(reverse("agenda", args=[slug]) + f"?collaborator={person.pk}")
