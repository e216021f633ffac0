"""Sensitive fields (health, legal): kept with the message, never sent. The e-mail (read from a real SMTP
server), the daily digest, the SMS (its text as the gateway received it), the webhook's JSON (as the
receiver got it) and the push notification (its payload before encryption, and as the browser decrypts
it) carry a link instead; the page behind it shows them to a user allowed to read them, refuses the
others (404 across accounts, 403 without the right), and writes one audit row per read."""

from __future__ import annotations

import base64
import email
import json
import os
from email import policy
from urllib.parse import parse_qs

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import transaction
from django.test import Client

from factories import make_contact, make_user
from permanence.audit.models import AuditEvent
from permanence.directory.models import Collaborator
from permanence.messaging import channels, outbox, sensitive, webpush
from permanence.messaging.models import (
    Delivery,
    DeliveryPreference,
    Message,
    PushSubscription,
    WebhookEndpoint,
)
from permanence.users.models import Role

SECRET = "Douleurs thoraciques depuis hier soir"
FIELDS = {"name": "Jean Dupont", "phone": "+33612345678", "reason": SECRET,
          sensitive.KEY: {"reason": "Motif médical"}}
BODY = "Appel de Jean Dupont\nMotif médical : [confidentiel : à lire en ligne]"


def queue(account, recipients, **kw):
    with transaction.atomic():
        return outbox.queue_message(account, subject="Message — Jean Dupont", body=BODY,
                                    recipients=recipients, fields=dict(FIELDS), **kw)


def link(message):
    return f"http://127.0.0.1:8000/a/{message.account.slug}/messages/{message.pk}/sensitive/"


@pytest.fixture
def jean(alpha):
    return make_contact(alpha, ("+33612345678",), first_name="Jean", last_name="Dupont")


def test_the_email_carries_the_link_not_the_value(alpha, smtp):
    message = queue(alpha, ["anne@alpha.example"])
    assert outbox.attempt(message.deliveries.get(channel="email").pk) == "sent"
    raw = smtp.envelopes[-1].original_content
    parsed = email.message_from_bytes(raw, policy=policy.default)
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    for part in (raw.decode("utf-8", "replace"), text, html, parsed["Subject"]):
        assert SECRET not in part and "thoraciques" not in part
    assert link(message) in text and f'href="{link(message)}"' in html


def test_the_digest_carries_the_link_not_the_value(alpha):
    message = queue(alpha, ["anne@alpha.example"])
    subject, text, html = channels.render_digest(list(message.deliveries.all()))
    assert SECRET not in subject + text + html
    assert link(message) in text and link(message) in html


def test_the_sms_carries_the_link_whole_not_the_value(alpha, http_receiver, settings):
    url, receiver = http_receiver
    settings.SMS_GATEWAY_URL, settings.SMS_MAX_PARTS = url + "/sms", 2
    long_body = BODY + "\n" + "Le patient rappellera demain matin après sa consultation. " * 6
    with transaction.atomic():
        message = outbox.queue_message(alpha, subject="S", body=long_body, recipients=["06 99 88 77 66"],
                                       fields=dict(FIELDS), urgent=True)
    assert outbox.attempt(message.deliveries.get().pk) == "sent"
    text = parse_qs(receiver.requests[-1]["body"].decode())["text"][0]
    assert SECRET not in text and "thoraciques" not in text
    assert link(message) in text and "/ack/" in text  # both links whole, the text shortened


def test_the_webhook_gets_the_fields_but_the_sensitive_ones(alpha, jean, http_receiver):
    url, receiver = http_receiver
    WebhookEndpoint.objects.create(account=alpha, url=url + "/hook", secret="s3cret")
    message = queue(alpha, [])
    assert outbox.attempt(message.deliveries.get(channel="webhook").pk) == "sent"
    body = receiver.requests[-1]["body"].decode()
    assert SECRET not in body and "thoraciques" not in body
    data = json.loads(body)
    assert data["fields"] == {"name": "Jean Dupont", "phone": "+33612345678"}
    assert data["sensitive"] == {"fields": ["reason"], "url": link(message)}


def test_a_sensitive_name_is_not_in_the_call_header_either(alpha, jean):
    from permanence.calls.models import Call

    call = Call.objects.create(account=alpha, called="+33145000001", caller="+33612345678")
    fields = {"name": "Jean-Secret Nom", sensitive.KEY: {"name": "Nom"}}
    with transaction.atomic():
        message = outbox.queue_message(alpha, call=call, subject="S", body="B", recipients=[], fields=fields)
    facts = channels.call_facts(message)
    assert facts.name == "Jean Dupont"  # the contact's, not the answer marked sensitive


class Browser:
    """The keys a browser makes when it subscribes, to read what the push service brings."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        point = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        self.p256dh = base64.urlsafe_b64encode(point).rstrip(b"=").decode()

    def read(self, body):
        return json.loads(http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth,
                                           version="aes128gcm"))


def test_the_push_notification_opens_the_link_and_carries_no_value(alpha, http_receiver, settings, tmp_path,
                                                                  monkeypatch):
    settings.DATA_DIR = tmp_path
    webpush.vapid.cache_clear()
    url, receiver = http_receiver
    person = Collaborator.objects.get(account=alpha)
    person.email = "anne@alpha.example"
    person.save()
    DeliveryPreference.objects.create(collaborator=person, urgent_email=False, urgent_sms=False,
                                      urgent_push=True)
    user = make_user("anne", Role.CLIENT_USER, alpha, email="anne@alpha.example")
    browser = Browser()
    PushSubscription.objects.create(user=user, endpoint=url + "/push/abc", p256dh=browser.p256dh,
                                    auth=base64.urlsafe_b64encode(browser.auth).rstrip(b"=").decode())
    plain = []
    real = webpush.encrypt
    monkeypatch.setattr(webpush, "encrypt", lambda sub, payload: plain.append(payload) or real(sub, payload))
    message = queue(alpha, ["anne@alpha.example"], urgent=True)
    delivery = Delivery.objects.get(message=message)
    assert delivery.channel == "push" and outbox.attempt(delivery.pk) == "sent"
    [payload] = plain  # before encryption
    assert SECRET.encode() not in payload and b"thoraciques" not in payload
    shown = browser.read(receiver.requests[-1]["body"])
    assert shown["url"] == shown["sensitive"] == link(message)
    assert SECRET not in json.dumps(shown, ensure_ascii=False)
    webpush.vapid.cache_clear()


def test_an_escalation_reminder_leads_to_the_message_it_reminds_of(alpha):
    message = queue(alpha, ["anne@alpha.example"], urgent=True)
    with transaction.atomic():
        reminder = outbox.queue_message(alpha, subject="Relance", body=BODY, recipients=["b@alpha.example"],
                                        fields=message.fields, escalates=message, urgent=True)
    assert sensitive.read_url(reminder) == link(message)
    assert SECRET not in channels.render_email(reminder)[1]


def test_a_message_without_sensitive_fields_has_no_link(alpha):
    with transaction.atomic():
        plain = outbox.queue_message(alpha, subject="S", body="B", recipients=["a@alpha.example"],
                                     fields={"name": "Jean"})
    assert sensitive.read_url(plain) == ""
    assert "/sensitive/" not in channels.render_email(plain)[1]


# ---------------------------------------------------------------- the page that shows them


def as_user(user):
    client = Client()
    client.force_login(user)
    return client


def reads(message):
    return AuditEvent.objects.filter(object_type="messaging.message", object_id=str(message.pk),
                                     action="view", detail__what="sensitive fields")


def test_an_allowed_user_reads_them_and_each_read_is_audited(personas, alpha):
    personas["client_user"].email = "anne@alpha.example"  # the collaborator the message is addressed to
    personas["client_user"].save()
    message = queue(alpha, ["anne@alpha.example"])
    path = f"/a/alpha/messages/{message.pk}/sensitive/"
    for persona in ("client_user", "client_admin", "admin"):
        response = as_user(personas[persona]).get(path)
        assert response.status_code == 200
        page = response.content.decode()
        assert 'data-testid="sensitive-reason"' in page and SECRET in page
        assert "no-store" in response["Cache-Control"]
    as_user(personas["client_user"]).get(path)
    rows = list(reads(message).order_by("pk"))
    assert [row.actor_name for row in rows] == ["client_user", "client_admin", "admin", "client_user"]
    assert all(row.account_id == alpha.pk and row.detail["fields"] == ["reason"] for row in rows)
    assert all(SECRET not in json.dumps(row.detail, ensure_ascii=False) for row in rows)


def test_the_others_are_refused_and_nothing_is_audited(personas, alpha, beta):
    message = queue(alpha, ["anne@alpha.example"])
    path = f"/a/alpha/messages/{message.pk}/sensitive/"
    for persona, status in (("secretary", 403), ("assistant", 403), ("client_admin_beta", 404),
                            ("secretary_beta", 404)):
        response = as_user(personas[persona]).get(path)
        assert response.status_code == status, persona
        assert SECRET not in response.content.decode()
    assert as_user(personas["client_admin_beta"]).get(
        f"/a/beta/messages/{message.pk}/sensitive/").status_code == 404  # Alpha's message under Beta
    assert Client().get(path).status_code == 302  # signed out: to the sign-in page
    assert not reads(message).exists()


def test_the_messages_page_links_to_them_for_those_allowed(personas, alpha):
    personas["client_user"].email = "anne@alpha.example"
    personas["client_user"].save()
    message = queue(alpha, ["anne@alpha.example"])
    other = queue(alpha, ["bruno@alpha.example"])  # addressed to another collaborator
    Message.objects.filter(pk__in=[message.pk, other.pk]).update(status="sent")
    page = as_user(personas["client_user"]).get("/a/alpha/messages/").content.decode()
    assert f'data-testid="sensitive-link-{message.pk}"' in page and SECRET not in page
    assert f'data-testid="sensitive-link-{other.pk}"' not in page
    page = as_user(personas["client_admin"]).get("/a/alpha/messages/").content.decode()
    assert f'data-testid="sensitive-link-{message.pk}"' in page
    assert f'data-testid="sensitive-link-{other.pk}"' in page
    page = as_user(personas["assistant"]).get("/a/alpha/messages/").content.decode()
    assert f'data-testid="sensitive-link-{message.pk}"' not in page


def test_a_client_collaborator_reads_those_of_the_messages_addressed_to_them_only(personas, alpha):
    """Health details are for the recipient: a client collaborator reads the sensitive fields of a message
    sent to their e-mail or to the mobile of the collaborator with that e-mail (an escalation's reminder
    too); the client admin and the operator admin read all of the account's."""
    reader = personas["client_user"]
    reader.email = "Bruno@Alpha.example"
    reader.save()
    Collaborator.objects.create(account=alpha, first_name="Bruno", last_name="Bernard",
                                email="bruno@alpha.example", mobile="+33688776655")
    for_anne = queue(alpha, ["anne@alpha.example"])
    by_mail = queue(alpha, ["bruno@alpha.example"])
    by_mobile = queue(alpha, ["06 88 77 66 55"])
    with transaction.atomic():
        reminded = queue(alpha, ["anne@alpha.example"], urgent=True)
        outbox.queue_message(alpha, subject="Relance", body=BODY, recipients=["bruno@alpha.example"],
                             fields=reminded.fields, escalates=reminded, urgent=True)

    def path(message):
        return f"/a/alpha/messages/{message.pk}/sensitive/"

    bruno = as_user(reader)
    refused = bruno.get(path(for_anne))
    assert refused.status_code == 403 and SECRET not in refused.content.decode()
    assert not reads(for_anne).exists()
    for message in (by_mail, by_mobile, reminded):
        response = bruno.get(path(message))
        assert response.status_code == 200 and SECRET in response.content.decode()
        assert reads(message).get().actor_name == "client_user"
    for persona in ("client_admin", "admin"):
        assert as_user(personas[persona]).get(path(for_anne)).status_code == 200
    reader.email = ""  # nothing is addressed to a collaborator without an e-mail
    reader.save()
    assert as_user(reader).get(path(by_mail)).status_code == 403


def test_short_sensitive_answers_are_found_as_whole_words():
    """An answer of 2 or 3 letters (« VIH ») typed into the message is found as a word, case and accents
    aside; a single character, a short figure and a yes/no answer are not looked for."""
    hiv = [{"name": "diagnosis", "label": "Diagnostic", "value": "VIH", "text": "VIH"}]
    assert sensitive.leaked(hiv, "Message", "Patient suivi pour vih, rappeler.") == "Diagnostic"
    assert sensitive.leaked(hiv, "Suivi VIH", "Rappeler.") == "Diagnostic"
    assert sensitive.leaked(hiv, "Message", "Il joue de la vihuela.") is None  # not a word of its own
    summer = [{"name": "when", "label": "Depuis", "value": "Été", "text": "Été"}]
    assert sensitive.leaked(summer, "Message", "Douleurs depuis l'ete.") == "Depuis"
    assert sensitive.leaked(summer, "Message", "Il a complété le dossier.") is None
    choice = [{"name": "kind", "label": "Motif", "value": "ist", "text": "Infection sexuellement transmise"}]
    assert sensitive.leaked(choice, "Message", "Pour une IST.") == "Motif"
    assert sensitive.leaked(choice, "Message", "INFECTION sexuellement transmise") == "Motif"
    ignored = [{"name": "group", "label": "Groupe", "value": "A", "text": "A"},
               {"name": "days", "label": "Jours d'arrêt", "value": 12, "text": "12"},
               {"name": "pregnant", "label": "Enceinte", "value": False, "text": "non"}]
    assert sensitive.leaked(ignored, "Message", "Appel à 12 h le 12 mars. Identité : non vérifiée.") is None
    long = [{"name": "reason", "label": "Motif médical", "value": "Fièvre élevée", "text": "Fièvre élevée"}]
    assert sensitive.leaked(long, "Message", "Une FIEVRE ELEVEE depuis hier") == "Motif médical"


def test_the_back_office_shows_them_only_to_those_allowed(personas, alpha):
    from django.contrib import admin
    from django.test import RequestFactory

    from permanence.messaging.admin import MessageAdmin

    message = queue(alpha, ["anne@alpha.example"])
    path = f"/admin/messaging/message/{message.pk}/change/"
    assert SECRET in as_user(personas["admin"]).get(path).content.decode()
    assert SECRET not in as_user(personas["assistant"]).get(path).content.decode()
    page = MessageAdmin(Message, admin.site)
    request = RequestFactory().get(path)
    for persona, shown in (("admin", True), ("assistant", False), ("secretary", False)):
        request.user = personas[persona]
        assert ("fields" not in page.get_exclude(request, message)) is shown, persona
