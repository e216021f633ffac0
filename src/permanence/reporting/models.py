"""Rollups: the KPI core's additive figures per interval, kept up to date as calls end, so that
reports never read the raw calls (``rollups.py``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Rollup(models.Model):
    class Grain(models.TextChoices):
        QUARTER = "15min", _("quarter-hour")
        DAY = "day", _("day")

    class Scope(models.TextChoices):
        ACCOUNT = "account", _("account")
        SECRETARY = "secretary", _("secretary")
        TOTAL = "total", _("all accounts")

    grain = models.CharField(max_length=8, choices=Grain.choices)
    scope = models.CharField(max_length=10, choices=Scope.choices)
    key = models.BigIntegerField(default=0)  # the account's or secretary's id; 0: none (total, unanswered)
    start = models.DateTimeField()
    figures: Any = models.JSONField(default=dict)
    calls = models.PositiveIntegerField(default=0)  # offered, kept apart for quick filters

    class Meta:
        verbose_name = _("rollup")
        verbose_name_plural = _("rollups")
        constraints = [
            models.UniqueConstraint(fields=["grain", "scope", "key", "start"], name="rollup_once"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} {self.grain} {self.start:%Y-%m-%d %H:%M}"


class CallReview(models.Model):
    """A supervisor's scorecard of one call (``reporting.scorecard``): the ratings by criterion, the
    score they give, a comment for the secretary. One per call; a second review replaces the first
    (both in the audit trail)."""

    call = models.OneToOneField("calls.Call", verbose_name=_("call"), on_delete=models.CASCADE,
                                related_name="review")
    secretary = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("secretary"),
                                  on_delete=models.PROTECT, related_name="reviews_received")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("reviewed by"),
                                 on_delete=models.SET_NULL, null=True, related_name="+")
    ratings: Any = models.JSONField(_("ratings"), default=dict)
    score = models.FloatField(_("score (%)"), null=True, blank=True)
    failed = models.BooleanField(_("failed on a critical point"), default=False)
    comment = models.TextField(_("comment for the secretary"), blank=True)
    at = models.DateTimeField(_("reviewed"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("call review")
        verbose_name_plural = _("call reviews")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.call_id}: {self.score if self.score is not None else '—'}"
