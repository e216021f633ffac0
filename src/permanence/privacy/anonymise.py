"""Deleting a person's data without losing the counts: the rows that the figures count (calls and their
events, messages, appointments) stay, emptied of what identifies the caller; contacts go. Used by the
retention purge and by the erasure of a data subject's request.

Each function takes row ids and returns how many rows *it* marked (``purged_at``): two runs at once
mark each row once, and what else they empty they empty the same way."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from django.db.models import F

from permanence.agenda.models import Appointment
from permanence.calls.models import Call, CallRecording, Voicemail
from permanence.contacts.models import Contact
from permanence.messaging.models import (
    Acknowledgement,
    CallbackTask,
    Delivery,
    DeliveryEvent,
    Message,
    MessageFlag,
    Survey,
)
from permanence.scenarios.models import Run

CHUNK = 500
# What a call's scenario run keeps: where the call went, not what was answered.
RUN_KEEPS = ("version", "path", "step", "outcome")
# A message still being sent keeps its addresses until the end (queued, sending, or to be retried).
SENDING = (Delivery.Status.QUEUED, Delivery.Status.SENDING, Delivery.Status.FAILED)


def chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _stripped(state: Any) -> dict[str, Any]:
    kept = {k: v for k, v in state.items() if k in RUN_KEEPS} if isinstance(state, dict) else {}
    return {**kept, "purged": True}


def invoiced_calls(ids: Sequence[int]) -> Any:
    """Of these calls, those an issued invoice accounts for (billed or not): kept ten years with it."""
    from permanence.billing.models import Decision, Invoice

    issued = Invoice.Status.ISSUED
    return Decision.objects.filter(kind="call", item__in=ids, invoice__status=issued).values("item")


def calls(ids: Sequence[int], now: datetime) -> int:
    """The caller's number, the scenario's answers and notes, the voicemail's and the survey's number,
    the call-backs done; the call, its events (times, kinds) and its outcome stay."""
    marked = 0
    for part in chunks(ids):
        marked += Call.objects.filter(pk__in=part, purged_at__isnull=True).update(purged_at=now, caller="")
        # the secretary's words may name the caller; the kind (cold call, wrong number) and an invoice's
        # decision stay
        Call.objects.filter(pk__in=part).exclude(nuisance_reason="").update(nuisance_reason="")
        runs = Call.objects.filter(pk__in=part, run__isnull=False).values("run")
        for run in Run.objects.filter(pk__in=runs):
            if not (isinstance(run.state, dict) and run.state.get("purged")):
                run.state = _stripped(run.state)
                run.save(update_fields=["state"])
        Voicemail.objects.filter(call__in=part).exclude(caller="").update(caller="")
        Survey.objects.filter(call__in=part).exclude(address="").update(address="")
        CallbackTask.objects.filter(call__in=part, message__isnull=True, done_at__isnull=False).delete()
    return marked


def messages(ids: Sequence[int], now: datetime) -> int:
    """Subject, text, fields, recipients, reply-to; the deliveries' addresses and errors, the
    acknowledgement's address, the flag's remark. The message, its status and its times stay."""
    marked = 0
    for part in chunks(ids):
        marked += Message.objects.filter(pk__in=part, purged_at__isnull=True).update(
            purged_at=now, subject="", body="", fields={}, recipients=[], reply_to=""
        )
        Delivery.objects.filter(message__in=part).update(address="", last_error="")
        DeliveryEvent.objects.filter(delivery__message__in=part).exclude(detail="").update(detail="")
        Acknowledgement.objects.filter(message__in=part).exclude(by="").update(by="")
        MessageFlag.objects.filter(message__in=part).exclude(text="").update(text="")
    return marked


def appointments(ids: Sequence[int], now: datetime) -> int:
    """The caller's name, phone, e-mail, notes and answers; the appointment stays in the agenda (its
    sequence bumped, so that a synced calendar gets the emptied copy)."""
    marked = 0
    for part in chunks(ids):
        marked += Appointment.objects.filter(pk__in=part, purged_at__isnull=True).update(
            purged_at=now, caller_name="", caller_phone="", caller_email="", notes="", answers={},
            sequence=F("sequence") + 1,
        )  # fmt: skip
    return marked


def contacts(ids: Sequence[int]) -> int:
    """Deleted, with their numbers (nothing counts them)."""
    deleted = 0
    for part in chunks(ids):
        _total, per_model = Contact.objects.filter(pk__in=part).delete()
        deleted += per_model.get(Contact._meta.label, 0)
    return deleted


def recordings(model: type[Voicemail] | type[CallRecording], ids: Iterable[int], now: datetime) -> int:
    """Voicemails or call recordings: the file deleted (a missing one is fine), then the row marked, as
    ``calls.retention`` does; a voicemail's number goes too."""
    marked = 0
    for row in model.objects.filter(pk__in=list(ids)):
        name = row.audio.name
        if name:
            row.audio.storage.delete(name)
        changes: dict[str, Any] = {"audio": ""}
        if model is Voicemail:
            changes["caller"] = ""
        model.objects.filter(pk=row.pk).update(**changes)
        marked += model.objects.filter(pk=row.pk, purged_at__isnull=True).update(purged_at=now)
    return marked
