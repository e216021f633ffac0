"""The cluster under load (issue 20): the invariants that must hold whatever the machine's speed.

Two web processes, two workers and the dispatcher on a fresh PostgreSQL database and Redis; a trunk rings
the demo accounts at ten times the average rate of seed 003's operator (3.2 calls/s) for a minute; 200 bot
secretaries answer through the desk's pages and WebSocket; a web process, a worker and the dispatcher are
SIGKILLed in the middle and started again (tests/cluster/harness.py). Then:

- every call rung is in the database and over, in the state its events add up to, and handled;
- no secretary was ever offered a call while another offer or call of hers was not over;
- every handled call has its message, and every message was delivered exactly once to the SMTP server
  (or is on the operator's page of undelivered messages);
- no request got a server error, and every process killed came back.

Nothing here is timed: the figures (throughput, latencies, recovery) are printed for the record (with
-s) and measured by bench/bench_cluster.py. Skipped when PostgreSQL or Redis does not answer on
127.0.0.1. Knobs for a look at a failure: PERMANENCE_CLUSTER_DURATION (seconds of calls),
PERMANENCE_CLUSTER_KEEP=1 (the database is left behind).
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cluster import harness


@pytest.mark.cluster
def test_cluster_under_load_with_kills(tmp_path: Path) -> None:
    why = harness.unavailable()
    if why:
        pytest.skip(f"the cluster test needs PostgreSQL and Redis on 127.0.0.1: {why}")
    config = harness.Config(
        duration=float(os.environ.get("PERMANENCE_CLUSTER_DURATION", "60")),
        rate=harness.DEFAULT_RATE,
        bots=200,
        keep_database=os.environ.get("PERMANENCE_CLUSTER_KEEP") == "1",
        logs=tmp_path,  # the processes' logs and what the bots saw (bots.json)
    )
    outcome, figures, broken = harness.run(config)
    print("\n" + harness.report(outcome, figures))

    assert outcome.arrivals, "the trunk rang no call"
    assert outcome.drained, f"calls still not over {config.drain_bound:.0f} s after the last one rang"
    assert outcome.delivered, f"deliveries still pending {config.delivery_bound:.0f} s after the bots stopped"
    assert len(outcome.kills) == len(harness.KILLS)
    assert not broken, f"{len(broken)} invariants broken (logs: {outcome.logs}):\n" + "\n".join(broken)


# The checks themselves, on made-up runs (no cluster needed: these run with the rest of the suite).

T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)


Event = tuple[float, int, str, int | None]  # the event's id (the database's order), call, kind, secretary


def _run(
    events: list[Event],
    states: dict[int, str],
    deliveries: tuple[tuple[str, str], ...] = (),
    received: dict[str, int] | None = None,
) -> harness.Outcome:
    """``events`` call by call, each call's in its own order; ``deliveries``: (key, status) of message 1."""
    out = harness.Outcome(harness.Config(), "dispatcher", "rq", bots=2, load_start=T0.timestamp())
    seq: Counter[int] = Counter()
    for event_id, call, kind, secretary in events:
        seq[call] += 1
        out.events.append(
            {
                "id": event_id,
                "call_id": call,
                "seq": seq[call],
                "kind": kind,
                "at": T0 + timedelta(seconds=event_id),
                "secretary_id": secretary,
                "detail": {},
            }
        )
    for call, state in states.items():
        out.calls.append(
            {
                "id": call,
                "state": state,
                "account_id": 1,
                "training": False,
                "secretary_id": None,
                "offered_to_id": None,
            }
        )
        out.arrivals[call] = T0.timestamp()
        if state == "done":
            out.messages.append({"id": call, "call_id": call, "status": "sent", "author_id": 7})
    for i, (key, status) in enumerate(deliveries, 1):
        out.deliveries.append(
            {
                "id": i,
                "message_id": 1,
                "channel": "email",
                "address": f"r{i}@example.fr",
                "status": status,
                "key": key,
                "attempts": 1,
                "last_error": "",
            }
        )
    out.sink = Counter(received or {})
    return out


HANDLED = ["arrived", "queued", "offered", "answered", "ended", "wrapped_up"]


def _handled(call: int, secretary: int, first_id: int) -> list[Event]:
    return [
        (
            first_id + i,
            call,
            kind,
            secretary if kind in ("offered", "answered", "ended", "wrapped_up") else None,
        )
        for i, kind in enumerate(HANDLED)
    ]


def test_the_checks_pass_a_clean_run() -> None:
    out = _run(
        _handled(1, 7, 1) + _handled(2, 7, 10),
        {1: "done", 2: "done"},
        (("k1", "sent"), ("k2", "sent")),
        {"k1": 1, "k2": 1},
    )
    assert harness.check(out) == []


def test_the_checks_catch_a_call_offered_to_a_secretary_still_on_another() -> None:
    # event ids are the database's order: her first call ends (wrapped up) at id 10, the second call
    # was offered to her at id 7, while she was on the first one
    first = [
        (1, 1, "arrived", None),
        (2, 1, "queued", None),
        (3, 1, "offered", 7),
        (4, 1, "answered", 7),
        (9, 1, "ended", 7),
        (10, 1, "wrapped_up", 7),
    ]
    second = [
        (5, 2, "arrived", None),
        (6, 2, "queued", None),
        (7, 2, "offered", 7),
        (11, 2, "answered", 7),
        (12, 2, "ended", 7),
        (13, 2, "wrapped_up", 7),
    ]
    problems = harness.check(_run(first + second, {1: "done", 2: "done"}))
    assert any("secretary 7 was offered call 2 (event 7) while her call of call 1" in p for p in problems), (
        problems
    )
    offered_later = [
        (5, 2, "arrived", None),
        (6, 2, "queued", None),
        (17, 2, "offered", 7),
        (18, 2, "answered", 7),
        (19, 2, "ended", 7),
        (20, 2, "wrapped_up", 7),
    ]  # offered once she wrapped up
    assert harness.check(_run(first + offered_later, {1: "done", 2: "done"})) == []


def test_the_checks_catch_two_offers_at_once() -> None:
    first = [
        (1, 1, "arrived", None),
        (2, 1, "queued", None),
        (3, 1, "offered", 7),
        (6, 1, "offer_expired", 7),
        (8, 1, "offered", 9),
        (9, 1, "answered", 9),
        (10, 1, "ended", 9),
        (11, 1, "wrapped_up", 9),
    ]
    second = [
        (4, 2, "arrived", None),
        (5, 2, "queued", None),
        (5.5, 2, "offered", 7),
        (12, 2, "answered", 7),
        (13, 2, "ended", 7),
        (14, 2, "wrapped_up", 7),
    ]
    problems = harness.check(_run(first + second, {1: "done", 2: "done"}))
    assert any("while her offer of call 1" in p for p in problems), problems


def test_the_checks_catch_a_stranded_call_a_lost_call_and_a_duplicate_email() -> None:
    events = _handled(1, 7, 1) + [
        (7, 2, "arrived", None),
        (8, 2, "queued", None),
        (9, 2, "offered", 8),
        (10, 2, "answered", 8),
    ]
    out = _run(
        events,
        {1: "done", 2: "talking"},
        (("k1", "sent"), ("k2", "sent"), ("k3", "queued")),
        {"k1": 2, "k2": 0, "k9": 1},
    )
    out.arrivals[3] = T0.timestamp()  # rung, never stored
    problems = "\n".join(harness.check(out))
    for expected in (
        "call 2 stranded in talking",
        "not in the database: [3]",
        "received 2 times",
        "the SMTP server never got it",
        "still queued",
        "no delivery of the database",
    ):
        assert expected in problems, problems


def test_the_checks_explain_a_diverted_call_only_by_its_maximum_wait() -> None:
    events: list[Event] = [(1, 1, "arrived", None), (2, 1, "queued", None), (3, 1, "diverted", None)]
    out = _run(events, {1: "diverted"})
    out.events[2]["detail"] = {"to": "voicemail", "waited": 121}
    out.max_wait = {1: 120}
    assert harness.check(out, all_handled=False) == []
    assert any("although 2 bots were at the desk" in p for p in harness.check(out))
    out.events[2]["detail"]["waited"] = 30
    assert any("before its maximum wait" in p for p in harness.check(out, all_handled=False))
