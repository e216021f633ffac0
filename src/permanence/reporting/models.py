"""Rollups: the KPI core's additive figures per interval, kept up to date as calls end, so that
reports never read the raw calls (``rollups.py``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

#: the figures kept as plain counters, by column (``calls`` is the offered calls, read by the forecasts)
COUNTS = {
    "offered": "calls",
    "out_of_hours": "out_of_hours",
    "not_in_service": "not_in_service",
    "voice_menu": "voice_menu",
    "answered": "answered",
    "abandoned": "abandoned",
    "diverted": "diverted",
    "handled": "handled",
    "transferred": "transferred",
    "fcr_eligible": "fcr_eligible",
    "fcr_resolved": "fcr_resolved",
    "messages_sent": "messages_sent",
    "messages_acknowledged": "messages_acknowledged",
}
#: the sums of seconds, kept in whole microseconds (timestamps have no finer grain: the sums are exact)
MICROS = {
    "wait_answered_seconds": "wait_answered_us",
    "wait_all_seconds": "wait_all_us",
    "talk_seconds": "talk_us",
    "hold_seconds": "hold_us",
    "wrap_seconds": "wrap_us",
    "handling_seconds": "handling_us",
    "staffed_seconds": "staffed_us",
}
LONGEST = "longest_wait_us"  # the one figure kept as a maximum
BUCKETS = 121  # kpis.BUCKETS (checked by the tests)
#: the wait histograms, a nullable column per bucket (NULL: none; most buckets of a row are empty)
HISTOGRAMS = {"answered_waits": "aw", "abandoned_waits": "bw"}


class Rollup(models.Model):
    """The additive figures of one scope's key over one interval, as integer counters: a call that
    ends adds to them with an upsert (``col = col + excluded.col``), never reading them first."""

    class Grain(models.TextChoices):
        QUARTER = "15min", _("quarter-hour")
        DAY = "day", _("day")

    class Scope(models.TextChoices):
        ACCOUNT = "account", _("account")
        SECRETARY = "secretary", _("secretary")
        TOTAL = "total", _("all accounts")

    grain = models.CharField(max_length=8, choices=Grain.choices)
    scope = models.CharField(max_length=10, choices=Scope.choices)
    # the account's or secretary's id; for the total a shard (0..SHARDS-1, by account), for the calls no
    # secretary took minus the shard: parallel calls of different accounts add to different rows
    key = models.BigIntegerField(default=0)
    start = models.DateTimeField()
    calls = models.BigIntegerField(default=0, db_default=0)  # offered
    out_of_hours = models.BigIntegerField(default=0, db_default=0)
    not_in_service = models.BigIntegerField(default=0, db_default=0)
    voice_menu = models.BigIntegerField(default=0, db_default=0)
    answered = models.BigIntegerField(default=0, db_default=0)
    abandoned = models.BigIntegerField(default=0, db_default=0)
    diverted = models.BigIntegerField(default=0, db_default=0)
    handled = models.BigIntegerField(default=0, db_default=0)
    transferred = models.BigIntegerField(default=0, db_default=0)
    fcr_eligible = models.BigIntegerField(default=0, db_default=0)
    fcr_resolved = models.BigIntegerField(default=0, db_default=0)
    messages_sent = models.BigIntegerField(default=0, db_default=0)
    messages_acknowledged = models.BigIntegerField(default=0, db_default=0)
    wait_answered_us = models.BigIntegerField(default=0, db_default=0)
    wait_all_us = models.BigIntegerField(default=0, db_default=0)
    talk_us = models.BigIntegerField(default=0, db_default=0)
    hold_us = models.BigIntegerField(default=0, db_default=0)
    wrap_us = models.BigIntegerField(default=0, db_default=0)
    handling_us = models.BigIntegerField(default=0, db_default=0)
    staffed_us = models.BigIntegerField(default=0, db_default=0)
    longest_wait_us = models.BigIntegerField(default=0, db_default=0)

    class Meta:
        verbose_name = _("rollup")
        verbose_name_plural = _("rollups")
        constraints = [
            models.UniqueConstraint(fields=["grain", "scope", "key", "start"], name="rollup_once"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} {self.grain} {self.start:%Y-%m-%d %H:%M}"

    @property
    def figures(self) -> dict[str, Any]:
        """The row's figures as a plain dict (``rollups.to_json``: histograms by non-empty bucket)."""
        data: dict[str, Any] = {name: getattr(self, column) for name, column in COUNTS.items()}
        for name, column in MICROS.items():
            data[name] = getattr(self, column) / 1_000_000
        data["longest_wait_seconds"] = self.longest_wait_us / 1_000_000
        for name, prefix in HISTOGRAMS.items():
            data[name] = {str(i): n for i in range(BUCKETS) if (n := getattr(self, f"{prefix}{i}"))}
        return data


for _prefix in HISTOGRAMS.values():
    for _index in range(BUCKETS):
        Rollup.add_to_class(f"{_prefix}{_index}", models.IntegerField(null=True, blank=True))


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
