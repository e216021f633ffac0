"""Recordings past their account's retention period are deleted by the worker (the ``retention``
loop): voicemails (``Account.voicemail_retention_days``) and call recordings
(``Account.recording_retention_days``). Each deletion is written to the audit trail; the row stays as
the call's record, with ``purged_at``.

Safe to run twice at once: the file goes first (a missing one is fine), then the row is marked by one
run only, which alone writes the audit event. A legal hold (``privacy.holds``) keeps what it covers: the
whole account's recordings, or a caller's."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import models, transaction
from django.utils import timezone

from permanence.accounts.models import Account
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.calls.models import CallRecording, Voicemail

log = logging.getLogger(__name__)
LIMIT = 500  # files deleted per turn and kind (the next turn goes on)


def purge_voicemails(now: datetime | None = None, limit: int = LIMIT) -> int:
    return _purge(Voicemail, "voicemails", "voicemail_retention_days", "recorded_at", now, limit)


def purge_recordings(now: datetime | None = None, limit: int = LIMIT) -> int:
    return _purge(CallRecording, "recordings", "recording_retention_days", "started_at", now, limit)


def _purge(model: type[models.Model], related: str, days_field: str, when: str, now: datetime | None,
           limit: int) -> int:  # fmt: skip
    from permanence.privacy import holds

    now = now or timezone.now()
    done = 0
    accounts = Account.objects.filter(**{f"{related}__purged_at__isnull": True}).distinct()
    for account_id, days in accounts.values_list("pk", days_field):
        whole, held = holds.for_account(account_id)
        if whole:
            continue
        due = model.objects.filter(  # type: ignore[attr-defined]
            account_id=account_id, purged_at__isnull=True, **{f"{when}__lt": now - timedelta(days=days)}
        )
        if held is not None:
            due = due.exclude(pk__in=getattr(held, related)().values("pk"))
        for row in due.order_by(when)[: max(0, limit - done)]:
            name = row.audio.name
            if name:
                row.audio.storage.delete(name)
            with transaction.atomic():
                marked = model.objects.filter(pk=row.pk, purged_at__isnull=True).update(  # type: ignore[attr-defined]
                    purged_at=now, audio=""
                )
                if marked:
                    trail.record(None, Action.DELETE, row, reason="retention", days=days, file=name)
                    done += 1
        if done >= limit:
            break
    if done:
        log.info("%d %s past their retention period deleted", done, related)
    return done
