"""Web Push as a delivery channel: a message for a collaborator who chose notifications reaches the
browsers subscribed by the account's user with that e-mail, encrypted for each (RFC 8291, aes128gcm) and
signed with VAPID (RFC 8292); a local push service decrypts it with the browser's keys, as a browser
would. A subscription the push service says is gone is forgotten."""

import base64
import json
import os

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import transaction
from django.test import Client
from py_vapid import Vapid02

from factories import make_user
from outbound_peers import REFUSED
from permanence.directory.models import Collaborator
from permanence.messaging import outbox, preferences, webpush
from permanence.messaging.models import Acknowledgement, Delivery, DeliveryPreference, PushSubscription
from permanence.users.models import Role


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Browser:
    """The keys a browser makes when it subscribes."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        point = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        self.p256dh = b64(point)

    def read(self, body):
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        return json.loads(plain)


@pytest.fixture
def anne(alpha):
    person = Collaborator.objects.get(account=alpha)
    person.email = "anne@alpha.example"
    person.save()
    DeliveryPreference.objects.create(collaborator=person, urgent_email=False, urgent_sms=False,
                                      urgent_push=True)
    return person


@pytest.fixture
def subscribed(alpha, anne, http_receiver, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    webpush.vapid.cache_clear()
    url, receiver = http_receiver
    user = make_user("anne", Role.CLIENT_USER, alpha, email="Anne@alpha.example")
    browser = Browser()
    PushSubscription.objects.create(user=user, endpoint=url + "/push/abc", p256dh=browser.p256dh,
                                    auth=b64(browser.auth))
    yield url, receiver, browser
    webpush.vapid.cache_clear()


def urgent(alpha):
    with transaction.atomic():
        return outbox.queue_message(alpha, subject="Appel urgent de M. Durand",
                                    body="Fuite d'eau, rappeler.", recipients=["anne@alpha.example"],
                                    urgent=True)


def test_an_urgent_message_reaches_the_subscribed_browser_encrypted_and_signed(alpha, subscribed, tmp_path):
    url, receiver, browser = subscribed
    message = urgent(alpha)
    [delivery] = Delivery.objects.filter(message=message)
    assert (delivery.channel, delivery.address) == ("push", "anne@alpha.example")
    assert outbox.attempt(delivery.pk) == "sent"
    [request] = receiver.requests
    assert request["path"] == "/push/abc"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["content-encoding"] == "aes128gcm" and headers["urgency"] == "high"
    assert int(headers["ttl"]) > 0
    assert Vapid02.verify(headers["authorization"])  # signed by the key the browsers subscribed with
    claims = json.loads(unb64(headers["authorization"].split("t=")[1].split(",")[0].split(".")[1]))
    assert claims["aud"] == url and claims["sub"].startswith("mailto:")
    assert headers["authorization"].split("k=")[1] == webpush.public_key()
    shown = browser.read(request["body"])
    assert shown["title"].endswith("Appel urgent de M. Durand") and "Fuite" in shown["body"]
    assert "/ack/" in shown["ack"] and shown["url"].endswith("/app/")
    # the acknowledgement link in the notification acknowledges the message
    ack_path = "/" + shown["ack"].split("/", 3)[3]
    Client().post(ack_path)
    assert Acknowledgement.objects.get().message == message
    assert (tmp_path / "vapid-private.pem").stat().st_mode & 0o777 == 0o600


def test_a_subscription_the_push_service_says_is_gone_is_forgotten(alpha, subscribed):
    _url, receiver, _browser = subscribed
    receiver.status = 410
    delivery = Delivery.objects.get(message=urgent(alpha))
    assert outbox.attempt(delivery.pk) == "dead"
    assert not PushSubscription.objects.exists()


def test_a_push_endpoint_is_filtered_as_any_address_a_user_typed(alpha, anne, fake_dns, loopback_peers,
                                                                 settings, tmp_path):
    """The endpoint comes from the browser, that is from the user: connecting checks it
    (permanence.outbound); refused, the delivery is a dead letter, not retried."""
    settings.DATA_DIR = tmp_path
    webpush.vapid.cache_clear()
    fake_dns["push.test"] = REFUSED
    user = make_user("anne", Role.CLIENT_USER, alpha, email="anne@alpha.example")
    browser = Browser()
    PushSubscription.objects.create(user=user, endpoint=f"http://push.test:{loopback_peers.port}/push/abc",
                                    p256dh=browser.p256dh, auth=b64(browser.auth))
    delivery = Delivery.objects.get(message=urgent(alpha))
    assert outbox.attempt(delivery.pk) == "dead"
    delivery.refresh_from_db()
    assert delivery.last_error == "address not allowed: not a public address"
    assert loopback_peers.seen == [] and PushSubscription.objects.exists()
    webpush.vapid.cache_clear()


def test_without_a_subscribed_browser_the_preferences_fall_back_to_another_channel(alpha, anne):
    anne.mobile = "+33611111111"
    anne.save()
    delivery = Delivery.objects.get(message=urgent(alpha))
    assert delivery.channel == "email"  # push chosen but nowhere to push: never lost


def test_the_preferences_core_knows_push():
    prefs = preferences.Preferences(urgent=frozenset({"push"}))
    from datetime import UTC, datetime

    [plan] = preferences.plan(prefs, urgent=True, now=datetime(2026, 12, 7, 10, tzinfo=UTC),
                              available={"email", "push"})
    assert plan.channel == "push"


def test_the_app_subscribes_a_browser_for_the_signed_in_user(alpha, personas, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    webpush.vapid.cache_clear()
    client = Client()
    client.force_login(personas["client_user"])
    page = client.get("/app/").content.decode()
    assert 'rel="manifest"' in page and f'data-key="{webpush.public_key()}"' in page
    browser = Browser()
    good = {"endpoint": "https://push.example.test/send/1", "keys": {"p256dh": browser.p256dh,
                                                                      "auth": b64(browser.auth)}}
    def post(body):
        return client.post("/app/push/subscribe", json.dumps(body), content_type="application/json")

    assert post(good).status_code == 201
    assert post(good).status_code == 200  # the same browser again: one row
    assert PushSubscription.objects.get().user == personas["client_user"]
    for bad in ({**good, "endpoint": "http://push.example.test/1"},
                {**good, "keys": {"p256dh": "x", "auth": "y"}}, {"endpoint": 3}, []):
        assert post(bad).status_code == 422
    broken = client.post("/app/push/subscribe", b"{not json", content_type="application/json")
    assert broken.status_code == 422
    client.post("/app/push/unsubscribe", json.dumps({"endpoint": good["endpoint"]}),
                content_type="application/json")
    assert not PushSubscription.objects.exists()
    webpush.vapid.cache_clear()


def test_the_manifest_and_the_worker_are_public_files():
    manifest = Client().get("/app/manifest.webmanifest")
    data = json.loads(manifest.content)
    assert manifest["Content-Type"] == "application/manifest+json"
    assert data["start_url"] == "/app/" and data["display"] == "standalone"
    assert {i["sizes"] for i in data["icons"]} == {"192x192", "512x512"}
    worker = Client().get("/app/sw.js")
    assert worker["Content-Type"].startswith("application/javascript")
    assert b"showNotification" in worker.content
