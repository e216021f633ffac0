"""The quality loop: the client flags a wrong message with a reason; the secretary who took it sees
it at her desk, her supervisor in the figures, and it counts in the error rates."""

from datetime import timedelta

from django.db import transaction
from django.test import Client
from django.utils import timezone

from permanence.audit.models import AuditEvent
from permanence.messaging import outbox, quality
from permanence.messaging.models import MessageFlag


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def written(alpha, author, subject):
    with transaction.atomic():
        return outbox.queue_message(alpha, subject=subject, body="Rappeler.", recipients=["a@alpha.example"],
                                    author=author)


def test_a_flagged_message_reaches_its_secretary_and_counts_in_the_error_rate(personas, alpha):
    secretary = personas["secretary"]
    wrong = written(alpha, secretary, "Appel de M. Durant")
    written(alpha, secretary, "Appel de Mme Petit")
    page = signed_in(personas["client_user"])
    response = page.post(f"/a/alpha/messages/{wrong.pk}/flag", {"reason": "misspelt",
                                                               "text": "C'est Durand, avec un d"})
    assert response.status_code == 302
    assert MessageFlag.objects.get().message == wrong
    assert AuditEvent.objects.filter(object_type="messaging.messageflag", action="create").exists()
    again = page.post(f"/a/alpha/messages/{wrong.pk}/flag", {"reason": "other"}, follow=True)
    assert "déjà" in again.content.decode() and MessageFlag.objects.count() == 1
    desk = signed_in(secretary).get("/desk/").content.decode()
    assert 'data-testid="flags"' in desk and "C&#x27;est Durand, avec un d" in desk
    start, end = timezone.now() - timedelta(days=1), timezone.now() + timedelta(minutes=1)
    assert quality.error_rate(start, end, account=alpha).rate == 0.5
    assert quality.error_rate(start, end, author=secretary).flagged == 1
    assert quality.error_rate(start, end, author=personas["secretary_beta"]).rate is None


def test_bad_flags_are_refused(personas, alpha, beta):
    message = written(alpha, personas["secretary"], "Appel")
    page = signed_in(personas["client_admin"])
    page.post(f"/a/alpha/messages/{message.pk}/flag", {"reason": "because"})
    assert not MessageFlag.objects.exists()
    other = written(beta, personas["secretary_beta"], "Appel Beta")
    assert page.post(f"/a/alpha/messages/{other.pk}/flag", {"reason": "other"}).status_code == 404
    assert signed_in(personas["secretary"]).post(f"/a/alpha/messages/{message.pk}/flag",
                                                 {"reason": "other"}).status_code == 403
