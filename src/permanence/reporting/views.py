"""Report pages: an account's figures (its client's portal and the operator), the operator's overview
of every account and secretary; CSV and XLSX exports; a monthly PDF. Figures come from the rollups
only (``rollups.read``, summed by the database, the histograms as far as the report's settings read
them), never from the raw calls."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from permanence import policy
from permanence.accounts.models import client_language
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.messaging import quality, surveys
from permanence.messaging.models import MessageFlag, Survey
from permanence.policy import Perm
from permanence.portal.access import member_required
from permanence.reporting import charts, kpis, reviews, rollups
from permanence.users.models import Role, User

MAX_DAYS = 400
MAX_INTERVALS = 3000
GRAIN_LABELS = {"15min": "15 min", "30min": "30 min", "60min": "1 h", "day": "jour", "month": "mois"}


@dataclass
class Period:
    first: date
    last: date  # inclusive
    grain: kpis.Grain
    settings: kpis.Settings

    def bounds(self, zone: tzinfo) -> tuple[datetime, datetime]:
        return (
            datetime.combine(self.first, time(0), tzinfo=zone),
            datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=zone),
        )


def _period(request: HttpRequest, zone: tzinfo) -> Period:
    """The period and settings asked for; what cannot be read falls back to the default, said."""
    today = timezone.now().astimezone(zone).date()
    problems = []
    first, last = today.replace(day=1), today
    try:
        if request.GET.get("from"):
            first = date.fromisoformat(request.GET["from"])
        if request.GET.get("to"):
            last = date.fromisoformat(request.GET["to"])
    except ValueError:
        problems.append(_("Dates are written 2026-12-31."))
        first, last = today.replace(day=1), today
    if last < first:
        problems.append(_("The end is before the start: the two were swapped."))
        first, last = last, first
    if (last - first).days >= MAX_DAYS:
        problems.append(_("At most %(days)s days at once.") % {"days": MAX_DAYS})
        first = last - timedelta(days=MAX_DAYS - 1)
    grain = request.GET.get("grain", "day")
    if grain not in kpis.GRAINS:
        problems.append(_("Unknown interval: by day."))
        grain = "day"
    per_day = {"15min": 96, "30min": 48, "60min": 24, "day": 1, "month": 1 / 28}[grain]
    if ((last - first).days + 1) * per_day > MAX_INTERVALS:
        problems.append(_("Too many intervals for this period: by day."))
        grain = "day"
    try:
        threshold = float(request.GET.get("threshold", "20"))
        variant = request.GET.get("variant", "offered")
        settings = kpis.Settings(threshold_seconds=threshold, variant=variant)  # type: ignore[arg-type]
    except (ValueError, kpis.KpiError):
        problems.append(_("The threshold is a multiple of 5 seconds up to 600; the variant one of the list."))
        settings = kpis.Settings()
    for problem in problems:
        messages.warning(request, problem)
    return Period(first, last, grain, settings)  # type: ignore[arg-type]


def _columns() -> list[tuple[str, str]]:
    return [
        ("offered", _("Offered (in hours)")),
        ("out_of_hours", _("Out of hours")),
        ("not_in_service", _("Not in service")),
        ("answered", _("Answered")),
        ("abandoned", _("Abandoned")),
        ("short_abandoned", _("Short abandons")),
        ("diverted", _("Diverted (maximum wait)")),
        ("service_level", _("Service level")),
        ("asa_seconds", _("ASA (s)")),
        ("average_wait_seconds", _("Average wait (s)")),
        ("longest_wait_seconds", _("Longest wait (s)")),
        ("aht_seconds", _("AHT (s)")),
        ("transfer_rate", _("Transfer rate")),
        ("first_call_resolution", _("First-call resolution")),
        ("occupancy", _("Occupancy")),
        ("messages_sent", _("Messages")),
        ("messages_acknowledged", _("Acknowledged")),
    ]


SHARES = {"service_level", "transfer_rate", "first_call_resolution", "abandon_rate", "occupancy"}


def _values(indicators: kpis.Indicators) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, _label in _columns():
        value = getattr(indicators, name)
        if value is not None and name not in SHARES and isinstance(value, float):
            value = round(value, 1)
        out[name] = value
    return out


def _table(
    series: dict[datetime, kpis.Figures], settings: kpis.Settings, zone: tzinfo, grain: str
) -> list[dict[str, Any]]:
    rows = []
    for start in sorted(series):
        label = start.astimezone(zone).strftime(
            "%Y-%m-%d" if grain == "day" else "%Y-%m" if grain == "month" else "%Y-%m-%d %H:%M"
        )
        rows.append({"label": label, **_values(kpis.indicators(series[start], settings))})
    return rows


def _chart(
    series: dict[datetime, kpis.Figures], settings: kpis.Settings, zone: tzinfo, grain: str, name: str
) -> str:
    points = []
    for start in sorted(series):
        ind = kpis.indicators(series[start], settings)
        local = start.astimezone(zone)
        label = local.strftime("%d/%m" if grain == "day" else "%m/%Y" if grain == "month" else "%H:%M")
        level = "—" if ind.service_level is None else f"{ind.service_level:.0%}"
        points.append(
            charts.Point(
                label,
                ind.answered,
                ind.abandoned + ind.short_abandoned,
                ind.service_level,
                _("%(when)s: %(answered)s answered, %(abandoned)s abandoned, service level %(level)s")
                % {
                    "when": local.strftime("%d/%m %H:%M"),
                    "answered": ind.answered,
                    "abandoned": ind.abandoned + ind.short_abandoned,
                    "level": level,
                }
                + (_(", %(diverted)s diverted") % {"diverted": ind.diverted} if ind.diverted else ""),
                diverted=ind.diverted,
            )
        )
    return charts.volume_chart(points, _("Calls per interval for %(name)s") % {"name": name})


def _export(rows: list[dict[str, Any]], name: str, fmt: str, first_label: str) -> HttpResponse:
    header = [first_label, *(label for _key, label in _columns())]
    keys = ["label", *(key for key, _label in _columns())]
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.title = name[:31]
        sheet.append(header)
        for row in rows:
            sheet.append([row[k] for k in keys])
        buffer = io.BytesIO()
        book.save(buffer)
        response = HttpResponse(
            buffer.getvalue(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        return response
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if row[k] is None else row[k] for k in keys])
    response = HttpResponse("\ufeff" + text.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


@member_required
@require_GET
def account_report(request: HttpRequest, slug: str) -> HttpResponse:
    """An account's figures over a period, per interval, with a chart; CSV or XLSX on demand."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_REPORTS)
    zone = account.tz
    period = _period(request, zone)
    start, end = period.bounds(zone)
    series = rollups.read("account", account.pk, period.grain, start, end, zone, period.settings)
    rows = _table(series, period.settings, zone, period.grain)
    trail.record(
        request.user,
        Action.EXPORT if request.GET.get("format") else Action.VIEW,
        account=account,
        object_type="reporting.report",
        request=request,
        first=str(period.first),
        last=str(period.last),
    )
    fmt = request.GET.get("format", "")
    if fmt in ("csv", "xlsx"):
        return _export(rows, f"{account.slug}-{period.first}-{period.last}", fmt, _("Interval"))
    total = kpis.indicators(kpis.merge(series.values()), period.settings)
    flags = (MessageFlag.objects.filter(message__account=account, message__created__gte=start,
                                        message__created__lt=end)
             .select_related("message").order_by("-at")[:100])
    return render(
        request,
        "reporting/account.html",
        {
            "account": account,
            "errors": quality.error_rate(start, end, account=account),
            "flags": flags,
            "csat": surveys.csat(start, end, account=account) if account.csat_survey or
            Survey.objects.filter(account=account).exists() else None,
            "period": period,
            "total": _values(total),
            "columns": _columns(),
            "rows": rows,
            "chart": _chart(series, period.settings, zone, period.grain, account.name),
            "grains": list(GRAIN_LABELS.items()),
            "variants": _variants(),
            "query": request.GET.urlencode(),
        },
    )


def _variants() -> list[tuple[str, str]]:
    return [
        ("offered", _("over offered calls")),
        ("answered", _("over answered calls")),
        ("without_short_abandons", _("short abandons left out")),
        ("without_abandons_in_time", _("abandons within the threshold left out")),
    ]


OPERATOR_ROLES = (Role.OPERATOR_ADMIN, Role.TECHNICAL_ASSISTANT)


@member_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    """The operator's figures: all accounts together, each account, each secretary."""
    user: Any = request.user
    if not policy.has_perm(user, Perm.VIEW_REPORTS):
        raise PermissionDenied
    if user.role not in OPERATOR_ROLES:
        own = policy.visible_accounts(user).first()
        if own is None:
            raise PermissionDenied
        return redirect("account_report", slug=own.slug)
    zone = rollups.operator_zone()
    period = _period(request, zone)
    start, end = period.bounds(zone)
    series = rollups.read("total", None, period.grain, start, end, zone, period.settings)
    # each list read at once (the rollups, error rates and answers of every account or secretary), not
    # per row
    listed = list(policy.visible_accounts(user).order_by("name"))
    by_account = rollups.totals("account", [a.pk for a in listed], start, end, period.settings)
    account_errors = quality.error_rates(start, end, by="account")
    account_csat = surveys.csat_by_account(start, end)
    accounts = []
    for account in listed:
        figures = by_account[account.pk]
        if figures.offered or figures.messages_sent:
            accounts.append({"account": account, **_values(kpis.indicators(figures, period.settings)),
                             "errors": account_errors.get(account.pk, quality.ErrorRate(0, 0)),
                             "csat": account_csat.get(account.pk) or kpis.csat([])})
    people = []
    scores = reviews.scores(start, end)
    secretaries = list(User.objects.filter(role=Role.SECRETARY).order_by("last_name", "first_name",
                                                                         "username"))
    by_secretary = rollups.totals("secretary", [p.pk for p in secretaries], start, end, period.settings)
    author_errors = quality.error_rates(start, end, by="author")
    for person in secretaries:
        figures = by_secretary[person.pk]
        if figures.answered:
            people.append({"person": person, **_values(kpis.indicators(figures, period.settings)),
                           "errors": author_errors.get(person.pk, quality.ErrorRate(0, 0)),
                           "quality": scores.get(person.pk)})
    trail.record(user, Action.VIEW, object_type="reporting.report", request=request, scope="operator")
    if request.GET.get("format") in ("csv", "xlsx"):
        rows = [{"label": row["account"].name, **row} for row in accounts]
        return _export(rows, f"comptes-{period.first}-{period.last}", request.GET["format"], _("Account"))
    return render(
        request,
        "reporting/overview.html",
        {
            "period": period,
            "total": _values(kpis.indicators(kpis.merge(series.values()), period.settings)),
            "chart": _chart(series, period.settings, zone, period.grain, _("all accounts")),
            "columns": _columns(),
            "accounts": accounts,
            "people": people,
            "grains": list(GRAIN_LABELS.items()),
            "variants": _variants(),
            "query": request.GET.urlencode(),
        },
    )


@member_required
@require_GET
def monthly_pdf(request: HttpRequest, slug: str) -> HttpResponse:
    """The client's monthly report as a PDF: the month's figures, a chart per day, the days' table."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_REPORTS)
    zone = account.tz
    today = timezone.now().astimezone(zone).date()
    try:
        year, month = (int(part) for part in request.GET.get("month", "").split("-"))
        first = date(year, month, 1)
    except ValueError:
        first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)  # last month
    following = (first + timedelta(days=32)).replace(day=1)
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(following, time(0), tzinfo=zone)
    series = rollups.read("account", account.pk, "day", start, end, zone, kpis.Settings())
    from permanence.reporting import pdf

    with translation.override(client_language(account)):  # the client's document: in its language
        document = pdf.monthly(account, first, series, kpis.Settings(), _columns())
    trail.record(
        request.user,
        Action.EXPORT,
        account=account,
        object_type="reporting.report",
        request=request,
        month=first.strftime("%Y-%m"),
    )
    response = HttpResponse(document, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{account.slug}-{first:%Y-%m}.pdf"'
    return response
