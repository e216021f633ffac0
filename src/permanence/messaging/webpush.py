"""Web Push (RFC 8030) with VAPID (RFC 8292) and encrypted payloads (RFC 8291, aes128gcm): the channel
``push`` delivers a message to the browsers where the recipient signed in to the client's web app and
allowed notifications. The encryption is ``http_ece``'s, the VAPID signature ``py_vapid``'s.

A delivery's address is the recipient's e-mail: the push goes to every browser subscribed by a user of
the message's account with that e-mail. A subscription the push service says is gone (404, 410) is
deleted. The VAPID key pair comes from ``WEBPUSH_VAPID_PRIVATE_KEY`` (PEM), else from a key file made on
first use in the data folder (``vapid-private.pem``), kept across restarts.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.utils import timezone
from py_vapid import Vapid02

from permanence import outbound
from permanence.messaging import channels
from permanence.messaging.models import Delivery, Message, PushSubscription

TTL = 24 * 3600  # seconds the push service keeps a notification for a browser that is offline
TIMEOUT = 10


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@lru_cache(maxsize=1)
def vapid() -> Vapid02:
    pem = getattr(settings, "WEBPUSH_VAPID_PRIVATE_KEY", "")
    if pem:
        return Vapid02.from_pem(pem.encode())
    path = Path(settings.DATA_DIR) / "vapid-private.pem"
    if not path.exists():
        key = Vapid02()
        key.generate_keys()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.private_pem())
    return Vapid02.from_file(str(path))


def subject() -> str:
    """Who the push services may contact about these pushes (VAPID ``sub``): ``WEBPUSH_SUBJECT``, else
    the sender address of the e-mails."""
    configured = getattr(settings, "WEBPUSH_SUBJECT", "")
    if configured:
        return str(configured)
    address = parseaddr(str(settings.DEFAULT_FROM_EMAIL))[1]
    return f"mailto:{address}" if "@" in address else "mailto:postmaster@localhost"


def public_key() -> str:
    """The applicationServerKey the browser subscribes with (base64url, uncompressed point)."""
    point = vapid().public_key.public_bytes(serialization.Encoding.X962,
                                            serialization.PublicFormat.UncompressedPoint)
    return _b64(point)


def check_keys(p256dh: str, auth: str) -> bool:
    """Are these a browser's subscription keys (a P-256 point, a 16-byte secret)?"""
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(p256dh))
        return len(_unb64(auth)) == 16
    except (ValueError, TypeError):
        return False


def encrypt(subscription: PushSubscription, payload: bytes) -> bytes:
    server_key = ec.generate_private_key(ec.SECP256R1())  # one per message (RFC 8291)
    return bytes(http_ece.encrypt(payload, private_key=server_key, dh=_unb64(subscription.p256dh),
                                  auth_secret=_unb64(subscription.auth), version="aes128gcm"))


def send(subscription: PushSubscription, payload: dict[str, Any], *, urgent: bool = False) -> channels.Result:
    parts = urlsplit(subscription.endpoint)
    claims = {"aud": f"{parts.scheme}://{parts.netloc}", "exp": int(time.time()) + 12 * 3600,
              "sub": subject()}
    headers = {**vapid().sign(claims), "TTL": str(TTL), "Content-Encoding": "aes128gcm",
               "Content-Type": "application/octet-stream", "Urgency": "high" if urgent else "normal"}
    body = encrypt(subscription, json.dumps(payload).encode())
    request = urllib.request.Request(subscription.endpoint, data=body, headers=headers, method="POST")
    try:
        # the endpoint comes from the browser, that is from the user: filtered as any typed address
        with channels.address_filter().opener().open(request, timeout=TIMEOUT) as answer:
            answer.read(1000)
    except outbound.AddressNotAllowed as exc:
        return channels.Result(False, retry=False, reason=str(exc))
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 410):  # the browser unsubscribed, or the subscription expired
            subscription.delete()
            return channels.Result(False, retry=False, reason=f"HTTP {exc.code}: subscription gone")
        return channels.Result(False, retry=exc.code >= 500 or exc.code == 429, reason=f"HTTP {exc.code}")
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        return channels.Result(False, retry=True, reason=f"push service unreachable: {exc}")
    PushSubscription.objects.filter(pk=subscription.pk).update(last_used_at=timezone.now())
    return channels.Result(True, provider_id=f"push:{parts.netloc}")


def subscriptions(account: Any, email: str) -> list[PushSubscription]:
    if not email:
        return []
    return list(PushSubscription.objects.filter(user__account=account, user__is_active=True,
                                                user__email__iexact=email))


def subscribed(account: Any, email: str) -> bool:
    return bool(email) and PushSubscription.objects.filter(
        user__account=account, user__is_active=True, user__email__iexact=email).exists()


def payload(message: Message, address: str) -> dict[str, Any]:
    from django.urls import reverse

    from permanence.messaging import escalation, sensitive

    base = getattr(settings, "SITE_URL", "http://127.0.0.1:8000").rstrip("/")
    hidden = sensitive.read_url(message)  # sensitive fields: never in the notification, read signed in
    return {
        "title": ("⚠ " if message.urgent else "") + message.subject[:120],
        "body": message.body[:240],
        "tag": f"message-{message.pk}",
        "url": hidden or base + reverse("app_home"),
        "sensitive": hidden,
        "ack": escalation.ack_url(message, address) if message.urgent else "",
    }


class PushChannel:
    """Web Push to the recipient's subscribed browsers (see the module's text)."""

    name: ClassVar[str] = "push"

    def send(self, delivery: Delivery, message: Message) -> channels.Result:
        if message.status == Message.Status.TRAINING or (message.call_id and message.call.training):
            return channels.Result(False, retry=False, reason="a training call's message is never sent")
        found = subscriptions(message.account, delivery.address)
        if not found:
            return channels.Result(False, retry=False, reason="no browser subscribed to notifications")
        data = payload(message, delivery.address)
        results = [send(subscription, data, urgent=message.urgent) for subscription in found]
        reached = [r for r in results if r.ok]
        if reached:
            return channels.Result(True, provider_id=f"push:{len(reached)}/{len(results)}")
        return channels.Result(False, retry=any(r.retry for r in results),
                               reason="; ".join(r.reason for r in results)[:500])


channels.register(PushChannel())
