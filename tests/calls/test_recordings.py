"""Call recordings (``calls.recordings``): only where the account records its calls (never a training
call); heard and downloaded only by the roles that may, within their accounts, each time audited;
deleted by the worker at the end of the account's retention period, each deletion audited. (The
recording itself on the wire, with the legal notice: tests/telephony/test_recording.py.)"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from permanence.audit.models import AuditEvent
from permanence.calls import recordings, retention
from permanence.calls.models import Call, CallRecording

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "  # enough to stream: the pages never decode it


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def recorded(account: Any, started: Any = None, training: bool = False) -> CallRecording:
    call = Call.objects.create(account=account, called="+33145000001", caller="+33612345678",
                               state="wrap_up", training=training)  # fmt: skip
    return recordings.stored(call.pk, WAV, 42.0, started or timezone.now(), None)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_only_an_account_that_records_its_calls_records_them_and_never_a_training_call(alpha):
    call = Call.objects.create(account=alpha, called="+33145000001", state="queued")
    training = Call.objects.create(account=alpha, called="+33145000001", state="queued", training=True)
    assert not recordings.records(call.pk)
    alpha.record_calls = True
    alpha.save()
    assert recordings.records(call.pk) and not recordings.records(training.pk)


def test_the_client_admin_hears_and_downloads_each_time_audited_and_nobody_crosses_tenants(
    personas, alpha, beta, media
):
    alpha.record_calls = True
    alpha.save()
    mine = recorded(alpha)
    theirs = recorded(beta)
    assert Path(mine.audio.path).is_relative_to(media) and Path(mine.audio.path).read_bytes() == WAV

    admin = signed_in(personas["client_admin"])
    listing = admin.get("/a/alpha/recordings/").content.decode()
    assert f'data-testid="recording-{mine.pk}"' in listing and "06 12 34 56 78" in listing
    assert f"recording-{theirs.pk}" not in listing
    played = admin.get(f"/a/alpha/recordings/{mine.pk}/audio")
    assert played.status_code == 200 and b"".join(played.streaming_content) == WAV
    assert "attachment" not in played.get("Content-Disposition", "")
    downloaded = admin.get(f"/a/alpha/recordings/{mine.pk}/audio?download=1")
    assert downloaded.status_code == 200 and "attachment" in downloaded["Content-Disposition"]
    trail = AuditEvent.objects.filter(object_type="calls.callrecording", object_id=str(mine.pk))
    assert sorted(trail.values_list("action", flat=True)) == ["export", "view"]
    assert all(e.actor == personas["client_admin"] and e.account_id == alpha.pk for e in trail)

    # the other roles and tenants: nothing, and nothing audited for them
    assert signed_in(personas["client_user"]).get(f"/a/alpha/recordings/{mine.pk}/audio").status_code == 403
    assert signed_in(personas["secretary"]).get(f"/a/alpha/recordings/{mine.pk}/audio").status_code == 403
    outsider = signed_in(personas["client_admin_beta"])
    assert outsider.get(f"/a/alpha/recordings/{mine.pk}/audio").status_code == 404
    assert admin.get(f"/a/alpha/recordings/{theirs.pk}/audio").status_code == 404
    plays = AuditEvent.objects.filter(object_type="calls.callrecording", action__in=["view", "export"])
    assert plays.count() == 2


def test_recordings_past_the_accounts_retention_are_deleted_by_the_worker_and_audited(alpha, beta):
    alpha.recording_retention_days = 7
    alpha.save()
    now = timezone.now()
    old = recorded(alpha, now - timedelta(days=8))
    young = recorded(alpha, now - timedelta(days=6))
    kept = recorded(beta, now - timedelta(days=8))  # Beta: 30 days, the default
    old_file = Path(old.audio.path)
    assert retention.purge_recordings(now) == 1
    old.refresh_from_db()
    assert old.purged_at == now and not old.audio and not old_file.exists()
    assert Path(young.audio.path).exists() and Path(kept.audio.path).exists()
    event = AuditEvent.objects.get(object_type="calls.callrecording", action="delete")
    assert event.object_id == str(old.pk) and event.detail["days"] == 7 and event.actor is None
    assert retention.purge_recordings(now) == 0
    assert AuditEvent.objects.filter(object_type="calls.callrecording", action="delete").count() == 1
