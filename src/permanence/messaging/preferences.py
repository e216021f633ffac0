"""How one collaborator wants messages: channels for normal and urgent ones, quiet hours, a daily digest.
Pure core: no Django import.

``plan`` turns the preferences into the deliveries to make for one message:
which channels, and from when (``None``: now). Rules, in order:

- urgent messages go on the urgent channels, at once, even in quiet hours
  (unless ``urgent_in_quiet_hours`` is off: then at their end);
- normal messages go on the normal channels; with the digest on, they wait
  for the next daily digest (one e-mail listing them) instead;
- in quiet hours, a normal message (or a digest) waits for their end;
- a chosen channel without an address is skipped; if nothing is left, the
  message goes by e-mail, else by SMS: preferences never lose a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CHANNELS = ("email", "sms", "push")  # in this order when several are chosen; push: the web app


@dataclass(frozen=True)
class Plan:
    channel: str  # "email", "sms" or "digest" (an e-mail, later, with others)
    not_before: datetime | None  # None: now


@dataclass(frozen=True)
class Preferences:
    normal: frozenset[str] = field(default_factory=lambda: frozenset({"email"}))
    urgent: frozenset[str] = field(default_factory=lambda: frozenset({"email", "sms"}))
    quiet_start: time | None = None
    quiet_end: time | None = None
    urgent_in_quiet_hours: bool = True
    digest: bool = False
    digest_at: time = time(18)
    tz: str = "Europe/Paris"

    def __post_init__(self) -> None:
        for chosen in (self.normal, self.urgent):
            unknown = set(chosen) - set(CHANNELS)
            if unknown:
                raise ValueError(f"unknown channel(s): {', '.join(sorted(unknown))}")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.tz!r}") from None
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("quiet hours need both a start and an end")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


def _at(day: datetime, moment: time, zone: ZoneInfo) -> datetime:
    """``moment`` on the local date of ``day``, as a UTC instant. A time that a DST jump skips follows
    RFC 5545, as opening hours do (``accounts.hours``): 02:30 on the spring night is 03:30 summer time."""
    return datetime.combine(day.date(), moment, tzinfo=zone).astimezone(UTC)


def quiet_until(prefs: Preferences, now: datetime) -> datetime | None:
    """The end of the quiet hours ``now`` falls in, or None when it is not quiet."""
    start, end = prefs.quiet_start, prefs.quiet_end
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(prefs.zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        quiet = start <= clock < end
        end_day = local
    else:  # across midnight
        quiet = clock >= start or clock < end
        end_day = local + timedelta(days=1) if clock >= start else local
    return _at(end_day, end, prefs.zone) if quiet else None


def next_digest(prefs: Preferences, now: datetime) -> datetime:
    local = now.astimezone(prefs.zone)
    today = _at(local, prefs.digest_at, prefs.zone)
    return today if today > now else _at(local + timedelta(days=1), prefs.digest_at, prefs.zone)


def _hold(prefs: Preferences, instant: datetime) -> datetime:
    return quiet_until(prefs, instant) or instant


def plan(prefs: Preferences, *, urgent: bool, now: datetime, available: set[str]) -> list[Plan]:
    """The deliveries for one message; ``available``: the channels the collaborator has an address for."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    chosen = [c for c in CHANNELS if c in (prefs.urgent if urgent else prefs.normal) and c in available]
    if not chosen:
        chosen = [c for c in CHANNELS if c in available][:1]
    if not chosen:
        return []
    if not urgent and prefs.digest and "email" in available:
        return [Plan("digest", _hold(prefs, next_digest(prefs, now)))]
    held = quiet_until(prefs, now)
    if urgent and prefs.urgent_in_quiet_hours:
        held = None
    return [Plan(channel, held) for channel in chosen]
