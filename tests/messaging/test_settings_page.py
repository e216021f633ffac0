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
