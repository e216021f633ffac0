"""Call recordings: an account that records its calls (``Account.record_calls``, off by default) has
the legal notice played to each caller first; the call control records each stretch of conversation
with a secretary as a stereo WAV (``CallRecording``). Heard and downloaded only by the roles with
``hear_recordings``, within their accounts, each time written to the audit trail; deleted at the end
of ``Account.recording_retention_days`` (``retention``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from django.core.files.base import ContentFile
from django.db import models

from permanence.audit import trail
from permanence.audit.models import Action
from permanence.calls.models import Call, CallRecording

T = TypeVar("T", bound=models.Model)


def records(call_id: int) -> bool:
    """Does this call get recorded (and its caller the legal notice)? Training calls never."""
    return Call.objects.filter(pk=call_id, account__record_calls=True, training=False).exists()


def stored(call_id: int, wav: bytes, seconds: float, started_at: datetime,
           secretary_id: int | None) -> CallRecording:  # fmt: skip
    call = Call.objects.only("pk", "account_id").get(pk=call_id)
    recording = CallRecording(call=call, account_id=call.account_id, secretary_id=secretary_id,
                              seconds=round(seconds, 2), started_at=started_at)  # fmt: skip
    return save_with_audio(recording, "recording.wav", wav)


def save_with_audio(row: T, name: str, wav: bytes) -> T:
    """Write the row's audio file (its field's ``upload_to`` names it), then the row; a row that cannot
    be saved takes its file with it: no file without its row. Voicemails and recordings."""
    row.audio.save(name, ContentFile(wav), save=False)  # type: ignore[attr-defined]
    try:
        row.save()
    except Exception:
        row.audio.delete(save=False)  # type: ignore[attr-defined]
        raise
    return row


def heard(user: Any, recording: CallRecording, request: Any = None, *, download: bool = False) -> None:
    trail.record(user, Action.EXPORT if download else Action.VIEW, recording, request=request,
                 call=recording.call_id)  # fmt: skip
