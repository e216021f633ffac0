"""Voicemails: what a caller leaves after the beep, on the desk until it is handled, then deleted at the
end of the account's retention period.

- ``left``: the call control stores a recording (after hours, or at the maximum wait with the voicemail
  fallback); it is on the desk of the secretaries trained on the account from the reopening (at once if
  the account is open), due ``Account.voicemail_due_minutes`` later.
- ``close``: handled only by a message taken from it (the message is linked) or by a call-back.
- the worker deletes the recordings past ``Account.voicemail_retention_days`` (``retention``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from permanence import policy
from permanence.accounts.models import Account
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.calls import recordings
from permanence.calls.models import Call, Voicemail
from permanence.policy import Perm

log = logging.getLogger(__name__)


class VoicemailError(Exception):
    """A voicemail action that cannot be done, with a sentence for the page."""


def times(account: Account, at: datetime) -> tuple[datetime, datetime]:
    """When a voicemail left at ``at`` shows on the desk (the reopening, or at once if the account is
    open) and when it is due (``voicemail_due_minutes`` later)."""
    opening = account.opening_status(at)
    shown = at if opening.is_open or opening.next_open is None else max(at, opening.next_open)
    return shown, shown + timedelta(minutes=account.voicemail_due_minutes)


def left(call_id: int, wav: bytes, seconds: float, ended: str, at: datetime | None = None) -> Voicemail:
    """Store what the caller said (a WAV file) with the call."""
    if ended not in Voicemail.Ended.values:
        raise VoicemailError(f"unknown end of recording {ended!r}")
    at = at or timezone.now()
    call = Call.objects.select_related("account").get(pk=call_id)
    shown, due = times(call.account, at)
    voicemail = Voicemail(call=call, account=call.account, caller=call.caller, seconds=round(seconds, 2),
                          ended=ended, recorded_at=at, shown_from=shown, due_at=due)  # fmt: skip
    return recordings.save_with_audio(voicemail, "voicemail.wav", wav)


def pending(user: Any, now: datetime | None = None) -> QuerySet[Voicemail]:
    """The voicemails on this secretary's desk: accounts she is trained on, shown by now, not handled;
    oldest first."""
    now = now or timezone.now()
    return (
        Voicemail.objects.filter(
            closed_at__isnull=True, shown_from__lte=now, account__in=policy.visible_accounts(user)
        )
        .select_related("account")
        .order_by("recorded_at", "pk")
    )


def for_desk(user: Any, pk: int) -> Voicemail:
    """A voicemail of an account within the secretary's reach (else ``Voicemail.DoesNotExist``)."""
    if not policy.has_perm(user, Perm.USE_DESK):
        raise Voicemail.DoesNotExist
    return Voicemail.objects.select_related("account", "call", "message").get(
        pk=pk, account__in=policy.visible_accounts(user)
    )


def in_portal(user: Any, account: Account) -> bool:
    """May the user listen to the account's voicemails in the portal? The operator's staff who see the
    account's messages, always; the client's users when the account wants it."""
    if not policy.allowed(user, Perm.VIEW_MESSAGES, account):
        return False
    return account.voicemail_in_portal or policy.has_perm(user, Perm.USE_DESK)


def close(
    voicemail_id: int, user: Any, how: str, message: Any = None, now: datetime | None = None
) -> Voicemail:
    """Handled: a message taken from it (``message``), or the caller called back."""
    if how not in Voicemail.Closed.values:
        raise VoicemailError(f"a voicemail is handled by a message or a call-back, not {how!r}")
    if how == Voicemail.Closed.MESSAGE and message is None:
        raise VoicemailError("a voicemail handled by a message needs the message")
    with transaction.atomic():
        voicemail = Voicemail.objects.select_for_update().get(pk=voicemail_id)
        if voicemail.closed_at is not None:
            raise VoicemailError("This voicemail was already handled.")
        voicemail.closed_at, voicemail.closed_by, voicemail.closed_how = now or timezone.now(), user, how
        voicemail.message = message
        voicemail.save(update_fields=["closed_at", "closed_by", "closed_how", "message"])
        trail.record(user, Action.UPDATE, voicemail, handled=how, message=message.pk if message else None)
    return voicemail


def heard(user: Any, voicemail: Voicemail, request: Any = None) -> None:
    """Each play or download is written to the audit trail."""
    trail.record(user, Action.VIEW, voicemail, request=request, what="recording")
