"""Calls through the database: events appended and immutable, offers to trained secretaries only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from factories import make_user
from permanence.calls import services
from permanence.calls.lifecycle import LifecycleError
from permanence.calls.models import Call, CallEvent, Desk
from permanence.users.models import Role, Training


@pytest.fixture
def desks(personas, alpha, beta):
    second = make_user("secretary2", Role.SECRETARY)
    Training.objects.create(secretary=second, account=alpha)
    for name in ("secretary", "secretary_beta"):
        services.set_status(personas[name], "ready")
    services.set_status(second, "ready")
    return {
        "secretary": personas["secretary"],
        "secretary2": second,
        "secretary_beta": personas["secretary_beta"],
    }


def kinds(call):
    return list(call.events.order_by("seq").values_list("kind", flat=True))


def test_call_is_offered_only_to_a_trained_ready_secretary(desks, alpha):
    call = services.call_arrived("01 45 00 00 01", "06 11 11 11 11")
    assert call.account == alpha and call.caller == "+33611111111"
    offers = services.dispatch()
    assert len(offers) == 1 and offers[0][1] in (desks["secretary"].pk, desks["secretary2"].pk)
    assert offers[0][1] != desks["secretary_beta"].pk
    call.refresh_from_db()
    assert call.state == "offered" and kinds(call) == ["arrived", "queued", "offered"]


def test_the_longest_idle_secretary_first_and_a_lapsed_offer_goes_to_the_next(desks):
    Desk.objects.filter(secretary=desks["secretary2"]).update(idle_since=timezone.now() - timedelta(hours=1))
    call = services.call_arrived("01 45 00 00 01", None)
    assert services.dispatch() == [(call.pk, desks["secretary2"].pk)]
    later = timezone.now() + timedelta(seconds=services.OFFER_SECONDS + 1)
    assert services.dispatch(later) == [(call.pk, desks["secretary"].pk)]
    call.refresh_from_db()
    assert kinds(call) == ["arrived", "queued", "offered", "offer_expired", "offered"]
    assert call.passed_by == [desks["secretary2"].pk]
    missed = Desk.objects.get(secretary=desks["secretary2"])  # no rule: she stays ready, nobody pauses her
    assert (missed.status, missed.missed_offers) == ("ready", 1)


def test_accept_talk_transfer_refused_end_and_wrap_up(desks):
    call = services.call_arrived("01 45 00 00 01", "0611111111")
    [(_, secretary_id)] = services.dispatch()
    secretary = desks["secretary"] if secretary_id == desks["secretary"].pk else desks["secretary2"]
    other = desks["secretary2"] if secretary is desks["secretary"] else desks["secretary"]
    with pytest.raises(services.CallError):
        services.accept(call, other)
    services.accept(call, secretary)
    assert Desk.objects.get(secretary=secretary).status == "on_call"
    services.request_transfer(call, secretary, "anne-alphonse", "announced")
    services.transfer_result(call, "refused", secretary)
    services.end_call(call, secretary)
    assert Desk.objects.get(secretary=secretary).status == "wrap_up"
    services.wrap_up(call, secretary, "message")
    call.refresh_from_db()
    assert kinds(call) == [
        "arrived",
        "queued",
        "offered",
        "answered",
        "transfer_requested",
        "transfer_result",
        "ended",
        "wrapped_up",
    ]
    assert call.state == "done" and call.outcome == "message" and call.secretary == secretary
    assert Desk.objects.get(secretary=secretary).status == "ready"
    times = list(call.events.order_by("seq").values_list("at", flat=True))
    assert times == sorted(times)
    summary = call.summary()
    assert summary.transfers[0]["result"] == "refused" and summary.wait_seconds >= 0


def test_caller_hanging_up_while_queued_is_abandoned(db, alpha):
    start = timezone.now()
    call = services.call_arrived("01 45 00 00 01", "0611111111", at=start)
    services.caller_hung_up(call, at=start + timedelta(seconds=42))
    call.refresh_from_db()
    assert call.state == "abandoned" and call.summary().wait_seconds == 42
    services.caller_hung_up(call)  # a late duplicate signal changes nothing
    assert kinds(call) == ["arrived", "queued", "caller_hung_up"]


def test_events_are_never_changed_or_deleted(db, alpha):
    call = services.call_arrived("01 45 00 00 01", None)
    event = call.events.first()
    event.kind = "answered"
    with pytest.raises(LifecycleError):
        event.save()
    with pytest.raises(LifecycleError):
        event.delete()
    assert CallEvent.objects.filter(call=call).count() == 2


def test_impossible_actions_are_refused(desks):
    call = services.call_arrived("01 45 00 00 01", None)
    with pytest.raises(services.CallError):
        services.end_call(call, desks["secretary"])
    with pytest.raises(services.CallError):
        services.call_arrived("09 99 99 99 99", None)  # no account has this number
    with pytest.raises(services.CallError):
        services.set_status(desks["secretary"], "on_call")
    assert Call.objects.count() == 1


def test_a_secretary_going_on_pause_gives_back_her_offer(desks):
    call = services.call_arrived("01 45 00 00 01", None)
    [(_, secretary_id)] = services.dispatch()
    holder = desks["secretary"] if secretary_id == desks["secretary"].pk else desks["secretary2"]
    other = desks["secretary2"] if holder is desks["secretary"] else desks["secretary"]
    services.set_status(holder, "paused", "café")
    call.refresh_from_db()
    assert call.offered_to == other and "offer_declined" in kinds(call)


def test_the_expert_first_and_a_vip_caller_before_older_calls(desks, alpha):
    from factories import make_contact

    # levels: secretary2 becomes an expert on Alpha; she gets the call though idle for less time
    Training.objects.filter(secretary=desks["secretary2"], account=alpha).update(level=Training.Level.EXPERT)
    Training.objects.filter(secretary=desks["secretary"], account=alpha).update(level=Training.Level.BACKUP)
    Desk.objects.filter(secretary=desks["secretary"]).update(idle_since=timezone.now() - timedelta(hours=1))
    first = services.call_arrived("01 45 00 00 01", "06 99 99 99 01")
    assert services.dispatch() == [(first.pk, desks["secretary2"].pk)]
    # one secretary left (the backup): a VIP caller who arrived later is offered before an older call
    make_contact(alpha, ("+33677777777",), first_name="Victor", last_name="Important", tags="client, VIP")
    make_contact(alpha, ("+33688888888",), first_name="Vincent", last_name="Viper", tags="vipère")
    older = services.call_arrived("01 45 00 00 01", "06 88 88 88 88")  # not a VIP ("vipère")
    vip = services.call_arrived("01 45 00 00 01", "06 77 77 77 77")
    Call.objects.filter(pk=older.pk).update(arrived_at=timezone.now() - timedelta(seconds=30))
    assert services.dispatch() == [(vip.pk, desks["secretary"].pk)]


def test_an_urgent_accounts_call_goes_before_an_older_one(desks, alpha, beta):
    Training.objects.create(secretary=desks["secretary_beta"], account=alpha)
    services.set_status(desks["secretary"], "paused")
    services.set_status(desks["secretary2"], "paused")
    Desk.objects.filter(secretary=desks["secretary_beta"]).update(status="paused")
    older = services.call_arrived("01 45 00 00 01", "06 33 33 33 33")  # Alpha, normal caller
    urgent = services.call_arrived("04 78 00 00 02", "06 22 22 22 22")  # Beta, urgent
    Call.objects.filter(pk=older.pk).update(arrived_at=timezone.now() - timedelta(seconds=20))
    beta.urgent = True
    beta.save()
    services.set_status(desks["secretary_beta"], "ready")  # one secretary for both: the urgent call
    assert Call.objects.get(pk=urgent.pk).offered_to_id == desks["secretary_beta"].pk
    assert Call.objects.get(pk=older.pk).state == "queued"


def test_a_call_in_a_language_goes_to_a_secretary_who_speaks_it(desks, alpha):
    from permanence.users.models import Language

    alpha.call_language = "en"
    alpha.save()
    call = services.call_arrived("01 45 00 00 01", "06 11 11 11 11")
    assert services.dispatch() == []  # nobody speaks English
    english = Language.objects.create(code="en", name="English")
    desks["secretary2"].languages.add(english)
    assert services.dispatch() == [(call.pk, desks["secretary2"].pk)]


def test_overflow_to_the_secretaries_of_the_same_trade_who_can_then_handle_it(desks, alpha, client):
    from factories import make_account
    from permanence.accounts.models import Trade

    for name in ("secretary", "secretary2"):
        services.set_status(desks[name], "paused")
    alpha.trade, alpha.overflow_after_seconds = Trade.LEGAL, 30
    alpha.save()
    gamma = make_account("gamma", name="Étude Gamma", trade=Trade.LEGAL)
    other = desks["secretary_beta"]  # trained on Beta (plumbing) only
    call = services.call_arrived("01 45 00 00 01", "06 11 11 11 11")
    assert services.dispatch(timezone.now() + timedelta(seconds=40)) == []  # plumbing is not legal
    Training.objects.create(secretary=other, account=gamma)  # now she answers a legal account
    assert services.dispatch(timezone.now() + timedelta(seconds=10)) == []  # not yet waited 30 s
    assert services.dispatch(timezone.now() + timedelta(seconds=40)) == [(call.pk, other.pk)]
    services.accept(call, other)
    client.force_login(other)
    page = client.get(f"/desk/calls/{call.pk}/")
    assert page.status_code == 200 and alpha.greeting in page.content.decode()
    assert client.get(f"/a/{alpha.slug}/").status_code == 404  # the account itself stays out of reach
    services.end_call(call, other)
    assert client.get(f"/desk/calls/{call.pk}/").status_code == 200  # wrap-up: still hers
    services.wrap_up(call, other, "message")
    assert client.get(f"/desk/calls/{call.pk}/").status_code == 404  # over: no coming back to it


def test_the_maximum_wait_diverts_to_the_fallback(desks, alpha, client):
    from permanence.messaging.models import CallbackTask
    from permanence.reporting import kpis, rollups
    from permanence.reporting.models import Rollup

    for name in ("secretary", "secretary2", "secretary_beta"):
        services.set_status(desks[name], "paused")
    alpha.max_wait_seconds, alpha.fallback = 60, "callback"
    alpha.save()
    known = services.call_arrived("01 45 00 00 01", "06 11 11 11 11")
    withheld = services.call_arrived("01 45 00 00 01", None)
    assert services.dispatch(timezone.now() + timedelta(seconds=50)) == []
    assert Call.objects.get(pk=known.pk).state == "queued"
    services.dispatch(timezone.now() + timedelta(seconds=61))
    known.refresh_from_db()
    withheld.refresh_from_db()
    assert known.state == withheld.state == "diverted"
    event = known.events.get(kind="diverted")
    assert event.detail["to"] == "callback" and event.detail["waited"] >= 60
    assert withheld.events.get(kind="diverted").detail["to"] == "voicemail"  # nobody to call back
    task = CallbackTask.objects.get()
    assert (task.call_id, task.number, task.account_id) == (known.pk, "+33611111111", alpha.pk)
    # the caller's hang-up from the voicemail comes late: ignored
    services.caller_hung_up(withheld)
    assert Call.objects.get(pk=withheld.pk).state == "diverted"
    # the desk lists the call-back and the reports count both calls as diverted
    client.force_login(desks["secretary"])
    page = client.get("/desk/").content.decode()
    assert "06 11 11 11 11" in page
    rollups.sweep()
    shards = Rollup.objects.filter(grain="day", scope="total")  # the total is kept in shards by account
    total = kpis.merge(rollups.from_json(r.figures) for r in shards)
    assert (total.offered, total.diverted, total.answered, total.abandoned) == (2, 2, 0, 0)


def test_the_only_ready_secretary_who_let_an_offer_ring_out_is_offered_it_again(personas, alpha):
    secretary = personas["secretary"]
    services.set_status(secretary, "ready")
    call = services.call_arrived("01 45 00 00 01", None)
    assert services.dispatch() == [(call.pk, secretary.pk)]
    later = timezone.now() + timedelta(seconds=services.OFFER_SECONDS + 1)
    assert services.dispatch(later) == [(call.pk, secretary.pk)]  # nobody else: offered to her again
    assert kinds(Call.objects.get(pk=call.pk)) == ["arrived", "queued", "offered", "offer_expired", "offered"]
    assert Desk.objects.get(secretary=secretary).status == "ready"


def test_a_second_chance_goes_after_anyone_else_who_can_take_the_call(desks):
    Desk.objects.filter(secretary=desks["secretary2"]).update(idle_since=timezone.now() - timedelta(hours=1))
    first = services.call_arrived("01 45 00 00 01", None)
    assert services.dispatch() == [(first.pk, desks["secretary2"].pk)]
    services.set_status(desks["secretary"], "paused")
    later = timezone.now() + timedelta(seconds=services.OFFER_SECONDS + 1)
    assert services.dispatch(later) == [(first.pk, desks["secretary2"].pk)]  # the other one is paused
    services.set_status(desks["secretary"], "ready")  # back: the next lapse goes to her, not a third ring
    again = later + timedelta(seconds=services.OFFER_SECONDS + 1)
    assert services.dispatch(again) == [(first.pk, desks["secretary"].pk)]


def test_a_missed_offer_pauses_only_by_the_accounts_rule_and_the_desk_says_which(personas, alpha):
    alpha.pause_on_missed_offer = True
    alpha.save()
    secretary = personas["secretary"]
    services.set_status(secretary, "ready")
    call = services.call_arrived("01 45 00 00 01", None)
    services.dispatch()
    services.dispatch(timezone.now() + timedelta(seconds=services.OFFER_SECONDS + 1))
    desk = Desk.objects.get(secretary=secretary)
    assert desk.status == "paused" and "Cabinet Alpha" in desk.reason
    assert Call.objects.get(pk=call.pk).state == "queued"  # the call waits for someone else
    services.set_status(secretary, "ready")
    assert Desk.objects.get(secretary=secretary).missed_offers == 0


def test_the_team_rule_pauses_after_several_missed_offers_in_a_row(personas, alpha, settings):
    settings.DESK_PAUSE_AFTER_MISSED_OFFERS = 2
    secretary = personas["secretary"]
    services.set_status(secretary, "ready")
    services.call_arrived("01 45 00 00 01", None)
    now = timezone.now()
    services.dispatch(now)
    for ring in (1, 2):
        now += timedelta(seconds=services.OFFER_SECONDS + 1)
        services.dispatch(now)
        desk = Desk.objects.get(secretary=secretary)
        assert desk.missed_offers == ring
        assert desk.status == ("ready" if ring == 1 else "paused")
    assert desk.reason.startswith("2 ")


def test_two_dispatchers_never_offer_one_call_twice_nor_one_secretary_two_calls(desks):
    first = services.call_arrived("01 45 00 00 01", None)
    second = services.call_arrived("01 45 00 00 01", None)
    now = timezone.now()
    # a second process loaded its router before the first one offered: its answer is stale
    stale = services.load_router(services.waiting_calls(), now)
    assert [c.id for c in stale.queue(now)] == [first.pk, second.pk]
    made = dict(services.dispatch(now))
    assert set(made) == {first.pk, second.pk}
    taker = made[first.pk]
    other = next(u.pk for u in (desks["secretary"], desks["secretary2"]) if u.pk != taker)
    assert services.offer(second.pk, taker, now) is False  # she has an offer already
    assert services.offer(first.pk, other, now) is False  # the call is offered already
    assert Call.objects.filter(offered_to_id=taker, state="offered").count() == 1
    assert [kinds(Call.objects.get(pk=c)).count("offered") for c in (first.pk, second.pk)] == [1, 1]
