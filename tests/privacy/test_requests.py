"""Requests of data subjects: the register and its deadlines, the access export (a zip of JSON and CSV
files and a summary, this person's data only), the erasure (with what is kept and why), the
rectification of a contact; the pages of retention periods and legal holds."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from factories import make_contact
from permanence.agenda.models import Appointment
from permanence.audit import trail
from permanence.audit.models import Action, AuditEvent
from permanence.calls import recordings
from permanence.calls.models import Call, CallRecording, Voicemail
from permanence.contacts.models import Contact
from permanence.messaging.models import Delivery, Message
from permanence.privacy.models import DataRequest, LegalHold, RetentionPolicy, add_months
from permanence.reporting.models import Rollup
from privacy_helpers import OLD, PARIS, answered_call, appointment_for, message_for, voicemail_for

CALLER = "+33612345678"
OTHER = "+33698765432"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def person(alpha: Any, beta: Any, personas: Any) -> dict[str, Any]:
    """Jean (CALLER, jean@example.org) in Alpha and in Beta; Paul (OTHER) in Alpha."""
    jean = make_contact(alpha, (CALLER,), first_name="Jean", last_name="Appelant", email="jean@example.org",
                        file_number="D-1042", birth_date=date(1980, 12, 24), postcode="75011")
    trail.record(personas["client_admin"], Action.VIEW, jean)
    call = answered_call(alpha, CALLER, OLD, answers={"name": "Jean Appelant", "reason": "facture"})
    message = message_for(call, OLD)
    voicemail = voicemail_for(call, OLD)
    recording = recordings.stored(call.pk, b"RIFF....WAVE", 60.0, OLD, None)
    past = appointment_for(alpha, OLD + timedelta(days=2), email="JEAN@example.org")
    coming = appointment_for(alpha, timezone.now() + timedelta(days=10), phone=CALLER)
    paul = answered_call(alpha, OTHER, OLD + timedelta(hours=1), answers={"name": "Paul Autre"})
    paul_message = message_for(paul, OLD)
    beta_call = answered_call(beta, CALLER, OLD + timedelta(hours=2), answers={"name": "Jean chez Beta"})
    return {"contact": jean, "call": call, "message": message, "voicemail": voicemail, "recording": recording,
            "past": past, "coming": coming, "paul": paul, "paul_message": paul_message,
            "beta_call": beta_call}  # fmt: skip


def register(client: Client, url: str, **fields: str) -> Any:
    return client.post(url, fields)


def open_zip(response: Any) -> zipfile.ZipFile:
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="data-')
    return zipfile.ZipFile(io.BytesIO(response.content))


def csv_rows(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    text = archive.read(name).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


# the register ---------------------------------------------------------------------------------------


def test_the_answer_is_due_one_month_after_the_request_is_received():
    moment = datetime(2027, 1, 31, 12, tzinfo=PARIS)
    assert add_months(moment, 1) == datetime(2027, 2, 28, 12, tzinfo=PARIS)
    assert add_months(datetime(2028, 1, 31, 12, tzinfo=PARIS), 1).day == 29
    assert add_months(datetime(2027, 3, 15, 9, tzinfo=PARIS), -13) == datetime(2026, 2, 15, 9, tzinfo=PARIS)


def test_a_client_admin_registers_a_request_and_the_register_shows_its_deadline(alpha, personas):
    client = signed_in(personas["client_admin"])
    response = register(client, "/a/alpha/privacy/requests/", kind="access", phone="06 12 34 56 78",
                        received_at="2026-11-02", name="Jean Appelant")  # fmt: skip
    item = DataRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/a/alpha/privacy/requests/{item.pk}/"
    assert (item.account, item.kind, item.phone, item.status) == (alpha, "access", CALLER, "open")
    assert timezone.localtime(item.due_at).date().isoformat() == "2026-12-02"
    assert item.created_by == personas["client_admin"]
    assert AuditEvent.objects.filter(object_type="privacy.datarequest", action="create").count() == 1
    late = DataRequest.objects.create(account=alpha, kind="erasure", email="a@example.org",
                                      received_at=timezone.now() - timedelta(days=40))  # fmt: skip
    soon = DataRequest.objects.create(account=alpha, kind="erasure", email="b@example.org",
                                      received_at=timezone.now() - timedelta(days=27))  # fmt: skip
    fresh = DataRequest.objects.create(account=alpha, kind="erasure", email="c@example.org")
    done = DataRequest.objects.create(account=alpha, kind="access", email="d@example.org", status="done",
                                      received_at=timezone.now() - timedelta(days=90))  # fmt: skip
    page = client.get("/a/alpha/privacy/requests/").content.decode()
    for row, state in ((late, "late"), (soon, "soon"), (fresh, "ok"), (done, "ok")):
        assert f'data-testid="due-{row.pk}" data-state="{state}"' in page
    assert page.index(f'request-{late.pk}"') < page.index(f'request-{soon.pk}"') < page.index(
        f'request-{done.pk}"')  # open ones first, the nearest deadline first


@pytest.mark.parametrize(("fields", "field"), [
    ({"kind": "access", "phone": "12"}, "phone"),
    ({"kind": "access", "email": "pas une adresse"}, "email"),
    ({"kind": "access"}, "phone"),
    ({"kind": "forget", "phone": CALLER}, "kind"),
    ({"kind": "access", "phone": CALLER, "received_at": "2999-13-01"}, "received_at"),
    ({"kind": "access", "phone": CALLER, "received_at": "2099-01-01"}, "received_at"),
    ({"kind": "access", "contact": "999999"}, "contact"),
])  # fmt: skip
def test_a_request_badly_written_is_refused_field_by_field(alpha, personas, fields, field):
    response = signed_in(personas["client_admin"]).post("/a/alpha/privacy/requests/", fields)
    assert response.status_code == 422
    assert f'data-testid="error-{field}"'.encode() in response.content
    assert not DataRequest.objects.exists()


def test_another_accounts_contact_is_refused(alpha, beta, personas):
    theirs = Contact.objects.get(account=beta)
    response = signed_in(personas["client_admin"]).post(
        "/a/alpha/privacy/requests/", {"kind": "access", "contact": str(theirs.pk)})
    assert response.status_code == 422 and not DataRequest.objects.exists()


def test_the_status_and_notes_are_saved_with_who_handled_it(alpha, personas):
    item = DataRequest.objects.create(account=alpha, kind="access", phone=CALLER)
    client = signed_in(personas["client_admin"])
    response = client.post(f"/a/alpha/privacy/requests/{item.pk}/", {"status": "done", "notes": "Envoyé"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.notes, item.handled_by) == ("done", "Envoyé", personas["client_admin"])
    assert client.post(f"/a/alpha/privacy/requests/{item.pk}/", {"status": "x"}).status_code == 422


# access ---------------------------------------------------------------------------------------------


def test_the_access_export_holds_this_persons_data_in_this_account_only(alpha, person, personas):
    item = DataRequest.objects.create(account=alpha, kind="access", phone=CALLER)
    client = signed_in(personas["client_admin"])
    page = client.get(f"/a/alpha/privacy/requests/{item.pk}/")
    assert page.status_code == 200 and b'data-testid="found-alpha"' in page.content
    archive = open_zip(client.post(f"/a/alpha/privacy/requests/{item.pk}/export"))
    names = set(archive.namelist())
    assert {"summary.html", "data.json", "contacts.csv", "calls.csv", "call_events.csv", "messages.csv",
            "deliveries.csv", "appointments.csv", "voicemails.csv", "recordings.csv", "audit.csv"} <= names
    data = json.loads(archive.read("data.json"))
    assert [c["id"] for c in data["contacts"]] == [person["contact"].pk]
    assert data["contacts"][0]["email"] == "jean@example.org" and data["contacts"][0]["numbers"] == [CALLER]
    identity = ("file_number", "birth_date", "postcode")
    assert [data["contacts"][0][k] for k in identity] == ["D-1042", "1980-12-24", "75011"]
    assert [c["id"] for c in data["calls"]] == [person["call"].pk]
    assert data["calls"][0]["answers"] == {"name": "Jean Appelant", "reason": "facture"}
    assert {e["call"] for e in data["call_events"]} == {person["call"].pk}
    assert [e["kind"] for e in data["call_events"]][:2] == ["arrived", "queued"]
    assert [m["id"] for m in data["messages"]] == [person["message"].pk]
    assert [d["message"] for d in data["deliveries"]] == [person["message"].pk]
    assert sorted(a["id"] for a in data["appointments"]) == sorted([person["past"].pk, person["coming"].pk])
    assert [v["id"] for v in data["voicemails"]] == [person["voicemail"].pk]
    assert data["voicemails"][0]["file"] == person["voicemail"].audio.name  # by reference
    assert [r["id"] for r in data["recordings"]] == [person["recording"].pk]
    assert {(a["object_type"], a["object_id"]) for a in data["audit"]} >= {
        ("contacts.contact", str(person["contact"].pk))}
    # the CSV files say the same
    assert [[r[k] for k in identity] for r in csv_rows(archive, "contacts.csv")] == [
        ["D-1042", "1980-12-24", "75011"]]
    assert [r["id"] for r in csv_rows(archive, "calls.csv")] == [str(person["call"].pk)]
    assert json.loads(csv_rows(archive, "calls.csv")[0]["answers"])["reason"] == "facture"
    assert [r["caller_email"] for r in csv_rows(archive, "appointments.csv")].count("JEAN@example.org") == 1
    # nothing of another person, nothing of another account
    everything = b"".join(archive.read(name) for name in names).decode("utf-8", "replace")
    for foreign in (OTHER, "06 98 76 54 32", "Paul Autre", "Plomberie Beta", "Jean chez Beta"):
        assert foreign not in everything, foreign
    summary = archive.read("summary.html").decode()
    assert "Cabinet Alpha" in summary and 'lang="fr"' in summary
    item.refresh_from_db()
    assert item.exported_at is not None
    (audit,) = AuditEvent.objects.filter(object_type="privacy.datarequest", action="export")
    assert audit.account_id == alpha.pk and audit.detail["counts"]["calls"] == 1


def test_the_operator_looks_in_every_account(alpha, beta, person, personas):
    client = signed_in(personas["admin"])
    response = client.post("/privacy/", {"kind": "access", "phone": CALLER, "name": "Jean"})
    item = DataRequest.objects.get()
    assert item.account is None and response["Location"] == f"/privacy/requests/{item.pk}/"
    assert client.get(f"/privacy/requests/{item.pk}/").status_code == 200
    data = json.loads(open_zip(client.post(f"/privacy/requests/{item.pk}/export")).read("data.json"))
    assert sorted(c["id"] for c in data["calls"]) == sorted([person["call"].pk, person["beta_call"].pk])
    assert {c["account"] for c in data["calls"]} == {"Cabinet Alpha", "Plomberie Beta"}
    audits = AuditEvent.objects.filter(object_type="privacy.datarequest", action="export")
    assert sorted(a.account_id for a in audits) == sorted([alpha.pk, beta.pk])  # each account sees it
    # a client admin has no such request: it is the operator's
    assert signed_in(personas["client_admin"]).get(f"/privacy/requests/{item.pk}/").status_code == 404
    assert signed_in(personas["client_admin"]).get("/privacy/")["Location"] == "/a/alpha/privacy/requests/"


def test_a_request_made_with_an_email_finds_the_contact_and_through_it_the_calls(alpha, person, personas):
    item = DataRequest.objects.create(account=alpha, kind="access", email="jean@example.org")
    data = json.loads(open_zip(signed_in(personas["client_admin"]).post(
        f"/a/alpha/privacy/requests/{item.pk}/export")).read("data.json"))
    assert [c["id"] for c in data["calls"]] == [person["call"].pk]
    assert [c["id"] for c in data["contacts"]] == [person["contact"].pk]


# erasure --------------------------------------------------------------------------------------------


def test_erasure_empties_or_deletes_and_lists_what_is_kept_and_why(alpha, beta, person, personas):
    LegalHold.objects.create(account=beta, whole_account=True, reason="Contrôle URSSAF",
                             set_by=personas["admin"])
    item = DataRequest.objects.create(kind="erasure", phone=CALLER)  # about every account: the operator's
    rollups_before = {(r.grain, r.scope, r.key, r.start): r.figures for r in Rollup.objects.all()}
    vm_file = person["voicemail"].audio.name
    client = signed_in(personas["admin"])
    assert client.post(f"/privacy/requests/{item.pk}/erase").status_code == 422  # not confirmed
    assert Call.objects.get(pk=person["call"].pk).caller == CALLER
    response = client.post(f"/privacy/requests/{item.pk}/erase", {"confirm": "1"})
    assert response.status_code == 302
    # erased
    assert not Contact.objects.filter(pk=person["contact"].pk).exists()
    call = Call.objects.get(pk=person["call"].pk)
    assert call.caller == "" and call.purged_at is not None and call.events.count() >= 5
    assert "answers" not in call.run.state
    message = Message.objects.get(pk=person["message"].pk)
    assert (message.subject, message.body, message.fields) == ("", "", {})
    assert set(Delivery.objects.filter(message=message).values_list("address", flat=True)) == {""}
    past = Appointment.objects.get(pk=person["past"].pk)
    assert (past.caller_email, past.caller_name, past.purged_at is not None) == ("", "", True)
    voicemail = Voicemail.objects.get(pk=person["voicemail"].pk)
    assert voicemail.purged_at is not None and voicemail.caller == "" and voicemail.audio.name == ""
    assert not voicemail.audio.storage.exists(vm_file)
    assert CallRecording.objects.get(pk=person["recording"].pk).purged_at is not None
    # kept, with the reason
    item.refresh_from_db()
    kept = {(k["section"], k["id"]): k for k in item.result["kept"]}
    assert kept[("appointments", person["coming"].pk)]["code"] == "upcoming"
    assert kept[("calls", person["beta_call"].pk)]["code"] == "hold"
    assert "Contrôle URSSAF" in kept[("calls", person["beta_call"].pk)]["reason"]
    assert any(section == "audit" for section, _ in kept)
    assert Call.objects.get(pk=person["beta_call"].pk).caller == CALLER
    assert Appointment.objects.get(pk=person["coming"].pk).caller_phone == CALLER
    # another person's data untouched, the figures unchanged
    assert Call.objects.get(pk=person["paul"].pk).caller == OTHER
    assert Message.objects.get(pk=person["paul_message"].pk).body
    assert {(r.grain, r.scope, r.key, r.start): r.figures for r in Rollup.objects.all()} == rollups_before
    assert item.result["erased"]["calls"] == 1 and item.result["erased"]["contacts"] == 1
    page = client.get(f"/privacy/requests/{item.pk}/").content.decode()
    assert f'data-testid="kept-appointments-{person["coming"].pk}"' in page
    assert f'data-testid="kept-calls-{person["beta_call"].pk}"' in page
    deleted = AuditEvent.objects.filter(object_type="privacy.datarequest", action="delete")
    assert sorted(a.account_id for a in deleted) == sorted([alpha.pk, beta.pk])
    # erased twice: nothing more to erase, the same things kept
    assert client.post(f"/privacy/requests/{item.pk}/erase", {"confirm": "1"}).status_code == 302
    item.refresh_from_db()
    assert item.result["erased"] == {}


def test_an_access_request_does_not_erase(alpha, person, personas):
    item = DataRequest.objects.create(account=alpha, kind="access", phone=CALLER)
    response = signed_in(personas["client_admin"]).post(
        f"/a/alpha/privacy/requests/{item.pk}/erase", {"confirm": "1"})
    assert response.status_code == 422 and b'data-testid="error-erase"' in response.content
    assert Call.objects.get(pk=person["call"].pk).caller == CALLER


def test_a_client_admin_erases_in_their_own_account_only(alpha, beta, person, personas):
    item = DataRequest.objects.create(account=alpha, kind="erasure", phone=CALLER)
    signed_in(personas["client_admin"]).post(f"/a/alpha/privacy/requests/{item.pk}/erase", {"confirm": "1"})
    assert Call.objects.get(pk=person["call"].pk).caller == ""
    assert Call.objects.get(pk=person["beta_call"].pk).caller == CALLER


def test_a_hold_on_the_caller_keeps_their_data_from_the_erasure(alpha, person, personas):
    LegalHold.objects.create(account=alpha, email="jean@example.org", reason="Litige",
                             set_by=personas["admin"])
    item = DataRequest.objects.create(account=alpha, kind="erasure", phone=CALLER)
    signed_in(personas["client_admin"]).post(f"/a/alpha/privacy/requests/{item.pk}/erase", {"confirm": "1"})
    item.refresh_from_db()
    assert Contact.objects.filter(pk=person["contact"].pk).exists()
    assert Call.objects.get(pk=person["call"].pk).caller == CALLER
    assert {k["code"] for k in item.result["kept"] if k["section"] != "audit"} == {"hold"}
    assert item.result["erased"] == {}


# rectification --------------------------------------------------------------------------------------


def test_rectification_corrects_the_contact_and_is_audited(alpha, person, personas):
    item = DataRequest.objects.create(account=alpha, kind="rectification", phone=CALLER)
    client = signed_in(personas["client_admin"])
    url = f"/a/alpha/privacy/requests/{item.pk}/rectify"
    contact = person["contact"]
    fields = {"contact": str(contact.pk), "first_name": "Jean-Pierre", "last_name": "Appelant",
              "company": "", "email": "jp@example.org", "numbers": "06 12 34 56 78\n01 45 00 00 99",
              "notes": "", "file_number": "D-1042", "birth_date": "24 décembre 1981", "postcode": "75 011"}
    page = client.get(f"/a/alpha/privacy/requests/{item.pk}/").content.decode()
    assert 'value="D-1042"' in page and 'value="24/12/1980"' in page and 'value="75011"' in page
    bad = client.post(url, {**fields, "numbers": "06 12"})
    assert bad.status_code == 422 and b'data-testid="error-numbers"' in bad.content
    bad = client.post(url, {**fields, "birth_date": "31/02/1981"})
    assert bad.status_code == 422 and b'data-testid="error-birth_date"' in bad.content
    assert client.post(url, {**fields, "contact": "0"}).status_code == 422
    assert client.post(url, fields).status_code == 302
    contact.refresh_from_db()
    assert (contact.first_name, contact.email) == ("Jean-Pierre", "jp@example.org")
    identity = (contact.file_number, contact.birth_date, contact.postcode)
    assert identity == ("D-1042", date(1981, 12, 24), "75 011")
    assert sorted(contact.numbers.values_list("number", flat=True)) == ["+33145000099", CALLER]
    (audit,) = AuditEvent.objects.filter(object_type="contacts.contact", object_id=str(contact.pk),
                                         action="update")  # fmt: skip
    assert audit.detail["changes"]["first_name"] == ["Jean", "Jean-Pierre"]
    assert audit.detail["changes"]["numbers"] == [[CALLER], ["+33145000099", CALLER]]
    assert audit.detail["data_request"] == item.pk
    # the identity check's values: changed, said without them (the trail outlives an erasure)
    assert audit.detail["changes"]["birth_date"] == audit.detail["changes"]["postcode"] == ["***", "***"]
    assert "file_number" not in audit.detail["changes"]
    assert not any(v in json.dumps(audit.detail) for v in ("1980-12-24", "1981-12-24", "75011", "75 011"))


# retention and holds pages --------------------------------------------------------------------------


def test_the_retention_page_sets_the_periods_and_shows_the_recordings_own(alpha, personas):
    client = signed_in(personas["client_admin"])
    page = client.get("/a/alpha/privacy/")
    assert page.status_code == 200
    assert b'data-testid="voicemail-days">90<' in page.content
    assert b'data-testid="recording-days">30' in page.content
    bad = client.post("/a/alpha/privacy/", {"calls_months": "0", "messages_months": "abc"})
    assert bad.status_code == 422 and b'data-testid="error-calls_months"' in bad.content
    assert b'data-testid="error-messages_months"' in bad.content and not RetentionPolicy.objects.exists()
    assert client.post("/a/alpha/privacy/", {"calls_months": "6", "contacts_months": ""}).status_code == 302
    policy = RetentionPolicy.objects.get(account=alpha)
    assert (policy.months("calls"), policy.months("contacts")) == (6, 36)
    (audit,) = AuditEvent.objects.filter(object_type="privacy.retentionpolicy")
    assert audit.detail["changes"] == {"calls_months": [None, 6]}


def test_holds_are_set_listed_and_lifted_with_the_audit_trail(alpha, personas):
    client = signed_in(personas["client_admin"])
    assert client.post("/a/alpha/privacy/holds/", {"phone": CALLER}).status_code == 422  # no reason
    assert client.post("/a/alpha/privacy/holds/", {"reason": "Litige"}).status_code == 422  # on nothing
    assert client.post("/a/alpha/privacy/holds/", {"phone": "abc", "reason": "Litige"}).status_code == 422
    assert not LegalHold.objects.exists()
    response = client.post("/a/alpha/privacy/holds/", {"phone": "06 12 34 56 78", "reason": "Litige"})
    assert response.status_code == 302
    hold = LegalHold.objects.get()
    assert (hold.phone, hold.set_by, hold.lifted_at) == (CALLER, personas["client_admin"], None)
    page = client.get("/a/alpha/privacy/holds/").content.decode()
    assert f'data-testid="in-force-{hold.pk}"' in page
    assert client.post(f"/a/alpha/privacy/holds/{hold.pk}/lift").status_code == 302
    hold.refresh_from_db()
    assert hold.lifted_by == personas["client_admin"] and hold.lifted_at is not None
    assert client.post(f"/a/alpha/privacy/holds/{hold.pk}/lift").status_code == 302  # once
    actions = AuditEvent.objects.filter(object_type="privacy.legalhold").values_list("action", flat=True)
    assert sorted(actions) == ["create", "update"]
