"""A secretary finds a voicemail on her desk, plays it in the page, takes a message from it; the client
listens to it in the portal."""

from __future__ import annotations

import io
import math
import re
import struct
import wave
from datetime import timedelta
from typing import Any

import pytest

from browser.conftest import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def tone(seconds: float) -> bytes:
    """A 440 Hz tone as a WAV file (8 kHz, mono, 16-bit), as the call control writes them."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000)))
                               for i in range(int(8000 * seconds))))  # fmt: skip
    return out.getvalue()


def test_a_voicemail_played_at_the_desk_becomes_a_message_and_the_client_hears_it(
    page: Any, second_page: Any, personas: Any, alpha: Any, settings: Any, tmp_path: Any
):
    from django.utils import timezone

    from browser.conftest import screenshot, sign_in
    from permanence.audit.models import AuditEvent
    from permanence.calls import voicemail
    from permanence.calls.models import Call
    from permanence.messaging.models import Message

    settings.MEDIA_ROOT = tmp_path / "media"
    alpha.voicemail_in_portal = True
    alpha.save()
    at = timezone.now() - timedelta(hours=3)  # due two hours after: late now
    call = Call.objects.create(account=alpha, called="+33145000001", caller="+33612345678",
                               state="not_served", arrived_at=at)  # fmt: skip
    left = voicemail.left(call.pk, tone(4.0), 4.0, "silence", at=at)

    sign_in(page, "secretary")
    page.goto("/desk/")
    row = page.get_by_test_id(f"voicemail-{left.pk}")
    assert "Cabinet Alpha" in row.inner_text() and "06 12 34 56 78" in row.inner_text()
    assert "en retard" in row.inner_text()
    row.get_by_role("link", name="Écouter").click()
    page.wait_for_url(re.compile(rf"/desk/voicemails/{left.pk}/$"))
    player = page.get_by_test_id("player")
    # the browser loads and decodes the recording: its length is the file's
    wait_until(page, "document.querySelector('[data-testid=player]').readyState >= 1")
    assert abs(player.evaluate("a => a.duration") - 4.0) < 0.1
    assert AuditEvent.objects.filter(object_type="calls.voicemail", action="view",
                                     actor=personas["secretary"]).exists()  # fmt: skip
    page.get_by_test_id("body").fill("M. Dupont demande à être rappelé pour un rendez-vous.")
    screenshot(page, "desk-voicemail")
    page.get_by_test_id("send").click()
    page.wait_for_url(re.compile(r"/desk/$"))
    assert "le message vocal est traité" in page.content()
    assert page.get_by_test_id(f"voicemail-{left.pk}").count() == 0
    message = Message.objects.get(call=call)
    assert message.subject == "Message vocal de 06 12 34 56 78" and "rendez-vous" in message.body

    # The client's user hears it in the portal, and sees what became of it
    sign_in(second_page, "client_user")
    second_page.goto("/a/alpha/voicemails/")
    listed = second_page.get_by_test_id(f"voicemail-{left.pk}")
    assert "message pris" in listed.inner_text() and "Message vocal de" in listed.inner_text()
    wait_until(second_page, "document.querySelector('audio') !== null")
    duration = listed.locator("audio").evaluate(
        "a => new Promise(done => { a.addEventListener('loadedmetadata', () => done(a.duration)); "
        "a.load(); })"
    )
    assert abs(duration - 4.0) < 0.1
    screenshot(second_page, "portal-voicemails")


def test_the_client_admin_hears_a_draft_prompt_then_makes_it_live(page: Any, personas: Any, alpha: Any,
                                                                  settings: Any, tmp_path: Any):  # fmt: skip
    from browser.conftest import screenshot, sign_in
    from permanence.telephony import speech

    if not speech.available():
        pytest.skip("espeak-ng is not installed: skipped")
    settings.MEDIA_ROOT = tmp_path / "media"
    sign_in(page, "client_admin")
    page.wait_for_url(re.compile(r"/a/alpha/$"))
    page.get_by_role("link", name="Annonces").click()
    box = page.get_by_test_id("prompt-waiting")
    assert "l'enregistrement livré avec Permanence" in box.inner_text()
    page.get_by_test_id("text-waiting").fill("Cabinet Alpha, un instant, nous prenons votre appel.")
    page.get_by_test_id("preview-waiting").click()
    # the draft, said by the server and played in the page: its length is the sentence's
    wait_until(page, "document.querySelector('[data-testid=draft-waiting]').duration > 2")
    alpha.refresh_from_db()
    assert alpha.waiting_text == ""  # heard, not saved
    screenshot(page, "portal-prompts")
    page.get_by_test_id("save").click()
    page.wait_for_load_state()
    assert "Les nouveaux textes sont en service" in page.content()
    alpha.refresh_from_db()
    assert alpha.waiting_text == "Cabinet Alpha, un instant, nous prenons votre appel."
    assert "dit par la synthèse vocale" in page.get_by_test_id("prompt-waiting").inner_text()


def test_the_assistant_writes_a_voice_menu_checked_with_line_and_column(page: Any, personas: Any, alpha: Any):
    from browser.conftest import screenshot, sign_in

    sign_in(page, "assistant")
    page.wait_for_load_state()
    page.goto("/a/alpha/voice-menu/")
    source = page.get_by_test_id("source")
    example = source.input_value()
    source.fill(example.replace("{goto: horaires}", "{goto: horaire}"))
    page.get_by_test_id("check").click()
    page.wait_for_load_state()
    problems = page.get_by_test_id("problems").inner_text()
    assert "9:17" in problems and "Il n'y a pas de menu « horaire »" in problems
    source = page.get_by_test_id("source")
    source.fill(source.input_value().replace("{goto: horaire}", "{goto: horaires}"))
    page.get_by_test_id("save").click()
    page.wait_for_load_state()
    assert "les appelants entendent ce menu" in page.content()
    assert "Pour prendre rendez-vous, tapez 1" in page.get_by_test_id("menu-accueil").inner_text()
    from permanence.telephony import speech

    if speech.available():  # the menu's text heard as callers will hear it
        page.get_by_test_id("hear-accueil").click()
        wait_until(page, "document.querySelector('[data-testid=menu-voice]').duration > 3")
    screenshot(page, "portal-voice-menu")
    alpha.refresh_from_db()
    assert alpha.ivr_source.startswith("language: permanence-ivr/1")
