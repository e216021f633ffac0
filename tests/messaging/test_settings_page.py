"""The page where a client says who gets the messages, how, and the escalation list."""

from datetime import time

from django.test import Client

from permanence.audit.models import AuditEvent
from permanence.directory.models import Collaborator
from permanence.messaging.models import DeliveryPreference, EscalationPolicy


def signed_in(personas, who="client_admin"):
    client = Client()
    client.force_login(personas[who])
    return client


def test_client_admin_sets_preferences(personas, alpha):
    anne = Collaborator.objects.get(account=alpha)
    client = signed_in(personas)
    page = client.get("/a/alpha/messages/settings/")
    assert page.status_code == 200 and "Maître Anne Alphonse" in page.content.decode()
    p = f"p{anne.pk}"
    response = client.post(
        f"/a/alpha/messages/settings/people/{anne.pk}",
        {
            f"{p}-urgent_sms": "on",
            f"{p}-digest": "on",
            f"{p}-digest_at": "17:30",
            f"{p}-quiet_start": "21:00",
            f"{p}-quiet_end": "07:30",
        },
    )
    assert response.status_code == 302
    saved = DeliveryPreference.objects.get(collaborator=anne)
    assert (saved.normal_email, saved.normal_sms, saved.urgent_email, saved.urgent_sms) == (
        False,
        False,
        False,
        True,
    )
    assert (saved.digest, saved.digest_at, saved.quiet_start, saved.quiet_end) == (
        True,
        time(17, 30),
        time(21),
        time(7, 30),
    )
    assert AuditEvent.objects.filter(object_type="messaging.deliverypreference", action="update").exists()
    # the page shows what is saved
    assert 'value="17:30"' in client.get("/a/alpha/messages/settings/").content.decode()


def test_half_quiet_hours_are_refused_and_nothing_saved(personas, alpha):
    anne = Collaborator.objects.get(account=alpha)
    p = f"p{anne.pk}"
    response = signed_in(personas).post(
        f"/a/alpha/messages/settings/people/{anne.pk}",
        {f"{p}-digest_at": "18:00", f"{p}-quiet_start": "21:00"},
    )
    assert response.status_code == 400
    assert "Les heures de silence demandent un début et une fin." in response.content.decode()
    assert not DeliveryPreference.objects.exists()
    response = signed_in(personas).post(
        f"/a/alpha/messages/settings/people/{anne.pk}", {f"{p}-digest_at": "25:99"}
    )
    assert response.status_code == 400 and not DeliveryPreference.objects.exists()


def test_escalation_list_is_checked_and_normalised(personas, alpha):
    client = signed_in(personas, "assistant")
    bad = client.post(
        "/a/alpha/messages/settings/escalation",
        {"delay_minutes": "10", "steps_text": "associe@alpha.example\nle patron"},
    )
    assert bad.status_code == 400 and "ni une adresse e-mail ni un numéro" in bad.content.decode()
    assert not EscalationPolicy.objects.exists()
    assert (
        client.post(
            "/a/alpha/messages/settings/escalation", {"delay_minutes": "0", "steps_text": ""}
        ).status_code
        == 400
    )
    ok = client.post(
        "/a/alpha/messages/settings/escalation",
        {"delay_minutes": "10", "steps_text": "associe@alpha.example\n\n06 12 34 56 78\n"},
    )
    assert ok.status_code == 302
    saved = EscalationPolicy.objects.get(account=alpha)
    assert saved.delay_minutes == 10 and saved.steps == ["associe@alpha.example", "+33612345678"]
    assert "associe@alpha.example\n+33612345678" in client.get("/a/alpha/messages/settings/").content.decode()


def test_undelivered_messages_across_accounts(personas, alpha, beta):
    from django.db import transaction

    from permanence.messaging import outbox
    from permanence.messaging.models import Delivery, Message

    with transaction.atomic():
        ours = outbox.queue_message(alpha, subject="Rappel Alpha", body="x", recipients=["a@alpha.example"])
        theirs = outbox.queue_message(beta, subject="Rappel Beta", body="x", recipients=["b@beta.example"])
    for message in (ours, theirs):
        Delivery.objects.filter(message=message).update(status="dead", last_error="SMTP 550")
        Message.objects.filter(pk=message.pk).update(status="failed")
    page = signed_in(personas, "admin").get("/messages/failed/").content.decode()
    assert "Rappel Alpha" in page and "Rappel Beta" in page and "SMTP 550" in page
    client = signed_in(personas, "client_admin")
    page = client.get("/messages/failed/").content.decode()
    assert "Rappel Alpha" in page and "Rappel Beta" not in page
    assert signed_in(personas, "secretary").get("/messages/failed/").status_code == 403
    back = signed_in(personas, "assistant").post(f"/a/alpha/messages/{ours.pk}/resend", {"back": "failed"})
    assert back.status_code == 302 and back["Location"] == "/messages/failed/"
    assert Delivery.objects.get(message=ours).status == "queued"
