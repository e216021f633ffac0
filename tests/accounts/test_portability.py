"""Reversibility (issue 18): the whole account as one zip (docs/export-format.md) and back. A richly
filled account exported, deleted, imported and exported again gives the same archive; a bad archive
is refused in one line and leaves nothing behind."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import Client
from django.utils import timezone

from factories import make_contact
from permanence.accounts import actions, portability
from permanence.accounts.models import Account, HoursException, PhoneNumber
from permanence.audit.models import Action, AuditEvent
from permanence.directory.models import (
    Absence,
    Collaborator,
    DirectoryChange,
    Rota,
    RotaMember,
    RotaSwap,
    Service,
    TransferWindow,
)
from permanence.privacy.models import DataRequest, LegalHold, RetentionPolicy
from permanence.users.models import User

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(64))
DOCS = Path(__file__).resolve().parents[2] / "docs" / "export-format.md"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def rich(alpha: Account, personas: dict[str, Any]) -> Account:
    """Alpha with a bit of everything: settings, numbers, hours, instructions, directory, rotas, planned
    changes, contacts, scenario versions with comments and remarks, calls with their events and runs,
    messages with deliveries, escalations, acknowledgements and flags, a voicemail, a recording, a
    call-back task, a survey, webhooks, preferences, the agenda and API keys."""
    from permanence.agenda import services as agenda
    from permanence.agenda.models import AppointmentType, AvailabilityException, WorkingHours
    from permanence.api import keys
    from permanence.calls import recordings, services, voicemail
    from permanence.messaging import outbox
    from permanence.messaging.models import (
        Acknowledgement,
        CallbackTask,
        DeliveryPreference,
        EscalationPolicy,
        MessageFlag,
        Survey,
        WebhookEndpoint,
    )
    from permanence.scenarios.models import Comment, Remark, Run, Scenario, ScenarioVersion
    from permanence.scenarios.services import template_source

    secretary, client_admin = personas["secretary"], personas["client_admin"]
    now = timezone.now()
    alpha.after_hours = "forward"
    alpha.on_call_number = "+33600000009"
    alpha.closed_greeting = "Le cabinet est fermé."
    alpha.record_calls = alpha.voicemail_in_portal = True
    alpha.allowed_recipients = "@alpha.example"
    alpha.identity_fields = "file_number, birth_date"  # compared with the contact's (below)
    alpha.waiting_audio.save("attente.wav", ContentFile(WAV), save=False)
    alpha.save()
    PhoneNumber.objects.create(account=alpha, number="+33145000009", label="Ancien",
                               assigned_at=now - timedelta(days=400), released_at=now - timedelta(days=30))
    HoursException.objects.create(account=alpha, start_date=date(2026, 12, 24), end_date=date(2026, 12, 26),
                                  ranges="09:00-12:00", label="Noël")
    start = now + timedelta(days=3)
    actions.add_instruction(alpha, "Urgences au Dr Martin", start, start + timedelta(days=2),
                            actor=client_admin)
    old = actions.add_instruction(alpha, "Travaux", start, start + timedelta(days=1), actor=client_admin)
    actions.withdraw_instruction(old, actor=client_admin)

    anne = Collaborator.objects.get(account=alpha, last_name="Alphonse")
    litigation = Service.objects.create(account=alpha, name="Contentieux", description="Les litiges")
    bob = Collaborator.objects.create(
        account=alpha, service=litigation, first_name="Bob", last_name="Bernard", mobile="+33611223344",
        email="bob@alpha.example", transfer_mode="conditional", transfer_caller_types="client, colleague")
    TransferWindow.objects.create(collaborator=bob, weekday=0, start=time(9), end=time(12))
    Absence.objects.create(collaborator=anne, kind="leave", starts_at=now + timedelta(days=10),
                           ends_at=now + timedelta(days=17), replacement=bob, note="Congés")
    rota = Rota.objects.create(account=alpha, service=litigation, first_day=date(2026, 10, 19),
                               covers="nights")
    RotaMember.objects.create(rota=rota, collaborator=bob, position=1)
    RotaMember.objects.create(rota=rota, collaborator=anne, position=2)
    RotaSwap.objects.create(rota=rota, collaborator=anne, starts_at=now + timedelta(days=1),
                            ends_at=now + timedelta(days=2), reason="Échange")
    DirectoryChange.objects.create(account=alpha, collaborator=anne, kind="change", created_by=client_admin,
                                   data={"job_title": "Associée", "service": litigation.pk},
                                   effective_at=now + timedelta(days=5))
    claire = make_contact(alpha, ("+33612121212", "+33145454545"), first_name="Claire", last_name="Durand",
                          company="Durand SA", tags="client", notes="Préfère le matin",
                          file_number="AB-2024/0153", birth_date=date(1975, 3, 12), postcode="75011")
    RetentionPolicy.objects.create(account=alpha, calls_months=6, updated_by=client_admin)
    LegalHold.objects.create(account=alpha, contact=claire, reason="Litige en cours", set_by=client_admin)
    DataRequest.objects.create(account=alpha, kind="access", phone="+33612121212", contact=claire,
                               created_by=client_admin)

    scenario = Scenario.objects.get(account=alpha)  # the template every account starts from
    v1 = scenario.versions.get()
    ScenarioVersion.objects.filter(pk=v1.pk).update(status="published", published_at=now)
    v2 = ScenarioVersion.objects.create(scenario=scenario, number=2, source=template_source("legal"),
                                        digest="d2", status="sent", author=personas["assistant"], sent_at=now)
    Comment.objects.create(version=v2, kind="changes", step="welcome", text="Plus court", author=client_admin)
    Remark.objects.create(version=v1, step="welcome", text="Trop long", author=secretary)

    services.set_status(secretary, "ready")
    call = services.call_arrived("01 45 00 00 01", "06 11 11 11 11")
    services.dispatch()
    services.accept(call, secretary)
    run = Run.objects.create(version=v1, agent=secretary, test=False, outcome="message",
                             state={"inputs": [["answer", "motive", "rendez-vous"]], "facts": {}})
    call.refresh_from_db()
    call.run = run
    call.save(update_fields=["run"])
    services.end_call(call, secretary)
    services.wrap_up(call, secretary, outcome="message")
    with transaction.atomic():
        message = outbox.queue_message(alpha, subject="Appel de Claire Durand", body="Rappeler", call=call,
                                       recipients=["bob@alpha.example"], author=secretary, urgent=True,
                                       fields={"caller_type": "client"})
        outbox.queue_message(alpha, subject="Relance", body="Rappeler", recipients=["+33611223344"],
                             urgent=True, escalates=message)
    outbox.attempt(message.deliveries.first().pk)
    Acknowledgement.objects.create(message=message, by="bob@alpha.example")
    MessageFlag.objects.create(message=message, reason="missing", text="Pas de numéro", by=client_admin)
    CallbackTask.objects.create(account=alpha, call=call, number="+33611111111", due_at=now)
    Survey.objects.create(call=call, account=alpha, address="+33611111111", rating=5, answered_at=now,
                          status="answered")
    recordings.stored(call.pk, WAV, 42.5, call.answered_at, secretary.pk)

    late = services.call_arrived("01 45 00 00 01", "06 22 22 22 22")
    services.caller_hung_up(late)
    left = voicemail.left(late.pk, WAV + b"vm", 3.25, "silence")
    with transaction.atomic():
        taken = outbox.queue_message(alpha, subject="Message vocal", body="Rappeler",
                                     recipients=["bob@alpha.example"], author=secretary,
                                     fields={"voicemail": left.pk, "caller": left.caller})
    voicemail.close(left.pk, secretary, how="message", message=taken)

    WebhookEndpoint.objects.create(account=alpha, url="https://crm.alpha.example/hook", secret="s3cret")
    EscalationPolicy.objects.create(account=alpha, delay_minutes=10, steps=["bob@alpha.example"])
    DeliveryPreference.objects.create(collaborator=bob, normal_sms=True, quiet_start=time(20),
                                      quiet_end=time(7))
    WorkingHours.objects.create(collaborator=anne, weekday=1, start=time(9), end=time(17))
    AvailabilityException.objects.create(collaborator=anne, start_date=date(2027, 1, 4),
                                         end_date=date(2027, 1, 4), label="Formation")
    consultation = AppointmentType.objects.create(account=alpha, name="Consultation", duration_minutes=30,
                                                  questions="Motif ?", places="office, video")
    consultation.collaborators.add(anne, bob)
    day = timezone.localdate(now, alpha.tz) + timedelta(days=2)
    agenda.book(consultation, bob, datetime.combine(day, time(10), tzinfo=alpha.tz),
                caller=agenda.Caller("Claire Durand", "+33612121212"), call=call, by=secretary,
                answers={"Motif ?": "Litige"}, notify=False)
    keys.create(alpha, "Logiciel du cabinet", "write", actor=client_admin)
    retired, _token = keys.create(alpha, "Ancien logiciel", "read", actor=client_admin)
    keys.revoke(retired, actor=client_admin)
    return alpha


def export(account: Account, **kw: Any) -> bytes:
    out = io.BytesIO()
    portability.export_account(account, out, **kw)
    return out.getvalue()


def read(archive: bytes) -> dict[str, Any]:
    """Each file of the archive: the manifest as JSON, the others as their rows."""
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        found: dict[str, Any] = {}
        for name in opened.namelist():
            data = opened.read(name)
            if name == portability.MANIFEST:
                found[name] = json.loads(data)
            elif name.endswith(".jsonl"):
                found[name] = [json.loads(line) for line in data.decode().splitlines()]
            else:
                found[name] = data
        return found


def delete_account(account: Account, *, files: bool) -> None:
    """Everything of the account gone from this database (and its audio files from storage with
    ``files``), the operator's staff kept: as if the archive were imported into another instance."""
    from permanence.agenda.models import Appointment
    from permanence.calls.models import Call, CallEvent, CallRecording, Voicemail
    from permanence.messaging.models import Message
    from permanence.scenarios.models import Comment, Remark, Run

    if files:
        names = [*Voicemail.objects.filter(account=account).values_list("audio", flat=True),
                 *CallRecording.objects.filter(account=account).values_list("audio", flat=True),
                 account.waiting_audio.name]
        for name in filter(None, names):
            default_storage.delete(name)
    Appointment.objects.filter(account=account).delete()
    Voicemail.objects.filter(account=account).delete()
    CallRecording.objects.filter(account=account).delete()
    Message.objects.filter(account=account).delete()
    CallEvent.objects.filter(call__account=account).delete()
    Call.objects.filter(account=account).delete()
    Run.objects.filter(version__scenario__account=account).delete()
    Comment.objects.filter(version__scenario__account=account).delete()
    Remark.objects.filter(version__scenario__account=account).delete()
    Rota.objects.filter(account=account).delete()
    DataRequest.objects.filter(account=account).delete()
    User.objects.filter(account=account).delete()
    account.delete()


def import_bytes(archive: bytes, tmp_path: Path, **kw: Any) -> portability.ImportReport:
    path = tmp_path / "account.zip"
    path.write_bytes(archive)
    return portability.import_account(str(path), **kw)


def live_keys(files: dict[str, Any]) -> set[str]:
    return {row["user"] for row in files["api_keys.jsonl"] if row["revoked_at"] is None}


@pytest.mark.parametrize(("audio", "slug"), [(True, None), (False, "alpha-bis")],
                         ids=["with-audio", "renamed-audio-by-reference"])
def test_round_trip_gives_the_same_account(rich, personas, tmp_path, audio, slug):
    first = export(rich, audio=portability.audio_kinds() if audio else ())
    before = read(first)
    counts = before[portability.MANIFEST]["files"]
    assert all(counts[name] for name in counts if name not in ("escalation_policy.jsonl",)), counts
    assert before[portability.MANIFEST]["audio"] == {"referenced": 3, "archived": 3 if audio else 0}
    delete_account(rich, files=audio)
    assert not Account.objects.filter(slug="alpha").exists()

    report = import_bytes(first, tmp_path, slug=slug)
    assert report.account is not None and report.account.slug == (slug or "alpha")
    assert sorted(report.users_created) == sorted(
        ["client_admin", "client_user", *(row["username"] for row in before["users.jsonl"]
                                          if row["username"].startswith("api-"))])
    assert set(report.staff_mapped) == {"secretary", "assistant"} and not report.staff_kept_as_names
    assert report.api_keys_revoked == 2 and report.webhook_secrets == 1
    assert (report.audio_restored, len(report.audio_missing)) == ((3, 0) if audio else (0, 3))
    again = read(export(report.account, audio=portability.audio_kinds() if audio else ()))
    # audio: written under new names (never a file already here); without it, the rows come without
    # their audio (the import lists them)
    for kind in portability.KINDS:
        for f in kind.fields():
            if portability._role(f) != "file":
                continue
            for old, new in zip(before[kind.file], again[kind.file], strict=True):
                if old[f.name] is None:
                    continue
                if audio:
                    assert old[f.name].pop("name") != new[f.name].pop("name")
                else:
                    assert f"{kind.file} line {old['ref']}, {f.name}: {old[f.name]['name']}" in (
                        report.audio_missing)
                    old[f.name] = None
    if not audio:
        before[portability.MANIFEST]["audio"]["referenced"] = 0

    # what must differ: when it was exported, the short name if renamed, and the keys live on the old
    # instance, revoked here (their secrets are not in the archive)
    manifests = before.pop(portability.MANIFEST), again.pop(portability.MANIFEST)
    for manifest in manifests:
        del manifest["exported_at"], manifest["account"]
    assert manifests[0] == manifests[1]
    if slug:
        assert again["account.jsonl"][0].pop("slug") == slug
        assert before["account.jsonl"][0].pop("slug") == "alpha"
    revoked = live_keys(before)
    assert len(revoked) == 1 and not live_keys(again)
    for files in (before, again):
        for row in files["api_keys.jsonl"]:
            if row["user"] in revoked:
                row["revoked_at"] = "revoked"
        for row in files["users.jsonl"]:
            if row["username"] in revoked:
                row["is_active"] = False
    assert set(before) == set(again)
    for name in before:
        assert before[name] == again[name], name

    # the people: the account's users made again with no usable password, the staff mapped
    made = User.objects.get(username="client_admin")
    assert made.account == report.account and made.role == "client_admin" and not made.has_usable_password()
    assert User.objects.get(username="secretary").pk == personas["secretary"].pk
    assert AuditEvent.objects.filter(action=Action.IMPORT, account_id=report.account.pk).count() == 1


def test_the_archive_is_documented_and_names_no_database_id(rich):
    files = read(export(rich))
    manifest = files[portability.MANIFEST]
    assert manifest["format"] == "permanence-account" and manifest["format_version"] == 1
    assert manifest["account"] == "alpha" and manifest["permanence_version"]
    assert manifest["files"] == {name: len(rows) for name, rows in files.items() if name.endswith(".jsonl")}
    call = files["calls.jsonl"][0]
    assert call["ref"] == 1 and call["secretary"] == "secretary" and call["run"] == 1
    assert call["called"] == "+33145000001" and "offered_to" not in call and "id" not in call
    change = files["directory_changes.jsonl"][0]
    services = {row["ref"]: row["name"] for row in files["services.jsonl"]}
    assert services[change["data"]["service"]] == "Contentieux"
    voicemail_messages = [m for m in files["messages.jsonl"] if "voicemail" in m["fields"]]
    assert [m["fields"]["voicemail"] for m in voicemail_messages] == [1]
    assert files["webhooks.jsonl"][0] == {"ref": 1, "url": "https://crm.alpha.example/hook", "active": True}
    assert all("digest" not in key for key in files["api_keys.jsonl"])
    assert {row["username"]: row["member"] for row in files["users.jsonl"]}.items() >= {
        "client_admin": True, "client_user": True, "secretary": False}.items()
    assert "password" not in files["users.jsonl"][0]
    staff = next(row for row in files["users.jsonl"] if row["username"] == "secretary")
    assert (staff["email"], staff["date_joined"], staff["role"]) == ("", None, "secretary")
    recording = files["call_recordings.jsonl"][0]["audio"]
    assert recording["size"] == len(WAV) and recording["archived"] is None
    assert {row["number"] for row in files["phone_numbers.jsonl"]} == {"+33145000001", "+33145000009"}

    documented = DOCS.read_text(encoding="utf-8")
    for kind in portability.KINDS:
        section = _section(documented, kind.file)
        for f in kind.fields():
            assert re.search(rf"^\| `{f.name}` \|", section, re.MULTILINE), f"{kind.file}: {f.name}?"
        for name in kind.leave_out:
            assert f"`{name}`" in section, f"{kind.file}: {name} left out without saying so"
    for name in portability.USER_FIELDS[1:]:  # after ref
        assert re.search(rf"^\| `{name}` \|", _section(documented, portability.USERS_FILE), re.MULTILINE)
    for model in portability.LEFT_OUT:
        assert model._meta.label in documented, f"{model._meta.label}: left out without saying so"


def _section(text: str, file: str) -> str:
    start = text.index(f"### `{file}`")
    end = text.find("\n### ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_an_account_changing_during_the_export_is_written_again(rich, monkeypatch):
    """A call arrives while the archive is written (its events counted, the call not): written again."""
    from permanence.calls import services
    from permanence.calls.models import Call

    made = []
    counted = portability._refs

    def refs(rows):
        found = counted(rows)
        if rows.model is Call and not made:
            made.append(services.call_arrived("01 45 00 00 01", "06 33 33 33 33"))
        return found

    monkeypatch.setattr(portability, "_refs", refs)
    files = read(export(rich))
    assert made and len(files["calls.jsonl"]) == Call.objects.filter(account=rich).count()
    assert files["calls.jsonl"][-1]["caller"] == "+33633333333"


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_export_reads_one_snapshot():
    """As the commands and pages run it: on PostgreSQL in one read-only snapshot transaction."""
    from factories import make_account

    account = make_account("gamma")
    files = read(export(account))
    assert files["account.jsonl"][0]["slug"] == "gamma" and len(files["weekly_hours.jsonl"]) == 7


def test_every_model_of_an_account_is_exported_or_left_out_with_a_reason():
    """A new model that belongs to an account must be added to the export, or to LEFT_OUT with why."""
    covered = set(portability.KIND_OF) | set(portability.LEFT_OUT) | {User}
    missing = []
    for model in apps.get_models():
        if not model.__module__.startswith("permanence.") or model in covered:
            continue
        if any(f.is_relation and f.many_to_one or f.one_to_one for f in model._meta.concrete_fields
               if f.related_model in covered and f.related_model is not User):
            missing.append(model._meta.label)
    assert not missing, f"add to permanence.accounts.portability KINDS or LEFT_OUT: {missing}"
    order = [kind.model for kind in portability.KINDS]
    for position, kind in enumerate(portability.KINDS):
        for f in kind.fields():
            if portability._role(f) == "ref":
                assert f.related_model in order, f"{kind.name}.{f.name}: names rows that are not exported"
                earlier = order.index(f.related_model) < position
                assert earlier or f.null, f"{kind.name}.{f.name}: the kind it names must come before it"


def test_the_commands_export_and_import(rich, tmp_path, capsys):
    path = tmp_path / "alpha.zip"
    call_command("export_account", "alpha", "--output", str(path), "--with-audio")
    assert f"alpha: {len(portability.KINDS) + 1} files" in capsys.readouterr().out
    assert AuditEvent.objects.filter(action=Action.EXPORT, account_id=rich.pk,
                                     object_type="accounts.account").exists()
    delete_account(rich, files=False)
    call_command("import_account", str(path), "--slug", "alpha-2")
    out = capsys.readouterr().out
    assert out.startswith("alpha-2: ") and "without a password" in out and "1 webhooks" in out
    assert Account.objects.filter(slug="alpha-2").exists()


def test_the_import_lists_the_audio_not_in_the_archive(rich, tmp_path, capsys):
    path = tmp_path / "alpha.zip"
    call_command("export_account", "alpha", "--output", str(path))  # without the audio
    delete_account(rich, files=False)
    call_command("import_account", str(path))
    out = capsys.readouterr().out
    assert "3 audio files not in the archive, imported without their audio" in out
    assert "\n  voicemails.jsonl line 1, audio: voicemail/" in out


def test_the_command_line_accepts_dashes_and_refuses_in_one_line(tmp_path, capsys):
    """No database here: Django closes its connections after a command run from the command line."""
    from permanence import cli

    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    for path, said in ((bad, "Nothing imported: not a readable zip archive"),
                       (tmp_path / "none.zip", f"Cannot read {tmp_path / 'none.zip'}: no such file")):
        with pytest.raises(SystemExit) as stopped:
            cli.main(["permanence", "import-account", str(path)])
        assert stopped.value.code == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"CommandError: {said}") and "\n" not in err


def test_an_unknown_account_is_not_exported(db, tmp_path):
    with pytest.raises(CommandError, match="No account with the short name 'nobody'"):
        call_command("export_account", "nobody", "--output", str(tmp_path / "x.zip"))
    assert not list(tmp_path.iterdir())


def _rewrite(archive: bytes, change: dict[str, bytes | None]) -> bytes:
    """The archive with some members replaced (None: removed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            if name in change:
                if change[name] is not None:
                    target.writestr(name, change[name])
            else:
                target.writestr(name, source.read(name))
    return out.getvalue()


def _manifest(archive: bytes, **changes: Any) -> bytes:
    manifest = read(archive)[portability.MANIFEST] | changes
    return _rewrite(archive, {portability.MANIFEST: json.dumps(manifest).encode()})


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


@pytest.fixture
def archive(rich):
    """Alpha's archive with its audio; Alpha gone from this instance, its files still in storage."""
    data = export(rich, audio=portability.audio_kinds())
    delete_account(rich, files=True)
    return data


def _stored_files() -> set[Path]:
    return {path for path in Path(default_storage.location).rglob("*") if path.is_file()}


def refused(archive: bytes, tmp_path: Path, **kw: Any) -> str:
    users, accounts = User.objects.count(), Account.objects.count()
    files = _stored_files()
    with pytest.raises(portability.ArchiveError) as error:
        import_bytes(archive, tmp_path, **kw)
    assert (User.objects.count(), Account.objects.count()) == (users, accounts)  # nothing left behind
    assert _stored_files() == files  # nor any file written
    message = str(error.value)
    assert "\n" not in message
    return message


def test_an_account_already_here_is_refused(archive, tmp_path, beta):
    assert "short name “beta” already exists" in refused(archive, tmp_path, slug="beta")
    assert "not a short name" in refused(archive, tmp_path, slug="Not a slug")


def test_an_unknown_format_version_is_refused(archive, tmp_path):
    assert refused(_manifest(archive, format_version=2), tmp_path) == (
        "format version 2 is unknown: this Permanence reads version 1")
    assert "does not describe" in refused(_manifest(archive, format="other"), tmp_path)


def test_a_missing_or_corrupt_file_is_refused(archive, tmp_path):
    assert "calls.jsonl missing" in refused(_rewrite(archive, {"calls.jsonl": None}), tmp_path)
    assert "no manifest.json" in refused(_rewrite(archive, {portability.MANIFEST: None}), tmp_path)
    assert "not a readable zip archive" in refused(archive[: len(archive) // 2], tmp_path)
    rows = read(archive)["calls.jsonl"]
    assert refused(_rewrite(archive, {"calls.jsonl": _jsonl(rows[:-1])}), tmp_path) == (
        f"calls.jsonl has {len(rows) - 1} rows where the manifest says {len(rows)}: the archive is "
        "incomplete")
    assert refused(_rewrite(archive, {"calls.jsonl": b"{oops\n"}), tmp_path) == "calls.jsonl line 1: not JSON"
    bad = [rows[0] | {"state": "flying"}, *rows[1:]]
    assert "calls.jsonl line 1, state:" in refused(_rewrite(archive, {"calls.jsonl": _jsonl(bad)}), tmp_path)
    bad = [rows[0] | {"secretary": "nobody"}, *rows[1:]]
    assert "“nobody” is not in users.jsonl" in refused(_rewrite(archive, {"calls.jsonl": _jsonl(bad)}),
                                                       tmp_path)
    bad = [rows[0] | {"extra": 1}, *rows[1:]]
    assert "unknown extra" in refused(_rewrite(archive, {"calls.jsonl": _jsonl(bad)}), tmp_path)
    audio = next(name for name in read(archive) if name.startswith("audio/"))
    assert "size or SHA-256 differ" in refused(_rewrite(archive, {audio: b"RIFFother"}), tmp_path)


def test_a_failure_at_the_last_file_leaves_nothing(archive, tmp_path):
    """All or nothing: the API keys come last; one bad row there and no row, user or file stays."""
    rows = read(archive)["api_keys.jsonl"]
    bad = [rows[0] | {"scope": "everything"}, *rows[1:]]
    assert "api_keys.jsonl line 1, scope:" in refused(_rewrite(archive, {"api_keys.jsonl": _jsonl(bad)}),
                                                       tmp_path)
    assert not Collaborator.objects.filter(last_name="Bernard").exists()


def test_users_numbers_and_ids_already_here_are_refused(rich, personas, tmp_path):
    data = export(rich)
    assert refused(data, tmp_path, slug="alpha-2").startswith("numbers already in service here for another "
                                                               "account: +33145000001 (alpha)")
    PhoneNumber.objects.filter(account=rich).update(released_at=timezone.now())
    assert refused(data, tmp_path, slug="alpha-2").startswith("usernames already taken here: api-")


def test_staff_unknown_here_are_kept_as_names(archive, personas, tmp_path):
    User.objects.filter(username="secretary").update(username="marie")
    report = import_bytes(archive, tmp_path)
    assert report.staff_kept_as_names == ["secretary"] and report.staff_mapped == ["assistant"]
    kept = User.objects.get(username="secretary")
    assert (kept.role, kept.is_active, kept.has_usable_password(), kept.trainings.count()) == (
        "secretary", False, False, 0)
    from permanence.calls.models import Call

    assert set(Call.objects.filter(account=report.account).exclude(secretary=None)
               .values_list("secretary__username", flat=True)) == {"secretary"}


def test_the_client_admin_downloads_the_account_audited(rich, personas):
    page = Client(enforce_csrf_checks=True)
    page.force_login(personas["client_admin"])
    shown = page.get("/a/alpha/export/")
    assert shown.status_code == 200 and b'data-testid="export-download"' in shown.content
    assert b'method="post"' in shown.content
    assert page.get("/a/alpha/export/download?audio=1").status_code == 405  # a link cannot start it
    assert page.post("/a/alpha/export/download", {"audio": "1"}).status_code == 403  # no CSRF token
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', shown.content)
    assert token is not None
    response = page.post("/a/alpha/export/download", {"audio": "1", "csrfmiddlewaretoken": token[1].decode()})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert 'filename="permanence-alpha-' in response["Content-Disposition"]
    files = read(b"".join(response.streaming_content))
    assert files[portability.MANIFEST]["account"] == "alpha" and files[portability.MANIFEST]["for_client"]
    assert files["scenario_remarks.jsonl"] == []  # the operator's (the client's download: what it sees)
    assert files[portability.MANIFEST]["audio"] == {"referenced": 3, "archived": 3}
    event = AuditEvent.objects.get(action=Action.EXPORT, object_type="accounts.account")
    assert (event.actor_id, event.account_id, event.detail["audio"]) == (
        personas["client_admin"].pk, rich.pk, 3)
    user = Client()
    user.force_login(personas["client_user"])
    assert user.post("/a/alpha/export/download").status_code == 403


def _with_user(archive: bytes, user: dict[str, Any]) -> dict[str, bytes]:
    """The members to rewrite so that ``users.jsonl`` also lists ``user`` (and the manifest counts it)."""
    files = read(archive)
    users = [*files["users.jsonl"], {**user, "ref": len(files["users.jsonl"]) + 1}]
    manifest = files[portability.MANIFEST]
    manifest["files"]["users.jsonl"] = len(users)
    return {"users.jsonl": _jsonl(users), portability.MANIFEST: json.dumps(manifest).encode()}


@pytest.mark.parametrize("named", ["admin", "client_admin_beta"])
def test_an_api_key_of_a_user_not_made_by_the_import_is_refused(archive, personas, tmp_path, named):
    """A tampered archive gives an API key to this instance's operator admin (listed as staff) or to
    another account's user: refused; the import would otherwise revoke the key and deactivate them."""
    staff = {"username": "admin", "first_name": "", "last_name": "", "email": "", "role": "operator_admin",
             "is_active": True, "date_joined": None, "member": False}
    change = _with_user(archive, staff) if named == "admin" else {}
    keys = read(archive)["api_keys.jsonl"]
    live = next(i for i, row in enumerate(keys) if row["revoked_at"] is None)
    keys[live]["user"] = named
    change["api_keys.jsonl"] = _jsonl(keys)
    before = User.objects.values().get(username=named)
    said = refused(_rewrite(archive, change), tmp_path)
    if named == "admin":
        assert said == (f"api_keys.jsonl line {live + 1}, user: “admin” is not a user of the account "
                        "(an API key's user is made by the import)")
    else:  # not in users.jsonl at all
        assert said == f"api_keys.jsonl line {live + 1}, user: “client_admin_beta” is not in users.jsonl"
    assert User.objects.values().get(username=named) == before
    from permanence.api.models import ApiKey

    assert not ApiKey.objects.filter(user__username=named).exists()


def _voicemail_audio(files: dict[str, Any]) -> dict[str, Any]:
    return files["voicemails.jsonl"][0]["audio"]


def test_imported_audio_never_names_a_file_already_here(rich, beta, tmp_path):
    """A reference without the file (“archived”: null) names nothing here, even a file that exists
    (another account's recording): the row comes without its audio, listed. An archived file is
    written under a new name, even when the same file is already here: no file is shared by two rows."""
    from permanence.calls.models import CallRecording, Voicemail

    theirs = default_storage.save(f"voicemail/{beta.pk}/2026/01/1-090000.wav", ContentFile(WAV + b"beta"))
    data = export(rich, audio=portability.audio_kinds())
    originals = {name: default_storage.open(name).read() for name in (
        *Voicemail.objects.values_list("audio", flat=True),
        *CallRecording.objects.values_list("audio", flat=True), rich.waiting_audio.name)}
    delete_account(rich, files=False)  # the files stay: as on the instance that made the archive
    files = read(data)
    voicemails = files["voicemails.jsonl"]
    voicemails[0]["audio"] = {"name": theirs, "size": len(WAV) + 4, "sha256": None, "archived": None}
    report = import_bytes(_rewrite(data, {"voicemails.jsonl": _jsonl(voicemails)}), tmp_path)

    assert report.audio_missing == [f"voicemails.jsonl line 1, audio: {theirs}"]
    assert report.audio_restored == 2
    account = report.account
    assert Voicemail.objects.get(account=account).audio.name == ""
    written = [*CallRecording.objects.filter(account=account).values_list("audio", flat=True),
               account.waiting_audio.name]
    assert all(written) and not set(written) & {*originals, theirs}
    for name in written:
        assert default_storage.open(name).read() in originals.values()
    for name, content in {**originals, theirs: WAV + b"beta"}.items():  # nothing here was touched
        assert default_storage.open(name).read() == content


def test_the_clients_download_holds_what_the_client_sees(rich, personas, tmp_path):
    """Drafts and versions in review, the technical assistants' review notes, the secretaries' remarks
    and the training calls' runs are the operator's: left out of the client's download (the command
    line holds everything); what is left imports."""
    from permanence import policy
    from permanence.calls.models import Call
    from permanence.scenarios.models import Comment, Run, Scenario, ScenarioVersion
    from permanence.scenarios.services import template_source

    assert set(portability.CLIENT_VERSIONS) == set(policy.visible_version_statuses(personas["client_admin"]))
    scenario = Scenario.objects.get(account=rich)
    v1, v2 = scenario.versions.order_by("number")
    draft = ScenarioVersion.objects.create(scenario=scenario, number=3, source=template_source("legal"),
                                           digest="d3", status="draft", author=personas["assistant"])
    Comment.objects.create(version=draft, kind="review", text="À revoir", author=personas["assistant"])
    Comment.objects.create(version=v2, kind="review", text="Relu", author=personas["assistant"])
    hidden = Scenario.objects.create(account=rich, name="En préparation", entry="night")
    ScenarioVersion.objects.create(scenario=hidden, number=1, source=template_source("legal"), digest="h1",
                                   status="review", author=personas["assistant"])
    training = Call.objects.create(account=rich, called="+33145000001", caller="+33600000000", training=True,
                                   state="done", secretary=personas["secretary"])
    training.run = Run.objects.create(version=v1, agent=personas["secretary"], test=True, outcome="message")
    training.save(update_fields=["run"])

    everything = read(export(rich))
    assert {row["status"] for row in everything["scenario_versions.jsonl"]} == {"published", "sent", "draft",
                                                                                 "review"}
    assert everything["scenario_remarks.jsonl"] and any(r["test"] for r in everything["scenario_runs.jsonl"])
    assert everything[portability.MANIFEST]["for_client"] is False

    data = export(rich, for_client=True)
    files = read(data)
    assert files[portability.MANIFEST]["for_client"] is True
    assert [row["name"] for row in files["scenarios.jsonl"]] == [scenario.name]
    assert [(row["number"], row["status"]) for row in files["scenario_versions.jsonl"]] == [
        (1, "published"), (2, "sent")]
    assert [(row["version"], row["kind"], row["text"]) for row in files["scenario_comments.jsonl"]] == [
        (2, "changes", "Plus court")]  # the client's own change request
    assert files["scenario_remarks.jsonl"] == []
    assert [row["test"] for row in files["scenario_runs.jsonl"]] == [False]
    runs = {row["caller"]: row["run"] for row in files["calls.jsonl"]}
    assert runs["+33611111111"] == 1 and runs["+33600000000"] is None
    assert files[portability.MANIFEST]["files"] == {
        name: len(rows) for name, rows in files.items() if name.endswith(".jsonl")}

    delete_account(rich, files=False)
    report = import_bytes(data, tmp_path)
    imported = ScenarioVersion.objects.filter(scenario__account=report.account)
    assert sorted(imported.values_list("status", flat=True)) == ["published", "sent"]
