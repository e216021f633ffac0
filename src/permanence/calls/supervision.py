"""The operator's live view: the calls waiting, in the order the routing will serve them, with an
estimated wait, and every secretary's status. Refreshed every few seconds (HTMX)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from permanence import policy
from permanence.accounts.phones import display
from permanence.calls import monitoring, services
from permanence.calls.lifecycle import State
from permanence.calls.models import Call, Desk, DeskStatus, Supervision
from permanence.policy import Perm
from permanence.portal.access import member_required
from permanence.users.models import Role, Training, User

DEFAULT_HANDLE_SECONDS = 180.0


def _handle_seconds() -> dict[int, float]:
    """Each account's mean handle time today (from the rollups), to estimate waits."""
    from datetime import datetime, time, timedelta

    from permanence.reporting import kpis, rollups

    zone = rollups.operator_zone()
    start = datetime.combine(timezone.now().astimezone(zone).date(), time(0), tzinfo=zone)
    out = {}
    for key, figures in rollups.totals("account", None, start, start + timedelta(days=2)).items():
        aht = kpis.indicators(figures).aht_seconds
        if aht:
            out[int(key)] = aht
    return out


@member_required
@require_POST
def supervise_call(request: HttpRequest, pk: int) -> HttpResponse:
    """Listen to a secretary's call, whisper to her, barge in, or stop (``mode`` "stop"): the call
    control rings the supervisor's phone (real telephony)."""
    if not policy.has_perm(request.user, Perm.SUPERVISE):
        raise PermissionDenied
    mode = request.POST.get("mode", "")
    try:
        reach = policy.visible_accounts(request.user)
        call = Call.objects.select_related("account").get(pk=pk, account__in=reach)
    except Call.DoesNotExist:
        raise Http404 from None
    try:
        if mode == "stop":
            mine = Supervision.objects.filter(call=call, ended_at__isnull=True, supervisor=request.user)
            current = mine.first()
            if current is not None:
                monitoring.stop(current.pk, request.user, "stopped", request)
        else:
            monitoring.start(call.pk, request.user, mode, request)
    except monitoring.MonitoringError as exc:
        messages.error(request, str(exc))
    except Call.DoesNotExist:
        raise Http404 from None
    return redirect("supervision")


@member_required
@require_GET
def supervision(request: HttpRequest) -> HttpResponse:
    if not policy.has_perm(request.user, Perm.SUPERVISE):
        raise PermissionDenied
    now = timezone.now()
    rows = services.waiting_calls()
    desks = list(Desk.objects.select_related("secretary").filter(secretary__role=Role.SECRETARY))
    present_by_account: Counter[int] = Counter()
    present = {d.secretary_id for d in desks if d.status in services.PRESENT}
    for account_id in Training.objects.filter(secretary_id__in=present).values_list("account_id", flat=True):
        present_by_account[account_id] += 1
    handle = _handle_seconds()
    by_id = {c.pk: c for c in rows}
    ahead: Counter[int] = Counter()
    waiting: list[dict[str, Any]] = []
    router = services.load_router(rows, now) if rows else None
    for position, item in enumerate(router.queue(now) if router else [], start=1):
        call = by_id[item.id]
        staff = present_by_account[call.account_id]
        ahead[call.account_id] += 1
        expected = (
            ahead[call.account_id] * handle.get(call.account_id, DEFAULT_HANDLE_SECONDS) / staff
            if staff
            else None
        )
        waiting.append(
            {
                "position": position,
                "call": call,
                "caller": display(call.caller) if call.caller else "",
                "vip": item.priority >= 2,
                "waited": int((now - (call.arrived_at or now)).total_seconds()),
                "expected": None if expected is None else int(expected),
                "staff": staff,
            }
        )
    on_call = {
        c.secretary_id: c
        for c in Call.objects.filter(
            state__in=(State.TALKING, State.ON_HOLD, State.TRANSFERRING, State.WRAP_UP)
        )
        .select_related("account")
        .only("pk", "secretary_id", "account__name", "answered_at", "state")
    }
    watching = {s.call_id: s for s in Supervision.objects.filter(call_id__in=[c.pk for c in on_call.values()],
                                                                 ended_at__isnull=True)}  # fmt: skip
    people = [
        {
            "desk": d,
            "since": int((now - d.since).total_seconds()),
            "call": on_call.get(d.secretary_id),
            "watch": watching.get(on_call[d.secretary_id].pk) if d.secretary_id in on_call else None,
        }
        for d in sorted(desks, key=lambda d: (d.status == DeskStatus.OFFLINE, str(d.secretary)))
    ]
    counts = Counter(d.status for d in desks)
    context = {
        "waiting": waiting,
        "people": people,
        "counts": {status.value: counts.get(status.value, 0) for status in DeskStatus},
        "longest": max((w["waited"] for w in waiting), default=0),
        "secretaries": User.objects.filter(role=Role.SECRETARY, is_active=True).count(),
        "modes": Supervision.Mode.choices,
        "real_telephony": settings.TELEPHONY == "sip",
    }
    template = "desk/_supervision.html" if request.htmx else "desk/supervision.html"  # type: ignore[attr-defined]
    return render(request, template, context)
