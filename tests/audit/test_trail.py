import pytest
from django.db import DatabaseError, transaction
from django.test import Client

from permanence.audit.models import AuditError, AuditEvent
from permanence.audit.trail import record


def test_reading_caller_data_is_recorded(personas, alpha):
    client = Client(REMOTE_ADDR="127.0.0.7")
    client.force_login(personas["secretary"])
    contact = alpha.contacts.get()
    assert client.get(f"/a/alpha/contacts/{contact.pk}/").status_code == 200
    event = AuditEvent.objects.get(action="view")
    assert event.actor == personas["secretary"]
    assert event.actor_name == "secretary"
    assert event.object_type == "contacts.contact" and event.object_id == str(contact.pk)
    assert event.account_id == alpha.pk
    assert event.ip_address == "127.0.0.7"


def test_export_is_recorded(personas, alpha):
    client = Client()
    client.force_login(personas["client_admin"])
    response = client.get("/a/alpha/contacts/export.csv")
    assert b"".join(response.streaming_content).decode().count("\r\n") == 2  # header + 1 row
    assert AuditEvent.objects.filter(action="export", account_id=alpha.pk).count() == 1


def test_events_cannot_be_changed_or_deleted(alpha):
    event = record(None, "view", alpha, note="x")
    event.detail = {"note": "rewritten"}
    with pytest.raises(AuditError):
        event.save()
    with pytest.raises(AuditError):
        event.delete()


def test_database_refuses_bulk_rewrites(alpha, monkeypatch):
    from permanence.audit import models

    monkeypatch.setattr(models, "_purge_allowed", False)
    record(None, "view", alpha)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.update(actor_name="someone else")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.all()._raw_delete(AuditEvent.objects.db)
    assert AuditEvent.objects.get().actor_name == "system"


def test_client_admin_sees_own_account_trail_only(personas, alpha, beta):
    record(personas["secretary"], "view", alpha.contacts.get())
    record(personas["secretary_beta"], "view", beta.contacts.get())
    client = Client()
    client.force_login(personas["client_admin"])
    page = client.get("/a/alpha/audit/").content.decode()
    assert "Albert Client" in page and "Béatrice" not in page


def test_an_allowed_purge_deletes_but_never_updates(alpha):
    from permanence.audit.models import allow_purge

    record(None, "view", alpha)
    record(None, "view", alpha)
    with allow_purge():
        with pytest.raises(DatabaseError), transaction.atomic():
            AuditEvent.objects.update(actor_name="x")
        assert AuditEvent.objects.filter(action="view")._raw_delete(AuditEvent.objects.db) == 2
    assert AuditEvent.objects.count() == 0
    with pytest.raises(DatabaseError), transaction.atomic():
        record(None, "view", alpha)
        AuditEvent.objects.all()._raw_delete(AuditEvent.objects.db)
