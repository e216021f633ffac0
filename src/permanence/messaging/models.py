"""Messages (call reports) and their deliveries: one per recipient and channel, with a status history.

The deliveries are the outbox: written in the same transaction as the end of
the call, then sent by the workers, retried with backoff, and parked as dead
letters after too many failures for the operator to look at and retry.
"""

from __future__ import annotations

import uuid
from datetime import time
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from permanence.accounts.models import Account
from permanence.messaging import preferences


class Message(models.Model):
    """The call report to send to the collaborators concerned."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        TRAINING = "training", _("Training (not sent)")

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="messages"
    )
    call = models.ForeignKey(
        "calls.Call",
        verbose_name=_("call"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )
    recipients: Any = models.JSONField(_("recipients"), default=list)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("body"))
    fields: Any = models.JSONField(_("structured fields"), default=dict, blank=True)  # for machines
    reply_to = models.CharField(_("reply to"), max_length=254, blank=True)
    urgent = models.BooleanField(_("urgent"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("written by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created = models.DateTimeField(_("created"), default=timezone.now)
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("escalation of"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="escalations",
    )
    # counted in the reports (``reporting.rollups``): sent once, acknowledged once
    rolled_up = models.BooleanField(default=False, editable=False)
    ack_rolled_up = models.BooleanField(default=False, editable=False)
    # subject, body, recipients and fields deleted at the end of the account's retention period or on the
    # caller's request (``privacy``); the row stays, for the figures
    purged_at = models.DateTimeField(_("personal data deleted"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["rolled_up"], condition=models.Q(rolled_up=False), name="message_to_roll_up")
        ]

    def __str__(self) -> str:
        return self.subject


class Delivery(models.Model):
    """One message, one recipient, one channel."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed, will retry")
        DEAD = "dead", _("Failed for good")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")

    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(_("channel"), max_length=20)
    address = models.CharField(_("address"), max_length=500)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.QUEUED)
    key = models.UUIDField(_("idempotency key"), default=uuid.uuid4, unique=True, editable=False)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)  # a worker is sending it until then
    enqueued_at = models.DateTimeField(null=True, blank=True)  # when a task to send it was last queued
    last_error = models.TextField(_("last error"), blank=True)
    provider_id = models.CharField(_("provider's id"), max_length=200, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    parts = models.PositiveSmallIntegerField(_("SMS parts"), default=1)  # set when an SMS is sent
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["message", "pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.channel}:{self.address} ({self.status})"


class DeliveryEvent(models.Model):
    """The status history of a delivery."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=12, choices=Delivery.Status.choices)
    detail = models.TextField(blank=True)

    class Meta:
        verbose_name = _("delivery event")
        verbose_name_plural = _("delivery events")
        ordering = ["delivery", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.status}"


class WebhookEndpoint(models.Model):
    """Where an account's messages are also POSTed, signed (a CRM, Zapier, Make...)."""

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=200)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self) -> str:
        return self.url


class EscalationPolicy(models.Model):
    """Urgent messages must be acknowledged; if not, they go down this list, then back to the desk."""

    account = models.OneToOneField(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="escalation"
    )
    delay_minutes = models.PositiveIntegerField(_("delay before escalating (minutes)"), default=15)
    steps: Any = models.JSONField(
        _("escalation list"),
        default=list,
        blank=True,
        help_text=_("E-mail addresses or mobile numbers, in order."),
    )

    class Meta:
        verbose_name = _("escalation policy")
        verbose_name_plural = _("escalation policies")

    def __str__(self) -> str:
        return f"{self.account}: {self.delay_minutes} min"


class Acknowledgement(models.Model):
    """Someone confirmed they read an urgent message (a signed link, or the portal)."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="acknowledgement")
    at = models.DateTimeField(default=timezone.now)
    by = models.CharField(max_length=254, blank=True)  # the address the link was sent to, or the user

    class Meta:
        verbose_name = _("acknowledgement")
        verbose_name_plural = _("acknowledgements")

    def __str__(self) -> str:
        return f"{self.message_id} by {self.by}"


class CallbackTask(models.Model):
    """Back to the desk: an urgent message nobody acknowledged (a secretary calls the client back), or
    a caller who waited the account's maximum (a secretary calls the caller back)."""

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="callback_tasks"
    )
    message = models.OneToOneField(
        Message,
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="callback_task",
    )
    call = models.OneToOneField(
        "calls.Call",
        verbose_name=_("call"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="callback_task",
    )
    number = models.CharField(_("number to call"), max_length=20, blank=True)
    created = models.DateTimeField(_("created"), default=timezone.now)
    due_at = models.DateTimeField(
        _("due"), null=True, blank=True, help_text=_("Not before then (a call after hours: the reopening).")
    )
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("call-back task")
        verbose_name_plural = _("call-back tasks")
        ordering = ["done_at", "created"]
        constraints = [
            models.CheckConstraint(
                name="callback_for_a_message_or_a_call",
                condition=models.Q(message__isnull=False) | models.Q(call__isnull=False, number__gt=""),
            )
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.message or self.number}"


class DeliveryPreference(models.Model):
    """How one collaborator wants the messages: channels, quiet hours, daily digest (see ``preferences``)."""

    collaborator = models.OneToOneField(
        "directory.Collaborator",
        verbose_name=_("collaborator"),
        on_delete=models.CASCADE,
        related_name="delivery_preference",
    )
    normal_email = models.BooleanField(_("normal messages by e-mail"), default=True)
    normal_sms = models.BooleanField(_("normal messages by SMS"), default=False)
    urgent_email = models.BooleanField(_("urgent messages by e-mail"), default=True)
    urgent_sms = models.BooleanField(_("urgent messages by SMS"), default=True)
    normal_push = models.BooleanField(_("normal messages by push notification"), default=False)
    urgent_push = models.BooleanField(_("urgent messages by push notification"), default=False)
    quiet_start = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True)
    urgent_in_quiet_hours = models.BooleanField(_("urgent messages even in quiet hours"), default=True)
    digest = models.BooleanField(
        _("daily digest"),
        default=False,
        help_text=_("Normal messages are gathered in one e-mail a day; urgent ones still go at once."),
    )
    digest_at = models.TimeField(_("digest time"), default=time(18))

    class Meta:
        verbose_name = _("delivery preference")
        verbose_name_plural = _("delivery preferences")

    def __str__(self) -> str:
        return str(self.collaborator)

    def clean(self) -> None:
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValidationError(_("Quiet hours need both a start and an end."))

    def as_core(self, tz: str) -> preferences.Preferences:
        return preferences.Preferences(
            normal=frozenset(c for c, on in (("email", self.normal_email), ("sms", self.normal_sms),
                                             ("push", self.normal_push)) if on),
            urgent=frozenset(c for c, on in (("email", self.urgent_email), ("sms", self.urgent_sms),
                                             ("push", self.urgent_push)) if on),
            quiet_start=self.quiet_start,
            quiet_end=self.quiet_end,
            urgent_in_quiet_hours=self.urgent_in_quiet_hours,
            digest=self.digest,
            digest_at=self.digest_at,
            tz=tz,
        )


class FlagReason(models.TextChoices):
    WRONG_PERSON = "wrong_person", _("Sent to the wrong person")
    MISSING = "missing", _("Missing information")
    MISSPELT = "misspelt", _("A name or number misspelt")
    OTHER = "other", _("Other")


class MessageFlag(models.Model):
    """The client says a message was wrong, and why: its author and her supervisors see it, and it
    counts in the error rates (per account, per secretary)."""

    message = models.ForeignKey(Message, verbose_name=_("message"), on_delete=models.CASCADE,
                                related_name="flags")
    reason = models.CharField(_("reason"), max_length=16, choices=FlagReason.choices)
    text = models.CharField(_("what was wrong"), max_length=500, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("flagged by"), on_delete=models.SET_NULL,
                           null=True, related_name="+")
    at = models.DateTimeField(_("flagged"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("flagged message")
        verbose_name_plural = _("flagged messages")
        ordering = ["-at"]
        constraints = [models.UniqueConstraint(fields=["message"], name="one_flag_per_message")]

    def __str__(self) -> str:
        return f"{self.message_id}: {self.reason}"


class Survey(models.Model):
    """The one-question satisfaction survey sent to a caller by SMS after a call (the account opts in),
    and the caller's answer 1-5 by reply: counted as CSAT in the figures."""

    class Status(models.TextChoices):
        SENT = "sent", pgettext_lazy("survey", "Sent")
        FAILED = "failed", pgettext_lazy("survey", "Not sent")
        ANSWERED = "answered", pgettext_lazy("survey", "Answered")

    call = models.OneToOneField("calls.Call", verbose_name=_("call"), on_delete=models.CASCADE,
                                related_name="survey")
    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.CASCADE,
                                related_name="surveys")
    address = models.CharField(_("mobile"), max_length=20, db_index=True)  # E.164: where it went
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # the provider's idempotency
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SENT)
    reason = models.CharField(_("why not sent"), max_length=300, blank=True)
    sent_at = models.DateTimeField(pgettext_lazy("survey", "sent"), default=timezone.now, db_index=True)
    rating = models.PositiveSmallIntegerField(_("rating (1-5)"), null=True, blank=True)
    answered_at = models.DateTimeField(pgettext_lazy("survey", "answered"), null=True, blank=True)

    class Meta:
        verbose_name = _("satisfaction survey")
        verbose_name_plural = _("satisfaction surveys")
        ordering = ["-sent_at"]
        constraints = [
            models.CheckConstraint(
                name="survey_rating_1_to_5",
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5)),
        ]

    def __str__(self) -> str:
        return f"{self.call_id}: {self.rating or '—'}"


class SurveyOptOut(models.Model):
    """A number that answered STOP: no survey is ever sent to it again."""

    address = models.CharField(_("mobile"), max_length=20, unique=True)
    at = models.DateTimeField(_("since"), default=timezone.now)

    class Meta:
        verbose_name = _("survey opt-out")
        verbose_name_plural = _("survey opt-outs")

    def __str__(self) -> str:
        return self.address


class PushSubscription(models.Model):
    """A browser (the client's web app, installed or not) subscribed to Web Push for a user: where the push
    service receives the notifications (``endpoint``) and the keys they are encrypted for (RFC 8291)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="push_subscriptions")
    endpoint = models.URLField(_("push service address"), max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("subscribed"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last push"), null=True, blank=True)

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")

    def __str__(self) -> str:
        return f"{self.user}: {self.user_agent[:40]}"
