"""Call scenarios stored per account: versions and their life, reviews, remarks, runs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from permanence.accounts.models import Account


class Status(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("scenario version", "Draft")
    REVIEW = "review", pgettext_lazy("scenario version", "In review")
    SENT = "sent", pgettext_lazy("scenario version", "Sent to the client")
    APPROVED = "approved", pgettext_lazy("scenario version", "Approved")
    PUBLISHED = "published", pgettext_lazy("scenario version", "Published")
    RETIRED = "retired", pgettext_lazy("scenario version", "Retired")


EDITABLE = (Status.DRAFT,)
#: the entry point the desk serves calls with (others wait for their numbers or lines)
MAIN_ENTRY = "main"
ENTRY_VALIDATOR = RegexValidator(
    r"^[a-z][a-z0-9_-]{0,39}$", _("Lower-case letters, digits, - and _, starting with a letter.")
)


class Scenario(models.Model):
    """A client account's call scenario (its logigramme), with its versions.

    ``entry`` is the entry point it serves: an account has at most one version in service per
    entry point (a constraint on the versions); approving a version retires the one that served
    the same entry point, whichever scenario it belonged to."""

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="scenarios"
    )
    name = models.CharField(_("name"), max_length=120)
    entry = models.CharField(
        _("entry point"),
        max_length=40,
        default=MAIN_ENTRY,
        validators=[ENTRY_VALIDATOR],
        help_text=_("“main” serves the account's calls; one version in service per entry point."),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("call scenario")
        verbose_name_plural = _("call scenarios")
        ordering = ["account", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="scenario_name_unique_per_account")
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        with transaction.atomic():
            super().save(*args, **kwargs)
            # the versions carry the account and the entry point for the one-in-service constraint
            self.versions.exclude(entry=self.entry, account_id=self.account_id).update(
                entry=self.entry, account_id=self.account_id
            )

    def clean(self) -> None:
        if self.pk is None or not self.versions.filter(status=Status.PUBLISHED).exists():
            return
        other = (
            ScenarioVersion.objects.filter(
                account_id=self.account_id, entry=self.entry, status=Status.PUBLISHED
            )
            .exclude(scenario_id=self.pk)
            .select_related("scenario")
            .first()
        )
        if other is not None:
            raise ValidationError(
                {
                    "entry": _("“%(other)s” is in service at the entry point “%(entry)s”: choose another.")
                    % {"other": other.scenario.name, "entry": self.entry}
                }
            )

    @property
    def published(self) -> ScenarioVersion | None:
        return self.versions.filter(status=Status.PUBLISHED).first()

    @property
    def latest(self) -> ScenarioVersion | None:
        return self.versions.order_by("-number").first()


class ScenarioVersion(models.Model):
    """One version of a scenario's source. Only drafts change; a published version serves live calls."""

    scenario = models.ForeignKey(
        Scenario, verbose_name=_("scenario"), on_delete=models.CASCADE, related_name="versions"
    )
    # copies of the scenario's account and entry point (kept by save), for the constraint below
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="+", editable=False
    )
    entry = models.CharField(_("entry point"), max_length=40, default=MAIN_ENTRY, editable=False)
    number = models.PositiveIntegerField(_("version"))
    source = models.TextField(_("source"))
    digest = models.CharField(_("digest"), max_length=64)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    errors = models.PositiveIntegerField(_("errors"), default=0)
    warnings = models.PositiveIntegerField(_("warnings"), default=0)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )  # None: created by Permanence
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    sent_at = models.DateTimeField(_("sent to the client"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    publish_at = models.DateTimeField(
        _("to be published at"), null=True, blank=True,
        help_text=_("Approved for later: put in service at this time (the desk shows what changes before)."),
    )

    class Meta:
        verbose_name = _("scenario version")
        verbose_name_plural = _("scenario versions")
        ordering = ["scenario", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["scenario", "number"], name="scenario_version_number_unique"),
            models.UniqueConstraint(
                fields=["scenario"],
                condition=Q(status="published"),
                name="one_published_version_per_scenario",
            ),
            models.UniqueConstraint(
                fields=["account", "entry"],
                condition=Q(status="published"),
                name="one_version_in_service_per_entry",
                violation_error_message=_("Another version is in service at this entry point."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scenario} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.account_id = self.scenario.account_id
        self.entry = self.scenario.entry
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "account", "entry"}
        super().save(*args, **kwargs)

    @property
    def editable(self) -> bool:
        return self.status in EDITABLE


class Comment(models.Model):
    """A review note (technical assistants) or a change request (client admin) on a version."""

    class Kind(models.TextChoices):
        REVIEW = "review", _("Review")
        CHANGES = "changes", _("Changes requested")
        APPROVAL = "approval", _("Approval")

    version = models.ForeignKey(
        ScenarioVersion, verbose_name=_("version"), on_delete=models.CASCADE, related_name="comments"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.REVIEW)
    step = models.CharField(_("step"), max_length=160, blank=True)
    text = models.TextField(_("text"), max_length=4000)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        ordering = ["created"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text[:60]}"


class Remark(models.Model):
    """A secretary's remark on a step, to improve the scenario (feedback from the desk)."""

    version = models.ForeignKey(
        ScenarioVersion, verbose_name=_("version"), on_delete=models.CASCADE, related_name="remarks"
    )
    step = models.CharField(_("step"), max_length=160)
    text = models.TextField(_("text"), max_length=4000)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    resolved = models.BooleanField(_("resolved"), default=False)

    class Meta:
        verbose_name = _("remark")
        verbose_name_plural = _("remarks")
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.step}: {self.text[:60]}"


class Block(models.Model):
    """A reusable block shared by the scenarios of every account (e.g. "polite refusal")."""

    name = models.SlugField(_("name"), max_length=63, unique=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    source = models.TextField(_("source"))
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("block")
        verbose_name_plural = _("blocks")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Run(models.Model):
    """A run of a scenario version: its inputs and recorded facts (the state is derived)."""

    version = models.ForeignKey(
        ScenarioVersion, verbose_name=_("version"), on_delete=models.PROTECT, related_name="runs"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("agent"), on_delete=models.PROTECT, related_name="+"
    )
    test = models.BooleanField(_("test run"), default=True)
    state: Any = models.JSONField(_("state"), default=dict)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    outcome = models.CharField(_("outcome"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("scenario run")
        verbose_name_plural = _("scenario runs")
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.version} · {self.created:%Y-%m-%d %H:%M}"


class VersionReading(models.Model):
    """A secretary saw what a new version changes (the desk's banner), on which call."""

    version = models.ForeignKey(ScenarioVersion, on_delete=models.CASCADE, related_name="readings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    call_id = models.BigIntegerField(null=True, blank=True)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "user"], name="version_read_once")]

    def __str__(self) -> str:
        return f"{self.user_id} saw v{self.version_id} at {self.seen_at:%Y-%m-%d %H:%M}"
