"""A user who appears in the audit trail can still be deleted: the trail keeps their rows, and the
actor's name as it was written."""

from django.contrib.auth import get_user_model
from django.test import Client

from permanence.audit.models import AuditEvent
from permanence.audit.trail import record


def test_deleting_a_user_keeps_their_audit_rows(personas, alpha):
    leaver = personas["client_user"]
    event = record(leaver, "view", alpha.contacts.get())
    leaver.delete()
    assert not get_user_model().objects.filter(username="client_user").exists()
    kept = AuditEvent.objects.get(pk=event.pk)
    assert kept.actor_name == "client_user" and kept.object_id == event.object_id


def test_the_back_office_deletes_a_user_with_an_audit_trail(personas, alpha):
    leaver = personas["secretary"]
    record(leaver, "view", alpha.contacts.get())
    record(leaver, "list", alpha, object_type="contacts.contact")
    admin = Client()
    admin.force_login(personas["admin"])
    url = f"/admin/users/user/{leaver.pk}/delete/"
    assert admin.get(url).status_code == 200
    response = admin.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=leaver.pk).exists()
    kept = AuditEvent.objects.filter(actor_name="secretary").order_by("pk")
    assert [e.action for e in kept] == ["view", "list"]
    page = admin.get(f"/admin/audit/auditevent/{kept[0].pk}/change/")
    assert page.status_code == 200 and "secretary" in page.content.decode()
