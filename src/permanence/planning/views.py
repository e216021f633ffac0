"""The staffing page: next weeks' calls forecast from the history and the secretaries needed per
interval (Erlang C, or Erlang A with a patience), for one account or all of them; CSV export."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from permanence import policy
from permanence.accounts.models import Account
from permanence.planning import erlang, plans
from permanence.planning.weekplan import INTERVALS, MIN_PATIENCE, week_allowed
from permanence.policy import Perm
from permanence.portal.access import member_required
from permanence.reporting import charts, rollups


def _number(request: HttpRequest, name: str, default: float, low: float, high: float) -> float:
    raw = request.GET.get(name, "").strip().replace(",", ".")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(name) from None
    if not low <= value <= high:
        raise ValueError(name)
    return value


def _targets(request: HttpRequest) -> tuple[plans.Targets, list[str]]:
    problems = []
    values: dict[str, Any] = {}
    for key, name, default, low, high, label in (
        ("service_level", "sl", 80, 1, 99, _("Service level: a percentage from 1 to 99.")),
        ("seconds", "seconds", 20, 0, 600, _("Answered within: 0 to 600 seconds.")),
        ("shrinkage", "shrinkage", 30, 0, 90, _("Shrinkage: a percentage from 0 to 90.")),
    ):
        try:
            values[key] = _number(request, name, default, low, high)
        except ValueError:
            problems.append(label)
            values[key] = default
    try:
        patience = _number(request, "patience", 0, 0, 3600)
        if 0 < patience < MIN_PATIENCE:
            raise ValueError("patience")
    except ValueError:
        problems.append(_("Patience: 5 to 3600 seconds (empty: nobody hangs up, Erlang C)."))
        patience = 0
    try:
        minutes = int(request.GET.get("interval") or 30)
        if minutes not in INTERVALS:
            raise ValueError
    except ValueError:
        problems.append(_("Intervals of 15, 30 or 60 minutes."))
        minutes = 30
    targets = plans.Targets(
        service_level=values["service_level"] / 100,
        seconds=values["seconds"],
        shrinkage=values["shrinkage"] / 100,
        patience=patience or None,
        interval_minutes=minutes,
    )
    return targets, problems


@member_required
@require_GET
def staffing(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if not policy.has_perm(user, Perm.PLAN_STAFFING):
        raise PermissionDenied
    accounts = policy.visible_accounts(user).order_by("name")
    account: Account | None = None
    slug = request.GET.get("account", "")
    if slug:
        account = accounts.filter(slug=slug).first()
        if account is None:
            messages.error(request, _("No such account: all accounts are shown."))
    zone = account.tz if account else rollups.operator_zone()
    today = timezone.now().astimezone(zone).date()
    next_monday = today + timedelta(days=7 - today.weekday())
    targets, problems = _targets(request)
    week = next_monday
    if request.GET.get("week"):
        try:
            week = date.fromisoformat(request.GET["week"])
        except ValueError:
            problems.append(_("Dates are written 2026-12-31."))
            week = next_monday
        if not week_allowed(week, today):
            problems.append(_("Plan a week from this one up to twelve weeks ahead."))
            week = next_monday
    for problem in problems:
        messages.error(request, problem)
    try:
        plan = plans.make(account, week, targets, today)
    except erlang.StaffingError as exc:
        messages.error(request, str(exc))
        plan = plans.make(account, week, plans.Targets(), today)
    if request.GET.get("format") == "csv":
        return _csv(plan)
    bars = []
    for interval in plan.intervals:
        local = interval.start.astimezone(plan.zone)
        label = formats.date_format(local, "D j") if local.hour == 0 and local.minute == 0 else ""
        title = _("%(when)s: %(calls).1f calls, %(agents)d on the phones, %(scheduled)d scheduled") % {
            "when": formats.date_format(local, "l H:i"),
            "calls": interval.calls,
            "agents": interval.agents,
            "scheduled": interval.scheduled,
        }
        bars.append((label, float(interval.agents), title))
    days = []
    for day, intervals in plan.days():
        busy = [i for i in intervals if i.calls > 0]
        days.append(
            {
                "day": day,
                "holiday": day in plan.holidays,
                "calls": sum(i.calls for i in intervals),
                "peak": max((i.agents for i in intervals), default=0),
                "hours": sum(i.scheduled for i in intervals) * targets.interval_minutes / 60,
                "intervals": busy,
            }
        )
    query = request.GET.copy()
    query["format"] = "csv"
    return render(
        request,
        "planning/staffing.html",
        {
            "plan": plan,
            "accounts": accounts,
            "account": account,
            "targets": targets,
            "sl_percent": round(targets.service_level * 100),
            "shrinkage_percent": round(targets.shrinkage * 100),
            "intervals": INTERVALS,
            "chart": charts.bar_chart(bars, _("Secretaries on the phones per interval")),
            "days": days,
            "csv_query": query.urlencode(),
            "week_end": plan.week + timedelta(days=6),
        },
    )


def _csv(plan: plans.Plan) -> HttpResponse:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";")
    writer.writerow(
        [
            _("Start"),
            _("Calls forecast"),
            _("On the phones"),
            _("Scheduled"),
            _("Service level"),
            _("Occupancy"),
        ]
    )
    for interval in plan.intervals:
        writer.writerow(
            [
                interval.start.astimezone(plan.zone).strftime("%Y-%m-%d %H:%M"),
                f"{interval.calls:.2f}",
                interval.agents,
                interval.scheduled,
                "" if interval.service_level is None else f"{interval.service_level:.3f}",
                "" if interval.occupancy is None else f"{interval.occupancy:.3f}",
            ]
        )
    name = f"effectifs-{plan.account.slug if plan.account else 'tous'}-{plan.week}"
    response = HttpResponse("\ufeff" + text.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response
