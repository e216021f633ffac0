"""Deliveries to real peers: SMTP (byte for byte), webhooks (signed), SMS gateway; retries, dead letters."""

import base64
import email
import json
import random
import time
from datetime import timedelta
from email import policy

import pytest
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from django_tasks_db.models import DBTaskResult

from outbound_peers import ALLOWED, REFUSED
from permanence.messaging import channels, outbox, signing, sms
from permanence.messaging.models import Delivery, Message, WebhookEndpoint


def queue(alpha, **kw):
    defaults = {
        "subject": "Appel de Jean Dupont",
        "body": "Rappeler au 06 12 34 56 78.\nDossier 2024/0153.",
        "recipients": ["anne@alpha.example"],
        "reply_to": "jean.dupont@example.fr",
    }
    with transaction.atomic():
        return outbox.queue_message(alpha, **(defaults | kw))


def test_email_arrives_byte_for_byte(alpha, smtp):
    message = queue(alpha, urgent=True)
    delivery = message.deliveries.get()
    assert outbox.attempt(delivery.pk) == "sent"
    [envelope] = smtp.envelopes
    assert envelope.rcpt_tos == ["anne@alpha.example"]
    parsed = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert parsed["Subject"] == "URGENT · Appel de Jean Dupont"
    assert parsed["Reply-To"] == "jean.dupont@example.fr"
    assert parsed["Message-ID"] == f"<{delivery.key}@permanence.invalid>"
    assert parsed["X-Permanence-Delivery"] == str(delivery.key) and parsed["Importance"] == "high"
    text = parsed.get_body(("plain",)).get_content()
    body, ack = text.split("\r\n\r\n")  # SMTP's line endings; no call, no header (test_rendering.py)
    assert body == "Rappeler au 06 12 34 56 78.\r\nDossier 2024/0153."
    with translation.override("fr"):
        label, link = ack.rsplit(" ", 1)
        assert label == gettext("Confirm that you have read this urgent message:")
    assert link.startswith("http://127.0.0.1:8000/ack/")
    assert f'href="{link}"' in parsed.get_body(("html",)).get_content()
    assert "Rappeler au 06 12 34 56 78.<br>" in parsed.get_body(("html",)).get_content()
    delivery.refresh_from_db()
    message.refresh_from_db()
    assert delivery.status == "sent" and delivery.attempts == 1 and message.status == "sent"
    assert list(delivery.events.values_list("status", flat=True)) == ["queued", "sending", "sent"]


def test_webhook_is_signed_and_verifiable(alpha, http_receiver):
    url, receiver = http_receiver
    WebhookEndpoint.objects.create(account=alpha, url=url + "/hook", secret="s3cret")
    message = queue(alpha, recipients=[], fields={"caller_type": "client"})
    delivery = message.deliveries.get()
    assert delivery.channel == "webhook" and outbox.attempt(delivery.pk) == "sent"
    [request] = receiver.requests
    assert request["path"] == "/hook" and request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["Permanence-Delivery"] == str(delivery.key)
    signed_at = signing.verify(
        "s3cret", request["headers"]["Permanence-Signature"], request["body"], now=int(time.time())
    )
    assert abs(signed_at - time.time()) < 60
    data = json.loads(request["body"])
    assert data["id"] == str(delivery.key) and data["fields"] == {"caller_type": "client"}
    assert data["subject"] == "Appel de Jean Dupont" and data["account"] == "alpha"


def test_webhook_is_verified_by_a_ready_made_standard_webhooks_verifier(alpha, http_receiver):
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    url, receiver = http_receiver
    WebhookEndpoint.objects.create(account=alpha, url=url + "/hook", secret="s3cret")
    message = queue(alpha, recipients=[])
    delivery = message.deliveries.get()
    assert outbox.attempt(delivery.pk) == "sent"
    [request] = receiver.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    verifier = Webhook(signing.standard_secret("s3cret"))  # what the receiver is told to configure
    assert verifier.verify(request["body"], dict(headers))["id"] == str(delivery.key)
    assert headers["webhook-id"] == f"msg_{delivery.key}"
    assert signing.standard_verify("s3cret", dict(headers), request["body"], now=int(time.time()))
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.standard_secret("another")).verify(request["body"], dict(headers))
    with pytest.raises(WebhookVerificationError):
        verifier.verify(request["body"] + b" ", dict(headers))
    with pytest.raises(signing.BadSignature):  # replayed an hour later
        signing.standard_verify("s3cret", dict(headers), request["body"], now=int(time.time()) + 3600)


# Where a webhook may go (permanence.outbound): names resolve to 127.0.0.2, allowed by the operator's
# list, or 127.0.0.3, refused as any address that is not public (tests/outbound_peers.py).
NOT_ALLOWED = "address not allowed: not a public address"


def test_a_webhook_resolving_elsewhere_after_saving_is_a_dead_letter(alpha, fake_dns, loopback_peers):
    """DNS rebinding: the address is checked when saved (the back-office's form) and on every connection;
    refused, the delivery is a dead letter with its reason, not retried."""
    from permanence.messaging.admin import WebhookEndpointForm

    peers = loopback_peers
    fake_dns["hook.test"] = ALLOWED
    data = {"account": alpha.pk, "url": f"http://hook.test:{peers.port}/hook", "secret": "s3", "active": "on"}
    form = WebhookEndpointForm(data)
    assert form.is_valid(), form.errors
    form.save()
    sent = queue(alpha, recipients=[]).deliveries.get()
    assert outbox.attempt(sent.pk) == "sent" and peers.arrived(ALLOWED) == [("POST", "/hook")]

    fake_dns["hook.test"] = REFUSED
    delivery = queue(alpha, recipients=[]).deliveries.get()
    assert outbox.attempt(delivery.pk) == "dead"
    delivery.refresh_from_db()
    assert delivery.last_error == NOT_ALLOWED and delivery.attempts == 1  # dead at once, never retried
    assert list(delivery.events.values_list("status", flat=True)) == ["queued", "sending", "dead"]
    assert delivery.message.status == Message.Status.FAILED
    with translation.override("en"):
        words = channels.failure_in_words(delivery.last_error)
        assert words == "the address is not allowed: it is not a public address"
        refused = WebhookEndpointForm(data)
        assert not refused.is_valid() and refused.errors["url"] == [
            "This address is on a private network; the operator must allow such addresses."
        ]
    assert peers.arrived(REFUSED) == []


def test_a_webhook_redirected_to_a_refused_address_is_a_dead_letter(alpha, fake_dns, loopback_peers):
    peers = loopback_peers
    fake_dns.update({"hook.test": ALLOWED, "inside.test": REFUSED})
    peers.redirects["/hook"] = f"http://inside.test:{peers.port}/hook"
    WebhookEndpoint.objects.create(account=alpha, url=f"http://hook.test:{peers.port}/hook", secret="s3")
    delivery = queue(alpha, recipients=[]).deliveries.get()
    assert outbox.attempt(delivery.pk) == "dead"
    delivery.refresh_from_db()
    assert delivery.last_error == NOT_ALLOWED
    assert peers.arrived(ALLOWED) == [("POST", "/hook")] and peers.arrived(REFUSED) == []


def test_sms_gateway_gets_a_fitted_text(alpha, http_receiver, settings):
    url, receiver = http_receiver
    settings.SMS_GATEWAY_URL, settings.SMS_GATEWAY_TOKEN, settings.SMS_MAX_PARTS = url + "/sms", "tok", 1
    message = queue(alpha, recipients=["06 99 88 77 66"], body="Très long message. " * 40)
    delivery = message.deliveries.get()
    assert (delivery.channel, delivery.address) == ("sms", "+33699887766")
    assert outbox.attempt(delivery.pk) == "sent"
    [request] = receiver.requests
    assert request["headers"]["Authorization"] == "Bearer tok"
    from urllib.parse import parse_qs

    form = parse_qs(request["body"].decode())
    assert form["to"] == ["+33699887766"] and form["key"] == [str(delivery.key)]
    [text] = form["text"]
    assert text.startswith("Appel de Jean Dupont - Très long message. Très long")
    assert text.endswith("message...")
    assert sms.is_gsm(text) and len(text) <= 160  # one part; GSM text, "..." keeps it so


def test_failures_retry_with_backoff_then_dead_letter(alpha, smtp):
    smtp.reply = "451 4.3.0 Try again later"
    message = queue(alpha)
    delivery = message.deliveries.get()
    now = timezone.now()
    rng = random.Random(2)
    assert outbox.attempt(delivery.pk, now=now, rng=rng) == "failed"
    delivery.refresh_from_db()
    assert (
        delivery.last_error.startswith("SMTP 451")
        and 24 <= (delivery.next_attempt_at - now).total_seconds() <= 36
    )
    assert outbox.attempt(delivery.pk, now=now) == "not_due"
    for _ in range(2, 9):
        now = delivery.next_attempt_at
        status = outbox.attempt(delivery.pk, now=now, rng=rng)
        delivery.refresh_from_db()
    assert status == "dead" and delivery.attempts == 8
    message.refresh_from_db()
    assert message.status == "failed"
    smtp.reply = None
    outbox.retry_dead(delivery)
    assert outbox.attempt(delivery.pk) == "sent" and len(smtp.envelopes) == 1


def test_permanent_refusal_is_dead_at_once(alpha, smtp):
    smtp.reply = "550 5.1.1 No such user"
    delivery = queue(alpha).deliveries.get()
    assert outbox.attempt(delivery.pk) == "dead"


def test_server_down_is_retried(alpha, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1  # nothing listens there
    delivery = queue(alpha).deliveries.get()
    assert outbox.attempt(delivery.pk) == "failed"


def test_outbox_is_written_with_the_transaction_or_not_at_all(alpha):
    tasks_before = DBTaskResult.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.queue_message(alpha, subject="S", body="B", recipients=["a@b.fr"])
        raise RuntimeError("the end of the call failed")
    assert not Message.objects.exists() and not Delivery.objects.exists()
    assert DBTaskResult.objects.count() == tasks_before
    queue(alpha, recipients=["a@b.fr", "06 11 22 33 44"])
    assert Delivery.objects.count() == 2 and DBTaskResult.objects.count() == tasks_before + 2


def test_a_lease_keeps_a_second_worker_away_until_it_expires(alpha, smtp):
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    delivery = queue(alpha).deliveries.get()
    now = timezone.now()
    # a worker claimed its task and took the lease, then was killed: the task row stays "running"
    DBTaskResult.objects.filter(args_kwargs__args__0=delivery.pk).update(status=TaskResultStatus.RUNNING)
    Delivery.objects.filter(pk=delivery.pk).update(status="sending", lease_until=now + timedelta(seconds=60))
    assert outbox.attempt(delivery.pk, now=now) == "busy"
    assert outbox.sweep(now) == 0
    later = now + timedelta(seconds=61)
    Delivery.objects.filter(pk=delivery.pk).update(enqueued_at=now - timedelta(seconds=1))
    assert outbox.sweep(later) == 1  # a killed worker's delivery is queued again
    assert outbox.attempt(delivery.pk, now=later) == "sent"


def test_training_messages_are_never_sent(alpha):
    with transaction.atomic():
        message = outbox.queue_message(alpha, subject="S", body="B", recipients=["a@b.fr"], training=True)
    assert message.status == "training" and not message.deliveries.exists()


@pytest.mark.django_db(transaction=True)  # the worker closes its database connections, as in production
def test_worker_command_sends_what_is_queued(alpha, smtp):
    from django.core.management import call_command

    queue(alpha, recipients=["anne@alpha.example", "bob@alpha.example"])
    call_command("worker", "--batch")
    assert sorted(e.rcpt_tos[0] for e in smtp.envelopes) == ["anne@alpha.example", "bob@alpha.example"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_a_message_with_nowhere_to_go_returns_to_the_desk(alpha):
    from permanence.messaging.models import CallbackTask

    message = queue(alpha, recipients=["not an address"])
    message.refresh_from_db()
    assert message.status == "failed" and not message.deliveries.exists()
    assert CallbackTask.objects.get().message == message


def test_email_through_a_provider_api_with_anymail(alpha, http_receiver, settings):
    """django-anymail's Mailgun backend, pointed at the local HTTP server standing for Mailgun's API."""
    url, receiver = http_receiver
    settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
    settings.ANYMAIL = {
        "MAILGUN_API_KEY": "key-test",
        "MAILGUN_API_URL": url + "/v3",
        "MAILGUN_SENDER_DOMAIN": "mg.example",
    }
    receiver.answer = b'{"id": "<20261201.42@mg.example>", "message": "Queued. Thank you."}'
    delivery = queue(alpha).deliveries.get()
    assert outbox.attempt(delivery.pk) == "sent"
    [request] = receiver.requests
    assert request["path"] == "/v3/mg.example/messages"
    assert request["headers"]["Authorization"] == "Basic " + base64.b64encode(b"api:key-test").decode()
    from urllib.parse import parse_qs

    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    fields = {k: v[0] for k, v in parse_qs(request["body"].decode()).items()}
    assert fields["from"] == "Permanence <permanence@localhost>"
    assert fields["h:Message-Id"] == f"<{delivery.key}@permanence.invalid>"
    assert fields["to"] == "anne@alpha.example" and fields["subject"] == "Appel de Jean Dupont"
    assert fields["text"] == "Rappeler au 06 12 34 56 78.\nDossier 2024/0153."
    assert "Rappeler au 06 12 34 56 78.<br>" in fields["html"]
    assert fields["h:Reply-To"] == "jean.dupont@example.fr"
    assert fields["h:X-Permanence-Delivery"] == str(delivery.key)
    delivery.refresh_from_db()
    assert delivery.provider_id == "<20261201.42@mg.example>"
    receiver.status, receiver.answer = 503, b'{"message": "busy"}'
    assert outbox.attempt(queue(alpha).deliveries.get().pk) == "failed"  # retried later
    receiver.status, receiver.answer = 400, b'{"message": "to parameter is not a valid address"}'
    assert outbox.attempt(queue(alpha).deliveries.get().pk) == "dead"
