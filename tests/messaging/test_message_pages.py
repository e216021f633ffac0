"""The client's messages page and the operator's undelivered messages. A training call's messages are on
neither and are never sent; every undelivered message is on the operator's page with its reason in
words: the deliveries that failed for good, and the messages that had no recipient at all."""

from __future__ import annotations

import html
import re

from django.db import transaction
from django.test import Client

from permanence.calls.models import Call
from permanence.messaging import channels, escalation, outbox
from permanence.messaging.models import Acknowledgement, CallbackTask, Delivery, Message, WebhookEndpoint


def signed_in(personas, who):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")  # the words asserted are the English ones (see test_rendering)
    client.force_login(personas[who])
    return client


def queue(account, **kw):
    defaults = {"subject": "Appel de Jean Dupont", "body": "Rappeler.", "recipients": ["anne@alpha.example"]}
    with transaction.atomic():
        return outbox.queue_message(account, **(defaults | kw))


def training_call(account):
    return Call.objects.create(account=account, called="+33145000001", caller="+33612345678", training=True)


def row(page, testid):
    """The text of the table row with this data-testid."""
    found = re.search(rf'<tr data-testid="{testid}">(.*?)</tr>', page, re.S)
    assert found, f"no row {testid}"
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1)))).strip()


def test_the_clients_messages_page_never_shows_a_training_call(personas, alpha):
    kept = queue(alpha)
    queue(alpha, subject="Exercice de formation", training=True)
    # a training call's message that something queued without saying so: still never shown
    slipped = queue(alpha, subject="Exercice sans le drapeau", call=training_call(alpha))
    Message.objects.filter(pk=slipped.pk).update(status="sent")
    notice = queue(alpha, subject="Rendez-vous confirmé", fields={"appointment": "a1", "notice": "booked"})
    for who in ("client_admin", "client_user", "admin"):
        page = signed_in(personas, who).get("/a/alpha/messages/").content.decode()
        assert f'data-testid="message-{kept.pk}"' in page and f'data-testid="message-{notice.pk}"' in page
        assert "Exercice" not in page and page.count('data-testid="message-') == 2
        assert 'value="training"' not in page  # no filter for them either
    client = signed_in(personas, "client_admin")
    asked = client.get("/a/alpha/messages/?status=training").content.decode()
    assert "Exercice" not in asked and f'data-testid="message-{kept.pk}"' in asked  # an unknown filter: all
    assert "No message." in client.get("/a/alpha/messages/?q=Exercice").content.decode()


def test_a_training_message_is_never_sent_again_nor_acknowledged(personas, alpha):
    training = queue(alpha, subject="Exercice urgent", urgent=True, training=True)
    slipped = queue(alpha, subject="Exercice sans le drapeau", urgent=True, call=training_call(alpha))
    admin, client_user = signed_in(personas, "admin"), signed_in(personas, "client_user")
    for message in (training, slipped):
        before = Delivery.objects.filter(message=message).count()
        assert admin.post(f"/a/alpha/messages/{message.pk}/resend").status_code == 404
        assert Delivery.objects.filter(message=message).count() == before
        assert client_user.post(f"/a/alpha/messages/{message.pk}/acknowledge").status_code == 404
        token = escalation.ack_token(message, "anne@alpha.example")
        assert Client().get(f"/ack/{token}/").status_code == 404
        assert Client().post(f"/ack/{token}/").status_code == 404
    assert not Acknowledgement.objects.exists()
    assert Message.objects.get(pk=training.pk).status == "training"
    assert not Delivery.objects.filter(message=training).exists()


def test_every_undelivered_message_is_on_the_operators_page_with_its_reason(personas, alpha, beta, smtp):
    smtp.reply = "550 5.1.1 No such user"
    refused = queue(alpha, subject="Fuite d'eau")
    assert outbox.attempt(refused.deliveries.get().pk) == "dead"
    no_gateway = queue(alpha, subject="Demande de devis", recipients=["06 99 88 77 66"])  # no SMS_GATEWAY_URL
    assert outbox.attempt(no_gateway.deliveries.get().pk) == "dead"
    nowhere = queue(alpha, subject="Livraison à reprogrammer", recipients=["M. Durand, sans adresse"])
    nobody = queue(beta, subject="Message sans destinataire", recipients=[])
    assert {m.status for m in Message.objects.filter(pk__in=[nowhere.pk, nobody.pk])} == {"failed"}
    CallbackTask.objects.filter(message=nobody).update(done_at=nobody.created)
    training = queue(alpha, subject="Exercice raté", call=training_call(alpha))
    assert outbox.attempt(training.deliveries.get().pk) == "dead"  # refused: a training call's message
    assert Message.objects.get(pk=training.pk).status == "failed"
    delivered = queue(alpha, subject="Bien arrivé")
    smtp.reply = None
    assert outbox.attempt(delivered.deliveries.get().pk) == "sent"

    page = signed_in(personas, "admin").get("/messages/failed/").content.decode()
    assert "Exercice" not in page and "Bien arrivé" not in page
    assert page.count('<tr data-testid="failed-') == 4
    assert row(page, f"failed-{refused.pk}").endswith(
        "Failed for good e-mail · anne@alpha.example Refused by the mail server (SMTP 550: "
        "b'5.1.1 No such user') Send again"
    )
    assert row(page, f"failed-{no_gateway.pk}").endswith(
        "Failed for good SMS · 06 99 88 77 66 SMS sending is not set up "
        "(no SMS gateway configured (SMS_GATEWAY_URL)) Send again"
    )
    assert row(page, f"failed-{nowhere.pk}").endswith(
        "Livraison à reprogrammer · call-back task at the desk No recipient: none of the recipients given "
        "is an e-mail address or a mobile number (M. Durand, sans adresse)"
    )
    assert row(page, f"failed-{nobody.pk}").endswith(
        "Message sans destinataire · call-back task at the desk, done No recipient: nobody was chosen to "
        "receive it"
    )
    client_page = signed_in(personas, "client_admin").get("/messages/failed/").content.decode()
    assert (
        client_page.count('<tr data-testid="failed-') == 3 and "Message sans destinataire" not in client_page
    )
    assert "Exercice" not in client_page
    # the client's messages page says why too
    listing = signed_in(personas, "client_admin").get("/a/alpha/messages/").content.decode()
    assert "Failed for good e-mail · anne@alpha.example (refused by the mail server)" in row(
        listing, f"message-{refused.pk}"
    )


def test_failure_reasons_in_words(alpha, smtp, http_receiver, settings):
    """The reasons the channels really give, read by the operator."""
    url, receiver = http_receiver
    WebhookEndpoint.objects.create(account=alpha, url=url + "/hook", secret="s")

    def reason_of(message):
        delivery = message.deliveries.get()
        outbox.attempt(delivery.pk)
        delivery.refresh_from_db()
        return delivery.status, channels.failure_in_words(delivery.last_error)

    receiver.status = 410
    assert reason_of(queue(alpha, recipients=[])) == ("dead", "refused by the receiving server (HTTP 410)")
    receiver.status = 503
    assert reason_of(queue(alpha, recipients=[])) == (
        "failed",
        "the receiving server was not available (HTTP 503)",
    )
    WebhookEndpoint.objects.update(active=False)
    smtp.reply = "451 4.3.0 Try again later"
    assert reason_of(queue(alpha)) == ("failed", "the mail server asked to try again later")
    settings.EMAIL_PORT = 1  # nothing listens there
    assert reason_of(queue(alpha)) == ("failed", "the server could not be reached")
    settings.SMS_PROVIDER = "pigeon"
    assert reason_of(queue(alpha, recipients=["06 99 88 77 66"])) == ("dead", "SMS sending is not set up")
    assert channels.failure_in_words("provider reports undelivered (error 30003)") == (
        "reported undelivered by the SMS provider"
    )
    assert channels.failure_in_words("internal error: KeyError: 'x'") == (
        "an error in Permanence stopped the sending (see the worker's log)"
    )
    assert channels.failure_in_words("") == "reason unknown"
    assert channels.failure_in_words("something new") == "sending failed"
