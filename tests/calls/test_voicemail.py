"""Voicemails (``calls.voicemail``): on the desk of the account's secretaries from the reopening, oldest
first; handled only by a message taken from them or a call-back; every play audited; in the portal where
the account wants it; the recordings deleted by the worker at the end of the account's retention
period, each deletion audited. (The recording itself on the wire: tests/telephony/test_voicemail.py.)"""

from __future__ import annotations

import io
import wave
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import IntegrityError
from django.test import Client

from permanence.accounts.models import WeeklyHours
from permanence.audit.models import AuditEvent
from permanence.calls import retention, voicemail
from permanence.calls.models import Call, Voicemail
from permanence.messaging.models import Message

SATURDAY_EVENING = datetime(2026, 12, 5, 20, 0)  # Paris time
MONDAY = datetime(2026, 12, 7)


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def wav(seconds: float = 1.0) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x10\x00" * int(8000 * seconds))
    return out.getvalue()


def office_hours(account: Any) -> None:
    account.weekly_hours.all().delete()
    for day in range(5):
        WeeklyHours.objects.create(account=account, weekday=day, opens=time(9), closes=time(18))


def leave(account: Any, at: datetime, caller: str = "+33612345678", seconds: float = 3.0) -> Voicemail:
    call = Call.objects.create(account=account, called="+33145000001", caller=caller, state="not_served",
                               arrived_at=at)  # fmt: skip
    return voicemail.left(call.pk, wav(seconds), seconds, "silence", at=at)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_after_hours_a_voicemail_shows_at_the_reopening_on_the_desks_of_the_accounts_secretaries(
    personas, alpha, beta, media
):
    office_hours(alpha)
    at = SATURDAY_EVENING.replace(tzinfo=alpha.tz)
    left = leave(alpha, at)
    reopening = datetime.combine(MONDAY, time(9), tzinfo=alpha.tz)
    assert (left.shown_from, left.due_at) == (reopening, reopening + timedelta(minutes=120))
    assert Path(left.audio.path).is_relative_to(media) and Path(left.audio.path).read_bytes() == wav(3.0)
    secretary, other = personas["secretary"], personas["secretary_beta"]
    assert not voicemail.pending(secretary, at + timedelta(hours=12)).exists()  # Sunday: not yet
    assert list(voicemail.pending(secretary, reopening)) == [left]
    assert not voicemail.pending(other, reopening).exists()  # trained on Beta only

    # Oldest first; an account that is open shows it at once, due per its own rule
    alpha.voicemail_due_minutes = 30
    alpha.save()
    newer = leave(alpha, reopening + timedelta(hours=1), caller="")
    older = leave(alpha, reopening - timedelta(days=3))  # Friday morning: open, on the desk at once
    assert newer.shown_from == newer.recorded_at and newer.due_at == newer.recorded_at + timedelta(minutes=30)
    assert list(voicemail.pending(secretary, reopening + timedelta(hours=2))) == [older, left, newer]

    with time_machine.travel(reopening + timedelta(hours=3)):
        page = signed_in(secretary).get("/desk/").content.decode()
        rows = [page.index(f'data-testid="voicemail-{v.pk}"') for v in (older, left, newer)]
        assert rows == sorted(rows)
        assert "Messages vocaux" in page and "06 12 34 56 78" in page and "en retard" in page
        assert "voicemail-" not in signed_in(other).get("/desk/").content.decode()


def test_a_recording_is_kept_only_with_a_known_end_and_the_file_goes_with_a_failed_row(alpha, media):
    call = Call.objects.create(account=alpha, called="+33145000001", caller="", state="not_served")
    with pytest.raises(voicemail.VoicemailError):
        voicemail.left(call.pk, wav(), 1.0, "bored")
    left = voicemail.left(call.pk, wav(), 1.0, "hangup")
    with pytest.raises(IntegrityError):  # one voicemail per call
        voicemail.left(call.pk, wav(), 1.0, "hangup")
    assert [p.name for p in media.rglob("*.wav")] == [Path(left.audio.name).name]


def test_taking_a_message_from_a_voicemail_sends_it_linked_and_handles_the_voicemail(personas, alpha):
    left = leave(alpha, datetime(2026, 12, 1, 10, 0, tzinfo=alpha.tz))
    secretary = signed_in(personas["secretary"])
    page = secretary.get(f"/desk/voicemails/{left.pk}/").content.decode()
    assert f'src="/desk/voicemails/{left.pk}/audio"' in page and "accueil@alpha.example" in page

    # Nothing to send: the page comes back with what she typed, the voicemail still open
    refused = secretary.post(f"/desk/voicemails/{left.pk}/message", {"subject": "Rappel", "body": ""})
    assert refused.status_code == 400 and 'value="Rappel"' in refused.content.decode()
    typed = {"subject": "Rappel", "body": "Texte", "recipients": "pas une adresse"}
    refused = secretary.post(f"/desk/voicemails/{left.pk}/message", typed)
    assert refused.status_code == 400 and "Texte" in refused.content.decode()
    left.refresh_from_db()
    assert left.closed_at is None and not Message.objects.exists()

    typed = {"subject": "Rappeler M. Dupont", "body": "Il demande un rendez-vous.", "urgent": "1"}
    sent = secretary.post(f"/desk/voicemails/{left.pk}/message", typed)
    assert sent.status_code == 302
    message = Message.objects.get()
    left.refresh_from_db()
    assert left.closed_how == "message" and left.message == message
    assert left.closed_by == personas["secretary"] and message.call_id == left.call_id and message.urgent
    assert message.recipients == ["accueil@alpha.example"]
    assert message.author == personas["secretary"] and message.fields["voicemail"] == left.pk
    assert AuditEvent.objects.filter(object_type="calls.voicemail", object_id=str(left.pk), action="update")
    # handled: off the desk; a second try sends nothing
    assert f"voicemail-{left.pk}" not in secretary.get("/desk/").content.decode()
    again = secretary.post(f"/desk/voicemails/{left.pk}/message", {"subject": "Encore", "body": "Encore"})
    assert again.status_code == 302 and Message.objects.count() == 1


def test_a_call_back_handles_the_voicemail_once(personas, alpha):
    left = leave(alpha, datetime(2026, 12, 1, 10, 0, tzinfo=alpha.tz))
    secretary = signed_in(personas["secretary"])
    assert secretary.post(f"/desk/voicemails/{left.pk}/called-back").status_code == 302
    left.refresh_from_db()
    assert left.closed_how == "callback" and left.closed_at is not None and left.message is None
    with pytest.raises(voicemail.VoicemailError):
        voicemail.close(left.pk, personas["secretary"], "callback")
    with pytest.raises(voicemail.VoicemailError):
        voicemail.close(left.pk, personas["secretary"], "message")  # a message handling needs the message
    with pytest.raises(voicemail.VoicemailError):
        voicemail.close(left.pk, personas["secretary"], "forgotten")


def test_each_play_is_audited_and_never_crosses_tenants(personas, alpha, beta):
    left = leave(alpha, datetime(2026, 12, 1, 10, 0, tzinfo=alpha.tz))
    secretary = signed_in(personas["secretary"])
    played = secretary.get(f"/desk/voicemails/{left.pk}/audio")
    assert played.status_code == 200 and played["Content-Type"] == "audio/wav"
    assert b"".join(played.streaming_content) == wav(3.0)
    plays = AuditEvent.objects.filter(object_type="calls.voicemail", action="view", account=alpha)
    assert plays.filter(actor=personas["secretary"]).count() == 1
    other = signed_in(personas["secretary_beta"])
    assert other.get(f"/desk/voicemails/{left.pk}/audio").status_code == 404
    assert other.get(f"/desk/voicemails/{left.pk}/").status_code == 404
    assert other.post(f"/desk/voicemails/{left.pk}/called-back").status_code == 404
    left.refresh_from_db()
    assert left.closed_at is None

    # The portal: only where the account wants it, only its own
    client_user = signed_in(personas["client_user"])
    assert client_user.get("/a/alpha/voicemails/").status_code == 404
    assert client_user.get(f"/a/alpha/voicemails/{left.pk}/audio").status_code == 404
    alpha.voicemail_in_portal = True
    alpha.save()
    listing = client_user.get("/a/alpha/voicemails/").content.decode()
    assert f'data-testid="voicemail-{left.pk}"' in listing and "06 12 34 56 78" in listing
    assert client_user.get(f"/a/alpha/voicemails/{left.pk}/audio").status_code == 200
    assert AuditEvent.objects.filter(object_type="calls.voicemail", action="view",
                                     actor=personas["client_user"]).count() == 1  # fmt: skip
    beta_admin = signed_in(personas["client_admin_beta"])
    assert beta_admin.get("/a/alpha/voicemails/").status_code == 404
    beta_left = leave(beta, datetime(2026, 12, 1, 10, 0, tzinfo=beta.tz))
    assert client_user.get(f"/a/alpha/voicemails/{beta_left.pk}/audio").status_code == 404


def test_recordings_past_the_accounts_retention_are_deleted_by_the_worker_and_audited(alpha, beta, media):
    from django.utils import timezone

    alpha.voicemail_retention_days = 30
    alpha.save()
    now = timezone.now()
    old = leave(alpha, now - timedelta(days=31))
    young = leave(alpha, now - timedelta(days=5))
    kept = leave(beta, now - timedelta(days=31))  # Beta keeps them 90 days
    old_file = Path(old.audio.path)
    assert retention.purge_voicemails(now) == 1
    old.refresh_from_db()
    assert old.purged_at == now and not old.audio and not old_file.exists()
    assert Path(young.audio.path).exists() and Path(kept.audio.path).exists()
    event = AuditEvent.objects.get(object_type="calls.voicemail", action="delete")
    assert event.object_id == str(old.pk) and event.account_id == alpha.pk and event.actor is None
    assert event.detail["reason"] == "retention" and event.detail["days"] == 30
    assert retention.purge_voicemails(now) == 0  # once
    assert AuditEvent.objects.filter(action="delete").count() == 1
    # the row stays, as the call's record; the page says where the recording went
    assert Voicemail.objects.count() == 3


def test_the_worker_runs_the_retention_loop():
    from permanence.messaging.management.commands import worker

    options = {"sweep_every": 30.0, "escalation_every": 10.0, "rollups_every": 30.0, "calendars_every": 60.0,
               "dispatch_every": 1.0, "retention_every": 600.0}  # fmt: skip
    loop = next(loop for loop in worker.worker_loops(options) if loop.name == "retention")
    steps = dict(loop.steps)
    assert loop.every == 600.0 and steps["voicemails"] is retention.purge_voicemails
    assert steps["recordings"] is retention.purge_recordings
