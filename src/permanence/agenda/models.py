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
from permanence.accounts.models import Account, Weekday, hours_error
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


def ranges_by_weekday(rows: Any) -> dict[int, list[str]]:
    """Working ranges as text per weekday, in order (``09:00-12:00``; midnight at the end is 24:00)."""
    days: dict[int, list[str]] = {}
    for row in sorted(rows, key=lambda r: (r.weekday, r.start)):
        days.setdefault(row.weekday, []).append(hours.TimeRange(row.start, row.end).format())
    return days


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
            raise ValidationError({"ranges": hours_error(exc)}) from None


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
        for name in ("duration_minutes", "buffer_before_minutes", "buffer_after_minutes"):
            if (getattr(self, name) or 0) > 24 * 60:
                raise ValidationError({name: _("At most 1440 minutes (a day).")})

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
    # the caller's name, phone, e-mail, notes and answers deleted at the end of the account's retention
    # period or on the caller's request (``privacy``)
    purged_at = models.DateTimeField(_("personal data deleted"), null=True, blank=True, editable=False)

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


def _cipher() -> Any:
    """Passwords of remote calendars are stored encrypted with a key derived from SECRET_KEY (a new
    SECRET_KEY means entering them again)."""
    import base64
    import hashlib

    from cryptography.fernet import Fernet

    digest = hashlib.sha256(b"permanence.agenda.calendar-link:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class CalendarLink(models.Model):
    """The collaborator's own calendar (CalDAV), kept in sync both ways: bookings are written there,
    events there are busy times here. See ``caldav_sync``."""

    class Kind(models.TextChoices):
        CALDAV = "caldav", "CalDAV"

    collaborator = models.OneToOneField(
        Collaborator, verbose_name=_("collaborator"), on_delete=models.CASCADE, related_name="calendar_link"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.CALDAV)
    url = models.URLField(_("calendar address"), max_length=500)
    username = models.CharField(_("user name"), max_length=200, blank=True)
    password_encrypted = models.TextField(blank=True, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    sync_token = models.TextField(blank=True, editable=False)
    last_sync_at = models.DateTimeField(_("last sync"), null=True, blank=True)
    last_full_sync_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True)
    failures = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)  # one sync at a time
    created = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("calendar link")
        verbose_name_plural = _("calendar links")

    def __str__(self) -> str:
        return f"{self.collaborator} → {self.url}"

    @property
    def password(self) -> str:
        if not self.password_encrypted:
            return ""
        from cryptography.fernet import InvalidToken

        try:
            return str(_cipher().decrypt(self.password_encrypted.encode()).decode())
        except InvalidToken:
            return ""  # SECRET_KEY changed: the sync reports refused credentials

    @password.setter
    def password(self, value: str) -> None:
        self.password_encrypted = _cipher().encrypt(value.encode()).decode() if value else ""


class RemoteCopy(models.Model):
    """An appointment as written to the collaborator's calendar: where, and at which SEQUENCE."""

    link = models.ForeignKey(CalendarLink, on_delete=models.CASCADE, related_name="copies")
    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="remote_copies")
    href = models.CharField(max_length=500)
    etag = models.CharField(max_length=200, blank=True)
    sequence = models.IntegerField(default=-1)  # the appointment's sequence last written; -1: write again
    written_start = models.DateTimeField(null=True, blank=True)  # the times last written there, to tell
    written_end = models.DateTimeField(null=True, blank=True)  # an edit there from a change here

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["link", "appointment"], name="remote_copy_once_per_link"),
            models.UniqueConstraint(fields=["link", "href"], name="remote_copy_href_unique"),
        ]

    def __str__(self) -> str:
        return self.href


class ExternalEvent(models.Model):
    """A busy time from the collaborator's own calendar (one row per occurrence of a recurring event).
    Only the times are kept: what the collaborator does is not the secretaries' business."""

    link = models.ForeignKey(CalendarLink, on_delete=models.CASCADE, related_name="events")
    href = models.CharField(max_length=500)
    etag = models.CharField(max_length=200, blank=True)
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))

    class Meta:
        verbose_name = _("busy time from a calendar")
        verbose_name_plural = _("busy times from calendars")
        ordering = ["start"]
        indexes = [
            models.Index(fields=["link", "start"], name="external_event_busy"),
            models.Index(fields=["link", "href"], name="external_event_href"),
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}-{self.end:%H:%M}"


class SyncIssue(models.Model):
    """What the sync did that someone must know, or could not settle: never silent."""

    class Kind(models.TextChoices):
        MOVED = "moved", _("Moved in the collaborator's calendar")
        CANCELLED = "cancelled", _("Deleted in the collaborator's calendar: cancelled")
        MOVE_REFUSED = "move_refused", _("Moved in the calendar onto another appointment: kept here")
        EDITED_BOTH = "edited_both", _("Changed on both sides: this side kept")
        OVERLAP = "overlap", _("A calendar event overlaps an appointment")
        UNREADABLE = "unreadable", _("Unreadable calendar event: ignored")

    link = models.ForeignKey(CalendarLink, on_delete=models.CASCADE, related_name="issues")
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.CASCADE, related_name="sync_issues"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    href = models.CharField(max_length=500, blank=True)
    detail = models.TextField(_("detail"), blank=True)
    created = models.DateTimeField(_("created"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("calendar sync issue")
        verbose_name_plural = _("calendar sync issues")
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.created:%Y-%m-%d %H:%M})"
