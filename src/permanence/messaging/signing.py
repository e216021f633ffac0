"""Webhook signatures: HMAC-SHA256 over the timestamp and the body. Pure core: no Django import.

Each webhook carries two signatures of the same body. The **Standard Webhooks** one, which
ready-made verifiers check: ``webhook-id`` (``msg_`` and the delivery's key),
``webhook-timestamp`` (Unix seconds) and ``webhook-signature: v1,<base64>``, the HMAC-SHA256
of ``f"{id}.{timestamp}.".encode() + body`` keyed with the endpoint's secret (the receiver
configures it as ``whsec_`` + base64 of the secret: ``standard_secret``). And the original
one, kept for receivers written against it: ``Permanence-Signature: t=<unix seconds>,v1=<hex>``
signs ``f"{t}.".encode() + body``. A receiver recomputes it with the shared secret, compares in
constant time, refuses a timestamp older than its tolerance (replay protection) and may also
remember ``Permanence-Delivery`` ids it has seen (deliveries are at-least-once: the same id may
come twice).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

HEADER = "Permanence-Signature"
TOLERANCE = 300  # seconds


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class BadSignature(ValueError):
    pass


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = TOLERANCE) -> int:
    """The signed timestamp if ``header`` is a valid, fresh signature of ``body``; else BadSignature."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise BadSignature("malformed signature header") from None
    if abs(now - timestamp) > tolerance:
        raise BadSignature("timestamp outside the tolerance: a replay?")
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, given):
        raise BadSignature("signature does not match")
    return timestamp


STANDARD_PREFIX = "whsec_"


def standard_key(secret: str) -> bytes:
    """The HMAC key of a secret: a ``whsec_`` secret is base64, any other is its UTF-8 bytes."""
    if secret.startswith(STANDARD_PREFIX):
        raw = secret[len(STANDARD_PREFIX):]
        return base64.b64decode(raw + "=" * (-len(raw) % 4))
    return secret.encode()


def standard_secret(secret: str) -> str:
    """The secret as a Standard Webhooks receiver configures it (``whsec_`` + base64)."""
    if secret.startswith(STANDARD_PREFIX):
        return secret
    return STANDARD_PREFIX + base64.b64encode(secret.encode()).decode()


def standard_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = base64.b64encode(hmac.new(standard_key(secret), signed, hashlib.sha256).digest()).decode()
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": f"v1,{digest}"}


def standard_verify(secret: str, headers: dict[str, str], body: bytes, now: int,
                    tolerance: int = TOLERANCE) -> str:
    """The message id if the Standard Webhooks headers sign ``body`` and are fresh; else BadSignature."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        message_id, timestamp = lower["webhook-id"], int(lower["webhook-timestamp"])
        given = lower["webhook-signature"].split()
    except (KeyError, ValueError):
        raise BadSignature("malformed Standard Webhooks headers") from None
    if abs(now - timestamp) > tolerance:
        raise BadSignature("timestamp outside the tolerance: a replay?")
    expected = standard_headers(secret, message_id, timestamp, body)["webhook-signature"]
    if not any(hmac.compare_digest(expected, g) for g in given):
        raise BadSignature("signature does not match")
    return message_id


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's ``X-Twilio-Signature`` of a callback: base64 HMAC-SHA1 of the full URL followed by each
    POST parameter's name and value, sorted by name (Twilio's "validating requests" documentation)."""
    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def twilio_valid(auth_token: str, url: str, params: dict[str, str], given: str) -> bool:
    return bool(auth_token) and hmac.compare_digest(twilio_signature(auth_token, url, params), given)
