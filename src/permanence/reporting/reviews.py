"""Supervisors' reviews of calls with the scorecard (``scorecard.py``): the week's sample to review, a
review written (validated, audited), and the scores per secretary for the reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from permanence import policy
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.calls.models import Call
from permanence.reporting import scorecard
from permanence.reporting.models import CallReview

PER_SECRETARY = 3
CRITERION_LABELS: dict[str, Any] = {
    "greeting": gettext_lazy("Greeting (the client's words, tone)"),
    "identification": gettext_lazy("Caller identified (name, number, spelling checked)"),
    "scenario": gettext_lazy("Scenario followed (the right questions, the right outcome)"),
    "message": gettext_lazy("Message complete and exact"),
    "courtesy": gettext_lazy("Courtesy and close"),
}
RATING_LABELS: dict[int, Any] = {
    0: pgettext_lazy("rating", "missed"), 1: pgettext_lazy("rating", "partly"),
    2: pgettext_lazy("rating", "done"),
}


def reviewable(user: Any) -> Any:
    """The real answered calls of the accounts within the user's reach."""
    return Call.objects.filter(account__in=policy.visible_accounts(user), training=False,
                               secretary__isnull=False, answered_at__isnull=False)


def week_seed(day: date) -> str:
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


def sample(user: Any, start: datetime, end: datetime, *, per_secretary: int = PER_SECRETARY,
           seed: str | None = None) -> list[Call]:
    """The calls to review over [start, end): up to ``per_secretary`` of each secretary not yet reviewed,
    the same pick for every supervisor this week."""
    pairs = list(reviewable(user).filter(answered_at__gte=start, answered_at__lt=end, review__isnull=True)
                 .values_list("pk", "secretary_id"))
    picked = scorecard.sample(pairs, per_secretary, seed or week_seed(timezone.localdate()))
    return list(Call.objects.filter(pk__in=picked).select_related("account", "secretary")
                .order_by("secretary__username", "answered_at"))


def review(call: Call, ratings: dict[str, Any], comment: str = "", *, reviewer: Any,
           request: Any = None) -> CallReview:
    """Write (or rewrite) the call's scorecard; ValidationError for a call that cannot be reviewed or
    ratings that are not ones."""
    if call.training or call.secretary_id is None or call.answered_at is None:
        raise ValidationError(_("Only a real call answered by a secretary is reviewed."))
    if call.secretary_id == getattr(reviewer, "pk", None):
        raise ValidationError(_("A secretary does not review her own calls."))
    try:
        checked = scorecard.check({k: (int(v) if v not in (None, "") else None) for k, v in ratings.items()})
    except (TypeError, ValueError) as error:  # ScorecardError is a ValueError
        raise ValidationError(_("Rate each point 0, 1 or 2, or leave it out: %(error)s") % {"error": error}) \
            from None
    result = scorecard.score(checked)
    if result.out_of == 0:
        raise ValidationError(_("Rate at least one point."))
    comment = (comment or "").strip()[:2000]
    try:
        return _write(call, checked, result, comment, reviewer, request)
    except IntegrityError:  # another supervisor wrote the first review of this call at the same moment
        raise ValidationError(_("Another supervisor has just reviewed this call: open it again to see "
                                "that review.")) from None


def _write(call: Call, checked: dict[str, int | None], result: scorecard.Score, comment: str, reviewer: Any,
           request: Any) -> CallReview:
    with transaction.atomic():
        row = CallReview.objects.select_for_update().filter(call=call).first()
        before = None if row is None else {"ratings": row.ratings, "score": row.score, "comment": row.comment}
        row = row or CallReview(call=call, secretary_id=call.secretary_id)
        row.reviewer = reviewer if getattr(reviewer, "pk", None) else None
        row.ratings, row.score, row.failed = checked, result.percent, bool(result.failed_on)
        row.comment, row.at = comment, timezone.now()
        row.save()
        after = {"ratings": row.ratings, "score": row.score, "comment": row.comment}
        trail.record(reviewer, Action.CREATE if before is None else Action.UPDATE, row,
                     account=call.account_id, request=request, call=call.pk,
                     secretary=call.secretary_id, before=before, after=after)
    return row


def scores(start: datetime, end: datetime, *, secretary: Any = None,
           account: Any = None) -> dict[int, scorecard.Summary]:
    """Per secretary (her id), the reviews of her calls answered in [start, end), summarised."""
    rows = CallReview.objects.filter(call__answered_at__gte=start, call__answered_at__lt=end)
    if secretary is not None:
        rows = rows.filter(secretary=secretary)
    if account is not None:
        rows = rows.filter(call__account=account)
    by_secretary: dict[int, list[scorecard.Score]] = {}
    for secretary_id, ratings in rows.values_list("secretary_id", "ratings"):
        by_secretary.setdefault(secretary_id, []).append(scorecard.score(ratings))
    return {person: scorecard.summarise(found) for person, found in by_secretary.items()}
