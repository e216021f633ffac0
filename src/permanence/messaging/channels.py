"""Channels that carry a message to one address: e-mail, SMS, webhook. One small interface, a registry.

``send`` returns a Result: sent (with the provider's id), or failed with a
reason and whether trying again may help (a server down, a 4xx SMTP reply, an
HTTP 5xx or 429) or not (an address refused for good, an HTTP 4xx).
Every delivery carries its idempotency key (a Message-ID for e-mail, a header
for HTTP), so a receiver can drop the duplicates that at-least-once sending
may produce.
"""

from __future__ import annotations

import base64
import html
import json
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from anymail.exceptions import AnymailAPIError, AnymailConfigurationError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from permanence.messaging import signing, sms
from permanence.messaging.models import Delivery, Message, WebhookEndpoint

TIMEOUT = 10.0


@dataclass(frozen=True)
class Result:
    ok: bool
    retry: bool = False  # for a failure: may a later attempt succeed?
    reason: str = ""
    provider_id: str = ""
    answer: str = ""  # the provider's whole answer (an HTTP body), for the channel to read an id from


class Channel(Protocol):
    name: ClassVar[str]

    def send(self, delivery: Delivery, message: Message) -> Result: ...


_REGISTRY: dict[str, Channel] = {}


def register(channel: Channel) -> Channel:
    if channel.name in _REGISTRY:
        raise ValueError(f"a channel is already named {channel.name!r}")
    _REGISTRY[channel.name] = channel
    return channel


def get(name: str) -> Channel:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"no channel named {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


class EmailChannel:
    """Django's e-mail framework (SMTP by default; any provider through django-anymail)."""

    name: ClassVar[str] = "email"

    def send(self, delivery: Delivery, message: Message) -> Result:
        domain = getattr(settings, "MESSAGING_MESSAGE_ID_DOMAIN", "permanence.invalid")
        body, link = message.body, ""
        if message.urgent:
            from permanence.messaging.escalation import ack_url

            link = ack_url(message, delivery.address)
            body += f"\n\nConfirmez la lecture de ce message urgent : {link}"
        email = EmailMultiAlternatives(
            subject=("URGENT · " if message.urgent else "") + message.subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[delivery.address],
            reply_to=[message.reply_to] if message.reply_to else None,
            headers={
                "Message-ID": f"<{delivery.key}@{domain}>",
                "X-Permanence-Delivery": str(delivery.key),
                **({"Importance": "high", "X-Priority": "1"} if message.urgent else {}),
            },
        )
        email.attach_alternative(_html(message, link), "text/html")
        return _send_email(email, f"<{delivery.key}@{domain}>")


def _send_email(email: EmailMultiAlternatives, provider_id: str) -> Result:
    try:
        with get_connection(timeout=TIMEOUT) as connection:
            connection.send_messages([email])
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        return Result(False, retry=any(400 <= c < 500 for c in codes), reason=f"recipient refused: {codes}")
    except smtplib.SMTPResponseException as exc:
        return Result(
            False, retry=400 <= exc.smtp_code < 500, reason=f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
        )
    except AnymailRecipientsRefused as exc:  # a provider (django-anymail) refused the address
        return Result(False, retry=False, reason=f"recipient refused: {exc}"[:1000])
    except (AnymailAPIError, AnymailConfigurationError) as exc:
        status = getattr(exc, "status_code", None)
        retry = isinstance(exc, AnymailAPIError) and (status is None or status >= 500 or status in (408, 429))
        return Result(False, retry=retry, reason=f"{type(exc).__name__}: {exc}"[:1000])
    except (smtplib.SMTPException, OSError) as exc:
        return Result(False, retry=True, reason=f"{type(exc).__name__}: {exc}")
    status = getattr(email, "anymail_status", None)  # set by django-anymail's provider backends
    if status is not None and status.message_id:
        return Result(True, provider_id=str(status.message_id))
    return Result(True, provider_id=provider_id)


class DigestChannel:
    """The daily digest: the normal messages a collaborator chose to get once a day, in one e-mail.

    ``gathers``: the outbox hands it every delivery due for the address at once. The e-mail's
    Message-ID is the first delivery's key; its X-Permanence-Delivery header lists them all."""

    name: ClassVar[str] = "digest"
    gathers: ClassVar[bool] = True

    def send(self, delivery: Delivery, message: Message) -> Result:
        return self.send_batch([delivery])

    def send_batch(self, deliveries: list[Delivery]) -> Result:
        domain = getattr(settings, "MESSAGING_MESSAGE_ID_DOMAIN", "permanence.invalid")
        first = deliveries[0]
        items = sorted(((d.message, d) for d in deliveries), key=lambda pair: (pair[0].created, pair[0].pk))
        zone = first.message.account.tz
        day = items[-1][0].created.astimezone(zone).strftime("%d/%m/%Y")
        count = len(items)
        subject = f"{first.message.account.name} · {count} message{'s' if count > 1 else ''} ({day})"
        text, parts = [], []
        for message, _delivery in items:
            at = message.created.astimezone(zone).strftime("%d/%m %H:%M")
            text.append(f"{at} · {message.subject}\n\n{message.body}")
            lines = "<br>\n".join(html.escape(line) for line in message.body.splitlines())
            parts.append(
                f'<h3 style="font-size:15px">{at} · {html.escape(message.subject)}</h3><p>{lines}</p>'
            )
        email = EmailMultiAlternatives(
            subject=subject,
            body=("\n\n" + "-" * 40 + "\n\n").join(text),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[first.address],
            headers={
                "Message-ID": f"<{first.key}@{domain}>",
                "X-Permanence-Delivery": ", ".join(str(d.key) for d in deliveries),
            },
        )
        email.attach_alternative(
            '<!doctype html><html><body style="font-family:sans-serif">'
            + "<hr>".join(parts)
            + "</body></html>",
            "text/html",
        )
        return _send_email(email, f"<{first.key}@{domain}>")


def _html(message: Message, link: str = "") -> str:
    lines = "<br>\n".join(html.escape(line) for line in message.body.splitlines())
    urgent = '<p style="color:#b42318;font-weight:bold">URGENT</p>' if message.urgent else ""
    ack = f'<p><a href="{html.escape(link)}"><strong>Confirmer la lecture</strong></a></p>' if link else ""
    return (
        f'<!doctype html><html><body style="font-family:sans-serif">{urgent}'
        f'<h2 style="font-size:16px">{html.escape(message.subject)}</h2><p>{lines}</p>{ack}</body></html>'
    )


def _request(url: str, data: bytes | None, headers: dict[str, str], method: str = "POST") -> Result:
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - configured URLs
            body = response.read(20_000).decode("utf-8", "replace")
            return Result(True, provider_id=body[:200], answer=body)
    except urllib.error.HTTPError as exc:
        retry = exc.code >= 500 or exc.code in (408, 425, 429)
        detail = exc.read(500).decode("utf-8", "replace").strip()
        return Result(False, retry=retry, reason=f"HTTP {exc.code}" + (f": {detail}" if detail else ""))
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        return Result(False, retry=True, reason=f"{type(exc).__name__}: {exc}")


class WebhookChannel:
    """A JSON POST, signed with HMAC-SHA256 over the timestamp and the body (see ``signing``)."""

    name: ClassVar[str] = "webhook"

    def payload(self, delivery: Delivery, message: Message) -> bytes:
        data: dict[str, Any] = {
            "id": str(delivery.key),
            "account": message.account.slug,
            "created": message.created.isoformat(),
            "urgent": message.urgent,
            "subject": message.subject,
            "body": message.body,
            "fields": message.fields,
            "recipients": message.recipients,
            "call": {"id": message.call_id, "caller": message.call.caller if message.call else None},
        }
        return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()

    def send(self, delivery: Delivery, message: Message) -> Result:
        endpoint = WebhookEndpoint.objects.filter(
            account=message.account, url=delivery.address, active=True
        ).first()
        if endpoint is None:
            return Result(False, retry=False, reason="webhook endpoint removed or inactive")
        body = self.payload(delivery, message)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Permanence-Webhook/1",
            "Permanence-Delivery": str(delivery.key),
            signing.HEADER: signing.signature(endpoint.secret, int(time.time()), body),
        }
        return _request(endpoint.url, body, headers)


def sms_text(delivery: Delivery, message: Message, max_parts: int) -> str:
    """The message summarised to fit ``max_parts`` SMS parts; an urgent one keeps its whole ack link."""
    text = ("URGENT " if message.urgent else "") + message.subject + " — " + message.body
    link = ""
    if message.urgent:
        from permanence.messaging.escalation import ack_url

        link = " Lu : " + ack_url(message, delivery.address)
    text = sms.fit(text, max_parts)
    while link and len(text) > 1 and sms.parts(text + link) > max_parts:  # the link must fit whole
        text = sms.fit(text[:-10], max_parts)
    return text + link


class SmsProvider(Protocol):
    name: ClassVar[str]

    def send_sms(self, delivery: Delivery, text: str) -> Result: ...


class HttpGateway:
    """A generic HTTP SMS gateway. ``SMS_GATEWAY_URL`` is a URL template: ``{to}``, ``{text}``,
    ``{sender}`` and ``{key}`` are replaced (URL-encoded) where they appear; with
    ``SMS_GATEWAY_METHOD = "POST"`` (the default) the same fields also go as a form body, with
    ``"GET"`` only in the URL. ``SMS_GATEWAY_TOKEN``, if set, is sent as a Bearer token."""

    name: ClassVar[str] = "http"

    def send_sms(self, delivery: Delivery, text: str) -> Result:
        template = getattr(settings, "SMS_GATEWAY_URL", "")
        if not template:
            return Result(False, retry=False, reason="no SMS gateway configured (SMS_GATEWAY_URL)")
        fields = {
            "to": delivery.address,
            "text": text,
            "sender": getattr(settings, "SMS_SENDER", "Permanence"),
            "key": str(delivery.key),
        }
        url = template
        for name, value in fields.items():
            url = url.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
        headers: dict[str, str] = {}
        token = getattr(settings, "SMS_GATEWAY_TOKEN", "")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if getattr(settings, "SMS_GATEWAY_METHOD", "POST").upper() == "GET":
            return _request(url, None, headers, method="GET")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return _request(url, urllib.parse.urlencode(fields).encode(), headers)


class TwilioSms:
    """Twilio's Programmable Messaging REST API (``POST /2010-04-01/Accounts/{sid}/Messages.json``,
    HTTP Basic with the account SID and auth token). Twilio reports the outcome on the status callback
    (``sms_status_twilio``): delivered, or undelivered/failed with an error code."""

    name: ClassVar[str] = "twilio"

    def send_sms(self, delivery: Delivery, text: str) -> Result:
        sid = getattr(settings, "TWILIO_ACCOUNT_SID", "")
        token = getattr(settings, "TWILIO_AUTH_TOKEN", "")
        if not sid or not token:
            return Result(
                False, retry=False, reason="Twilio is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)"
            )
        base = getattr(settings, "TWILIO_API_BASE", "https://api.twilio.com").rstrip("/")
        form = {"To": delivery.address, "Body": text, "StatusCallback": twilio_callback_url(delivery)}
        service = getattr(settings, "TWILIO_MESSAGING_SERVICE_SID", "")
        if service:
            form["MessagingServiceSid"] = service
        else:
            form["From"] = getattr(settings, "TWILIO_FROM", "") or getattr(
                settings, "SMS_SENDER", "Permanence"
            )
        credentials = base64.b64encode(f"{sid}:{token}".encode()).decode()
        headers = {
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        url = f"{base}/2010-04-01/Accounts/{urllib.parse.quote(sid)}/Messages.json"
        result = _request(url, urllib.parse.urlencode(form).encode(), headers)
        if not result.ok:
            return result
        try:
            answer = json.loads(result.answer or "{}")
        except ValueError:
            answer = {}
        message_sid = answer.get("sid") if isinstance(answer, dict) else None
        if not message_sid:
            return Result(False, retry=True, reason="Twilio answered without a message sid")
        return Result(True, provider_id=f"twilio:{message_sid}")


def twilio_callback_url(delivery: Delivery) -> str:
    return twilio_callback_url_for(delivery.key)


def twilio_callback_url_for(key: uuid.UUID) -> str:
    """The status callback URL given to Twilio, which signs exactly this string."""
    from django.urls import reverse

    base = getattr(settings, "SITE_URL", "http://127.0.0.1:8000").rstrip("/")
    return base + reverse("sms_status_twilio", args=[key])


SMS_PROVIDERS: dict[str, SmsProvider] = {p.name: p for p in (HttpGateway(), TwilioSms())}


class SmsChannel:
    """SMS through the provider named by ``SMS_PROVIDER`` ("http": a generic gateway, "twilio")."""

    name: ClassVar[str] = "sms"

    def send(self, delivery: Delivery, message: Message) -> Result:
        provider_name = getattr(settings, "SMS_PROVIDER", "http")
        provider = SMS_PROVIDERS.get(provider_name)
        if provider is None:
            known = ", ".join(sorted(SMS_PROVIDERS))
            return Result(
                False, retry=False, reason=f"unknown SMS_PROVIDER {provider_name!r}; known: {known}"
            )
        return provider.send_sms(delivery, sms_text(delivery, message, getattr(settings, "SMS_MAX_PARTS", 3)))


for _channel in (EmailChannel(), DigestChannel(), WebhookChannel(), SmsChannel()):
    register(_channel)
