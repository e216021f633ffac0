"""The account's directory (organigramme): services, collaborators, transfer rules, absences."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from permanence.accounts import hours
from permanence.accounts.fields import PhoneField
from permanence.accounts.models import Account, Weekday
from permanence.directory import rota as rota_core
from permanence.directory import rules
from permanence.textlists import parse_list

#: the shared caller-type vocabulary (codes in ``rules.CallerType``) with its labels
CALLER_TYPE_LABELS: dict[str, Any] = {
    rules.CallerType.CLIENT: _("Client"),
    rules.CallerType.PROSPECT: _("Prospect"),
    rules.CallerType.COLLEAGUE: _("Colleague"),
    rules.CallerType.SUPPLIER: _("Supplier"),
    rules.CallerType.COLD_CALLER: _("Cold caller"),
    rules.CallerType.JOB_SEEKER: _("Job seeker"),
    rules.CallerType.PARTNER: _("Partner"),
    rules.CallerType.ADMINISTRATION: _("Public administration"),
    rules.CallerType.PRESS: _("Press"),
    rules.CallerType.PERSONAL: _("Personal call"),
    rules.CallerType.OTHER: _("Other"),
}
CALLER_TYPE_CHOICES: list[tuple[str, Any]] = [(code, CALLER_TYPE_LABELS[code]) for code in rules.CALLER_TYPES]


def unknown_caller_types_error(words: tuple[str, ...] | list[str]) -> ValidationError:
    return ValidationError(
        _("“%(words)s” is not a caller type; the caller types are: %(known)s."),
        code="unknown_caller_type",
        params={
            "words": "”, “".join(words),
            "known": ", ".join(f"{label} ({code})" for code, label in CALLER_TYPE_CHOICES),
        },
    )


class Service(models.Model):
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="services"
    )
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="service_name_unique_per_account")
        ]

    def __str__(self) -> str:
        return self.name


class Collaborator(models.Model):
    """A person of the client company whom callers ask for."""

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="collaborators"
    )
    service = models.ForeignKey(
        Service,
        verbose_name=_("service"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="collaborators",
    )
    title = models.CharField(_("title"), max_length=40, blank=True, help_text=_("Maître, Dr, …"))
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100)
    job_title = models.CharField(_("position"), max_length=120, blank=True)
    specialties = models.TextField(
        _("specialties"), blank=True, help_text=_("Comma-separated, e.g. “family law, divorce”.")
    )
    keywords = models.TextField(
        _("keywords"), blank=True, help_text=_("Words callers use for needs this person handles.")
    )
    direct_line = PhoneField(_("direct line"), blank=True)
    mobile = PhoneField(_("mobile"), blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    instructions = models.TextField(_("instructions"), blank=True)
    transfer_mode = models.CharField(
        _("transfer"),
        max_length=16,
        choices=[
            (rules.TransferMode.ALWAYS.value, _("Always put through")),
            (rules.TransferMode.CONDITIONAL.value, _("Under conditions")),
            (rules.TransferMode.NEVER.value, _("Never: take a message")),
        ],
        default=rules.TransferMode.ALWAYS.value,
    )
    transfer_caller_types = models.CharField(
        _("only for caller types"),
        max_length=200,
        blank=True,
        help_text=_("Caller types of the shared list, e.g. “client, colleague”. Empty: any caller."),
    )
    transfer_urgent_only = models.BooleanField(_("only urgent calls"), default=False)
    transfer_urgent_bypass = models.BooleanField(
        _("urgent calls always put through"), default=False
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("collaborator")
        verbose_name_plural = _("collaborators")
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return " ".join(p for p in (self.title, self.first_name, self.last_name) if p)

    def clean(self) -> None:
        if self.service_id and self.service and self.service.account_id != self.account_id:
            raise ValidationError({"service": _("This service belongs to another account.")})
        codes, unknown = rules.parse_caller_types(self.transfer_caller_types)
        if unknown:
            raise ValidationError({"transfer_caller_types": unknown_caller_types_error(unknown)})
        self.transfer_caller_types = ", ".join(codes)  # the words people know, stored as codes

    @property
    def caller_type_codes(self) -> tuple[str, ...]:
        return rules.parse_caller_types(self.transfer_caller_types)[0]

    @property
    def unknown_caller_types(self) -> tuple[str, ...]:
        """Words kept from before the shared list that are no caller type (shown, never dropped)."""
        return rules.parse_caller_types(self.transfer_caller_types)[1]

    @property
    def caller_type_labels(self) -> str:
        """The caller types put through, in words: “Client, Colleague” (unknown words as written)."""
        codes, unknown = rules.parse_caller_types(self.transfer_caller_types)
        return ", ".join([str(CALLER_TYPE_LABELS[c]) for c in codes] + list(unknown))

    @property
    def specialty_list(self) -> list[str]:
        return parse_list(self.specialties)

    @property
    def keyword_list(self) -> list[str]:
        return parse_list(self.keywords)

    def transfer_rule(self) -> rules.TransferRule:
        return rules.TransferRule(
            mode=rules.TransferMode(self.transfer_mode),
            windows=tuple(
                rules.Window(w.weekday, w.start, w.end) for w in self.transfer_windows.all()
            ),
            # codes; a word that is no caller type (kept until corrected) matches no caller
            caller_types=frozenset(self.caller_type_codes) | {w.lower() for w in self.unknown_caller_types},
            urgent_only=self.transfer_urgent_only,
            urgent_bypass=self.transfer_urgent_bypass,
        )

    def absences_as_rules(self) -> list[rules.Absence]:
        return [a.as_rule() for a in self.absences.all()]

    def current_absence(self, at: datetime | None = None) -> Absence | None:
        """The absence in force (the latest started when several overlap), or None."""
        instant = at or timezone.now()
        covering = [a for a in self.absences.all() if a.as_rule().covers(instant)]
        return max(covering, key=lambda a: a.starts_at, default=None)

    def decide_transfer(
        self, *, at: datetime | None = None, caller_type: str | None = None, urgent: bool = False
    ) -> rules.TransferDecision:
        local = (at or timezone.now()).astimezone(self.account.tz)
        return rules.decide_transfer(
            self.transfer_rule(),
            local_time=local,
            caller_type=caller_type.lower() if caller_type else None,
            urgent=urgent,
            absences=self.absences_as_rules(),
        )


class TransferWindow(models.Model):
    collaborator = models.ForeignKey(
        Collaborator, on_delete=models.CASCADE, related_name="transfer_windows"
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("from"))
    end = models.TimeField(_("to"), help_text=_("00:00 means midnight at the end of the day."))

    class Meta:
        verbose_name = _("transfer window")
        verbose_name_plural = _("transfer windows")
        ordering = ["weekday", "start"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"


class AbsenceKind(models.TextChoices):
    ABSENT = "absent", _("Absent")
    LEAVE = "leave", _("On leave")
    MEETING = "meeting", _("In a meeting")
    CONSULTATION = "consultation", _("In consultation")
    OTHER = "other", _("Unavailable")


class Absence(models.Model):
    """A period when the collaborator cannot take calls, with an optional replacement."""

    collaborator = models.ForeignKey(
        Collaborator, verbose_name=_("collaborator"), on_delete=models.CASCADE,
        related_name="absences",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=AbsenceKind.choices)
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"), null=True, blank=True)
    replacement = models.ForeignKey(
        Collaborator,
        verbose_name=_("replaced by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replacing",
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("absence")
        verbose_name_plural = _("absences")
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                name="absence_ends_after_start",
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                violation_error_message=_("The end is before the start."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.collaborator}: {self.get_kind_display()}"

    def clean(self) -> None:
        if self.replacement_id and self.replacement_id == self.collaborator_id:
            raise ValidationError({"replacement": _("A collaborator cannot replace themselves.")})
        if (
            self.replacement_id
            and self.replacement
            and self.collaborator_id
            and self.replacement.account_id != self.collaborator.account_id
        ):
            raise ValidationError({"replacement": _("The replacement belongs to another account.")})

    def as_rule(self) -> rules.Absence:
        return rules.Absence(
            kind=self.kind,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            replacement_id=self.replacement_id,
            note=self.note,
        )


class Rota(models.Model):
    """A service's on-call rota (*astreinte*): its members in turn, a week each (``directory.rota``)."""

    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.CASCADE,
                                related_name="rotas")
    service = models.OneToOneField(Service, verbose_name=_("service"), on_delete=models.PROTECT,
                                   related_name="rota")
    covers = models.CharField(
        _("applies"), max_length=60, default=rota_core.Cover.ALWAYS.value,
        help_text=_("Comma-separated: always, nights, weekends, holidays."),
    )
    first_day = models.DateField(_("first handover"), help_text=_("Its weekday is the handover day."))
    handover = models.TimeField(_("handover time"), default=time(8, 0))
    night_start = models.TimeField(_("nights from"), default=time(19, 0))
    night_end = models.TimeField(_("nights until"), default=time(8, 0))
    forwards_after_hours = models.BooleanField(
        _("after-hours calls go to the person on call"), default=False,
        help_text=_("When the account is closed and forwards its calls: to this rota's person on call, "
                    "else to the account's on-call number."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("on-call rota")
        verbose_name_plural = _("on-call rotas")
        ordering = ["service__name"]
        constraints = [
            models.UniqueConstraint(fields=["account"], condition=Q(forwards_after_hours=True),
                                    name="one_after_hours_rota_per_account"),
        ]

    def __str__(self) -> str:
        return str(self.service.name)

    def cover_set(self) -> frozenset[rota_core.Cover]:
        known = {c.value for c in rota_core.Cover}
        return frozenset(rota_core.Cover(c) for c in parse_list(self.covers) if c in known)

    def as_core(self) -> rota_core.Rota:
        """The rota as the pure core reads it (members in turn, swaps as overrides)."""
        return rota_core.Rota(
            members=tuple(m.collaborator_id for m in self.members.all()),
            tz=self.account.tz,
            first_day=self.first_day,
            handover=self.handover,
            covers=self.cover_set() or frozenset({rota_core.Cover.ALWAYS}),
            night_start=self.night_start,
            night_end=self.night_end,
            overrides=tuple(rota_core.Override(s.starts_at, s.ends_at, s.collaborator_id)
                            for s in self.swaps.all()),
        )

    def is_holiday(self) -> Any:
        """date -> bool: the account's public holidays (its country and region)."""
        lookup = hours.public_holidays(self.account.holiday_country, self.account.holiday_subdivision or None)
        return lambda day: lookup(day) is not None

    def on_call(self, at: datetime | None = None) -> Collaborator | None:
        """Who is on call at ``at`` (nobody when that person has left the directory since)."""
        who = rota_core.on_call(self.as_core(), at or timezone.now(), self.is_holiday())
        if who is None:
            return None
        # a list of rotas prefetched with their members' and swaps' people (``oncall.rotas``): no query
        cache = getattr(self, "_prefetched_objects_cache", {})
        if "members" in cache and "swaps" in cache:
            rows = [*cache["members"], *cache["swaps"]]
            if all(row._meta.get_field("collaborator").is_cached(row) for row in rows):
                people = {row.collaborator.pk: row.collaborator for row in rows}
                if who in people:
                    return people[who] if people[who].is_active else None
        return Collaborator.objects.filter(pk=who, is_active=True).first()


class RotaMember(models.Model):
    rota = models.ForeignKey(Rota, on_delete=models.CASCADE, related_name="members")
    collaborator = models.ForeignKey(Collaborator, verbose_name=_("collaborator"), on_delete=models.PROTECT,
                                     related_name="rota_turns")
    position = models.PositiveSmallIntegerField(_("turn"))

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["rota", "position"], name="rota_position_unique"),
            models.UniqueConstraint(fields=["rota", "collaborator"], name="rota_member_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.collaborator}"


class RotaSwap(models.Model):
    """For a period, another person is on call (a swap, a replacement)."""

    rota = models.ForeignKey(Rota, on_delete=models.CASCADE, related_name="swaps")
    collaborator = models.ForeignKey(Collaborator, verbose_name=_("on call instead"),
                                     on_delete=models.PROTECT, related_name="rota_swaps")
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(name="rota_swap_ends_after_start",
                                   condition=Q(ends_at__gt=models.F("starts_at"))),
        ]

    def __str__(self) -> str:
        return f"{self.collaborator} {self.starts_at:%Y-%m-%d %H:%M} → {self.ends_at:%Y-%m-%d %H:%M}"


class ChangeKind(models.TextChoices):
    ADD = "add", _("New in the directory")
    CHANGE = "change", _("Details changed")
    LEAVE = "leave", _("Leaves the directory")


class ChangeStatus(models.TextChoices):
    PENDING = "pending", _("Planned")
    APPLIED = "applied", _("Applied")
    CANCELLED = "cancelled", _("Cancelled")
    REFUSED = "refused", _("Refused when due")


class DirectoryChange(models.Model):
    """A change of the directory written now to take effect at a chosen time: a collaborator who
    arrives, whose details or transfer rules change, or who leaves. The worker applies it when due
    through the same named action as an immediate change (``directory.people``), checked again then."""

    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.CASCADE,
                                related_name="directory_changes")
    collaborator = models.ForeignKey(
        Collaborator, verbose_name=_("collaborator"), on_delete=models.CASCADE, null=True, blank=True,
        related_name="planned_changes", help_text=_("Empty for a person who arrives: made when due."),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=ChangeKind.choices)
    #: the fields that change (``directory.people.FIELDS``), as the form gave them
    data = models.JSONField(_("changes"), default=dict, blank=True)
    effective_at = models.DateTimeField(_("takes effect at"))
    status = models.CharField(_("status"), max_length=10, choices=ChangeStatus.choices,
                              default=ChangeStatus.PENDING)
    outcome = models.TextField(_("outcome"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("written by"),
                                   on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        verbose_name = _("planned directory change")
        verbose_name_plural = _("planned directory changes")
        ordering = ["effective_at", "pk"]
        indexes = [models.Index(fields=["status", "effective_at"], name="directorychange_due")]
        constraints = [
            models.CheckConstraint(
                name="directorychange_person_unless_add",
                condition=Q(kind="add") | Q(collaborator__isnull=False),
                violation_error_message=_("A change names the collaborator it changes."),
            )
        ]

    def __str__(self) -> str:
        who = self.collaborator or " ".join(
            str(self.data.get(k) or "") for k in ("first_name", "last_name")).strip()
        return f"{self.get_kind_display()}: {who}"
