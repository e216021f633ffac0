"""Call scenarios stored per account: versions and their life, reviews, remarks, runs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
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


class Scenario(models.Model):
    """A client account's call scenario (its logigramme), with its versions."""

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="scenarios"
    )
    name = models.CharField(_("name"), max_length=120)
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
        ]

    def __str__(self) -> str:
        return f"{self.scenario} v{self.number}"

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
