"""What callers hear (``calls.prompts``): the account's audio file, else its text said by the
text-to-speech, else the recording shipped; the page where the client admin listens to a draft before it
goes live, then saves it (audited)."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from permanence.accounts.models import WeeklyHours
from permanence.audit.models import AuditEvent
from permanence.calls import prompts
from permanence.telephony import speech
from permanence.telephony.media import AUDIO

needs_speech = pytest.mark.skipif(not speech.available(), reason="espeak-ng is not installed: skipped")


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def in_french(text: str) -> str:
    with translation.override("fr"):
        return gettext(text)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_each_prompt_is_the_file_else_the_text_else_the_shipped_recording(alpha, media):
    nothing = prompts.Prompt("waiting", language="fr")
    assert prompts.choose(alpha, "waiting") == nothing  # nothing given: shipped
    alpha.waiting_text = "Cabinet Alpha, un instant je vous prie."
    assert prompts.choose(alpha, "waiting").text == "Cabinet Alpha, un instant je vous prie."
    (media / "audio").mkdir(parents=True)
    (media / "audio" / "attente.wav").write_bytes((AUDIO / "waiting.wav").read_bytes())
    alpha.waiting_audio.name = "audio/attente.wav"
    assert prompts.choose(alpha, "waiting").file == media / "audio" / "attente.wav"  # the file wins
    assert prompts.sound(prompts.choose(alpha, "waiting")) == (media / "audio" / "attente.wav", False)

    notice = prompts.choose(alpha, "notice")
    assert notice.text == in_french(prompts.NOTICE) and notice.shipped == "recording-notice"
    alpha.recording_notice_text = "Cet appel est enregistré."
    assert prompts.choose(alpha, "notice").text == "Cet appel est enregistré."
    voicemail = prompts.choose(alpha, "voicemail")
    assert voicemail.text == in_french(prompts.VOICEMAIL) and voicemail.beep
    alpha.voicemail_audio.name = "audio/attente.wav"  # uploaded: played, then the beep
    assert prompts.sound(prompts.choose(alpha, "voicemail")) == (media / "audio" / "attente.wav", True)
    with pytest.raises(ValueError):
        prompts.choose(alpha, "jingle")


def test_the_closed_prompt_says_the_next_opening_and_what_comes_next(alpha):
    alpha.weekly_hours.all().delete()
    WeeklyHours.objects.create(account=alpha, weekday=0, opens=time(9), closes=time(18))
    saturday = datetime(2026, 12, 5, 20, 0, tzinfo=alpha.tz)
    closed = prompts.choose(alpha, "closed", action="voicemail", at=saturday)
    assert "lundi 7 décembre à 09:00" in closed.text
    assert closed.text.endswith("après le bip.")  # the account's language (French)
    assert closed.beep and closed.shipped == "voicemail" and closed.language == "fr"
    callback = prompts.choose(alpha, "closed", action="callback", at=saturday)
    assert callback.text.endswith("dès notre réouverture.")
    assert not callback.beep
    alpha.closed_greeting = "Le cabinet est fermé pour congés."
    own = prompts.choose(alpha, "closed", action="message", at=saturday)
    assert own.text.startswith("Le cabinet est fermé pour congés.") and own.shipped == "closed"
    gone = prompts.choose(alpha, "closed", action="not_in_service").text
    assert gone.endswith("n'est plus en service.")


@needs_speech
def test_a_text_is_said_into_the_prompts_folder_and_without_the_engine_the_recording_is_heard(
    alpha, media, monkeypatch
):
    said, beep = prompts.sound(prompts.choose(alpha, "voicemail"))
    assert isinstance(said, Path) and said.parent == media / "prompts" and beep
    monkeypatch.setattr(speech, "ENGINE", "espeak-ng-not-installed")
    alpha.voicemail_text = "Un autre texte, jamais dit."
    assert prompts.sound(prompts.choose(alpha, "voicemail")) == ("voicemail", False)  # its own beep


@needs_speech
def test_the_client_admin_hears_a_draft_before_saving_it_and_the_change_is_audited(personas, alpha, beta):
    admin = signed_in(personas["client_admin"])
    page = admin.get("/a/alpha/prompts/").content.decode()
    assert 'data-testid="prompt-closed"' in page and "Nous serons à nouveau" not in page  # open all week
    shipped = admin.get("/a/alpha/prompts/waiting.wav")
    recording = (AUDIO / "waiting.wav").read_bytes()
    assert shipped.status_code == 200 and b"".join(shipped.streaming_content) == recording
    draft = admin.get("/a/alpha/prompts/preview", {"text": "Un instant, nous prenons votre appel."})
    assert draft.status_code == 200 and b"".join(draft.streaming_content)[:4] == b"RIFF"
    alpha.refresh_from_db()
    assert alpha.waiting_text == ""  # a draft heard is not saved
    assert admin.get("/a/alpha/prompts/preview", {"text": "  "}).status_code == 400

    too_long = admin.post("/a/alpha/prompts/", {"waiting_text": "x" * 501, "voicemail_text": "Nouveau"})
    assert too_long.status_code == 400 and "x" * 501 in too_long.content.decode()
    alpha.refresh_from_db()
    assert alpha.voicemail_text == ""  # nothing saved

    saved = admin.post("/a/alpha/prompts/", {"waiting_text": "Un instant,\n nous prenons votre appel.",
                                             "closed_greeting": "", "voicemail_text": "",
                                             "recording_notice_text": ""})  # fmt: skip
    assert saved.status_code == 302
    alpha.refresh_from_db()
    assert alpha.waiting_text == "Un instant, nous prenons votre appel."
    event = AuditEvent.objects.get(object_type="accounts.account", action="update")
    assert event.detail["fields"] == ["waiting_text"] and event.actor == personas["client_admin"]
    now = admin.get("/a/alpha/prompts/waiting.wav")
    assert b"".join(now.streaming_content) != recording  # the text, said

    assert signed_in(personas["client_user"]).get("/a/alpha/prompts/").status_code == 403
    assert signed_in(personas["client_admin_beta"]).get("/a/alpha/prompts/").status_code == 404
    assert admin.get("/a/alpha/prompts/jingle.wav").status_code == 404


def test_what_callers_hear_follows_the_accounts_language_not_the_pages(alpha):
    alpha.weekly_hours.all().delete()
    WeeklyHours.objects.create(account=alpha, weekday=0, opens=time(9), closes=time(18))
    saturday = datetime(2026, 12, 5, 20, 0, tzinfo=alpha.tz)
    alpha.language = "en"
    with translation.override("fr"):
        closed = prompts.choose(alpha, "closed", action="voicemail", at=saturday)
        voicemail = prompts.choose(alpha, "voicemail")
    assert closed.text == (
        "Cabinet Alpha, hello. We are closed at the moment. We will be open again on Monday 7 December at "
        "9:00\u202fAM. Please leave us a message after the beep."
    )
    assert closed.language == "en" and prompts.voice(closed.language) == "en"  # said with an English voice
    assert voicemail.text == prompts.VOICEMAIL and voicemail.language == "en"
    alpha.language = "fr"
    with translation.override("en"):
        closed = prompts.choose(alpha, "closed", action="voicemail", at=saturday)
    assert "lundi 7 décembre à 09:00" in closed.text and closed.language == "fr"
