"""KPIs on hand-built event sequences; every expected figure is worked out in the test."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from permanence.calls.lifecycle import Event, Kind
from permanence.reporting import kpis

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=PARIS)  # a Tuesday, 09:00


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def answered_call(
    call, start, wait, talk, wrap, *, secretary=7, account=1, caller="+33611111111", hold=0.0, transfer=None
):
    """Arrived at ``start`` s, answered ``wait`` s later, talk (with ``hold`` inside), wrap-up."""
    events = [
        Event(Kind.ARRIVED, at(start)),
        Event(Kind.QUEUED, at(start)),
        Event(Kind.OFFERED, at(start + wait), secretary),
        Event(Kind.ANSWERED, at(start + wait), secretary),
    ]
    clock = start + wait
    if hold:
        events += [Event(Kind.ON_HOLD, at(clock + 10)), Event(Kind.RESUMED, at(clock + 10 + hold))]
    if transfer:
        events += [
            Event(Kind.TRANSFER_REQUESTED, at(clock + talk - 5), detail={"to": "anne"}),
            Event(Kind.TRANSFER_RESULT, at(clock + talk), detail={"result": transfer}),
        ]
        if transfer != "accepted":
            events.append(Event(Kind.ENDED, at(clock + talk)))
    else:
        events.append(Event(Kind.ENDED, at(clock + talk)))
    events.append(Event(Kind.WRAPPED_UP, at(clock + talk + wrap)))
    return kpis.facts(call, account, caller, events)


def abandoned_call(call, start, wait, *, account=1, caller=""):
    return kpis.facts(
        call,
        account,
        caller,
        [
            Event(Kind.ARRIVED, at(start)),
            Event(Kind.QUEUED, at(start)),
            Event(Kind.CALLER_HUNG_UP, at(start + wait)),
        ],
    )


@pytest.fixture
def quarter():
    """One quarter-hour of account 1: four answered calls, three abandoned (one short)."""
    return [
        answered_call(1, 0, 10, 120, 30, hold=20),  # in time, 20 s on hold
        answered_call(2, 60, 20, 200, 40, caller="+33622222222"),  # in time (exactly 20 s)
        answered_call(3, 120, 45, 100, 20, secretary=8, transfer="accepted"),
        answered_call(4, 300, 0, 60, 0, secretary=8, caller=""),  # withheld, no wait
        abandoned_call(5, 400, 3),  # short abandon (<= 5 s)
        abandoned_call(6, 500, 15),  # abandoned within 20 s
        abandoned_call(7, 600, 90),  # abandoned after 90 s
    ]


def test_the_quarter_worked_out(quarter):
    figures = kpis.compute(quarter, by="account", grain="15min", zone=PARIS)
    assert list(figures) == [(1, T0)]
    f = figures[(1, T0)]
    assert (f.offered, f.answered, f.abandoned) == (7, 4, 3)
    ind = kpis.indicators(f)
    # service level, answered within 20 s over offered: calls 1, 2, 4 -> 3 / 7
    assert ind.service_level == pytest.approx(3 / 7)
    assert ind.short_abandoned == 1 and ind.abandoned == 2
    # ASA over the answered: (10 + 20 + 45 + 0) / 4
    assert ind.asa_seconds == pytest.approx(75 / 4)
    # average wait over every call that ended its wait: (75 + 3 + 15 + 90) / 7, longest 90
    assert ind.average_wait_seconds == pytest.approx(183 / 7) and ind.longest_wait_seconds == 90
    # AHT = talk + hold + wrap over handled calls: (120+30) + (200+40) + (100+20) + (60+0) = 570 / 4
    assert ind.aht_seconds == pytest.approx(570 / 4)
    assert f.hold_seconds == 20 and f.talk_seconds == 460  # 120 - 20 + 200 + 100 + 60
    assert ind.transfer_rate == pytest.approx(1 / 4)
    # abandon rate leaves the short abandons out of both sides: 2 / 6
    assert ind.abandon_rate == pytest.approx(2 / 6)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("offered", 3 / 7),  # answered in time / offered
        ("answered", 3 / 4),  # / answered
        ("without_short_abandons", 3 / 6),  # / (offered - abandoned within 5 s)
        ("without_abandons_in_time", 3 / 5),  # / (offered - abandoned within 20 s: calls 5, 6)
    ],
)
def test_service_level_variants(quarter, variant, expected):
    f = kpis.merge(kpis.compute(quarter, by="total", grain="day", zone=PARIS).values())
    assert kpis.indicators(f, kpis.Settings(variant=variant)).service_level == pytest.approx(expected)


def test_threshold_and_short_abandon_limit_are_read_at_report_time(quarter):
    f = kpis.merge(kpis.compute(quarter, by="total", grain="day", zone=PARIS).values())
    # within 45 s all four answered calls are in time; a 15 s limit makes two short abandons
    ind = kpis.indicators(f, kpis.Settings(threshold_seconds=45, short_abandon_seconds=15))
    assert ind.service_level == pytest.approx(4 / 7) and ind.short_abandoned == 2
    with pytest.raises(kpis.KpiError):
        kpis.Settings(threshold_seconds=22)


def test_per_secretary(quarter):
    figures = kpis.compute(quarter, by="secretary", grain="60min", zone=PARIS)
    assert figures[(7, T0)].answered == 2 and figures[(8, T0)].answered == 2
    assert figures[(None, T0)].abandoned == 3  # nobody answered them


def test_intervals_and_rollup_equals_recomputation(quarter):
    later = [answered_call(10 + i, 900 * i + 30, 5, 60, 10) for i in range(1, 8)]
    calls = quarter + later
    fine = kpis.compute(calls, by="account", grain="15min", zone=PARIS)
    assert len(fine) == 8
    hourly = kpis.compute(calls, by="account", grain="60min", zone=PARIS)
    for (key, start), figures in hourly.items():
        parts = [f for (k, s), f in fine.items() if k == key and start <= s < start + timedelta(hours=1)]
        summed = kpis.merge(parts)
        summed.handling_seconds = figures.handling_seconds  # spread by time, compared below
        assert summed == figures
    total_handling = sum(f.handling_seconds for f in fine.values())
    assert total_handling == pytest.approx(sum(f.handling_seconds for f in hourly.values()))


def test_first_call_resolution():
    calls = [
        answered_call(1, 0, 5, 60, 10, caller="+33611111111"),
        answered_call(2, 3600, 5, 60, 10, caller="+33611111111"),  # called back an hour later
        answered_call(3, 0, 5, 60, 10, caller="+33622222222"),  # never again
        answered_call(4, 0, 5, 60, 10, caller="+33633333333", account=2),
        answered_call(5, 7200, 5, 60, 10, caller="+33633333333", account=3),  # another account
    ]
    window = timedelta(hours=72)
    f = kpis.merge(
        kpis.compute(
            calls,
            by="total",
            grain="day",
            zone=PARIS,
            fcr_window=window,
            observed_until=at(0) + timedelta(days=4),
        ).values()
    )
    # call 1 is followed by call 2 within the window: not resolved; 2, 3, 4, 5 are
    assert (f.fcr_eligible, f.fcr_resolved) == (5, 4)
    early = kpis.merge(
        kpis.compute(
            calls,
            by="total",
            grain="day",
            zone=PARIS,
            fcr_window=window,
            observed_until=at(0) + timedelta(days=1),
        ).values()
    )
    assert early.fcr_eligible == 0  # their windows are not over yet


def test_occupancy_from_presence_and_handling():
    calls = [answered_call(1, 0, 0, 300, 60), answered_call(2, 600, 0, 240, 0)]
    presence = [kpis.Presence(secretary=7, account=None, start=at(0), end=at(1800))]
    figures = kpis.compute(calls, by="secretary", grain="15min", zone=PARIS, presences=presence)
    first, second = figures[(7, T0)], figures[(7, T0 + timedelta(minutes=15))]
    # first quarter: 360 s of call 1 and 240 s of call 2 (600..840) over 900 s present
    assert kpis.indicators(first).occupancy == pytest.approx(600 / 900)
    assert kpis.indicators(second).occupancy == 0


def test_daylight_saving_day_and_month_intervals():
    autumn = datetime(2026, 10, 25, 1, 50, tzinfo=PARIS)  # the clock goes back at 03:00
    calls = [
        kpis.facts(
            i,
            1,
            "",
            [
                Event(Kind.ARRIVED, autumn + timedelta(minutes=30 * i)),
                Event(Kind.CALLER_HUNG_UP, autumn + timedelta(minutes=30 * i, seconds=9)),
            ],
        )
        for i in range(6)
    ]
    hourly = kpis.compute(calls, by="account", grain="60min", zone=PARIS)
    assert sum(f.offered for f in hourly.values()) == 6
    assert len({start.astimezone(PARIS).utcoffset() for _, start in hourly}) == 2  # both sides of the change
    daily = kpis.compute(calls, by="account", grain="day", zone=PARIS)
    assert list(daily.values())[0].offered == 6
    monthly = kpis.compute(calls, by="account", grain="month", zone=PARIS)
    assert [s.day for _, s in monthly] == [1]


def test_messages_sent_and_acknowledged():
    messages = [kpis.MessageFact(1, 7, at(10), True), kpis.MessageFact(1, 7, at(20), False)]
    f = kpis.compute([], by="account", grain="day", zone=PARIS, messages=messages)[(1, T0.replace(hour=0))]
    ind = kpis.indicators(f)
    assert (ind.messages_sent, ind.messages_acknowledged) == (2, 1)
    assert ind.service_level is None and ind.asa_seconds is None  # nothing offered: no figure, not 0


def test_a_call_that_never_arrived_has_no_facts():
    assert kpis.facts(1, 1, "", []) is None


def test_a_diverted_call_is_offered_waits_and_counts_against_the_service_level(quarter):
    diverted = kpis.facts(
        8,
        1,
        "+33633333333",
        [
            Event(Kind.ARRIVED, at(700)),
            Event(Kind.QUEUED, at(700)),
            Event(Kind.DIVERTED, at(820), detail={"to": "voicemail"}),
        ],
    )
    assert diverted is not None and diverted.diverted and diverted.wait_seconds == 120
    f = kpis.merge(kpis.compute([*quarter, diverted], by="total", grain="15min", zone=PARIS).values())
    i = kpis.indicators(f)
    # the quarter: 7 offered, 3 answered within 20 s (waits 10, 20, 0); now 8 offered
    assert (i.offered, i.answered, i.diverted, i.abandoned, i.short_abandoned) == (8, 4, 1, 2, 1)
    assert i.service_level == pytest.approx(3 / 8)
    assert kpis.indicators(f, kpis.Settings(variant="answered")).service_level == pytest.approx(3 / 4)
    # waits: 10 + 20 + 45 + 0 answered, 3 + 15 + 90 abandoned, 120 diverted, over 8 calls
    assert i.average_wait_seconds == pytest.approx((75 + 108 + 120) / 8)
    assert i.longest_wait_seconds == 120 and i.asa_seconds == pytest.approx(75 / 4)
    assert i.abandon_rate == pytest.approx(2 / 7)  # the diverted call is not an abandon


def not_served_call(call, start, reason, action="voicemail", *, account=1):
    return kpis.facts(
        call,
        account,
        "+33622222222",
        [
            Event(Kind.ARRIVED, at(start)),
            Event(Kind.NOT_SERVED, at(start), detail={"action": action, "reason": reason}),
        ],
    )


def test_calls_turned_away_are_counted_apart_from_the_offered_ones():
    calls = [
        answered_call(1, 0, 10, 60, 30),
        abandoned_call(2, 60, 40),
        not_served_call(3, 120, "hours"),
        not_served_call(4, 130, "holiday", "forward"),
        not_served_call(5, 140, "exception", "callback"),
        not_served_call(6, 150, "terminated", "not_in_service"),
        not_served_call(7, 160, "suspended", "message"),
    ]
    [(_, figures)] = kpis.compute(calls, by="total", grain="day", zone=PARIS).items()
    result = kpis.indicators(figures)
    assert (result.offered, result.out_of_hours, result.not_in_service) == (2, 3, 2)
    # the service level, waits and abandonment are about the calls served only
    assert (result.answered, result.abandoned, result.service_level) == (1, 1, 0.5)
    assert result.average_wait_seconds == 25.0 and result.longest_wait_seconds == 40.0
    assert figures.answered_waits[kpis._bucket(10)] == 1 and sum(figures.answered_waits) == 1


def test_csat_is_the_share_of_answers_4_or_5():
    found = kpis.csat([5, 4, 3, 1, 5])
    assert (found.answers, found.satisfied, found.percent) == (5, 3, 60.0)
    assert found.mean == pytest.approx(3.6)
    empty = kpis.csat([])
    assert empty.percent is None and empty.mean is None
    for wrong in ([0], [6], [True], ["5"]):
        with pytest.raises(kpis.KpiError):
            kpis.csat(wrong)
