"""Urgent messages: acknowledged through a signed link, escalated down a list if not, then back to the desk.

``escalate(now)`` is idempotent and driven by the clock it is given (tests run
it with a controlled clock; the worker's sweeper runs it every few seconds):
an urgent, unacknowledged message ``delay`` minutes old goes to the first
address of the account's escalation list (a step ``on_call:Service``: whoever
is on call in that service's rota then; nobody: the step is passed), ``2 × delay`` to the second, and
so on; after the last one, a call-back task appears at the desk.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from permanence.accounts.models import client_language
from permanence.directory import oncall
from permanence.messaging import outbox
from permanence.messaging.models import Acknowledgement, CallbackTask, EscalationPolicy, Message

SALT = "permanence.messaging.ack"
ON_CALL_PREFIX = "on_call:"  # an escalation step: whoever is on call in the service's rota then
LINK_DAYS = 30


def ack_token(message: Message, address: str) -> str:
    """A link for ``address`` to acknowledge the message (a relaunch acknowledges the original)."""
    return signing.dumps({"m": message.parent_id or message.pk, "a": address}, salt=SALT, compress=True)


def ack_url(message: Message, address: str) -> str:
    base = getattr(settings, "SITE_URL", "http://127.0.0.1:8000").rstrip("/")
    return base + reverse("message_ack", args=[ack_token(message, address)])


def read_token(token: str) -> tuple[int, str] | None:
    try:
        data = signing.loads(token, salt=SALT, max_age=timedelta(days=LINK_DAYS))
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("m"), int):
        return None
    return data["m"], str(data.get("a", ""))


def acknowledge(message: Message, by: str, now: datetime | None = None) -> bool:
    """True the first time; later acknowledgements change nothing. A reminder (escalation) is
    acknowledged on the message it reminds of: that is what stops the escalation."""
    if message.parent_id is not None:
        message = Message.objects.get(pk=message.parent_id)
    _ack, created = Acknowledgement.objects.get_or_create(
        message=message, defaults={"by": by[:254], "at": now or timezone.now()}
    )
    if created:
        from permanence.reporting import tasks as reporting_tasks

        reporting_tasks.message_soon(message.pk)
    return created


def _recipient(account: Any, step: str, now: datetime) -> str:
    """An escalation step's address: as written, or (``on_call:Service``) the mobile, else the e-mail, of
    whoever is on call in that service's rota at ``now``; empty when nobody is."""
    if not step.startswith(ON_CALL_PREFIX):
        return step
    person = oncall.on_call(account, step.removeprefix(ON_CALL_PREFIX), now)
    if person is None:
        return ""
    return str(person.mobile or person.email or "")


def escalate(now: datetime | None = None) -> int:
    """Escalate what is due; returns how many messages moved a level."""
    now = now or timezone.now()
    moved = 0
    due = Message.objects.filter(
        urgent=True,
        parent__isnull=True,
        status__in=[Message.Status.QUEUED, Message.Status.SENT, Message.Status.FAILED],
        acknowledgement__isnull=True,
        callback_task__isnull=True,
    )
    for message in due.select_related("account"):
        policy = EscalationPolicy.objects.filter(account=message.account).first()
        delay = timedelta(minutes=policy.delay_minutes if policy else 15)
        steps = list(policy.steps) if policy else []
        if now < message.created + delay * (message.escalation_level + 1):
            continue
        with transaction.atomic():
            locked = Message.objects.select_for_update().get(pk=message.pk)
            if (
                Acknowledgement.objects.filter(message=locked).exists()
                or locked.escalation_level != message.escalation_level
            ):
                continue
            level = locked.escalation_level
            recipient = _recipient(locked.account, steps[level], now) if level < len(steps) else ""
            if level < len(steps) and not recipient:
                pass  # nobody on call in that rota now: this level is passed, the next follows
            elif level < len(steps):
                with translation.override(client_language(locked.account)):  # the client's staff read it
                    subject = gettext("Reminder %(level)s: %(subject)s") % {
                        "level": level + 1, "subject": locked.subject,
                    }  # fmt: skip
                outbox.queue_message(
                    locked.account,
                    subject=subject,
                    body=locked.body,
                    recipients=[recipient],
                    call=locked.call,
                    urgent=True,
                    fields=locked.fields,
                    reply_to=locked.reply_to,
                    escalates=locked,
                )
            else:
                CallbackTask.objects.get_or_create(
                    account=locked.account, message=locked, defaults={"created": now}
                )
            locked.escalation_level = level + 1
            locked.save(update_fields=["escalation_level"])
            moved += 1
    return moved


#: words of an SMS reply that acknowledge (case, accents and punctuation forgiven)
ACK_WORDS = frozenset({"ok", "oui", "lu", "vu", "recu", "bien recu", "d'accord", "daccord", "1", "yes"})


def _ack_word(text: str) -> bool:
    import unicodedata

    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
    plain = " ".join(plain.replace("!", " ").replace(".", " ").split())
    return plain in ACK_WORDS or plain.split(" ", 1)[0] in {"ok", "oui", "lu", "vu"}


def acknowledge_by_reply(number: str, text: str, now: datetime | None = None) -> Message | None:
    """An SMS reply from ``number`` (E.164): acknowledges the latest urgent message still waiting that was
    sent to it by SMS (or a relaunch of one) within the link's validity, when the reply says so ("OK",
    "oui", "lu"...). The message acknowledged, or None (nothing waiting, or another answer)."""
    now = now or timezone.now()
    if not number or not _ack_word(text):
        return None
    from permanence.messaging.models import Delivery

    sent = (Delivery.objects.filter(channel="sms", address=number, message__urgent=True,
                                    message__created__gte=now - timedelta(days=LINK_DAYS))
            .select_related("message").order_by("-message__created", "-pk"))
    for delivery in sent:
        original = delivery.message.parent or delivery.message
        if not Acknowledgement.objects.filter(message=original).exists():
            acknowledge(original, f"SMS {number}", now)
            return original
    return None
