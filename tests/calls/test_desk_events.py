"""Desk events: typed, sent only once their transaction has committed, in order; a desk's state folded
from its events equals a fresh read of the database. Dispatch in a cluster: two dispatchers never offer
one secretary two calls, and the dispatcher is woken at once by the web nodes (PostgreSQL NOTIFY)."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from factories import make_user
from permanence import loops
from permanence.calls import desk_events, services
from permanence.calls.lifecycle import Kind, State
from permanence.calls.models import Call, Desk
from permanence.messaging.management.commands import worker
from permanence.users.models import Role, Training

BUSY = (State.TALKING, State.ON_HOLD, State.TRANSFERRING, State.WRAP_UP)


class Pages:
    """What the secretaries' open desk pages received, in order (the channel layer's side)."""

    def __init__(self):
        self.received: list[tuple[int, dict]] = []

    def notify(self, user_id, payload):
        self.received.append((user_id, payload))

    def state(self, secretary_id) -> desk_events.DeskState:
        state = desk_events.DeskState()
        for user_id, payload in self.received:
            if user_id == secretary_id:
                desk_events.fold(state, desk_events.parse(user_id, payload))
        return state


def fresh_read(secretary_id):
    desk = Desk.objects.filter(secretary_id=secretary_id).first()
    offered = Call.objects.filter(offered_to_id=secretary_id, state=State.OFFERED).values_list("pk",
                                                                                             flat=True)
    busy = Call.objects.filter(secretary_id=secretary_id, state__in=BUSY, training=False).values_list(
        "pk", flat=True)
    return (desk.status if desk else "offline", offered.first(), busy.first())


def folded(pages, secretary_id):
    state = pages.state(secretary_id)
    return (state.status, state.offer, state.call)


def test_an_event_round_trips_through_its_payload():
    event = desk_events.OfferMade(7, call=3, account="Cabinet Alpha", account_slug="alpha", caller="",
                                  training=False, expires_at=None)
    assert event.payload() == {
        "type": "offer", "call": 3, "account": "Cabinet Alpha", "account_slug": "alpha", "caller": "",
        "training": False, "expires_at": None,
    }
    assert desk_events.parse(7, event.payload()) == event
    status = desk_events.StatusChanged(7, "paused", "pause café")
    assert desk_events.parse(7, status.payload()) == status


@pytest.mark.django_db(transaction=True)
def test_events_wait_for_the_commit_and_a_rollback_sends_none(personas, alpha, monkeypatch):
    pages = Pages()
    monkeypatch.setattr(services, "notify", pages.notify)
    secretary = personas["secretary"]
    services.set_status(secretary, "ready")
    ready = {"type": "status", "status": "ready", "reason": "", "call": None}
    assert pages.received == [(secretary.pk, ready)]
    call = services.call_arrived("01 45 00 00 01", "0611111111")
    assert Call.objects.get(pk=call.pk).state == State.OFFERED
    assert pages.received[-1][1]["type"] == "offer"
    pages.received.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.accept(call.pk, secretary)
        assert pages.received == []  # inside the transaction: nothing told yet
        raise RuntimeError("the request fails after the accept")
    assert pages.received == []  # rolled back: never told
    assert Call.objects.get(pk=call.pk).state == State.OFFERED
    with transaction.atomic():
        services.accept(call.pk, secretary)
        assert pages.received == []
    on_call = {"type": "status", "status": "on_call", "reason": "", "call": call.pk}
    assert pages.received == [(secretary.pk, on_call)]


@pytest.mark.django_db(transaction=True)
def test_the_desk_state_rebuilt_from_its_events_equals_a_fresh_read(personas, alpha, monkeypatch):
    """Every change a desk goes through (offers made, rung out, taken back by a pause, withdrawn by a
    caller who left; answered, ended, hung up on, wrapped up; paused by a rule, the phone lost): after
    each step, what her pages folded from the events is what the database says."""
    pages = Pages()
    monkeypatch.setattr(services, "notify", pages.notify)
    alpha.pause_on_missed_offer = True
    alpha.save(update_fields=["pause_on_missed_offer"])
    anne, bea = personas["secretary"], make_user("bea", Role.SECRETARY)
    Training.objects.create(secretary=bea, account=alpha)
    people = (anne, bea)

    def check(step):
        for person in people:
            assert folded(pages, person.pk) == fresh_read(person.pk), f"{step}: {person.username}"

    def offered_to(person):
        offers = Call.objects.filter(offered_to=person, state=State.OFFERED)
        return offers.values_list("pk", flat=True).first()

    services.set_status(anne, "ready")
    services.set_status(bea, "ready")
    check("both ready")
    first = services.call_arrived("01 45 00 00 01", "0611111111")
    second = services.call_arrived("01 45 00 00 01", "0622222222")
    check("two calls offered")
    assert {offered_to(anne), offered_to(bea)} == {first.pk, second.pk}
    call_a = offered_to(anne)
    services.accept(call_a, anne)
    check("anne answers")
    services.caller_hung_up(offered_to(bea))  # the caller leaves while it rings at bea's
    check("caller gone while offered")
    third = services.call_arrived("01 45 00 00 01", None)
    check("third call offered to bea")
    assert offered_to(bea) == third.pk
    services.dispatch(timezone.now() + timedelta(seconds=services.OFFER_SECONDS + 1))  # rings out
    check("offer rung out: bea paused by the account's rule")
    assert Desk.objects.get(secretary=bea).status == "paused"
    services.set_status(bea, "ready")
    check("bea ready again")
    services.end_call(call_a, anne)
    check("anne ends: wrap-up")
    services.wrap_up(call_a, anne, "message")
    check("anne wrapped up, ready, offered again")
    fourth = services.call_arrived("01 45 00 00 01", "0633333333")
    check("fourth call")
    for person in people:
        pk = offered_to(person)
        if pk:
            services.accept(pk, person)
    check("answered")
    talking = Call.objects.filter(state=State.TALKING)
    for call in talking:
        services.caller_hung_up(call.pk)  # the caller hangs up mid-call: her wrap-up
    check("callers hung up mid-call")
    for call in Call.objects.filter(state=State.WRAP_UP):
        services.wrap_up(call.pk, call.secretary, "message")
    check("wrapped up")
    services.set_status(anne, "paused", "pause café")
    services.set_status(bea, "offline")
    check("paused and offline")

    # a training call while paused: her desk stays paused, nothing is offered to her meanwhile, and
    # its wrap-up does not make her ready
    training = services.call_arrived("01 45 00 00 01", None, training=True)
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=training.pk)
        services.record(locked, Kind.OFFERED, secretary=anne)  # as the desk's training page does
        services.record(locked, Kind.ANSWERED, secretary=anne)
    services.set_status(bea, "ready")
    real = services.call_arrived("01 45 00 00 01", "0644444444")
    assert offered_to(bea) == real.pk and offered_to(anne) is None
    services.end_call(training.pk, anne)
    services.wrap_up(training.pk, anne, "message")
    check("training call over")
    assert Desk.objects.get(secretary=anne).status == "paused"

    # she goes offline in the middle of a call: the call is still hers, her desk stays offline when
    # the caller hangs up and she wraps up, and nothing more is offered to her
    services.accept(real.pk, bea)
    services.set_status(bea, "offline")
    check("offline mid-call")
    assert folded(pages, bea.pk) == ("offline", None, real.pk)
    services.caller_hung_up(real.pk)
    check("caller gone while she is offline")
    services.wrap_up(real.pk, bea, "message")
    check("wrapped up offline")
    assert Desk.objects.get(secretary=bea).status == "offline"
    services.set_status(anne, "ready")
    later = services.call_arrived("01 45 00 00 01", None)
    assert offered_to(anne) == later.pk and offered_to(bea) is None
    check("the end")
    assert fourth.pk and {p["type"] for _, p in pages.received} >= {
        "offer", "offer_withdrawn", "status", "caller_hung_up", "call_ended"}


def race(dispatchers):
    """Run each function in a thread of its own (its own database session), all released at once; the
    exceptions raised."""
    barrier, errors = threading.Barrier(len(dispatchers)), []

    def run(function):
        try:
            barrier.wait()
            function()
        except Exception as exc:  # reported by the caller's assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(function,)) for function in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_never_offer_one_secretary_two_calls(alpha, monkeypatch):
    """Four dispatchers at once (threads, each its own database session), each about to offer another
    call to the same secretaries, with a pause inside the offer so that they overlap: the desk's row
    lock lets one through per secretary; each call is offered at most once."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks between sessions: run the suite with DATABASE_URL=postgres://...")
    secretaries = [make_user(f"s{i}", Role.SECRETARY) for i in range(3)]
    for person in secretaries:
        Training.objects.create(secretary=person, account=alpha)
    calls = [services.call_arrived("01 45 00 00 01", None) for _ in range(12)]  # nobody ready: all wait
    now = timezone.now()
    Desk.objects.bulk_create([Desk(secretary=p, status="ready", idle_since=now) for p in secretaries])
    original = services.record

    def slow_record(*args, **kwargs):
        time.sleep(0.05)  # widen the window between the checks and the offer
        return original(*args, **kwargs)

    monkeypatch.setattr(services, "record", slow_record)

    def dispatcher(mine):
        now = timezone.now()
        for call, person in zip(mine, secretaries, strict=False):  # each its own calls, the same people
            services.offer(call.pk, person.pk, now)

    assert race([lambda i=i: dispatcher(calls[i * 3:(i + 1) * 3]) for i in range(4)]) == []
    for person in secretaries:
        assert Call.objects.filter(offered_to=person, state=State.OFFERED).count() == 1, person.username
    for call in calls:
        assert call.events.filter(kind="offered").count() <= 1
    assert Call.objects.filter(state=State.OFFERED).count() == len(secretaries)

    # and whole dispatches racing: every ready secretary still has at most one offer
    monkeypatch.setattr(services, "record", original)
    for call in Call.objects.filter(state=State.OFFERED):
        services.accept(call.pk, call.offered_to)
    more = [make_user(f"t{i}", Role.SECRETARY) for i in range(5)]
    for person in more:
        Training.objects.create(secretary=person, account=alpha)
    Desk.objects.bulk_create([Desk(secretary=p, status="ready", idle_since=timezone.now()) for p in more])
    assert race([services.dispatch] * 4) == []
    for person in more:
        assert Call.objects.filter(offered_to=person, state=State.OFFERED).count() == 1, person.username
    for call in calls:
        assert call.events.filter(kind="offered").count() <= 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_is_woken_by_the_web_nodes_not_its_period(personas, alpha, settings):
    """DISPATCH=dispatcher: a call that arrives only wakes the dispatcher (NOTIFY at the commit, none on a
    rollback); its loop, with a period of a minute, offers the call at once."""
    if connection.vendor != "postgresql":
        pytest.skip("NOTIFY: run the suite with DATABASE_URL=postgres://...")
    settings.DISPATCH = "dispatcher"
    secretary = personas["secretary"]
    services.set_status(secretary, "ready")
    loop = worker.dispatch_loop(60.0)
    assert isinstance(loop.wait, loops.Wakeup)
    runner = loops.Runner([loop], loops.PostgresLeadership()).start()
    try:
        deadline = time.monotonic() + 30
        while runner.stats["dispatch"].turns < 1 and time.monotonic() < deadline:
            time.sleep(0.01)  # its first turn, then it waits (a minute, unless woken)
        time.sleep(0.2)  # it is listening
        with pytest.raises(RuntimeError), transaction.atomic():
            services.call_arrived("01 45 00 00 01", "0611111111")
            raise RuntimeError("rolled back")
        call = services.call_arrived("01 45 00 00 01", "0622222222")
        assert Call.objects.get(pk=call.pk).state == State.QUEUED  # this node did not dispatch
        started = time.monotonic()
        while Call.objects.get(pk=call.pk).state != State.OFFERED and time.monotonic() - started < 20:
            time.sleep(0.02)
        assert Call.objects.get(pk=call.pk).offered_to == secretary
        assert time.monotonic() - started < 20  # woken, not its 60 s period
        assert loop.wait.woken >= 1
    finally:
        runner.stop()
        loop.wait.close()
