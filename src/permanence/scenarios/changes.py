"""What changes in an account's scenario, shown to each secretary trained on it at the desk.

A version approved for later (``publish_at``) is announced from its approval; a version put in
service within ``RECENT`` is announced too. Each secretary sees the banner on her first call of the
account after that (it stays during that call, with a link to the visual diff), not on the next;
the scenario's page counts who has seen it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from permanence.accounts.instructions import new_on_call
from permanence.scenarios.models import MAIN_ENTRY, ScenarioVersion, Status, VersionReading
from permanence.users.models import Training

RECENT = timedelta(days=14)


@dataclass(frozen=True)
class Change:
    version: ScenarioVersion
    previous: ScenarioVersion | None  # the version it replaces, for the diff
    upcoming: bool  # approved, in service at ``version.publish_at``


def _previous(version: ScenarioVersion) -> ScenarioVersion | None:
    return (ScenarioVersion.objects.filter(scenario=version.scenario, number__lt=version.number,
                                           status__in=(Status.PUBLISHED, Status.RETIRED))
            .order_by("-number").first())


def pending(account: Any, now: datetime | None = None) -> list[ScenarioVersion]:
    """The versions of the account's main scenario to announce: approved for later, or just published."""
    now = now or timezone.now()
    return list(
        ScenarioVersion.objects.filter(scenario__account=account, scenario__entry=MAIN_ENTRY)
        .filter(Q(status=Status.APPROVED, publish_at__isnull=False)
                | Q(status=Status.PUBLISHED, published_at__gte=now - RECENT))
        .select_related("scenario").order_by("number")
    )


def for_desk(account: Any, user: Any, call_id: int, now: datetime | None = None) -> list[Change]:
    """The changes new to this secretary on this call (recorded as seen)."""
    now = now or timezone.now()
    shown = []
    for version in pending(account, now):
        if version.status == Status.PUBLISHED and _previous(version) is None:
            continue  # the account's first scenario: nothing changed
        mine = VersionReading.objects.filter(version=version, user=user)
        if not new_on_call(mine, call_id, now, version=version, user=user):
            continue
        shown.append(Change(version, _previous(version), version.status == Status.APPROVED))
    return shown


def seen_by(version: ScenarioVersion) -> tuple[int, int]:
    """(how many of the secretaries trained on the account saw the change, how many there are)."""
    trained = set(Training.objects.filter(account_id=version.scenario.account_id)
                  .values_list("secretary_id", flat=True))
    seen = set(VersionReading.objects.filter(version=version).values_list("user_id", flat=True))
    return len(trained & seen), len(trained)
