"""Webhook signatures: HMAC-SHA256 over the timestamp and the body. Pure core: no Django import.

The header ``Permanence-Signature: t=<unix seconds>,v1=<hex>`` signs
``f"{t}.".encode() + body``. A receiver recomputes it with the shared secret,
compares in constant time, refuses a timestamp older than its tolerance (replay
protection) and may also remember ``Permanence-Delivery`` ids it has seen
(deliveries are at-least-once: the same id may come twice).
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


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's ``X-Twilio-Signature`` of a callback: base64 HMAC-SHA1 of the full URL followed by each
    POST parameter's name and value, sorted by name (Twilio's "validating requests" documentation)."""
    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def twilio_valid(auth_token: str, url: str, params: dict[str, str], given: str) -> bool:
    return bool(auth_token) and hmac.compare_digest(twilio_signature(auth_token, url, params), given)
