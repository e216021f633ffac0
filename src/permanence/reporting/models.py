"""Rollups: the KPI core's additive figures per interval, kept up to date as calls end, so that
reports never read the raw calls (``rollups.py``)."""

from __future__ import annotations

from typing import Any

from django.db import models
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
