"""Agenda pages: a week per collaborator; the private iCalendar feed (no sign-in, the secret address
is the key) and its management."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from permanence import policy
from permanence.accounts.models import Account, Weekday
from permanence.agenda import caldav_sync, feeds, services
from permanence.agenda.forms import (
    AppointmentTypeForm,
    AvailabilityExceptionForm,
    CalendarLinkForm,
    WeeklyHoursForm,
)
from permanence.agenda.models import (
    Appointment,
    AppointmentType,
    AvailabilityException,
    CalendarFeed,
    CalendarLink,
    ExternalEvent,
    SyncIssue,
    ranges_by_weekday,
)
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
    # the feed carries callers' names and reasons: each fetch is audited (no user: the secret address)
    trail.record(None, Action.VIEW, feed, request=request, via="ical feed", collaborator=feed.collaborator_id)
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
    if request.GET.get("day"):
        return _day_page(request, account)
    return _week_page(request, account)


DAY_FROM, DAY_TO = 7 * 60, 20 * 60  # the day view's grid, local minutes (widened to what it shows)


def _day_page(request: HttpRequest, account: Account) -> HttpResponse:
    """One day, one column per collaborator: their working hours, appointments and busy times, to
    see at a glance who is free when."""
    zone = account.tz
    today = timezone.now().astimezone(zone).date()
    try:
        day = date.fromisoformat(request.GET["day"])
    except ValueError:
        day = today
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    people = list(Collaborator.objects.filter(account=account, is_active=True))
    chosen = next((p for p in people if str(p.pk) == request.GET.get("collaborator", "")), None)
    shown = [chosen] if chosen else people
    keys = [p.pk for p in shown]
    schedules = services.schedules_of(keys, account.schedule())
    booked: dict[int, list[Appointment]] = {pk: [] for pk in keys}
    for appointment in Appointment.objects.filter(
        collaborator_id__in=keys, status=Appointment.Status.BOOKED, start__lt=end, end__gt=start
    ).select_related("appointment_type"):
        booked[appointment.collaborator_id].append(appointment)
    busy: dict[int, list[tuple[datetime, datetime]]] = {pk: [] for pk in keys}
    for pk, begins, ends in ExternalEvent.objects.filter(
        link__collaborator_id__in=keys, link__is_active=True, start__lt=end, end__gt=start
    ).values_list("link__collaborator_id", "start", "end"):
        busy[pk].append((begins, ends))

    def minutes(moment: datetime) -> int:
        if moment <= start:
            return 0
        if moment >= end:
            return 24 * 60
        local = moment.astimezone(zone)
        return local.hour * 60 + local.minute

    columns, low, high = [], DAY_FROM, DAY_TO
    for person in shown:
        working = [(minutes(a), minutes(b)) for a, b in schedules[person.pk].day_intervals(day)]
        items = [
            (minutes(a.start), minutes(a.end), a) for a in sorted(booked[person.pk], key=lambda a: a.start)
        ]
        blocks = [(minutes(a), minutes(b), None) for a, b in sorted(busy[person.pk])]
        for first, last, _item in [*items, *blocks, *((a, b, None) for a, b in working)]:
            low, high = min(low, first - first % 60), max(high, last + (-last) % 60)
        columns.append({"person": person, "working": working, "items": items + blocks})
    span = max(high - low, 60)

    def place(first: int, last: int) -> str:
        return f"top:{(first - low) * 100 / span:.3f}%;height:{max(last - first, 10) * 100 / span:.3f}%"

    for column in columns:
        column["working"] = [place(a, b) for a, b in column["working"]]
        column["items"] = [(place(a, b), item, a, b) for a, b, item in column["items"]]
    trail.record(
        request.user,
        Action.LIST,
        account=account,
        object_type="agenda.appointment",
        request=request,
        day=day.isoformat(),
        collaborator=chosen.pk if chosen else None,
    )
    iso = day.isocalendar()
    return render(
        request,
        "agenda/day.html",
        {
            "account": account,
            "people": people,
            "chosen": chosen,
            "day": day,
            "is_today": day == today,
            "previous": (day - timedelta(days=1)).isoformat(),
            "following": (day + timedelta(days=1)).isoformat(),
            "week": f"{iso.year}-W{iso.week:02d}",
            "columns": columns,
            "hours": [
                (f"{h:02d}:00", f"top:{(h * 60 - low) * 100 / span:.3f}%")
                for h in range(low // 60, high // 60)
            ],
            "grid_height": span // 60 * 48,
        },
    )


def _week_page(
    request: HttpRequest,
    account: Account,
    *,
    chosen_pk: int | None = None,
    link_form: CalendarLinkForm | None = None,
    status: int = 200,
) -> HttpResponse:
    zone = account.tz
    today = timezone.now().astimezone(zone).date()
    monday = _week_start(request.GET.get("week", ""), today)
    people = list(Collaborator.objects.filter(account=account, is_active=True))
    wanted = str(chosen_pk) if chosen_pk is not None else request.GET.get("collaborator", "")
    chosen = next((p for p in people if str(p.pk) == wanted), None)
    start = datetime.combine(monday, time(0), tzinfo=zone)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=zone)
    rows = Appointment.objects.filter(
        account=account, status=Appointment.Status.BOOKED, start__lt=end, end__gt=start
    ).select_related("collaborator", "appointment_type")
    busy = ExternalEvent.objects.filter(
        link__collaborator__account=account, link__is_active=True, start__lt=end, end__gt=start
    ).select_related("link__collaborator")
    if chosen is not None:
        rows = rows.filter(collaborator=chosen)
        busy = busy.filter(link__collaborator=chosen)
    by_day: dict[date, list[Any]] = {monday + timedelta(days=i): [] for i in range(7)}
    entries: list[tuple[datetime, Any]] = [(a.start, a) for a in rows]
    entries += [(b.start, b) for b in busy]
    for begins, entry in sorted(entries, key=lambda pair: pair[0]):
        by_day.setdefault(max(begins, start).astimezone(zone).date(), []).append(entry)
    trail.record(
        request.user,
        Action.LIST,
        account=account,
        object_type="agenda.appointment",
        request=request,
        week=monday.isoformat(),
        collaborator=chosen.pk if chosen else None,
    )
    can_manage = policy.has_perm(request.user, Perm.MANAGE_AGENDA)
    feed = link = None
    if chosen is not None and can_manage:
        feed = CalendarFeed.objects.filter(collaborator=chosen, revoked_at__isnull=True).first()
        link = CalendarLink.objects.filter(collaborator=chosen).first()
        link_form = link_form or CalendarLinkForm(instance=link, prefix="link")
    issues = (
        SyncIssue.objects.filter(link__collaborator__account=account, resolved_at__isnull=True)
        .select_related("appointment", "link__collaborator")
        .order_by("-created")[:50]
    )
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
            "can_manage": can_manage,
            "can_book": policy.has_perm(request.user, Perm.BOOK_APPOINTMENTS),
            "link": link,
            "link_form": link_form,
            "issues": issues,
        },
        status=status,
    )


def _collaborator_or_404(account: Account, pk: int) -> Collaborator:
    person = Collaborator.objects.filter(account=account, pk=pk).first()
    if person is None:
        raise Http404
    return person


def _back(slug: str, person: Collaborator) -> HttpResponse:
    return redirect(reverse("agenda", args=[slug]) + f"?collaborator={person.pk}")


@member_required
@require_POST
def agenda_calendar(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Link a collaborator's own calendar (CalDAV), sync it now, or unlink it."""
    account = policy.get_account_or_404(request.user, slug, Perm.MANAGE_AGENDA)
    person = _collaborator_or_404(account, pk)
    link = CalendarLink.objects.filter(collaborator=person).first()
    action = request.POST.get("action", "save")
    if action == "unlink":
        if link is not None:
            trail.record(request.user, Action.DELETE, link, account=account, request=request)
            link.delete()
            messages.success(request, _("The calendar of %(name)s is no longer synced.") % {"name": person})
        return _back(slug, person)
    if action == "save":
        form = CalendarLinkForm(request.POST, instance=link, prefix="link")
        if not form.is_valid():
            return _week_page(request, account, chosen_pk=person.pk, link_form=form, status=400)
        if link is None and not form.cleaned_data.get("password") and form.cleaned_data.get("username"):
            form.add_error("password", _("The password is needed to connect."))
            return _week_page(request, account, chosen_pk=person.pk, link_form=form, status=400)
        moved = link is not None and "url" in form.changed_data
        link = form.save(commit=False)
        link.collaborator = person
        link.is_active = True
        link.save()
        if moved:
            caldav_sync.relink(link)
        trail.record(
            request.user,
            Action.UPDATE if moved or "username" in form.changed_data else Action.CREATE,
            link,
            account=account,
            request=request,
        )
    elif link is None:
        raise Http404
    link.refresh_from_db()
    report = caldav_sync.sync(link)
    if report.skipped:
        messages.info(request, _("A sync of this calendar is already running."))
    elif report.error:
        messages.error(request, _("The calendar could not be synced: %(error)s") % {"error": report.error})
    else:
        messages.success(
            request,
            _("Calendar synced: %(read)s event(s) read, %(written)s appointment(s) written.")
            % {"read": report.pulled, "written": report.pushed},
        )
    return _back(slug, person)


@member_required
@require_POST
def agenda_issue_seen(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Someone has dealt with what the sync reported (called the caller back, moved the appointment)."""
    account = policy.get_account_or_404(request.user, slug, Perm.BOOK_APPOINTMENTS)
    issue = SyncIssue.objects.filter(link__collaborator__account=account, pk=pk).first()
    if issue is None:
        raise Http404
    if issue.resolved_at is None:
        issue.resolved_at = timezone.now()
        issue.resolved_by = request.user  # type: ignore[assignment]
        issue.save(update_fields=["resolved_at", "resolved_by"])
        trail.record(request.user, Action.UPDATE, issue, account=account, request=request, seen=True)
    return redirect(reverse("agenda", args=[slug]) + "#issues")


@member_required
@require_POST
def agenda_feed(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Issue a new private iCalendar address for a collaborator (the old one stops), or revoke it."""
    account = policy.get_account_or_404(request.user, slug, Perm.MANAGE_AGENDA)
    person = _collaborator_or_404(account, pk)
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
    return _back(slug, person)


@member_required
@require_GET
def agenda_settings(request: HttpRequest, slug: str) -> HttpResponse:
    """The account's appointment types and each collaborator's working hours, for whoever manages
    the agenda (the client admin, the operator)."""
    account = policy.get_account_or_404(request.user, slug, Perm.MANAGE_AGENDA)
    kinds = AppointmentType.objects.filter(account=account).prefetch_related("collaborators").order_by("name")
    people = []
    for person in Collaborator.objects.filter(account=account, is_active=True).prefetch_related(
        "working_hours", "availability_exceptions"
    ):
        days = ranges_by_weekday(person.working_hours.all())
        summary = "; ".join(f"{Weekday(d).label[:3]}. {', '.join(r)}" for d, r in sorted(days.items()))
        upcoming = [e for e in person.availability_exceptions.all() if e.end_date >= timezone.now().date()]
        people.append({"person": person, "summary": summary, "exceptions": len(upcoming)})
    return render(request, "agenda/settings.html", {"account": account, "kinds": kinds, "people": people})


@member_required
def agenda_type(request: HttpRequest, slug: str, pk: int | None = None) -> HttpResponse:
    """Create or change an appointment type."""
    account = policy.get_account_or_404(request.user, slug, Perm.MANAGE_AGENDA)
    kind = None
    if pk is not None:
        kind = AppointmentType.objects.filter(account=account, pk=pk).first()
        if kind is None:
            raise Http404
    if request.method == "POST":
        form = AppointmentTypeForm(request.POST, instance=kind, account=account)
        if form.is_valid():
            saved = form.save()
            trail.record(
                request.user,
                Action.UPDATE if kind else Action.CREATE,
                saved,
                account=account,
                request=request,
            )
            messages.success(request, _("Appointment type “%(name)s” saved.") % {"name": saved.name})
            return redirect("agenda_settings", slug=slug)
        status = 400
    elif request.method == "GET":
        form = AppointmentTypeForm(instance=kind, account=account)
        status = 200
    else:
        return HttpResponseNotAllowed(["GET", "POST"])
    return render(
        request, "agenda/type_form.html", {"account": account, "form": form, "kind": kind}, status=status
    )


@member_required
def agenda_hours(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """A collaborator's weekly working hours and dated exceptions (leave, extra hours)."""
    account = policy.get_account_or_404(request.user, slug, Perm.MANAGE_AGENDA)
    person = _collaborator_or_404(account, pk)
    week_form = WeeklyHoursForm(collaborator=person, prefix="week")
    exception_form = AvailabilityExceptionForm(prefix="exc")
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "exception":
            exception_form = AvailabilityExceptionForm(
                request.POST, instance=AvailabilityException(collaborator=person), prefix="exc"
            )
            if exception_form.is_valid():
                made = exception_form.save()
                trail.record(request.user, Action.CREATE, made, account=account, request=request)
                messages.success(request, _("Exception added."))
                return redirect("agenda_hours", slug=slug, pk=person.pk)
        else:
            week_form = WeeklyHoursForm(request.POST, collaborator=person, prefix="week")
            if week_form.is_valid():
                count = week_form.save()
                trail.record(
                    request.user,
                    Action.UPDATE,
                    person,
                    account=account,
                    request=request,
                    working_ranges=count,
                )
                messages.success(request, _("Working hours of %(name)s saved.") % {"name": person})
                return redirect("agenda_hours", slug=slug, pk=person.pk)
        status = 400
    elif request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    today = timezone.now().astimezone(account.tz).date()
    return render(
        request,
        "agenda/hours.html",
        {
            "account": account,
            "person": person,
            "week_form": week_form,
            "exception_form": exception_form,
            "exceptions": person.availability_exceptions.filter(end_date__gte=today).order_by("start_date"),
        },
        status=status,
    )


@member_required
@require_POST
def agenda_exception_delete(request: HttpRequest, slug: str, pk: int, exception: int) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.MANAGE_AGENDA)
    person = _collaborator_or_404(account, pk)
    row = AvailabilityException.objects.filter(collaborator=person, pk=exception).first()
    if row is None:
        raise Http404
    trail.record(request.user, Action.DELETE, row, account=account, request=request)
    row.delete()
    messages.success(request, _("Exception removed."))
    return redirect("agenda_hours", slug=slug, pk=person.pk)
