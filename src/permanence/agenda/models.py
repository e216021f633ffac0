"""Collaborators' agendas: working hours, appointment types, appointments.

Double booking is impossible at the database level on PostgreSQL: an exclusion
constraint (migration 0002) forbids two booked appointments of one
collaborator whose blocked times (the appointment with its buffers) overlap.
On SQLite, writes are serialised (IMMEDIATE transactions) and ``services.book``
checks inside the transaction.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from permanence.accounts import hours
from permanence.accounts.models import Account, Weekday
from permanence.agenda import slots
from permanence.directory.models import Collaborator
from permanence.textlists import parse_list


class WorkingHours(models.Model):
    """One working range of a collaborator on a weekday, local time. Without any, the account's
    opening hours apply."""

    collaborator = models.ForeignKey(
        Collaborator, verbose_name=_("collaborator"), on_delete=models.CASCADE, related_name="working_hours"
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("from"))
    end = models.TimeField(_("to"), help_text=_("00:00 means midnight at the end of the day."))

    class Meta:
        verbose_name = _("working range")
        verbose_name_plural = _("working hours")
        ordering = ["collaborator", "weekday", "start"]
        constraints = [
            models.CheckConstraint(
                name="working_hours_end_after_start",
                condition=Q(end__gt=models.F("start")) | Q(end=time(0)),
                violation_error_message=_("The range ends before it starts."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"


class AvailabilityException(models.Model):
    """Over a date range, the collaborator's day is these ranges instead (empty: day off, leave)."""

    collaborator = models.ForeignKey(
        Collaborator,
        verbose_name=_("collaborator"),
        on_delete=models.CASCADE,
        related_name="availability_exceptions",
    )
    start_date = models.DateField(_("from"))
    end_date = models.DateField(_("to (inclusive)"))
    ranges = models.CharField(
        _("working ranges"),
        max_length=200,
        blank=True,
        help_text=_("Empty: not working. Otherwise e.g. “09:00-12:00, 14:00-17:00”."),
    )
    label = models.CharField(_("label"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("availability exception")
        verbose_name_plural = _("availability exceptions")
        ordering = ["start_date"]
        constraints = [
            models.CheckConstraint(
                name="availability_exception_dates_in_order",
                condition=Q(end_date__gte=models.F("start_date")),
                violation_error_message=_("The end date is before the start date."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.start_date} → {self.end_date} {self.label}"

    def clean(self) -> None:
        try:
            hours.parse_ranges(self.ranges)
        except hours.HoursError as exc:
            raise ValidationError({"ranges": str(exc)}) from None


DEFAULT_CONFIRMATION = (
    "{{ account }} : votre rendez-vous ({{ type }}) avec {{ collaborator }} est confirmé le {{ when }}"
    "{% if place %} ({{ place }}){% endif %}. Pour le modifier, appelez-nous."
)
DEFAULT_REMINDER = (
    "{{ account }} : rappel de votre rendez-vous ({{ type }}) avec {{ collaborator }} le {{ when }}"
    "{% if place %} ({{ place }}){% endif %}. Empêché ? Appelez-nous."
)


class Place(models.TextChoices):
    OFFICE = "office", _("At the office")
    HOME = "home", _("Home visit")
    VIDEO = "video", _("Video call")
    PHONE = "phone", _("By phone")


class AppointmentType(models.Model):
    """A kind of appointment an account offers, chosen by the call's motive."""

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="appointment_types"
    )
    name = models.CharField(_("name"), max_length=120)
    code = models.SlugField(
        _("code"),
        max_length=63,
        blank=True,
        help_text=_("How the call scenario names it, e.g. “first_meeting”. Empty: made from the name."),
    )
    motives = models.TextField(
        _("motives"),
        blank=True,
        help_text=_("Comma-separated words of the callers, e.g. “divorce, séparation”."),
    )
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), default=30)
    buffer_before_minutes = models.PositiveIntegerField(_("buffer before (minutes)"), default=0)
    buffer_after_minutes = models.PositiveIntegerField(_("buffer after (minutes)"), default=0)
    step_minutes = models.PositiveIntegerField(
        _("slot step (minutes)"), null=True, blank=True, help_text=_("Empty: the duration.")
    )
    min_notice_minutes = models.PositiveIntegerField(_("minimum notice (minutes)"), default=120)
    horizon_days = models.PositiveIntegerField(_("bookable up to (days ahead)"), default=60)
    places = models.CharField(
        _("places"),
        max_length=100,
        default=Place.OFFICE,
        help_text=_("Comma-separated: office, home, video, phone."),
    )
    questions = models.TextField(_("questions to ask"), blank=True, help_text=_("One per line."))
    collaborators = models.ManyToManyField(
        Collaborator, verbose_name=_("collaborators"), related_name="appointment_types", blank=True
    )
    confirmation_text = models.TextField(
        _("confirmation to the caller"),
        blank=True,
        default=DEFAULT_CONFIRMATION,
        help_text=_("Sent when booked or moved, by e-mail or SMS. Empty: none. Variables: see the docs."),
    )
    reminder_text = models.TextField(
        _("reminder to the caller"), blank=True, default=DEFAULT_REMINDER, help_text=_("Empty: none.")
    )
    reminder_hours = models.PositiveIntegerField(_("reminder, hours before"), default=24)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("appointment type")
        verbose_name_plural = _("appointment types")
        ordering = ["account", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name"], name="appointment_type_name_unique_per_account"
            ),
            models.UniqueConstraint(
                fields=["account", "code"], name="appointment_type_code_unique_per_account"
            ),
            models.CheckConstraint(name="appointment_type_lasts", condition=Q(duration_minutes__gt=0)),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.code:
            self.code = slugify(self.name).replace("-", "_")[:63] or "rdv"
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from permanence.agenda import notify

        for name in ("confirmation_text", "reminder_text"):
            problem = notify.template_problem(getattr(self, name))
            if problem:
                raise ValidationError({name: problem})
        unknown = [p for p in self.place_list if p not in Place.values]
        if unknown:
            raise ValidationError(
                {"places": _("Unknown place(s): %(places)s.") % {"places": ", ".join(unknown)}}
            )
        if self.duration_minutes == 0:
            raise ValidationError({"duration_minutes": _("An appointment lasts more than zero minutes.")})

    @property
    def place_list(self) -> list[str]:
        return parse_list(self.places, lower=True)

    @property
    def motive_list(self) -> list[str]:
        return parse_list(self.motives, lower=True)

    @property
    def question_list(self) -> list[str]:
        return [line.strip() for line in self.questions.splitlines() if line.strip()]

    def as_core(self) -> slots.AppointmentType:
        return slots.AppointmentType(
            duration=timedelta(minutes=self.duration_minutes),
            buffer_before=timedelta(minutes=self.buffer_before_minutes),
            buffer_after=timedelta(minutes=self.buffer_after_minutes),
            min_notice=timedelta(minutes=self.min_notice_minutes),
            horizon=timedelta(days=self.horizon_days),
            step=timedelta(minutes=self.step_minutes) if self.step_minutes else None,
        )


class Appointment(models.Model):
    """A booked (or cancelled) appointment; ``blocked_from``/``blocked_until`` include the buffers."""

    class Status(models.TextChoices):
        BOOKED = "booked", _("Booked")
        CANCELLED = "cancelled", _("Cancelled")

    class Source(models.TextChoices):
        DESK = "desk", _("Desk")
        API = "api", _("API")
        CALENDAR = "calendar", _("Collaborator's calendar")
        BACK_OFFICE = "back_office", _("Back-office")

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="appointments"
    )
    collaborator = models.ForeignKey(
        Collaborator, verbose_name=_("collaborator"), on_delete=models.PROTECT, related_name="appointments"
    )
    appointment_type = models.ForeignKey(
        AppointmentType,
        verbose_name=_("appointment type"),
        on_delete=models.PROTECT,
        related_name="appointments",
        null=True,
        blank=True,
    )
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    blocked_from = models.DateTimeField(_("blocked from"))
    blocked_until = models.DateTimeField(_("blocked until"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.BOOKED)
    place = models.CharField(_("place"), max_length=10, choices=Place.choices, default=Place.OFFICE)
    caller_name = models.CharField(_("caller's name"), max_length=200, blank=True)
    caller_phone = models.CharField(_("caller's phone"), max_length=20, blank=True)
    caller_email = models.EmailField(_("caller's e-mail"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    answers: Any = models.JSONField(_("answers"), default=dict, blank=True)
    call = models.ForeignKey(
        "calls.Call",
        verbose_name=_("call"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    source = models.CharField(_("source"), max_length=12, choices=Source.choices, default=Source.DESK)
    reminder_sent_at = models.DateTimeField(_("reminder sent"), null=True, blank=True)
    uid = models.UUIDField(_("calendar id"), default=uuid.uuid4, unique=True, editable=False)
    sequence = models.PositiveIntegerField(default=0)  # iCalendar SEQUENCE: bumped on every change
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(_("created"), default=timezone.now)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["start"]
        indexes = [models.Index(fields=["collaborator", "status", "blocked_from"], name="appointment_busy")]
        constraints = [
            models.CheckConstraint(
                name="appointment_ends_after_start", condition=Q(end__gt=models.F("start"))
            ),
            models.CheckConstraint(
                name="appointment_blocks_its_time",
                condition=Q(blocked_from__lte=models.F("start")) & Q(blocked_until__gte=models.F("end")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.collaborator} {self.start:%Y-%m-%d %H:%M}"


def _feed_token() -> str:
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """A private iCalendar address for one collaborator's appointments, to subscribe to from Google
    Calendar or Outlook. Whoever has the address reads the agenda: it is revoked by issuing a new one."""

    collaborator = models.ForeignKey(
        Collaborator, verbose_name=_("collaborator"), on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    token = models.CharField(max_length=64, unique=True, default=_feed_token, editable=False)
    created = models.DateTimeField(_("created"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.collaborator} ({'revoked' if self.revoked_at else 'active'})"
