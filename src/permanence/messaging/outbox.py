"""The outbox: a message and its deliveries are written with the end of the call, then sent by workers.

``queue_message`` runs inside the caller's transaction: the message, one
delivery per recipient and channel, and the tasks that send them (stored by
the database task backend in the same transaction) commit together or not at
all. ``attempt`` sends one delivery: at least once, never twice at the same
time (a lease), retried with backoff, a dead letter after too many failures.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from permanence import background
from permanence.accounts.models import Account
from permanence.accounts.phones import try_normalize
from permanence.directory.models import Collaborator
from permanence.messaging import channels, preferences, retry, webpush
from permanence.messaging.models import Delivery, DeliveryEvent, Message, WebhookEndpoint

log = logging.getLogger(__name__)


def _lease() -> timedelta:
    """How long a worker owns a delivery it sends; killed meanwhile, another takes over after this."""
    return timedelta(seconds=getattr(settings, "MESSAGING_LEASE_SECONDS", 120))


S = Delivery.Status


def channel_of(recipient: str) -> tuple[str, str] | None:
    """How a recipient is reached: ("email", address) or ("sms", E.164 number); None for neither."""
    recipient = recipient.strip()
    if "@" in recipient:
        return "email", recipient
    if (number := try_normalize(recipient, settings.PHONE_DEFAULT_REGION)) is not None:
        return "sms", number
    return None


def collaborator(account: Account, channel: str, address: str) -> Collaborator | None:
    """The account's active collaborator behind an e-mail address or a mobile number, if any."""
    people = Collaborator.objects.filter(account=account, is_active=True).select_related(
        "delivery_preference"
    )
    if channel == "email":
        return people.filter(email__iexact=address).first()
    return people.filter(mobile=address).first()


def not_allowed(account: Account, recipients: Iterable[str], also: Iterable[str] = ()) -> list[str]:
    """Of these recipients (already checked as addresses or E.164 numbers), those a secretary may not
    send to: not a person of the account's directory, nor one of its default or other allowed
    recipients (addresses, numbers, ``@domain``), nor named by the scenario (``also``)."""
    allowed = {item.lower() for item in _valid_allowed(account)}
    allowed |= {item.lower() for item in _valid_defaults(account)}
    allowed |= {item.lower() for item in also}
    refused = []
    for recipient in recipients:
        reached = channel_of(recipient)
        if reached is None:
            refused.append(recipient)
            continue
        channel, address = reached
        domain = "@" + address.rsplit("@", 1)[1].lower() if channel == "email" else ""
        if address.lower() in allowed or (domain and domain in allowed):
            continue
        if collaborator(account, channel, address) is None:
            refused.append(recipient)
    return refused


def _valid_defaults(account: Account) -> list[str]:
    try:
        return account.recipient_list()
    except ValidationError:
        return []


def _valid_allowed(account: Account) -> list[str]:
    """The account's other allowed recipients; none when what is stored cannot be read any more (the
    back-office refuses that): the directory and the default recipients are still allowed."""
    try:
        return account.allowed_recipient_list()
    except ValidationError:
        return []


def _routes(
    recipients: Iterable[str], account: Account, *, urgent: bool, now: datetime
) -> list[tuple[str, str, datetime | None]]:
    """(channel, address, not before) for each recipient; a collaborator's own preferences apply when
    they have set some (see ``preferences``), else the address given is used at once."""
    routes: list[tuple[str, str, datetime | None]] = []
    for recipient in recipients:
        reached = channel_of(recipient)
        if reached is None:
            continue
        channel, address = reached
        person = collaborator(account, channel, address)
        wishes = getattr(person, "delivery_preference", None) if person else None
        if person is None or wishes is None:
            routes.append((channel, address, None))
            continue
        addresses = {"email": person.email, "sms": person.mobile, "digest": person.email,
                     "push": person.email if webpush.subscribed(account, person.email) else ""}
        available = {c for c, a in addresses.items() if a and c != "digest"}
        for step in preferences.plan(
            wishes.as_core(account.timezone), urgent=urgent, now=now, available=available
        ):
            routes.append((step.channel, addresses[step.channel], step.not_before))
    routes += [
        ("webhook", url, None)
        for url in WebhookEndpoint.objects.filter(account=account, active=True).values_list("url", flat=True)
    ]
    unique: dict[tuple[str, str], datetime | None] = {}
    for channel, address, not_before in routes:
        unique.setdefault((channel, address), not_before)
    return [(channel, address, not_before) for (channel, address), not_before in unique.items()]


def queue_message(
    account: Account,
    *,
    subject: str,
    body: str,
    recipients: Iterable[str] = (),
    call: Any = None,
    urgent: bool = False,
    author: Any = None,
    training: bool = False,
    fields: dict[str, Any] | None = None,
    reply_to: str = "",
    escalates: Message | None = None,
    now: datetime | None = None,
) -> Message:
    """Store the message and its deliveries, and queue their sending, in the current transaction."""
    now = now or timezone.now()
    recipients = [r for r in recipients if r.strip()]
    message = Message.objects.create(
        account=account,
        call=call,
        recipients=recipients,
        subject=subject[:300],
        body=body,
        fields=fields or {},
        reply_to=reply_to[:254],
        urgent=urgent,
        author=author,
        parent=escalates,
        status=Message.Status.TRAINING if training else Message.Status.QUEUED,
        created=now,
    )
    if training:
        return message  # a training call's message is kept, never sent
    if author is not None and escalates is None:  # taken at the desk: counted in the reports
        from permanence.reporting import tasks as reporting_tasks

        reporting_tasks.message_soon(message.pk)
    routes = _routes(recipients, account, urgent=urgent, now=now)
    for channel, address, not_before in routes:
        delivery = Delivery.objects.create(
            message=message,
            channel=channel,
            address=address,
            enqueued_at=now,
            next_attempt_at=not_before or now,
        )
        detail = f"held until {not_before.isoformat()}" if not_before else ""
        DeliveryEvent.objects.create(delivery=delivery, status=S.QUEUED, at=now, detail=detail)
        _enqueue(delivery.pk, run_after=not_before)
    if not routes:  # nowhere to send it: never let it wait unseen; it goes back to the desk
        from permanence.messaging.models import CallbackTask

        message.status = Message.Status.FAILED
        message.save(update_fields=["status"])
        CallbackTask.objects.create(account=account, message=message)
    return message


def _enqueue(delivery_id: int, run_after: datetime | None = None) -> None:
    """Queue the task that sends a delivery, with the change (``background.enqueue``), tracked so that
    the sweep can tell whether it still waits."""
    from permanence.messaging.tasks import deliver

    task = deliver.using(run_after=run_after) if run_after else deliver
    background.enqueue(task, delivery_id, track=True)


def attempt(delivery_id: int, now: datetime | None = None, rng: random.Random | None = None) -> str:
    """Try to send one delivery now; returns its status afterwards ("busy": another worker has it).

    A channel that gathers (the daily digest) takes, with this delivery, every other one due for the
    same address of the same account, and sends them in one go."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().select_related("message").get(pk=delivery_id)
        if delivery.status in (S.SENT, S.DELIVERED, S.ACKNOWLEDGED, S.DEAD):
            return str(delivery.status)
        if delivery.status == S.SENDING and delivery.lease_until and delivery.lease_until > now:
            return "busy"
        if delivery.status in (S.QUEUED, S.FAILED) and delivery.next_attempt_at > now:
            return "not_due"
        channel = channels.get(delivery.channel)
        batch = [delivery]
        if getattr(channel, "gathers", False):
            batch += list(
                Delivery.objects.select_for_update(of=("self",))
                .select_related("message")
                .filter(
                    channel=delivery.channel,
                    address=delivery.address,
                    message__account_id=delivery.message.account_id,
                    status__in=[S.QUEUED, S.FAILED],
                    next_attempt_at__lte=now,
                )
                .exclude(pk=delivery.pk)
                .order_by("pk")[:200]
            )
        for member in batch:
            member.status, member.lease_until = S.SENDING, now + _lease()
            member.attempts += 1
            member.save(update_fields=["status", "lease_until", "attempts"])
            DeliveryEvent.objects.create(
                delivery=member, status=S.SENDING, at=now, detail=f"attempt {member.attempts}"
            )
    try:
        if getattr(channel, "gathers", False):
            result = channel.send_batch(batch)  # type: ignore[attr-defined]
        else:
            result = channel.send(delivery, delivery.message)
    except Exception as exc:  # a bug or a misconfiguration: a failure with its reason, retried, then a
        # dead letter the operator sees; never a delivery left "sending" that the sweep queues forever
        log.exception("delivery %s: the %s channel raised", delivery.pk, delivery.channel)
        result = channels.Result(ok=False, retry=True, reason=f"internal error: {type(exc).__name__}: {exc}")
    done = timezone.now() if now is None else now
    # Sent: recording it must not fail for a passing lock, or the message would go twice.
    for pause in (0.05, 0.2, 0.5, 1, 2, 4, 0):
        try:
            with transaction.atomic():
                statuses = [_record(member.pk, result, done, rng) for member in batch]
            return statuses[0]
        except OperationalError:
            if not pause:
                raise
            time.sleep(pause)
    raise AssertionError("unreachable")


def _record(delivery_id: int, result: channels.Result, done: datetime, rng: random.Random | None) -> str:
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery_id)
        delivery.lease_until = None
        if result.ok:
            delivery.sent_at, delivery.provider_id = done, result.provider_id[:200]
            if delivery.status not in (S.DELIVERED, S.DEAD):  # else the provider's report came first
                delivery.status = S.SENT
        elif not result.retry or retry.exhausted(delivery.attempts):
            delivery.status, delivery.last_error = S.DEAD, result.reason
        else:
            delivery.status, delivery.last_error = S.FAILED, result.reason
            base = getattr(settings, "MESSAGING_RETRY_BASE_SECONDS", retry.BASE)
            delivery.next_attempt_at = done + timedelta(
                seconds=retry.delay(delivery.attempts, rng, base=base)
            )
        delivery.save()
        DeliveryEvent.objects.create(delivery=delivery, status=delivery.status, at=done, detail=result.reason)
        if delivery.status == S.FAILED:
            delivery.enqueued_at = done
            delivery.save(update_fields=["enqueued_at"])
            _enqueue(delivery.pk, run_after=delivery.next_attempt_at)
        _update_message(delivery.message_id)
    return str(delivery.status)


def _update_message(message_id: int) -> None:
    statuses = set(Delivery.objects.filter(message_id=message_id).values_list("status", flat=True))
    if S.DEAD in statuses:
        status = Message.Status.FAILED
    elif statuses and statuses <= {S.SENT, S.DELIVERED, S.ACKNOWLEDGED}:
        status = Message.Status.SENT
    else:
        status = Message.Status.QUEUED
    Message.objects.filter(pk=message_id).exclude(status=Message.Status.TRAINING).update(status=status)


def retry_dead(delivery: Delivery, now: datetime | None = None) -> None:
    """The operator's "try again" on a dead letter."""
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if locked.status != S.DEAD:
            return
        locked.status, locked.next_attempt_at, locked.attempts = S.QUEUED, now or timezone.now(), 0
        locked.enqueued_at = locked.next_attempt_at
        locked.save(update_fields=["status", "next_attempt_at", "attempts", "enqueued_at"])
        DeliveryEvent.objects.create(delivery=locked, status=S.QUEUED, detail="retried by hand")
        _enqueue(locked.pk)


SWEEP_LIMIT = 1000  # deliveries looked at per sweep and per kind, the longest overdue first


def _grace(now: datetime) -> datetime:
    return now - timedelta(seconds=getattr(settings, "MESSAGING_SWEEP_GRACE_SECONDS", 60))


def _overdue(now: datetime) -> Q:
    """Queued or failed, overdue by the grace, and not queued again within it."""
    grace = _grace(now)
    return Q(status__in=[S.QUEUED, S.FAILED], next_attempt_at__lte=grace) & (
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=grace)
    )


def _stale(now: datetime) -> Q:
    """Left "sending" by a worker whose lease ran out, and not queued again since."""
    return Q(status=S.SENDING, lease_until__lte=now) & (
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=F("lease_until"))
    )


def sweep(now: datetime | None = None, limit: int = SWEEP_LIMIT) -> int:
    """Queue again the deliveries whose task is really lost; returns how many.

    A delivery overdue, or left "sending", may simply wait in a backlog: its task still waits in the
    queue (``background.waiting``), and queueing another one would only bury the queue under spare
    tasks. Only a delivery with no waiting task is queued again: its task ran and died with a killed
    worker, or vanished (Redis lost it, or the process died between the commit and the push to Redis).
    Reads the deliveries through the (status, next attempt) index, the longest overdue first, at most
    ``limit`` of each kind a turn: under a bigger backlog, those further back are looked at as it drains."""
    from permanence.messaging.tasks import deliver

    now = now or timezone.now()
    overdue = Delivery.objects.filter(_overdue(now)).order_by("next_attempt_at", "pk")
    stale = Delivery.objects.filter(_stale(now)).order_by("lease_until", "pk")
    ids = [*overdue.values_list("pk", flat=True)[:limit], *stale.values_list("pk", flat=True)[:limit]]
    if not ids:
        return 0
    waiting = background.waiting(deliver, ids, held_until_before=_grace(now))
    requeued = 0
    for delivery_id in ids:
        if delivery_id in waiting:
            continue
        with transaction.atomic():
            # still lost now? (sent meanwhile, or queued again by the operator: leave it alone)
            if Delivery.objects.filter(_overdue(now) | _stale(now), pk=delivery_id).update(enqueued_at=now):
                _enqueue(delivery_id)
                requeued += 1
    return requeued


def resend(message: Message, now: datetime | None = None) -> int:
    """Send a message again: dead letters are retried, the others get a fresh delivery (a new key)."""
    count = 0
    with transaction.atomic():
        for delivery in Delivery.objects.select_for_update().filter(message=message):
            if delivery.status == S.DEAD:
                retry_dead(delivery, now)
            elif delivery.status in (S.SENT, S.DELIVERED, S.ACKNOWLEDGED):
                copy = Delivery.objects.create(
                    message=message,
                    channel=delivery.channel,
                    address=delivery.address,
                    enqueued_at=now or timezone.now(),
                )
                DeliveryEvent.objects.create(delivery=copy, status=S.QUEUED, detail="sent again by hand")
                _enqueue(copy.pk)
            else:
                continue  # still on its way
            count += 1
        Message.objects.filter(pk=message.pk).exclude(status=Message.Status.TRAINING).update(
            status=Message.Status.QUEUED
        )
    return count


class UnknownDelivery(LookupError):
    pass


def provider_report(key: Any, *, provider_id: str, status: str, error: str = "") -> str:
    """What a provider tells afterwards about a delivery it accepted (an SMS status callback):
    "delivered", or "undelivered"/"failed" (a dead letter the operator sees and can send again).
    Reports come in any order and may repeat: a delivery never goes back from delivered or
    acknowledged, and intermediate states ("queued", "sent"...) change nothing."""
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().filter(key=key).first()
        if delivery is None or (delivery.provider_id and delivery.provider_id != provider_id):
            raise UnknownDelivery(str(key))
        if status == "delivered" and delivery.status in (S.SENT, S.SENDING, S.FAILED, S.DEAD):
            delivery.status = S.DELIVERED
            DeliveryEvent.objects.create(
                delivery=delivery, status=S.DELIVERED, detail=f"{provider_id} delivered"
            )
        elif status in ("undelivered", "failed") and delivery.status in (S.SENT, S.SENDING):
            delivery.status = S.DEAD
            delivery.last_error = f"provider reports {status}" + (f" (error {error})" if error else "")
            DeliveryEvent.objects.create(delivery=delivery, status=S.DEAD, detail=delivery.last_error)
        else:
            return str(delivery.status)
        delivery.save(update_fields=["status", "last_error"])
        _update_message(delivery.message_id)
    return str(delivery.status)
