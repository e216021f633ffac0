"""Recipient preferences: channels for normal and urgent messages, quiet hours, daily digest.

Times are worked out by hand in Europe/Paris (UTC+1 in winter, UTC+2 in summer;
2026-03-29 02:00 jumps to 03:00, 2026-10-25 03:00 falls back to 02:00).
"""

from datetime import UTC, datetime, time

import pytest

from permanence.messaging.preferences import Plan, Preferences, plan

PARIS = "Europe/Paris"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_no_quiet_hours_no_digest_sends_now_on_the_chosen_channels():
    prefs = Preferences(normal=frozenset({"email"}), urgent=frozenset({"email", "sms"}), tz=PARIS)
    now = utc(2026, 12, 1, 9)
    assert plan(prefs, urgent=False, now=now, available={"email", "sms"}) == [Plan("email", None)]
    assert plan(prefs, urgent=True, now=now, available={"email", "sms"}) == [
        Plan("email", None),
        Plan("sms", None),
    ]


def test_a_channel_without_an_address_is_skipped_and_never_leaves_nothing():
    prefs = Preferences(normal=frozenset({"sms"}), urgent=frozenset({"sms"}), tz=PARIS)
    now = utc(2026, 12, 1, 9)
    # no mobile number: the message still goes, by e-mail
    assert plan(prefs, urgent=False, now=now, available={"email"}) == [Plan("email", None)]
    assert plan(prefs, urgent=True, now=now, available={"email"}) == [Plan("email", None)]
    assert plan(prefs, urgent=True, now=now, available=set()) == []


def test_quiet_hours_across_midnight_hold_normal_messages_until_they_end():
    prefs = Preferences(quiet_start=time(20), quiet_end=time(8), tz=PARIS)
    # 2026-12-01 21:30 Paris (20:30 UTC): held until 2026-12-02 08:00 Paris = 07:00 UTC
    assert plan(prefs, urgent=False, now=utc(2026, 12, 1, 20, 30), available={"email"}) == [
        Plan("email", utc(2026, 12, 2, 7))
    ]
    # 06:00 Paris the next morning: held until 08:00 the same day
    assert plan(prefs, urgent=False, now=utc(2026, 12, 2, 5), available={"email"}) == [
        Plan("email", utc(2026, 12, 2, 7))
    ]
    # 08:00 Paris exactly: quiet hours are over
    assert plan(prefs, urgent=False, now=utc(2026, 12, 2, 7), available={"email"}) == [Plan("email", None)]
    # 19:59 Paris: not yet
    assert plan(prefs, urgent=False, now=utc(2026, 12, 2, 18, 59), available={"email"}) == [
        Plan("email", None)
    ]


def test_quiet_hours_within_a_day():
    prefs = Preferences(quiet_start=time(12), quiet_end=time(14), tz=PARIS)
    assert plan(prefs, urgent=False, now=utc(2026, 12, 1, 11, 15), available={"email"}) == [
        Plan("email", utc(2026, 12, 1, 13))
    ]
    assert plan(prefs, urgent=False, now=utc(2026, 12, 1, 14), available={"email"}) == [Plan("email", None)]


def test_urgent_messages_go_through_quiet_hours_unless_asked_not_to():
    now = utc(2026, 12, 1, 23)  # midnight in Paris
    waking = Preferences(quiet_start=time(22), quiet_end=time(7), tz=PARIS)
    assert plan(waking, urgent=True, now=now, available={"email", "sms"}) == [
        Plan("email", None),
        Plan("sms", None),
    ]
    sleeping = Preferences(quiet_start=time(22), quiet_end=time(7), urgent_in_quiet_hours=False, tz=PARIS)
    assert plan(sleeping, urgent=True, now=now, available={"email", "sms"}) == [
        Plan("email", utc(2026, 12, 2, 6)),
        Plan("sms", utc(2026, 12, 2, 6)),
    ]


def test_quiet_hours_end_on_dst_nights():
    prefs = Preferences(quiet_start=time(22), quiet_end=time(7), tz=PARIS)
    # spring forward: 2026-03-28 23:00 Paris (22:00 UTC); 07:00 on the 29th is summer time = 05:00 UTC
    assert plan(prefs, urgent=False, now=utc(2026, 3, 28, 22), available={"email"}) == [
        Plan("email", utc(2026, 3, 29, 5))
    ]
    # fall back: 2026-10-24 23:00 Paris (21:00 UTC); 07:00 on the 25th is winter time = 06:00 UTC
    assert plan(prefs, urgent=False, now=utc(2026, 10, 24, 21), available={"email"}) == [
        Plan("email", utc(2026, 10, 25, 6))
    ]
    # quiet hours ending inside the spring gap (02:30 does not exist): RFC 5545 reads it with the
    # offset before the jump, 03:30 summer time = 01:30 UTC (as opening hours do)
    gap = Preferences(quiet_start=time(22), quiet_end=time(2, 30), tz=PARIS)
    assert plan(gap, urgent=False, now=utc(2026, 3, 28, 22), available={"email"}) == [
        Plan("email", utc(2026, 3, 29, 1, 30))
    ]


def test_digest_collects_normal_messages_for_the_daily_time():
    prefs = Preferences(normal=frozenset({"email", "sms"}), digest=True, digest_at=time(18), tz=PARIS)
    # 10:00 Paris: today's digest at 18:00 Paris = 17:00 UTC; the digest replaces every normal channel
    assert plan(prefs, urgent=False, now=utc(2026, 12, 1, 9), available={"email", "sms"}) == [
        Plan("digest", utc(2026, 12, 1, 17))
    ]
    # 18:00 Paris exactly or later: tomorrow's
    assert plan(prefs, urgent=False, now=utc(2026, 12, 1, 17), available={"email", "sms"}) == [
        Plan("digest", utc(2026, 12, 2, 17))
    ]
    # urgent messages never wait for the digest
    assert plan(prefs, urgent=True, now=utc(2026, 12, 1, 9), available={"email", "sms"}) == [
        Plan("email", None),
        Plan("sms", None),
    ]
    # a digest needs an e-mail address; without one, messages go as they come
    assert plan(prefs, urgent=False, now=utc(2026, 12, 1, 9), available={"sms"}) == [Plan("sms", None)]


def test_a_digest_due_in_quiet_hours_waits_for_their_end():
    prefs = Preferences(digest=True, digest_at=time(21), quiet_start=time(20), quiet_end=time(8), tz=PARIS)
    assert plan(prefs, urgent=False, now=utc(2026, 12, 1, 9), available={"email"}) == [
        Plan("digest", utc(2026, 12, 2, 7))
    ]


def test_bad_preferences_are_refused_clearly():
    with pytest.raises(ValueError, match="unknown channel"):
        Preferences(normal=frozenset({"fax"}), tz=PARIS)
    with pytest.raises(ValueError, match="time zone"):
        Preferences(tz="Mars/Olympus")
    with pytest.raises(ValueError, match="both"):
        Preferences(quiet_start=time(22), tz=PARIS)
    with pytest.raises(ValueError, match="aware"):
        plan(Preferences(tz=PARIS), urgent=False, now=datetime(2026, 12, 1, 9), available={"email"})
