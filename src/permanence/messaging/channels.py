"""Channels that carry a message to one address: e-mail, SMS, webhook. One small interface, a registry.

``send`` returns a Result: sent (with the provider's id), or failed with a
reason and whether trying again may help (a server down, a 4xx SMTP reply, an
HTTP 5xx or 429) or not (an address refused for good, an HTTP 4xx).
Every delivery carries its idempotency key (a Message-ID for e-mail, a header
for HTTP), so a receiver can drop the duplicates that at-least-once sending
may produce.

What the recipient reads is rendered from the templates in
``templates/messaging/outbound/``, in the account's language (``Account.language``)
and time zone: a call report opens with a short header (when the call
came, who called, the priority, the transfers tried, who took it) above the
text the secretary wrote; the webhook gets the same facts as JSON. A message
of a training call is never sent, whatever asks for it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

from anymail.exceptions import AnymailAPIError, AnymailConfigurationError, AnymailRecipientsRefused
from babel.dates import format_date, format_skeleton, format_time
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext, pgettext_lazy

from permanence import outbound
from permanence.accounts.models import Account, client_language
from permanence.accounts.phones import display
from permanence.adapters import Registry, UnknownAdapter
from permanence.messaging import sensitive, signing, sms
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


#: the channels, by name (a delivery's ``channel``); ``webpush`` adds "push"
CHANNELS: Registry[Channel] = Registry("channel")


def register(channel: Channel) -> Channel:
    """Register a channel under its name; a name taken already raises ``DuplicateAdapter`` (a ValueError)."""
    return CHANNELS.register(channel.name, channel)


def get(name: str) -> Channel:
    """The channel named ``name``; ``UnknownAdapter`` (a ValueError) listing the known ones if none is."""
    return CHANNELS.get(name)


# ---------------------------------------------------------------- what the recipient reads

OUTBOUND = "messaging/outbound/"

#: a transfer's result (``calls.lifecycle.TRANSFER_RESULTS``) in words
TRANSFER_RESULT_WORDS = {
    "accepted": pgettext_lazy("transfer result", "put through"),
    "refused": pgettext_lazy("transfer result", "refused"),
    "no_answer": pgettext_lazy("transfer result", "no answer"),
    "busy": pgettext_lazy("transfer result", "busy"),
}
TRANSFER_RESULT_UNKNOWN = pgettext_lazy("transfer result", "outcome unknown")
#: what an appointment notice (``agenda.notify``) says it is: it goes to the caller, without a call header
NOTICE_KINDS = frozenset({"booked", "moved", "cancelled", "reminder"})


@contextmanager
def _language(account: Account) -> Iterator[str]:
    """Render in the client's language; yields the locale for dates (babel)."""
    language = client_language(account)
    with translation.override(language):
        yield translation.to_locale(language)


@dataclass(frozen=True)
class TransferTried:
    """A transfer the secretary tried during the call, from its events."""

    to: str  # the collaborator's reference in the scenario ("claire-durand"); "" if nobody was named
    name: str  # as people read it ("Maître Claire Durand")
    result: str | None  # accepted, refused, no_answer, busy; None: the call ended before an answer
    at: datetime
    short_name: str = ""  # without a title, for an SMS ("Claire Durand")

    @property
    def result_text(self) -> str:
        return str(TRANSFER_RESULT_WORDS.get(self.result or "", TRANSFER_RESULT_UNKNOWN))


@dataclass(frozen=True)
class CallFacts:
    """What the client needs to know about the call a message reports on: from the call's events, the
    account's contacts (its CRM) and the answers the secretary recorded (the message's fields)."""

    call_id: int
    at: datetime  # when the call came, in the account's time zone
    caller: str  # E.164; "" when the number was withheld
    number: str  # the caller's number as people read it; "" when withheld
    name: str
    company: str
    contact_id: int | None  # the caller's contact in the account's CRM
    transfers: tuple[TransferTried, ...]
    taken_by: str  # the first name of the secretary who answered


def is_notice(message: Message) -> bool:
    """An appointment notice or reminder to the caller (``agenda.notify``), not a call report."""
    fields = message.fields if isinstance(message.fields, dict) else {}
    return bool(fields.get("appointment")) and fields.get("notice") in NOTICE_KINDS


def _answer(fields: Any, name: str) -> str:
    value = fields.get(name) if isinstance(fields, dict) else None
    return " ".join(value.split())[:200] if isinstance(value, str) else ""


def _transfers(tried: list[dict[str, Any]], account: Account) -> tuple[TransferTried, ...]:
    """The transfers of the call's summary (``lifecycle.Summary.transfers``), with the people's names."""
    if not tried:
        return ()
    from permanence.directory.models import Collaborator
    from permanence.scenarios.environment import collaborator_ref

    names: dict[str, tuple[str, str]] = {}
    for person in Collaborator.objects.filter(account=account).order_by("-is_active", "pk"):
        short = " ".join(p for p in (person.first_name, person.last_name) if p) or str(person)
        names.setdefault(collaborator_ref(person), (str(person), short))  # the active one first
    transfers = []
    for transfer in tried:
        to = str(transfer.get("to") or "")
        name, short = names.get(to, (to, to))  # nobody of that name any more: the name given
        result = transfer.get("result")
        transfers.append(
            TransferTried(to, name, str(result) if result else None, transfer["requested_at"], short)
        )
    return tuple(transfers)


def call_facts(message: Message) -> CallFacts | None:
    """The facts of the message's call; None for a message without a call."""
    call = message.call
    if call is None:
        return None
    from permanence.contacts.models import ContactNumber

    account = message.account
    summary = call.summary()  # the call's events, folded by the lifecycle core
    number = call.caller
    known = (
        ContactNumber.objects.filter(account=account, number=number)
        .select_related("contact")
        .order_by("contact_id")
        .first()
        if number
        else None
    )
    contact = known.contact if known else None
    secretary = call.secretary
    answers = sensitive.public_fields(message.fields)  # a sensitive name or company is not sent
    return CallFacts(
        call_id=call.pk,
        at=(summary.arrived_at or call.arrived_at or message.created).astimezone(account.tz),
        caller=number,
        number=display(number, settings.PHONE_DEFAULT_REGION) if number else "",
        name=_answer(answers, "name")
        or (" ".join(p for p in (contact.first_name, contact.last_name) if p) if contact else ""),
        company=_answer(answers, "company") or (contact.company if contact else ""),
        contact_id=contact.pk if contact else None,
        transfers=_transfers(summary.transfers, account),
        taken_by=(secretary.first_name.strip() or secretary.get_full_name().strip()) if secretary else "",
    )


def _moment(at: datetime, locale: str) -> dict[str, str]:
    """A local date and time in words ("mardi 8 décembre 2026", "10:05"), and brief, for an SMS or a
    day's list ("08/12 10:05")."""
    time_text = format_time(at, "short", locale=locale)
    return {
        "date": format_date(at, "full", locale=locale),
        "time": time_text,
        "brief": format_skeleton("ddMM", at, locale=locale) + " " + time_text,
    }


def _header(message: Message, locale: str) -> dict[str, Any] | None:
    """The call header of a call report, ready for the templates; None for any other message (no call,
    or an appointment notice to the caller)."""
    if is_notice(message):
        return None
    facts = call_facts(message)
    if facts is None:
        return None
    return {"facts": facts, "urgent": message.urgent, **_moment(facts.at, locale)}


def _says_urgent(subject: str) -> bool:
    return "urgent" in subject.casefold()


def _context(message: Message, locale: str, **extra: Any) -> dict[str, Any]:
    return {
        "subject": message.subject,
        "body": message.body,
        "urgent": message.urgent,
        "mark_urgent": message.urgent and not _says_urgent(message.subject),
        "call": _header(message, locale),
        "account": message.account,
        "sensitive_url": sensitive.read_url(message),  # the sensitive fields: read after signing in
        "language": translation.get_language(),
        **extra,
    }


def _line(text: str) -> str:
    return " ".join(text.split())


def render_email(message: Message, ack_link: str = "") -> tuple[str, str, str]:
    """The subject, plain text and HTML of the e-mail that carries ``message``."""
    with _language(message.account) as locale:
        context = _context(message, locale, ack_url=ack_link)
        return (
            _line(render_to_string(OUTBOUND + "email_subject.txt", context)),
            render_to_string(OUTBOUND + "email.txt", context).rstrip(),
            render_to_string(OUTBOUND + "email.html", context),
        )


def render_digest(deliveries: list[Delivery]) -> tuple[str, str, str]:
    """The subject, plain text and HTML of one digest e-mail: its messages in order, each with its header."""
    account = deliveries[0].message.account
    messages = sorted((d.message for d in deliveries), key=lambda m: (m.created, m.pk))
    with _language(account) as locale:
        items = [
            {**_context(message, locale), "at": _moment(message.created.astimezone(account.tz), locale)}
            for message in messages
        ]
        context = {
            "account": account,
            "count": len(items),
            "day": format_date(messages[-1].created.astimezone(account.tz), "short", locale=locale),
            "items": items,
            "language": translation.get_language(),
        }
        return (
            _line(render_to_string(OUTBOUND + "digest_subject.txt", context)),
            render_to_string(OUTBOUND + "digest.txt", context).rstrip(),
            render_to_string(OUTBOUND + "digest.html", context),
        )


def sms_text(delivery: Delivery, message: Message, max_parts: int) -> str:
    """The message for an SMS: a call report's compact header, then the text the secretary wrote,
    shortened at a word to fit ``max_parts`` parts; an urgent one ends with its whole acknowledgement
    link."""
    with _language(message.account) as locale:
        context = _context(message, locale)
        text = render_to_string(OUTBOUND + "sms.txt", context)
        link = ""
        if context["sensitive_url"]:  # kept whole, as the acknowledgement link
            url = context["sensitive_url"]
            link += " " + _line(render_to_string(OUTBOUND + "sms_sensitive.txt", {"url": url}))
        if message.urgent:
            from permanence.messaging.escalation import ack_url

            url = ack_url(message, delivery.address)
            link += " " + _line(render_to_string(OUTBOUND + "sms_ack.txt", {"url": url}))
    return sms.fit(text, max_parts, keep=link)


def webhook_call(message: Message) -> dict[str, Any] | None:
    """The call's facts as JSON for the webhook; None for a message without a call."""
    facts = call_facts(message)
    if facts is None:
        return None
    return {
        "id": facts.call_id,
        "at": facts.at.isoformat(),
        "time_zone": message.account.timezone,
        "caller": facts.caller or None,
        "caller_display": facts.number or None,
        "withheld": not facts.caller,
        "name": facts.name or None,
        "company": facts.company or None,
        "contact": facts.contact_id,
        "transfers": [
            {
                "to": t.to or None,
                "name": t.name or None,
                "result": t.result,
                "at": t.at.astimezone(facts.at.tzinfo).isoformat(),
            }
            for t in facts.transfers
        ],
        "taken_by": facts.taken_by or None,
    }


_NETWORK = re.compile(
    r"^(TimeoutError|URLError|OSError|Connection\w*Error|gaierror|SMTPServerDisconnected|SMTPConnectError"
    r"|SMTPNotSupportedError|SMTPHeloError|SSLError|\w*timeout)\b"
)


def failure_in_words(reason: str) -> str:
    """What a failure reason given by a channel (``Result.reason``, kept as a delivery's last error)
    means, in words for the operator and the client; the reason itself stays as the technical detail."""
    reason = reason.strip()
    code = re.match(r"(SMTP|HTTP) (\d{3})", reason)
    if not reason:
        return gettext("reason unknown")
    if reason.startswith("recipient refused"):
        return gettext("address refused by the receiving server")
    if code and code.group(1) == "SMTP":
        if reason.startswith("SMTP 4"):
            return gettext("the mail server asked to try again later")
        return gettext("refused by the mail server")
    if code:
        status = int(code.group(2))
        if status >= 500 or status in (408, 425, 429):
            return gettext("the receiving server was not available (HTTP %(code)s)") % {"code": status}
        return gettext("refused by the receiving server (HTTP %(code)s)") % {"code": status}
    if reason.startswith("provider reports"):
        return gettext("reported undelivered by the SMS provider")
    if reason.startswith(("no SMS gateway configured", "Twilio is not configured", "unknown SMS_PROVIDER")):
        return gettext("SMS sending is not set up")
    if reason.startswith("cannot write the SMS file"):
        return gettext("the SMS could not be written to its folder")
    if reason.startswith(outbound.NOT_PUBLIC):
        return gettext("the address is not allowed: it is not a public address")
    if reason.startswith("webhook endpoint removed"):
        return gettext("the webhook was removed or turned off")
    if reason.startswith(("AnymailAPIError", "AnymailConfigurationError")):
        return gettext("the e-mail provider did not take it")
    if reason.startswith("internal error"):  # a channel raised (``outbox.attempt``)
        return gettext("an error in Permanence stopped the sending (see the worker's log)")
    if reason.startswith("a training call's message"):
        return gettext("a training call's message is never sent")
    if _NETWORK.match(reason):
        return gettext("the server could not be reached")
    return gettext("sending failed")


def _training(message: Message) -> Result | None:
    """A training call's message never leaves: refused here whatever queued it (the outbox already
    stores such messages without any delivery)."""
    if message.status == Message.Status.TRAINING or (message.call_id and message.call.training):
        return Result(False, retry=False, reason="a training call's message is never sent")
    return None


class EmailChannel:
    """Django's e-mail framework (SMTP by default; any provider through django-anymail)."""

    name: ClassVar[str] = "email"

    def send(self, delivery: Delivery, message: Message) -> Result:
        if (refused := _training(message)) is not None:
            return refused
        domain = getattr(settings, "MESSAGING_MESSAGE_ID_DOMAIN", "permanence.invalid")
        link = ""
        if message.urgent:
            from permanence.messaging.escalation import ack_url

            link = ack_url(message, delivery.address)
        subject, text, html_text = render_email(message, link)
        email = EmailMultiAlternatives(
            subject=subject,
            body=text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[delivery.address],
            reply_to=[message.reply_to] if message.reply_to else None,
            headers={
                "Message-ID": f"<{delivery.key}@{domain}>",
                "X-Permanence-Delivery": str(delivery.key),
                **({"Importance": "high", "X-Priority": "1"} if message.urgent else {}),
            },
        )
        email.attach_alternative(html_text, "text/html")
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
        for delivery in deliveries:
            if (refused := _training(delivery.message)) is not None:
                return refused
        domain = getattr(settings, "MESSAGING_MESSAGE_ID_DOMAIN", "permanence.invalid")
        first = deliveries[0]
        subject, text, html_text = render_digest(deliveries)
        email = EmailMultiAlternatives(
            subject=subject,
            body=text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[first.address],
            headers={
                "Message-ID": f"<{first.key}@{domain}>",
                "X-Permanence-Delivery": ", ".join(str(d.key) for d in deliveries),
            },
        )
        email.attach_alternative(html_text, "text/html")
        return _send_email(email, f"<{first.key}@{domain}>")


def address_filter() -> outbound.Filter:
    """Where webhooks and Web Push may connect: public addresses, and ``OUTBOUND_ALLOWED_NETWORKS``."""
    return outbound.Filter.of(settings.OUTBOUND_ALLOWED_NETWORKS)


def _request(
    url: str,
    data: bytes | None,
    headers: dict[str, str],
    method: str = "POST",
    opener: urllib.request.OpenerDirector | None = None,
) -> Result:
    """``opener``: for an address a user typed, ``address_filter().opener()``; none for the operator's
    own (the SMS gateway, Twilio)."""
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    open_url = opener.open if opener else urllib.request.urlopen
    try:
        with open_url(request, timeout=TIMEOUT) as response:  # noqa: S310 - configured URLs
            body = response.read(20_000).decode("utf-8", "replace")
            return Result(True, provider_id=body[:200], answer=body)
    except outbound.AddressNotAllowed as exc:  # for good: the address stays where it is
        return Result(False, retry=False, reason=str(exc))
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
            "fields": sensitive.public_fields(message.fields),
            "recipients": message.recipients,
            "call": webhook_call(message),
        }
        hidden = sensitive.marked(message.fields)
        if hidden:  # their names and where to read them, never their values
            data["sensitive"] = {"fields": sorted(hidden), "url": sensitive.read_url(message)}
        return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()

    def send(self, delivery: Delivery, message: Message) -> Result:
        if (refused := _training(message)) is not None:
            return refused
        endpoint = WebhookEndpoint.objects.filter(
            account=message.account, url=delivery.address, active=True
        ).first()
        if endpoint is None:
            return Result(False, retry=False, reason="webhook endpoint removed or inactive")
        body = self.payload(delivery, message)
        now = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Permanence-Webhook/1",
            "Permanence-Delivery": str(delivery.key),
            signing.HEADER: signing.signature(endpoint.secret, now, body),
            # Standard Webhooks: the same body, signed so that ready-made verifiers check it
            **signing.standard_headers(endpoint.secret, f"msg_{delivery.key}", now, body),
        }
        return _request(endpoint.url, body, headers, opener=address_filter().opener())


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


class FileSms:
    """Writes each SMS to a file instead of sending it, as Django's file e-mail backend does (the demo,
    a test bench): one file per SMS in ``SMS_FILE_PATH`` (``var/outbox-sms/`` by default) with the
    recipient, the sender, the idempotency key, the number of parts and the text; counted as sent."""

    name: ClassVar[str] = "file"

    def send_sms(self, delivery: Delivery, text: str) -> Result:
        folder = Path(getattr(settings, "SMS_FILE_PATH", "") or Path(settings.DATA_DIR) / "outbox-sms")
        now = timezone.now()
        encoding = "GSM 03.38" if sms.is_gsm(text) else "UCS-2"
        content = (
            f"To: {delivery.address}\n"
            f"From: {getattr(settings, 'SMS_SENDER', 'Permanence')}\n"
            f"Date: {now.isoformat()}\n"
            f"Key: {delivery.key}\n"
            f"Parts: {sms.parts(text)} ({encoding})\n"
            f"\n{text}\n"
        )
        name = f"{now:%Y%m%d-%H%M%S}-{delivery.key}.txt"
        partial = folder / f".{name}.partial"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            partial.write_text(content, encoding="utf-8")
            os.replace(partial, folder / name)  # whole or not at all: a reader never sees half an SMS
        except OSError as exc:
            with suppress(OSError):
                partial.unlink(missing_ok=True)
            # a folder that cannot exist or be written stays so until the operator fixes it
            lasting = isinstance(exc, (PermissionError, NotADirectoryError, FileExistsError))
            return Result(False, retry=not lasting, reason=f"cannot write the SMS file in {folder}: {exc}")
        return Result(True, provider_id=f"file:{name}")


#: the SMS providers, by name (``SMS_PROVIDER``)
SMS_PROVIDER_REGISTRY: Registry[SmsProvider] = Registry("SMS provider")
for _provider in (HttpGateway(), TwilioSms(), FileSms()):
    SMS_PROVIDER_REGISTRY.register(_provider.name, _provider)


class SmsChannel:
    """SMS through the provider named by ``SMS_PROVIDER``: "http" (a generic gateway), "twilio", or
    "file" (written to files, for the demo)."""

    name: ClassVar[str] = "sms"

    def send(self, delivery: Delivery, message: Message) -> Result:
        if (refused := _training(message)) is not None:
            return refused
        provider_name = getattr(settings, "SMS_PROVIDER", "http")
        try:
            provider = SMS_PROVIDER_REGISTRY.get(provider_name)
        except UnknownAdapter as unknown:
            known = ", ".join(unknown.known)
            return Result(
                False, retry=False, reason=f"unknown SMS_PROVIDER {provider_name!r}; known: {known}"
            )
        text = sms_text(delivery, message, getattr(settings, "SMS_MAX_PARTS", 3))
        delivery.parts = sms.parts(text)  # what the operator bills (billing): kept before sending
        Delivery.objects.filter(pk=delivery.pk).update(parts=delivery.parts)
        return provider.send_sms(delivery, text)


for _channel in (EmailChannel(), DigestChannel(), WebhookChannel(), SmsChannel()):
    register(_channel)
