"""The client account: identity, numbers, opening hours."""

from __future__ import annotations

import logging
import re
import uuid
import zoneinfo
from datetime import datetime, time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator, validate_email
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from permanence.accounts import hours
from permanence.accounts.fields import PhoneField
from permanence.accounts.phones import try_normalize
from permanence.textlists import parse_list

logger = logging.getLogger(__name__)


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            _("“%(value)s” is not a known time zone."), params={"value": value}
        ) from None


HOURS_MESSAGES = {
    "not_a_time": _("“%(text)s” is not a time (write 9h30 or 09:30)."),
    "not_a_range": _("“%(text)s” is not a range (write 09:00-12:30)."),
    "closes_before_opens": _(
        "The range %(range)s closes before it opens; split a range that crosses "
        "midnight into two days."
    ),
    "overlap": _("The ranges %(first)s and %(second)s overlap."),
    "seconds": _("Opening times are given to the minute."),
}


def hours_error(exc: hours.HoursError) -> ValidationError:
    """The core's error, said in the user's language."""
    message = HOURS_MESSAGES.get(exc.code)
    if message is None:
        return ValidationError(str(exc))
    return ValidationError(message, code=exc.code, params=exc.params)


def parse_recipients(text: str) -> list[str]:
    """Comma- or semicolon-separated recipients, each an e-mail address or a phone number (made E.164);
    ValidationError naming the first that is neither."""
    out = []
    for item in parse_list(text):
        if "@" in item:
            try:
                validate_email(item)
            except ValidationError:
                message = _("“%(value)s” is not an e-mail address.")
                raise ValidationError(message, params={"value": item}) from None
            out.append(item)
        elif (number := try_normalize(item, settings.PHONE_DEFAULT_REGION)) is not None:
            out.append(number)
        else:
            raise ValidationError(
                _("“%(value)s” is neither an e-mail address nor a phone number."), params={"value": item}
            )
    return out


class Trade(models.TextChoices):
    LEGAL = "legal", _("Legal")
    MEDICAL = "medical", _("Medical")
    REAL_ESTATE = "real_estate", _("Real estate")
    ECOMMERCE = "ecommerce", _("E-commerce")
    TRADES = "trades", _("Trades and crafts")
    OTHER = "other", _("Other")


class Fallback(models.TextChoices):
    """Where a call goes once it has waited the account's maximum."""

    VOICEMAIL = "voicemail", _("Voicemail message")
    CALLBACK = "callback", _("Call-back task for the desk")


class AfterHours(models.TextChoices):
    """What a caller gets when the account is not served (closed, suspended, not yet live)."""

    VOICEMAIL = "voicemail", _("Closed greeting, then voicemail")
    FORWARD = "forward", _("Forward to the on-call number")
    CALLBACK = "callback", _("Closed greeting, then a call-back task at reopening")
    MESSAGE = "message", _("Closed greeting only")


DEFAULT_MAX_WAIT_SECONDS = 120


class IdentityField(models.TextChoices):
    """What a scenario's identity check (``verify``) may ask the caller, compared with the caller's
    contact: the scenario engine's vocabulary (``scenarios.engine.identity.KINDS``)."""

    FILE_NUMBER = "file_number", _("File number")
    BIRTH_DATE = "birth_date", _("Date of birth")
    POSTCODE = "postcode", _("Postcode")
    LAST_NAME = "last_name", _("Last name")
    FIRST_NAME = "first_name", _("First name")
    COMPANY = "company", _("Company")
    EMAIL = "email", _("E-mail address")


#: what the account's contacts keep (``contacts.Contact``'s columns, read by
#: ``scenarios.environment.CONTACT_IDENTITY``), so what an account may ask
IDENTITY_KEPT = ("file_number", "birth_date", "postcode", "last_name", "first_name", "company", "email")
#: a scenario field's name (``scenarios.engine.model.NAME``)
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class AccountStatus(models.TextChoices):
    ONBOARDING = "onboarding", _("Onboarding")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    CLOSED = "closed", pgettext_lazy("account status", "Closed")


AUDIO_MAX_BYTES = 10 * 1024 * 1024


def audio_path(account: Account, filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    return f"audio/{account.slug}/{uuid.uuid4().hex[:12]}{suffix}"


def validate_audio(upload: Any) -> None:
    """A WAV or MP3 file that rtpengine can play (it decodes them with libav), not too big."""
    name = str(getattr(upload, "name", ""))
    suffix = Path(name).suffix.lower()
    if suffix not in (".wav", ".mp3"):
        raise ValidationError(_("Give a WAV or MP3 file (this one is %(name)s).") % {"name": Path(name).name})
    if upload.size > AUDIO_MAX_BYTES:
        raise ValidationError(_("The file is larger than 10 MB."))
    upload.seek(0)
    head = upload.read(12)
    upload.seek(0)
    wav = head[:4] == b"RIFF" and head[8:12] == b"WAVE"
    mp3 = head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)
    if not (wav if suffix == ".wav" else mp3):
        raise ValidationError(_("This file is not a readable %(kind)s file.") % {"kind": suffix[1:].upper()})


def client_language(account: Account) -> str:
    """The language of what the client and its callers read and hear (``Account.language``: messages,
    appointment notices, the closed greeting and prompts, reports, invoices), for
    ``translation.override``; the site's (French) when the account names none it knows. What the
    operator's own staff read stays in the language of their page."""
    language = str(getattr(account, "language", "") or "")
    known = {code for code, _name in settings.LANGUAGES}
    return language if language in known else str(settings.LANGUAGE_CODE)


class Account(models.Model):
    """A client company whose calls the secretaries answer."""

    slug = models.SlugField(_("short name"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    trade = models.CharField(_("trade"), max_length=32, choices=Trade.choices, default=Trade.OTHER)
    greeting = models.CharField(
        _("greeting"),
        max_length=300,
        help_text=_("What the secretary says when answering, e.g. “Cabinet Martin, bonjour”."),
    )
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Paris", validators=[validate_timezone]
    )
    holiday_country = models.CharField(_("public holidays: country"), max_length=2, default="FR")
    holiday_subdivision = models.CharField(
        _("public holidays: region"),
        max_length=8,
        blank=True,
        help_text=_("E.g. 57 for Moselle (Alsace-Moselle holidays); empty for the whole country."),
    )
    closed_on_holidays = models.BooleanField(_("closed on public holidays"), default=True)
    instructions = models.TextField(
        _("standing instructions"), blank=True, max_length=4000,
        help_text=_("Shown at the desk on every call; dated instructions are added to it in their period."),
    )
    instructions_changed_at = models.DateTimeField(_("standing instructions changed"), null=True, blank=True)
    # call routing (``calls.routing``)
    urgent = models.BooleanField(
        _("urgent calls"), default=False, help_text=_("Its calls go before the others' in the queue.")
    )
    call_language = models.CharField(
        _("language of the calls"),
        max_length=8,
        blank=True,
        help_text=_("ISO code (e.g. en): only secretaries who speak it answer; empty for any."),
        validators=[RegexValidator(r"^[a-z]{2,3}$", _("A language code in lower case, e.g. en."))],
    )
    language = models.CharField(
        _("language of the messages"),
        max_length=8,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        help_text=_(
            "The language of what the client and its callers get: messages, appointment notices, the "
            "closed greeting and voice prompts, reports, invoices. The language of the calls only says "
            "which secretaries answer them."
        ),
    )
    overflow_after_seconds = models.PositiveIntegerField(
        _("overflow after (seconds)"),
        null=True,
        blank=True,
        help_text=_("After this wait, secretaries of accounts of the same trade may answer; empty: never."),
    )
    max_wait_seconds = models.PositiveIntegerField(
        _("maximum wait (seconds)"),
        default=DEFAULT_MAX_WAIT_SECONDS,
        validators=[MinValueValidator(10), MaxValueValidator(3600)],
        help_text=_("After this wait the call goes to the fallback: no caller waits longer."),
    )
    fallback = models.CharField(
        _("fallback"), max_length=10, choices=Fallback.choices, default=Fallback.VOICEMAIL
    )
    status = models.CharField(
        _("status"), max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    # when the account is not served (``calls.admission``)
    after_hours = models.CharField(
        _("when closed"), max_length=10, choices=AfterHours.choices, default=AfterHours.VOICEMAIL
    )
    closed_greeting = models.CharField(
        _("closed greeting"),
        max_length=500,
        blank=True,
        help_text=_(
            "What callers hear when the account is closed; empty: a standard text with the next opening."
        ),
    )
    on_call_number = PhoneField(
        _("on-call number"), blank=True, help_text=_("Where calls are forwarded when closed (if chosen).")
    )
    # what callers hear on real telephony (empty: the recordings shipped with Permanence)
    waiting_audio = models.FileField(
        _("waiting message (audio)"), upload_to=audio_path, blank=True, validators=[validate_audio],
        help_text=_("WAV or MP3, up to 10 MB: played once to a waiting caller, before the music."),
    )  # fmt: skip
    music_audio = models.FileField(
        _("waiting music (audio)"), upload_to=audio_path, blank=True, validators=[validate_audio],
        help_text=_("WAV or MP3, up to 10 MB: played in a loop while the caller waits or is on hold."),
    )  # fmt: skip
    ivr_source = models.TextField(
        _("voice menu"), blank=True,
        help_text=_("Optional: a menu said before the queue (language permanence-ivr/1); empty: none."),
    )  # fmt: skip
    closed_audio = models.FileField(
        _("closed greeting (audio)"), upload_to=audio_path, blank=True, validators=[validate_audio],
        help_text=_("WAV or MP3, up to 10 MB: played instead of the closed greeting's text."),
    )  # fmt: skip
    voicemail_audio = models.FileField(
        _("voicemail prompt (audio)"), upload_to=audio_path, blank=True, validators=[validate_audio],
        help_text=_("WAV or MP3, up to 10 MB: played before the beep instead of the text."),
    )  # fmt: skip
    recording_notice_audio = models.FileField(
        _("legal notice of the recording (audio)"), upload_to=audio_path, blank=True,
        validators=[validate_audio], help_text=_("WAV or MP3, up to 10 MB: played instead of the text."),
    )  # fmt: skip
    # what callers hear, said by the text-to-speech when no audio file is given (``calls.prompts``)
    waiting_text = models.CharField(
        _("waiting message (text)"), max_length=500, blank=True,
        help_text=_("Said to a waiting caller before the music; empty: the recording shipped."),
    )  # fmt: skip
    voicemail_text = models.CharField(
        _("voicemail prompt (text)"), max_length=500, blank=True,
        help_text=_("Said before the beep to a caller who waited too long; empty: a standard text."),
    )  # fmt: skip
    recording_notice_text = models.CharField(
        _("legal notice of the recording (text)"), max_length=500, blank=True,
        help_text=_("Said first when the calls are recorded; empty: the standard notice."),
    )  # fmt: skip
    # voicemail (real telephony): after hours, or at the maximum wait with the voicemail fallback
    voicemail_longest_seconds = models.PositiveSmallIntegerField(
        _("voicemail: longest recording (seconds)"), default=120,
        validators=[MinValueValidator(10), MaxValueValidator(600)],
        help_text=_("A caller's recording stops there; it also stops after 5 seconds of silence."),
    )  # fmt: skip
    voicemail_due_minutes = models.PositiveIntegerField(
        _("voicemail: handle within (minutes)"), default=120,
        validators=[MinValueValidator(1), MaxValueValidator(10080)],
        help_text=_("From the reopening (or the recording, if the account was open): the desk's due time."),
    )  # fmt: skip
    voicemail_in_portal = models.BooleanField(
        _("voicemails in the client portal"), default=False,
        help_text=_("The client's users may listen to the voicemails of the account."),
    )  # fmt: skip
    voicemail_retention_days = models.PositiveSmallIntegerField(
        _("voicemail: keep the recordings (days)"), default=90,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("Then the worker deletes the recording (the deletion is written to the audit trail)."),
    )  # fmt: skip
    # call recording (real telephony): off by default; the caller hears the legal notice first
    record_calls = models.BooleanField(
        _("record the calls"), default=False,
        help_text=_("The caller hears the legal notice first; only the roles allowed hear the recordings."),
    )  # fmt: skip
    recording_retention_days = models.PositiveSmallIntegerField(
        _("call recordings: keep (days)"), default=30,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("Then the worker deletes the recording (the deletion is written to the audit trail)."),
    )  # fmt: skip
    # the caller's satisfaction (CSAT): one SMS question after the call, answered 1-5 by reply
    csat_survey = models.BooleanField(
        _("satisfaction survey by SMS"), default=False,
        help_text=_("After a call from a mobile, the caller gets one question by SMS and answers 1 to 5; "
                    "counted as CSAT in the figures. A number gets it once a month at most; STOP ends it."),
    )  # fmt: skip
    csat_question = models.CharField(
        _("survey question"), max_length=200, blank=True,
        help_text=_("Empty: “How satisfied are you with how your call was handled?”"),
    )  # fmt: skip
    # the desk
    default_recipients = models.CharField(
        _("default recipients"),
        max_length=500,
        blank=True,
        help_text=_(
            "E-mail addresses or mobile numbers, comma-separated: who gets a message that names nobody."
        ),
    )
    allowed_recipients = models.CharField(
        _("other allowed recipients"),
        max_length=1000,
        blank=True,
        help_text=_(
            "Besides the directory's people and the default recipients, the only addresses a secretary "
            "may send a message to: e-mail addresses, mobile numbers, or a whole domain written "
            "@example.fr; comma-separated."
        ),
    )
    max_questions = models.PositiveSmallIntegerField(
        _("question threshold"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text=_("Questions before an outcome above which the scenario checker warns; empty: 6."),
    )
    identity_fields = models.CharField(
        _("identity check"),
        max_length=200,
        blank=True,
        help_text=_(
            "What the secretary asks to verify a caller's identity (a scenario's identity check), compared "
            "with the caller's contact and never shown to her; comma-separated among: file_number, "
            "birth_date, postcode, last_name, first_name, company, email."
        ),
    )
    sensitive_fields = models.CharField(
        _("sensitive fields"),
        max_length=1000,
        blank=True,
        help_text=_(
            "Scenario fields whose answers (health, legal) never go by e-mail, SMS, webhook or notification: "
            "the recipients read them after signing in; comma-separated field names."
        ),
    )
    pause_on_missed_offer = models.BooleanField(
        _("pause a secretary who lets a call ring out"),
        default=False,
        help_text=_("She is paused until she says she is back (otherwise the call is offered to her again)."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, ValidationError] = {}
        if self.after_hours == AfterHours.FORWARD and not self.on_call_number and not (
            self.pk and self.rotas.filter(forwards_after_hours=True).exists()  # the rota's person on call
        ):
            errors["on_call_number"] = ValidationError(
                _("Give the on-call number the calls are forwarded to.")
            )
        if self.ivr_source.strip():
            from django.utils.translation import gettext

            from permanence.scenarios.engine import ivr

            checked = ivr.check(self.ivr_source)
            if not checked.ok:
                found = [p for p in checked.problems.sorted() if p.severity == "error"]
                lines = [f"{p.line}:{p.column} {p.message(gettext)}" for p in found]
                errors["ivr_source"] = ValidationError(lines)
        try:
            self.recipient_list()
        except ValidationError as exc:
            errors["default_recipients"] = exc
        else:
            if not self.default_recipients.strip() and self.status != AccountStatus.CLOSED:
                errors["default_recipients"] = ValidationError(
                    _("Give at least one address: a message that names nobody goes there.")
                )
        try:
            self.allowed_recipient_list()
        except ValidationError as exc:
            errors["allowed_recipients"] = exc
        unknown = [key for key in parse_list(self.identity_fields, lower=True) if key not in IDENTITY_KEPT]
        if unknown:
            errors["identity_fields"] = ValidationError(
                _("“%(value)s” cannot be checked: the contacts do not keep it. Choose among: %(expected)s."),
                params={"value": unknown[0], "expected": ", ".join(IDENTITY_KEPT)},
            )
        bad = [name for name in parse_list(self.sensitive_fields) if not FIELD_NAME.match(name)]
        if bad:
            errors["sensitive_fields"] = ValidationError(
                _("“%(value)s” is not a field name: lower-case letters, digits and _."),
                params={"value": bad[0]},
            )
        if errors:
            raise ValidationError(errors)
        try:
            hours.check_holiday_calendar(self.holiday_country, None)
        except hours.HoursError:
            raise ValidationError(
                {"holiday_country": _("No public holiday calendar for this country.")}
            ) from None
        try:
            hours.check_holiday_calendar(self.holiday_country, self.holiday_subdivision or None)
        except hours.HoursError:
            raise ValidationError(
                {"holiday_subdivision": _("Unknown region for this country's public holidays.")}
            ) from None

    def recipient_list(self) -> list[str]:
        """The default recipients, each an e-mail address or an E.164 mobile number."""
        return parse_recipients(self.default_recipients)

    def allowed_recipient_list(self) -> list[str]:
        """The other allowed recipients: addresses, E.164 numbers, and domains as ``@example.fr``."""
        domains = [item.lower() for item in parse_list(self.allowed_recipients) if item.startswith("@")]
        for domain in domains:
            try:
                validate_email("x" + domain)
            except ValidationError:
                raise ValidationError(
                    _("“%(value)s” is not a domain (write it like @example.fr)."), params={"value": domain}
                ) from None
        rest = ", ".join(item for item in parse_list(self.allowed_recipients) if not item.startswith("@"))
        return [*parse_recipients(rest), *domains]

    def identity_field_list(self) -> list[str]:
        """What the identity check asks, in order (those the contacts keep; duplicates left out)."""
        keys = parse_list(self.identity_fields, lower=True)
        return [k for k in keys if k in IDENTITY_KEPT]

    def sensitive_field_list(self) -> list[str]:
        """The scenario fields whose answers are sensitive (read after signing in, never sent)."""
        return list(dict.fromkeys(n for n in parse_list(self.sensitive_fields) if FIELD_NAME.match(n)))

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def schedule(self) -> hours.Schedule:
        """The account's opening hours as the pure core's Schedule."""
        weekly: dict[int, list[hours.TimeRange]] = {}
        for row in self.weekly_hours.all():
            try:
                weekly.setdefault(row.weekday, []).append(hours.TimeRange(row.opens, row.closes))
            except hours.HoursError as error:  # written around the forms; the database refuses it
                logger.error("account %s: opening range %s ignored: %s", self.slug, row.pk, error)
        exceptions = []
        # sorted here, not by the database, so that a list of accounts can prefetch them
        for exc in sorted(self.hours_exceptions.all(), key=lambda e: (e.created_at, e.pk)):
            try:
                ranges = tuple(exc.time_ranges())
            except hours.HoursError as error:
                logger.error("account %s: exception %s read as closed: %s", self.slug, exc.pk, error)
                ranges = ()
            exceptions.append(
                hours.HoursException(
                    start=exc.start_date, end=exc.end_date, ranges=ranges, label=exc.label
                )
            )
        return hours.Schedule(
            tz=self.tz,
            weekly={day: tuple(ranges) for day, ranges in weekly.items()},
            exceptions=tuple(exceptions),
            holidays=hours.public_holidays(
                self.holiday_country, self.holiday_subdivision or None
            ),
            closed_on_holidays=self.closed_on_holidays,
        )

    def opening_status(self, at: datetime | None = None) -> hours.OpeningStatus:
        return hours.status_at(self.schedule(), at or timezone.now())


class PhoneNumber(models.Model):
    """A number that rings at the answering service for this account.

    A number belongs to one account at a time; when it moves or is released the
    row is closed (``released_at``) and kept, so the history stays.
    """

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="numbers"
    )
    number = PhoneField(_("number"))
    label = models.CharField(_("label"), max_length=100, blank=True)
    assigned_at = models.DateTimeField(_("assigned"), default=timezone.now)
    released_at = models.DateTimeField(_("released"), null=True, blank=True)

    class Meta:
        verbose_name = _("phone number")
        verbose_name_plural = _("phone numbers")
        ordering = ["number", "-assigned_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["number"],
                condition=Q(released_at__isnull=True),
                name="phone_number_one_account_at_a_time",
                violation_error_message=_("This number already belongs to an account."),
            ),
            models.CheckConstraint(
                name="phone_number_released_after_assigned",
                condition=Q(released_at__isnull=True) | Q(released_at__gte=models.F("assigned_at")),
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_current(self) -> bool:
        return self.released_at is None


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class WeeklyHours(models.Model):
    """One opening range on a weekday, in the account's local time. ``closes`` 00:00 = midnight."""

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="weekly_hours"
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"), help_text=_("00:00 means midnight at the end of the day."))

    class Meta:
        verbose_name = _("opening range")
        verbose_name_plural = _("opening hours")
        ordering = ["weekday", "opens"]
        constraints = [
            models.CheckConstraint(
                name="weekly_hours_close_after_opening",
                condition=Q(closes__gt=models.F("opens")) | Q(closes=time(0)),
                violation_error_message=_("The range closes before it opens."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"

    def clean(self) -> None:
        if self.opens is None or self.closes is None:
            return
        try:
            this = hours.TimeRange(self.opens, self.closes)
        except hours.HoursError as exc:
            raise ValidationError({"closes": hours_error(exc)}) from None
        if self.account_id is None:
            return
        siblings = WeeklyHours.objects.filter(account_id=self.account_id, weekday=self.weekday)
        for other in siblings.exclude(pk=self.pk):
            try:
                hours.check_no_overlap([this, hours.TimeRange(other.opens, other.closes)])
            except hours.HoursError as exc:
                raise hours_error(exc) from None


class HoursException(models.Model):
    """Exceptional closure or opening over a date range; replaces the weekly hours those days."""

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="hours_exceptions"
    )
    start_date = models.DateField(_("from"))
    end_date = models.DateField(_("to (inclusive)"))
    ranges = models.CharField(
        _("opening ranges"),
        max_length=200,
        blank=True,
        help_text=_("Empty: closed all day. Otherwise e.g. “09:00-12:00, 14:00-17:00”."),
    )
    label = models.CharField(_("label"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("exceptional closure or opening")
        verbose_name_plural = _("exceptional closures and openings")
        ordering = ["start_date"]
        constraints = [
            models.CheckConstraint(
                name="hours_exception_dates_in_order",
                condition=Q(end_date__gte=models.F("start_date")),
                violation_error_message=_("The end date is before the start date."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.start_date} → {self.end_date} {self.label}"

    def time_ranges(self) -> list[hours.TimeRange]:
        return list(hours.parse_ranges(self.ranges))

    def clean(self) -> None:
        try:
            self.time_ranges()
        except hours.HoursError as exc:
            raise ValidationError({"ranges": hours_error(exc)}) from None


INSTRUCTION_MAX_LENGTH = 2000


class Instruction(models.Model):
    """A dated instruction (*consigne*): shown at the desk from ``starts_at`` to ``ends_at``.

    The account's standing text is ``Account.instructions``. Written only through
    ``accounts.actions`` (validated, audited); a withdrawn one stays as history.
    """

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="dated_instructions"
    )
    text = models.TextField(_("instruction"), max_length=INSTRUCTION_MAX_LENGTH)
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    created_at = models.DateTimeField(_("written"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=pgettext_lazy("instruction", "written by"),
        on_delete=models.SET_NULL,
        null=True, blank=True, related_name="+",
    )
    changed_at = models.DateTimeField(
        _("last changed"), default=timezone.now,
        help_text=_("Its text or dates last changed: the desk highlights it again."),
    )
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)

    class Meta:
        verbose_name = _("dated instruction")
        verbose_name_plural = _("dated instructions")
        ordering = ["starts_at", "pk"]
        indexes = [models.Index(fields=["account", "ends_at"], name="instruction_account_ends")]
        constraints = [
            models.CheckConstraint(
                name="instruction_ends_after_start",
                condition=Q(ends_at__gt=models.F("starts_at")),
                violation_error_message=_("The end must come after the start."),
            )
        ]

    def __str__(self) -> str:
        first_line = self.text.strip().splitlines()[0] if self.text.strip() else ""
        return first_line[:80]

    def phase(self, at: datetime | None = None) -> str:
        """coming, current or past (a withdrawn instruction is past)."""
        at = at or timezone.now()
        if self.withdrawn_at is not None or at >= self.ends_at:
            return "past"
        return "coming" if at < self.starts_at else "current"


class InstructionReading(models.Model):
    """When a secretary first saw an instruction (or the standing text, ``instruction`` empty)
    at the desk, on which call: it is highlighted as new during that call."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    instruction = models.ForeignKey(
        Instruction, on_delete=models.CASCADE, null=True, blank=True, related_name="readings"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    call_id = models.BigIntegerField(null=True, blank=True)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instruction", "user"], condition=Q(instruction__isnull=False),
                name="instruction_read_once",
            ),
            models.UniqueConstraint(
                fields=["account", "user"], condition=Q(instruction__isnull=True),
                name="standing_instructions_read_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.instruction_id or 'standing'} at {self.seen_at:%Y-%m-%d %H:%M}"
