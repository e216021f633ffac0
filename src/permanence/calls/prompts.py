"""What callers hear on real telephony, per account: an uploaded audio file, else the account's text
said by the local text-to-speech (``telephony.speech``, espeak-ng; kept under ``MEDIA_ROOT/prompts`` and
said anew when the text changes), else the recordings shipped in ``telephony/audio/``.

``choose`` reads the account (database); ``sound`` makes the file (the engine, no database), falling back
to the shipped recording when the text cannot be said, so that a caller always hears something.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from permanence.accounts.models import Account
from permanence.calls import admission
from permanence.telephony import speech

log = logging.getLogger(__name__)
NAMES = ("waiting", "closed", "voicemail", "notice")
VOICEMAIL = (
    "Nous ne pouvons pas prendre votre appel pour le moment. "
    "Laissez-nous votre message après le bip, nous vous rappellerons."
)
NOTICE = (
    "Votre appel est susceptible d'être enregistré, pour la qualité du service. "
    "Vous pouvez vous y opposer en le disant à votre interlocutrice."
)


@dataclass(frozen=True)
class Prompt:
    """One thing a caller hears: ``file`` (uploaded) first, else ``text`` said, else ``shipped``."""

    shipped: str
    text: str = ""
    file: Path | None = None
    beep: bool = False  # a beep after the text (the voicemail); the shipped voicemail has its own


def folder() -> Path:
    return Path(settings.MEDIA_ROOT) / "prompts"


def choose(account: Account, name: str, *, action: str = "", at: datetime | None = None) -> Prompt:
    """The prompt ``name`` of the account; ``action``: for "closed", what the caller is turned away to
    (admission's action: its last sentence, e.g. "leave a message after the beep")."""
    from permanence.calls.services import closed_text

    if name == "waiting":
        return Prompt("waiting", account.waiting_text.strip(), _file(account.waiting_audio))
    if name == "closed":
        try:
            chosen: admission.Action | None = admission.Action(action)
        except ValueError:
            chosen = None
        decision = admission.Decision(chosen or admission.Action.MESSAGE, admission.Reason.HOURS)
        text = closed_text(account, decision, at or timezone.now())
        uploaded = _file(account.closed_audio)
        if chosen is admission.Action.VOICEMAIL:
            return Prompt("voicemail", text, uploaded, beep=True)
        return Prompt("callback" if chosen is admission.Action.CALLBACK else "closed", text, uploaded)
    if name == "voicemail":
        text = account.voicemail_text.strip() or VOICEMAIL
        return Prompt("voicemail", text, _file(account.voicemail_audio), beep=True)
    if name == "notice":
        text = account.recording_notice_text.strip() or NOTICE
        return Prompt("recording-notice", text, _file(account.recording_notice_audio))
    raise ValueError(f"unknown prompt {name!r}")


def _file(field: Any) -> Path | None:
    return Path(field.path) if field else None


def sound(prompt: Prompt, where: Path | None = None) -> tuple[str | Path, bool]:
    """The file to play (a path, or the name of a shipped recording), and whether a beep follows."""
    if prompt.file is not None:
        return prompt.file, prompt.beep
    if prompt.text:
        try:
            return speech.spoken(prompt.text, where or folder()), prompt.beep
        except speech.SpeechError as exc:
            log.warning("prompt said by its recording instead: %s", exc)
    return prompt.shipped, False
