"""What callers hear on real telephony, per account: an uploaded audio file, else the account's text
said by the local text-to-speech (``telephony.speech``, espeak-ng; kept under ``MEDIA_ROOT/prompts`` and
said anew when the text changes), else the recordings shipped in ``telephony/audio/``.

``choose`` reads the account (database); ``sound`` makes the file (the engine, no database), falling back
to the shipped recording when the text cannot be said, so that a caller always hears something. The
standard texts are said in the account's language (``Account.language``), with that language's voice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from permanence.accounts.models import Account, client_language
from permanence.calls import admission
from permanence.telephony import speech

log = logging.getLogger(__name__)
NAMES = ("waiting", "closed", "voicemail", "notice")
#: the standard texts, said in the account's language when it gave none of its own
VOICEMAIL = gettext_noop(
    "We cannot take your call at the moment. Leave us your message after the beep and we will call you back."
)
NOTICE = gettext_noop(
    "Your call may be recorded for the quality of the service. You may object to it by telling the person "
    "who answers."
)


@dataclass(frozen=True)
class Prompt:
    """One thing a caller hears: ``file`` (uploaded) first, else ``text`` said, else ``shipped``."""

    shipped: str
    text: str = ""
    file: Path | None = None
    beep: bool = False  # a beep after the text (the voicemail); the shipped voicemail has its own
    language: str = ""  # the voice the text is said with (the account's language); "": the site's


def folder() -> Path:
    return Path(settings.MEDIA_ROOT) / "prompts"


def choose(account: Account, name: str, *, action: str = "", at: datetime | None = None) -> Prompt:
    """The prompt ``name`` of the account; ``action``: for "closed", what the caller is turned away to
    (admission's action: its last sentence, e.g. "leave a message after the beep")."""
    from permanence.calls.services import closed_text

    language = client_language(account)
    if name == "waiting":
        text = account.waiting_text.strip()
        return Prompt("waiting", text, _file(account.waiting_audio), language=language)
    if name == "closed":
        try:
            chosen: admission.Action | None = admission.Action(action)
        except ValueError:
            chosen = None
        decision = admission.Decision(chosen or admission.Action.MESSAGE, admission.Reason.HOURS)
        text = closed_text(account, decision, at or timezone.now())
        uploaded = _file(account.closed_audio)
        if chosen is admission.Action.VOICEMAIL:
            return Prompt("voicemail", text, uploaded, beep=True, language=language)
        shipped = "callback" if chosen is admission.Action.CALLBACK else "closed"
        return Prompt(shipped, text, uploaded, language=language)
    with translation.override(language):
        if name == "voicemail":
            text = account.voicemail_text.strip() or gettext(VOICEMAIL)
            return Prompt("voicemail", text, _file(account.voicemail_audio), beep=True, language=language)
        if name == "notice":
            text = account.recording_notice_text.strip() or gettext(NOTICE)
            return Prompt("recording-notice", text, _file(account.recording_notice_audio), language=language)
    raise ValueError(f"unknown prompt {name!r}")


def voice(language: str) -> str:
    """The text-to-speech's voice for a language (espeak-ng's voices are named by language)."""
    return language or str(settings.LANGUAGE_CODE)


def _file(field: Any) -> Path | None:
    return Path(field.path) if field else None


def sound(prompt: Prompt, where: Path | None = None) -> tuple[str | Path, bool]:
    """The file to play (a path, or the name of a shipped recording), and whether a beep follows."""
    if prompt.file is not None:
        return prompt.file, prompt.beep
    if prompt.text:
        try:
            return speech.spoken(prompt.text, where or folder(), voice=voice(prompt.language)), prompt.beep
        except speech.SpeechError as exc:
            log.warning("prompt said by its recording instead: %s", exc)
    return prompt.shipped, False
