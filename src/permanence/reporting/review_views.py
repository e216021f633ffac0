"""Supervisors review a sample of each secretary's calls with the scorecard: the call as it went (the
scenario's path and answers, the message it produced, the recording when there is one) and the grid."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from permanence import policy
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.calls.models import Call, CallRecording
from permanence.messaging import sensitive
from permanence.messaging.models import Message
from permanence.policy import Perm
from permanence.portal.access import member_required
from permanence.reporting import reviews, rollups, scorecard
from permanence.reporting.models import CallReview
from permanence.scenarios import live
from permanence.users.models import User


def _supervisor(request: HttpRequest) -> Any:
    if not policy.has_perm(request.user, Perm.SUPERVISE):
        raise PermissionDenied
    return request.user


@member_required
@require_GET
def review_list(request: HttpRequest) -> HttpResponse:
    """This week's sample of calls to review, the reviews done over the last days, scores by secretary."""
    user = _supervisor(request)
    zone = rollups.operator_zone()
    today = timezone.now().astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())  # the sample is the week's (seeded by the ISO week)
    start = datetime.combine(monday, time(0), tzinfo=zone)
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=zone)
    done = (CallReview.objects.filter(call__in=reviews.reviewable(user), call__answered_at__gte=start)
            .select_related("call__account", "secretary", "reviewer").order_by("-at")[:100])
    summaries = reviews.scores(start, end)
    people = User.objects.filter(pk__in=summaries).order_by("last_name", "first_name", "username")
    return render(request, "reporting/reviews.html", {
        "to_review": reviews.sample(user, start, end, seed=reviews.week_seed(today)),
        "done": done,
        "people": [{"person": p, "summary": summaries[p.pk]} for p in people],
        "first": start.date(), "last": today, "per_secretary": reviews.PER_SECRETARY,
    })


def _sensitive_names(call: Call, call_messages: list[Message]) -> set[str]:
    """The call's answers that are sensitive: the fields its scenario marks, those the account names, and
    those its messages keep as such."""
    names = set(call.account.sensitive_field_list())
    if call.run is not None:
        fields = live.for_version(call.run.version).scenario.fields
        names |= {name for name, f in fields.items() if f.sensitive}
    for message in call_messages:
        names |= set(sensitive.marked(message.fields))
    return names


def _call_context(request: HttpRequest, call: Call) -> dict[str, Any]:
    """The call as it went. Its sensitive answers (health, legal) are shown to those who may read them
    (``Perm.READ_SENSITIVE`` on the account: one audit row each time), masked for the others."""
    state = call.run.state if call.run is not None and isinstance(call.run.state, dict) else {}
    path = state.get("path") if isinstance(state.get("path"), list) else []
    answers = state.get("answers") if isinstance(state.get("answers"), dict) else {}
    call_messages = list(Message.objects.filter(call=call, parent__isnull=True).order_by("created"))
    hidden = _sensitive_names(call, call_messages) & {str(k) for k in answers}
    shown = policy.allowed(request.user, Perm.READ_SENSITIVE, call.account)
    given = {name for name in hidden if answers.get(name) not in (None, "")}
    if shown and given:
        trail.record(request.user, Action.VIEW, call, account=call.account_id, request=request,
                     what="sensitive fields", fields=sorted(given))
    rows = []
    for key, value in answers.items():
        masked = str(key) in hidden and not shown and value not in (None, "")
        rows.append((str(key), _("Sensitive: not shown") if masked else "" if value is None else str(value),
                     masked))
    return {
        "call": call,
        "path": [str(step) for step in path],
        "answers": sorted(rows),
        "call_messages": call_messages,
        "recordings": list(CallRecording.objects.filter(call=call, purged_at__isnull=True).exclude(audio="")),
    }


def _typed(value: Any) -> str:
    return "" if value is None else str(value)


@member_required
@require_http_methods(["GET", "POST"])
def review_call(request: HttpRequest, pk: int) -> HttpResponse:
    user = _supervisor(request)
    call = reviews.reviewable(user).select_related("account", "secretary", "run").filter(pk=pk).first()
    if call is None:
        raise Http404
    existing = CallReview.objects.filter(call=call).first()
    ratings: dict[str, Any] = dict(existing.ratings) if existing else {}
    comment = existing.comment if existing else ""
    error = ""
    status = 200
    if request.method == "POST":
        ratings = {c.code: request.POST.get(c.code, "") for c in scorecard.CRITERIA}
        comment = request.POST.get("comment", "")
        try:
            reviews.review(call, ratings, comment, reviewer=user, request=request)
        except ValidationError as refused:
            error = " ".join(refused.messages)
            status = 422
        else:
            messages.success(request, _("The review is saved: the secretary sees it on her desk."))
            return redirect("reviews")
    else:
        trail.record(user, Action.VIEW, call, account=call.account_id, request=request, purpose="review")
    return render(request, "reporting/review.html", {
        **_call_context(request, call),
        "existing": existing,
        "criteria": [{"code": c.code, "label": reviews.CRITERION_LABELS[c.code], "weight": c.weight,
                      "critical": c.critical, "value": _typed(ratings.get(c.code))}
                     for c in scorecard.CRITERIA],
        "rating_labels": sorted(reviews.RATING_LABELS.items()),
        "comment": comment,
        "error": error,
    }, status=status)
