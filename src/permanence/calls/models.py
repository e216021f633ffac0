"""Calls, their immutable events, the messages they produce, and each secretary's desk status."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from permanence.accounts.models import Account
from permanence.calls import lifecycle

#: what a secretary may say of a call at wrap-up that the operator does not bill (seed 002)
NUISANCES = [("cold_call", _("Cold call")), ("wrong_number", _("Wrong number"))]


class Call(models.Model):
    """One call. Its truth is its events (CallEvent); the fields below are kept in step for queries."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="calls"
    )
    called = models.CharField(_("number called"), max_length=20)
    caller = models.CharField(_("caller's number"), max_length=20, blank=True)  # empty: withheld
    direction = models.CharField(
        _("direction"), max_length=8, choices=Direction.choices, default=Direction.INBOUND
    )
    training = models.BooleanField(_("training"), default=False)
    external_id = models.CharField(_("telephony id"), max_length=80, blank=True)
    state = models.CharField(
        _("state"),
        max_length=16,
        default=lifecycle.State.NEW,
        choices=[(s.value, s.value) for s in lifecycle.State],
    )
    arrived_at = models.DateTimeField(_("arrived"), null=True, blank=True, db_index=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    secretary = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("secretary"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="calls",
    )
    offered_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    passed_by: Any = models.JSONField(default=list, blank=True)  # secretaries who let the offer lapse
    # a simulated caller's patience: hung up then if still waiting, by whichever process runs the tick
    caller_leaves_at = models.DateTimeField(null=True, blank=True, editable=False)
    run = models.ForeignKey(
        "scenarios.Run",
        verbose_name=_("scenario run"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    outcome = models.CharField(_("outcome"), max_length=20, blank=True)
    # what the secretary said of the call at wrap-up that the operator does not bill (billing.rating)
    nuisance = models.CharField(_("not to bill"), max_length=16, choices=NUISANCES, blank=True)
    nuisance_reason = models.CharField(_("why not to bill"), max_length=300, blank=True)
    # the caller's choice in the account's voice menu (``scenarios.engine.ivr``), if it has one
    motive = models.CharField(_("motive (voice menu)"), max_length=120, blank=True)
    urgent = models.BooleanField(_("urgent (voice menu)"), default=False)
    rolled_up_at = models.DateTimeField(null=True, blank=True, editable=False)  # counted in the reports
    called_again = models.BooleanField(default=False, editable=False)  # same caller within the FCR window
    # the caller's number and the scenario's answers deleted at the end of the account's retention period
    # or on the caller's request (``privacy``); the row and its events stay, for the figures
    purged_at = models.DateTimeField(_("personal data deleted"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-arrived_at", "-pk"]
        indexes = [
            models.Index(fields=["state", "arrived_at"], name="call_state_arrived"),
            # a secretary's calls of a day (the desk's count of today's answered calls)
            models.Index(fields=["secretary", "answered_at"], name="call_secretary_answered"),
        ]

    def __str__(self) -> str:
        return f"{self.account} ← {self.caller or '?'} ({self.state})"

    def summary(self) -> lifecycle.Summary:
        return lifecycle.fold(e.as_core() for e in self.events.order_by("seq"))


class CallEvent(models.Model):
    """An event of a call's life: appended in order, never changed or deleted."""

    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=24, choices=[(k.value, k.value) for k in lifecycle.Kind])
    at = models.DateTimeField()
    secretary = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    detail: Any = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("call event")
        verbose_name_plural = _("call events")
        ordering = ["call", "seq"]
        constraints = [models.UniqueConstraint(fields=["call", "seq"], name="call_event_seq_unique")]

    def __str__(self) -> str:
        return f"{self.call_id}#{self.seq} {self.kind}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise lifecycle.LifecycleError("call events are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise lifecycle.LifecycleError("call events are never deleted")

    def as_core(self) -> lifecycle.Event:
        return lifecycle.Event(lifecycle.Kind(self.kind), self.at, self.secretary_id, dict(self.detail))


class DeskStatus(models.TextChoices):
    OFFLINE = "offline", _("Offline")
    READY = "ready", _("Ready")
    PAUSED = "paused", _("Paused")
    ON_CALL = "on_call", _("On a call")
    WRAP_UP = "wrap_up", _("Wrap-up")


class Phone(models.TextChoices):
    """What rings when a call is offered to a secretary (real telephony only)."""

    BROWSER = "browser", _("Softphone in the desk page")
    SIP = "sip", _("SIP phone registered to Kamailio")


class Desk(models.Model):
    """A secretary's status at the desk: who may be offered a call, and since when idle."""

    secretary = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="desk")
    status = models.CharField(
        _("status"), max_length=10, choices=DeskStatus.choices, default=DeskStatus.OFFLINE
    )
    reason = models.CharField(_("pause reason"), max_length=80, blank=True)
    since = models.DateTimeField(_("since"), default=timezone.now)
    idle_since = models.DateTimeField(_("idle since"), default=timezone.now)
    missed_offers = models.PositiveSmallIntegerField(_("offers missed in a row"), default=0)
    phone = models.CharField(_("phone"), max_length=8, choices=Phone.choices, default=Phone.BROWSER)

    class Meta:
        verbose_name = _("desk")
        verbose_name_plural = _("desks")

    def __str__(self) -> str:
        return f"{self.secretary} · {self.status}"


class PresenceSpan(models.Model):
    """A stretch of time a secretary was there to take calls (ready, on a call or in wrap-up): what
    occupancy divides by. Opened when she becomes ready, closed when she pauses or leaves; the
    worker cuts a long one at each quarter-hour so that the reports follow (``reporting.rollups``)."""

    secretary = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)
    rolled_up = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["end", "rolled_up"], name="presence_to_roll")]
        constraints = [
            models.UniqueConstraint(
                fields=["secretary"], condition=models.Q(end__isnull=True), name="presence_one_open_span"
            )
        ]

    def __str__(self) -> str:
        return f"{self.secretary_id} {self.start:%Y-%m-%d %H:%M} → {self.end or '…'}"


def voicemail_path(voicemail: Voicemail, filename: str) -> str:
    """Under MEDIA_ROOT (never served to browsers: the pages stream it after their checks)."""
    when = voicemail.recorded_at or timezone.now()
    return f"voicemail/{voicemail.account_id}/{when:%Y/%m}/{voicemail.call_id}-{when:%H%M%S}.wav"


class Voicemail(models.Model):
    """What a caller left after the beep (after hours, or at the account's maximum wait). On the desk of
    the secretaries trained on the account from ``shown_from`` (the reopening), due by ``due_at``, until a
    message is taken from it or the caller is called back. The recording is deleted at the end of the
    account's retention period (``purged_at``); the row stays, as the call's record."""

    class Ended(models.TextChoices):
        SILENCE = "silence", _("the caller stopped speaking")
        LONGEST = "longest", _("longest length reached")
        HANGUP = "hangup", _("the caller hung up")

    class Closed(models.TextChoices):
        MESSAGE = "message", _("message taken")
        CALLBACK = "callback", _("caller called back")

    call = models.OneToOneField(
        Call, verbose_name=_("call"), on_delete=models.PROTECT, related_name="voicemail"
    )
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="voicemails"
    )
    caller = models.CharField(_("caller's number"), max_length=20, blank=True)
    audio = models.FileField(_("recording"), upload_to=voicemail_path, blank=True)
    seconds = models.FloatField(_("length (seconds)"))
    ended = models.CharField(_("ended because"), max_length=8, choices=Ended.choices)
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now)
    shown_from = models.DateTimeField(_("on the desk from"))
    due_at = models.DateTimeField(_("due"))
    closed_at = models.DateTimeField(_("handled"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_how = models.CharField(_("handled by"), max_length=8, choices=Closed.choices, blank=True)
    message = models.ForeignKey(
        "messaging.Message", verbose_name=_("message"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="voicemails",
    )  # fmt: skip
    purged_at = models.DateTimeField(_("recording deleted"), null=True, blank=True)

    class Meta:
        verbose_name = _("voicemail")
        verbose_name_plural = _("voicemails")
        ordering = ["recorded_at", "pk"]
        indexes = [
            models.Index(fields=["closed_at", "shown_from"], name="voicemail_open"),
            models.Index(fields=["purged_at", "recorded_at"], name="voicemail_to_purge"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} ← {self.caller or '?'} ({self.seconds:.0f} s)"


def recording_path(recording: CallRecording, filename: str) -> str:
    """Under MEDIA_ROOT, beside the voicemails (never served to browsers)."""
    when = recording.started_at or timezone.now()
    return f"recordings/{recording.account_id}/{when:%Y/%m}/{recording.call_id}-{when:%H%M%S}.wav"


class CallRecording(models.Model):
    """A conversation recorded (the account records its calls): a stereo WAV file, the caller on the
    left, the secretary on the right; one per stretch with a secretary. Deleted at the end of the
    account's retention period (``purged_at``); the row stays."""

    call = models.ForeignKey(
        Call, verbose_name=_("call"), on_delete=models.PROTECT, related_name="recordings"
    )
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="recordings"
    )
    secretary = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("secretary"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip
    audio = models.FileField(_("recording"), upload_to=recording_path, blank=True)
    seconds = models.FloatField(_("length (seconds)"))
    started_at = models.DateTimeField(_("started"))
    purged_at = models.DateTimeField(_("recording deleted"), null=True, blank=True)

    class Meta:
        verbose_name = _("call recording")
        verbose_name_plural = _("call recordings")
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["purged_at", "started_at"], name="recording_to_purge")]

    def __str__(self) -> str:
        return f"{self.call_id} ({self.seconds:.0f} s)"


class Supervision(models.Model):
    """A supervisor on a secretary's call (real telephony): listening silently, whispering to her only,
    or barging in; the mode may change while it lasts (``modes``). Every use is in the audit trail and
    shown to the secretary on the call's page."""

    class Mode(models.TextChoices):
        LISTEN = "listen", _("Listening")
        WHISPER = "whisper", _("Whispering to the secretary")
        BARGE = "barge", _("Barging in")

    call = models.ForeignKey(
        Call, verbose_name=_("call"), on_delete=models.PROTECT, related_name="supervisions"
    )
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("supervisor"), on_delete=models.PROTECT, related_name="+"
    )
    secretary = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("secretary"), null=True, on_delete=models.PROTECT,
        related_name="+",
    )
    mode = models.CharField(_("mode"), max_length=8, choices=Mode.choices, default=Mode.LISTEN)
    modes: Any = models.JSONField(default=list)  # [[mode, ISO time], ...]
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    connected_at = models.DateTimeField(_("connected"), null=True, blank=True)  # his phone answered
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    end_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        verbose_name = _("supervision")
        verbose_name_plural = _("supervisions")
        ordering = ["started_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["call"], condition=models.Q(ended_at__isnull=True), name="supervision_one_per_call"
            )
        ]

    def __str__(self) -> str:
        return f"{self.call_id} · {self.supervisor_id} ({self.mode})"
