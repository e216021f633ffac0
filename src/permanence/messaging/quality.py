"""The quality loop: a client flags a message as wrong, with a reason; the secretary who took it and
her supervisors see it, and it counts in the error rates (per account, per secretary)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from permanence.audit import trail
from permanence.audit.models import Action
from permanence.messaging.models import FlagReason, Message, MessageFlag


def flag(message: Message, reason: str, text: str = "", *, actor: Any = None,
         request: Any = None) -> MessageFlag:
    """Flag ``message`` as wrong (once: a second flag is refused, the first says it)."""
    if reason not in FlagReason.values:
        raise ValidationError({"reason": _("Say what was wrong.")})
    if message.status == Message.Status.TRAINING or message.parent_id is not None:
        raise ValidationError(_("Only a message sent for a real call can be flagged."))
    text = " ".join((text or "").split())[:500]
    try:
        with transaction.atomic():
            row = MessageFlag.objects.create(message=message, reason=reason, text=text,
                                             by=actor if getattr(actor, "pk", None) else None)
            trail.record(actor, Action.CREATE, row, account=message.account_id, request=request,
                         message=message.pk, reason=reason, text=text, author=message.author_id)
    except IntegrityError:
        raise ValidationError(_("This message is flagged already.")) from None
    return row


@dataclass(frozen=True)
class ErrorRate:
    messages: int
    flagged: int

    @property
    def rate(self) -> float | None:
        return self.flagged / self.messages if self.messages else None


def error_rate(start: datetime, end: datetime, *, account: Any = None, author: Any = None) -> ErrorRate:
    """Messages of real calls written in [start, end) and how many of them were flagged."""
    rows = Message.objects.filter(parent__isnull=True, created__gte=start, created__lt=end).exclude(
        status=Message.Status.TRAINING)
    if account is not None:
        rows = rows.filter(account=account)
    if author is not None:
        rows = rows.filter(author=author)
    return ErrorRate(rows.count(), rows.filter(flags__isnull=False).distinct().count())


def error_rates(start: datetime, end: datetime, by: str) -> dict[int, ErrorRate]:
    """``error_rate`` of every account (``by="account"``) or author (``by="author"``) at once, by id: two
    queries for a whole list (those with no message are left out: ``ErrorRate(0, 0)``)."""
    rows = Message.objects.filter(parent__isnull=True, created__gte=start, created__lt=end).exclude(
        status=Message.Status.TRAINING).exclude(**{f"{by}__isnull": True})
    written = dict(rows.values_list(f"{by}_id").annotate(n=Count("pk")).values_list(f"{by}_id", "n"))
    flagged = dict(rows.filter(flags__isnull=False).values_list(f"{by}_id")
                   .annotate(n=Count("pk", distinct=True)).values_list(f"{by}_id", "n"))
    return {key: ErrorRate(total, flagged.get(key, 0)) for key, total in written.items()}


def flagged_for(author: Any, since: datetime) -> list[MessageFlag]:
    """The flags on the messages ``author`` wrote, newest first (her desk shows them)."""
    return list(MessageFlag.objects.filter(message__author=author, at__gte=since)
                .select_related("message__account").order_by("-at")[:50])
