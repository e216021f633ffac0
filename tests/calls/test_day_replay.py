"""A whole operating day replayed over the demo accounts, then the invariants checked.

Good Friday 26 March 2027, from 06:00 to 21:00 (Europe/Paris): the simulator's callers ring the demo
accounts before, during and after their hours; the medical practice is in Moselle, where Good Friday is
a public holiday; a fourth account is terminated. Two secretaries work a shift through the real desk pages
(Django's test client: the same views, forms and answers as in the browser); they sometimes let an
offer ring out, search the directory and sometimes find nobody, transfer, book, take messages, and
one of them makes a training call. The worker's loops run at their periods (the dispatch every
second). Mid-morning the worker is killed while it sends a message (the delivery is left "sending",
its task running for ever) and another worker takes over; at midday the web process that holds the
simulated callers' lines is killed and started again. Messages go to a real SMTP server, which
refuses one domain for good.

The clock is virtual (time-machine): everything reads it, so the day plays in seconds and each event
has the instant it would have had. At the end, these hold:

- every call is in a final state, the one its events add up to;
- no caller waited past the account's maximum wait (plus one dispatch period, and the takeover of a
  killed worker);
- every message was delivered, or is on the operator's page of undelivered messages with its reason;
- nothing was sent for the training call, and it is in nobody's figures;
- calls outside the hours, on the holiday and to the terminated account were turned away, each with
  its reason, and the reports count them apart.
"""

from __future__ import annotations

import heapq
import itertools
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.test import Client

from messaging.conftest import Inbox, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def _flush_may_purge_audit() -> Any:
    """The test ends with a flush of the database, audit rows included (see tests/browser/conftest)."""
    from permanence.audit import models

    models._purge_allowed = True
    yield
    models._purge_allowed = False

PARIS = ZoneInfo("Europe/Paris")
DAY = date(2027, 3, 26)  # Good Friday: a public holiday in Alsace-Moselle only
START, END = time(6), time(int(os.environ.get("DAY_REPLAY_END", "21")))  # END: shorter days to debug
REFUSING_DOMAIN = "refuse.example"  # the SMTP server refuses it for good (5xx)
TICK = 1.0  # seconds between two turns of the dispatch loop
TAKEOVER = 5.0  # seconds before another worker's loops take over from a killed one


def at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(DAY, time(hour, minute), tzinfo=PARIS)


class RefusingInbox(Inbox):
    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802 - aiosmtpd API
        if address.endswith("@" + REFUSING_DOMAIN):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class Clock:
    """The virtual clock and the day's agenda of actions, in time order."""

    def __init__(self, traveller: Any, start: datetime) -> None:
        self.traveller = traveller
        self.now = start
        self._agenda: list[tuple[datetime, int, Callable[[], None]]] = []
        self._sequence = itertools.count()

    def at(self, when: datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self._agenda, (max(when, self.now), next(self._sequence), action))

    def next_event(self) -> datetime:
        return self._agenda[0][0] if self._agenda else self.now

    def after(self, seconds: float, action: Callable[[], None]) -> None:
        self.at(self.now + timedelta(seconds=seconds), action)

    def run_until(self, end: datetime) -> None:
        while self._agenda and self._agenda[0][0] <= end:
            when, _, action = heapq.heappop(self._agenda)
            self.now = when
            self.traveller.move_to(when)
            action()
        self.now = end
        self.traveller.move_to(end)


class Worker:
    """``permanence worker`` in virtual time: its loops at their periods, and the queued tasks.

    ``kill_while_sending`` makes the next delivery die mid-send, as under SIGKILL: the delivery stays
    "sending" under its lease and its task row "running" for ever; the worker is gone until
    ``restart``."""

    LOOPS = {"sweep_every": 30.0, "escalation_every": 10.0, "rollups_every": 60.0,
             "calendars_every": 300.0, "dispatch_every": TICK, "retention_every": 600.0}  # fmt: skip

    def __init__(self, clock: Clock) -> None:
        from permanence.messaging.management.commands.worker import worker_loops

        self.clock = clock
        self.alive = False
        self.generation = 0
        self.loops = {loop.name: loop for loop in worker_loops(self.LOOPS)}
        self.kill_armed = False
        self.killed_delivery: int | None = None

    def start(self) -> None:
        from permanence.messaging import outbox

        self.alive = True
        self.generation += 1
        outbox.sweep()  # what the last worker left behind
        for loop in self.loops.values():
            self._schedule(loop.name, loop.every, self.generation)
        self._schedule_tasks(self.generation)

    def _schedule(self, name: str, every: float, generation: int) -> None:
        def turn() -> None:
            if not self.alive or generation != self.generation:
                return
            for _step, function in self.loops[name].steps:
                function()
            self._schedule(name, self._next(name, every), generation)

        self.clock.after(every, turn)

    def _next(self, name: str, every: float) -> float:
        """The dispatch loop turns every second; with no call waiting nor offered, a turn would find
        nothing to do until the next event of the day, so the replay skips to it (same result, faster)."""
        from permanence.calls.lifecycle import UNANSWERED
        from permanence.calls.models import Call

        if name != "dispatch" or Call.objects.filter(state__in=UNANSWERED).exists():
            return every
        quiet = (self.clock.next_event() - self.clock.now).total_seconds()
        return max(every, every * int(quiet // every))

    def _schedule_tasks(self, generation: int) -> None:
        def turn() -> None:
            if not self.alive or generation != self.generation:
                return
            self.run_tasks()
            self._schedule_tasks(generation)

        self.clock.after(5.0, turn)

    def run_tasks(self) -> None:
        from django_tasks_db.models import DBTaskResult

        # the backend's own "ready": a task queued without a time has the greatest date, not NULL
        due = DBTaskResult.objects.ready()
        if not due.exists():
            return
        if self.kill_armed:
            delivery = due.filter(task_path__endswith="tasks.deliver").first()
            if delivery is not None:
                self._die_sending(delivery)
                return
        from django_tasks_db.management.commands.db_worker import Worker as TaskWorker

        TaskWorker(
            queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
            max_tasks=None, worker_id="day-replay", excluded_queue_names=[],
        ).run()  # fmt: skip

    def _die_sending(self, task_row: Any) -> None:
        """Claim the task as a worker does, start sending, and die in the middle of it."""
        from django_tasks.base import TaskResultStatus

        from permanence.messaging import channels, outbox

        class Killed(BaseException):
            pass

        task_row.status = TaskResultStatus.RUNNING
        task_row.save(update_fields=["status"])
        delivery_id = int(task_row.args_kwargs["args"][0])
        channel = channels.get("email")
        original = channel.send

        def die(*_args: Any) -> Any:
            raise Killed

        channel.send = die  # type: ignore[method-assign]
        try:
            outbox.attempt(delivery_id)
        except Killed:
            pass
        finally:
            channel.send = original  # type: ignore[method-assign]
        self.kill_armed = False
        self.killed_delivery = delivery_id
        self.alive = False  # SIGKILL: nothing after the send runs, no loop turns any more


@dataclass
class Secretary:
    """A secretary at the desk, through its pages: ready, answers offers, runs the scenario, sends."""

    user: Any
    clock: Clock
    rng: random.Random
    lapse_share: float = 0.08
    call: int | None = None
    shift_over: bool = False
    busy: bool = False  # between accepting an offer and finishing the call
    lapsed: int = 0
    refused: int = 0  # answers of this step refused in a row
    ignoring: tuple[int, str] | None = None  # the offer she lets ring out
    fix: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = Client()
        self.client.force_login(self.user)

    # -- status ------------------------------------------------------------------------------------
    def status(self, status: str, reason: str = "") -> None:
        response = self.client.post("/desk/status", {"status": status, "reason": reason})
        assert response.status_code == 302, response.status_code

    def start_shift(self) -> None:
        self.client.force_login(self.user)  # she signs in at the start of her shift
        self.shift_over = False
        self.status("ready")

    def end_shift(self) -> None:
        self.shift_over = True
        if not self.busy:
            self.status("offline")

    # -- offers ------------------------------------------------------------------------------------
    def look(self) -> None:
        """What the desk page shows (the WebSocket's push, or the poll): an offer, or nothing."""
        if self.busy:
            return
        offer = self.client.get("/desk/poll").json()["offer"]
        if offer is None:
            return
        if self.ignoring == (offer["call"], offer["expires_at"]):
            return  # still looking elsewhere
        if self.rng.random() < self.lapse_share:
            self.lapsed += 1  # she is looking elsewhere: this offer rings out
            self.ignoring = (offer["call"], offer["expires_at"])
            return
        self.busy = True
        call_id = offer["call"]
        self.clock.after(self.rng.uniform(1.0, 4.0), lambda: self.answer(call_id))

    def answer(self, call_id: int) -> None:
        response = self.client.post(f"/desk/calls/{call_id}/accept")
        if response["Location"] != f"/desk/calls/{call_id}/":  # gone meanwhile (hung up, lapsed)
            self.busy = False
            return
        self.call = call_id
        self.clock.after(self.rng.uniform(2.0, 5.0), self.step)

    # -- the call ----------------------------------------------------------------------------------
    def page(self) -> Any:
        response = self.client.get(f"/desk/calls/{self.call}/")
        assert response.status_code == 200, response.status_code
        return response.context

    def step(self) -> None:
        if self.call is None:
            return
        page = self.page()
        call, screen = page["call"], page["screen"]
        step = (screen or {}).get("step")
        self.log.append(f"{self.clock.now:%H:%M:%S} call {self.call} {call.state} {step}")
        if not screen or not screen.get("step") or call.state == "wrap_up" and not screen.get("step"):
            self.finish(page)
            return
        if call.state == "wrap_up":  # the caller hung up mid-scenario: she finishes the message
            self.finish(page, force=True)
            return
        kind = screen["kind"]
        if kind == "transfer":
            self.transfer(page)
            return
        data = self.answers(page, screen)
        response = self.client.post(f"/desk/calls/{self.call}/", data)
        if response.status_code == 200:  # refused: the page shows the errors under the fields
            errors = response.context["errors"]
            self.refused += 1
            if self.refused > 3:  # she gives up on the scenario and ends the call with a message
                self.finish(response.context, force=True)
                return
            self.fix = {name: "" if not f["required"] else "2024/0153" for f in screen["fields"]
                        for name in [f["name"]] if name in errors}  # fmt: skip
        else:
            self.refused, self.fix = 0, {}
        self.clock.after(self.rng.uniform(3.0, 12.0), self.step)

    def answers(self, page: Any, screen: dict[str, Any]) -> dict[str, str]:
        kind = screen["kind"]
        if kind == "ask":
            values = {}
            for f in screen["fields"]:
                if f.get("known") and f.get("value") not in (None, ""):
                    values[f["name"]] = str(f["value"])  # already known: kept as shown
                elif f["name"] in self.fix:
                    values[f["name"]] = self.fix[f["name"]]  # what the error said to correct
                elif not f["required"] and self.rng.random() < 0.7:
                    values[f["name"]] = ""  # optional: not asked
                else:
                    values[f["name"]] = self.value(f)
            return values
        if kind == "lookup":
            people = [ref for ref, _name in page["people"]]
            if not people or self.rng.random() < 0.3:
                return {"person": ""}  # nobody in the directory matches: no named person
            return {"person": self.rng.choice(people)}
        if kind == "appointment":
            slots = page["agenda"].slots if page["agenda"] else []
            if slots and self.rng.random() < 0.8:
                return {"result": "booked", "slot_pick": slots[0]["value"]}
            return {"result": "no_slot" if "no_slot" in screen["results"] else screen["results"][-1]}
        return {}

    def value(self, field_view: dict[str, Any]) -> str:
        kind = field_view["type"]
        if kind == "choice":
            return self.rng.choice(list(field_view["options"]))
        if kind == "yes_no":
            return self.rng.choice(["oui", "non", "non", "non"])
        if kind == "phone":
            return "06 " + " ".join(f"{self.rng.randrange(100):02d}" for _ in range(4))
        if kind == "email":
            return f"appelant{self.rng.randrange(1000)}@exemple.fr"
        if kind == "date":
            return "12/04/2027"
        if kind == "postcode":
            return "75011"
        if kind == "number":
            return str(self.rng.randrange(1, 5))
        if kind == "long_text":
            return "Souhaite être rappelé au sujet de son dossier."
        return self.rng.choice(["Jean Dupont", "Marie Leroy", "Paul Bernard", "Lucie Girard"])

    def transfer(self, page: Any) -> None:
        call = page["call"]
        if call.state in ("talking", "on_hold"):
            self.client.post(f"/desk/calls/{self.call}/transfer")
            self.wait_transfer(started=self.clock.now)
            return
        self.wait_transfer(started=self.clock.now)

    def wait_transfer(self, started: datetime) -> None:
        from permanence.calls.models import Call

        call = Call.objects.get(pk=self.call)
        results = list(call.events.filter(kind="transfer_result").values_list("detail", flat=True))
        if call.state == "transferring" and self.clock.now - started < timedelta(seconds=30):
            self.clock.after(2.0, lambda: self.wait_transfer(started))
            return
        # the telephony's answer (the desk page clicks it), or, lost with a killed process, her own
        result = results[-1]["result"] if results and call.state != "transferring" else "no_answer"
        self.client.post(f"/desk/calls/{self.call}/", {"result": result})
        self.clock.after(self.rng.uniform(2.0, 6.0), self.step)

    def finish(self, page: Any, force: bool = False) -> None:
        draft, outcome = page["draft"], (page["screen"] or {}).get("outcome") or {}
        data = {"subject": draft["subject"] or "Appel", "body": draft["body"] or "Appel reçu.",
                "recipients": page["recipients"]}  # fmt: skip
        if outcome.get("kind") != "transfer":
            data["send"] = "1"
        if outcome.get("urgent"):
            data["urgent"] = "1"
        if force or (page["screen"] or {}).get("step"):
            data["force"] = "1"
        response = self.client.post(f"/desk/calls/{self.call}/finish", data)
        assert response.status_code == 302, (response.status_code, data)
        self.log.append(f"{self.clock.now:%H:%M:%S} finished {self.call}")
        self.call, self.busy, self.refused, self.fix = None, False, 0, {}
        if self.shift_over:
            self.status("offline")

    # -- a training call ---------------------------------------------------------------------------
    def train(self, account_slug: str) -> None:
        if self.busy:
            self.clock.after(60, lambda: self.train(account_slug))
            return
        self.busy = True
        self.status("paused", "formation")
        response = self.client.post("/desk/training", {"account": account_slug})
        self.call = int(response["Location"].rstrip("/").split("/")[-1])
        self.training_call = self.call
        self.clock.after(3.0, self.step)


# calls per hour in the day (8:00 to 19:00) and outside it, per account
RATES = {
    "cabinet-durand": (10.0, 1.0),
    "cabinet-medical-tilleuls": (6.0, 1.0),  # in Moselle: Good Friday is a holiday there
    "plomberie-girard": (6.0, 1.5),
    "ancien-client": (1.0, 0.5),  # terminated
}


class World:
    def __init__(self, clock: Clock, rng: random.Random, inbox: Inbox) -> None:
        from permanence.accounts.models import Account

        self.clock, self.rng, self.inbox = clock, rng, inbox
        self.accounts = {a.slug: a for a in Account.objects.filter(slug__in=RATES)}
        self.web_up = True
        self.adapter: Any = None
        self.workers: list[Worker] = []
        self.secretaries: dict[int, Secretary] = {}
        self.rung = 0
        self.lost_rings = 0  # calls that rang while the web process was down (the trunk got no answer)

    # -- the web process with the simulated lines -------------------------------------------------------
    def start_web(self) -> None:
        from permanence.calls import telephony

        self.adapter = telephony.SimulatorAdapter(
            list(self.accounts.values()), calls_per_hour=0, seed=self.rng.randrange(1000), clock=_wall
        )
        self.adapter.attach()  # closes what a previous run left open
        self.web_up = True
        self.clock.after(0.5, self.telephony_turn)

    def telephony_turn(self) -> None:
        """The adapter's own loop: its scheduled actions (transfer answers) that are due."""
        if not self.web_up:
            return
        self.adapter.run_due()
        self.clock.after(0.5, self.telephony_turn)

    def kill_web(self, down_for: float) -> None:
        self.web_up = False
        self.adapter.abandon()  # SIGKILL: its lines and timers are gone, nothing is cleaned up
        self.clock.after(down_for, self.start_web)

    def ring(self, account: Any, caller: str | None, patience: float) -> None:
        from permanence.calls import simulator

        if not self.web_up:
            self.lost_rings += 1
            return
        number = account.numbers.filter(released_at__isnull=True).values_list("number", flat=True).first()
        self.adapter.ring(simulator.SimCall(0.0, account.pk, number, caller, patience))
        self.rung += 1

    # -- desk pushes ------------------------------------------------------------------------------------
    def notify(self, user_id: int, payload: dict[str, Any]) -> None:
        """The WebSocket's push to a desk page (lost while the web process is down)."""
        secretary = self.secretaries.get(user_id)
        if secretary is not None and self.web_up and payload.get("type") == "offer":
            self.clock.after(0.3, secretary.look)

    def poll(self, secretary: Secretary) -> None:
        """The desk page's safety-net poll, every ten seconds."""
        if secretary.shift_over:
            return  # she has left: her page is closed
        if self.web_up and not secretary.busy:
            secretary.look()
        self.clock.after(10.0, lambda: self.poll(secretary))

    # -- the worker ---------------------------------------------------------------------------------------
    def start_worker(self) -> Worker:
        worker = Worker(self.clock)
        self.workers.append(worker)
        worker.start()
        return worker

    def kill_worker_while_sending(self) -> None:
        worker = self.workers[-1]
        worker.kill_armed = True

        def watch() -> None:
            if worker.alive:
                self.clock.after(1.0, watch)
            else:  # died mid-send: another worker's loops take over
                self.clock.after(TAKEOVER, self.start_worker)

        watch()


def _wall() -> float:
    import time as clock

    return clock.time()  # the virtual clock (time-machine moves it; monotonic clocks it leaves alone)


def arrivals(world: World, rng: random.Random) -> list[tuple[datetime, str, str | None, float]]:
    """The day's calls: Poisson arrivals at the hour's rate, callers known or not, their patience."""
    from permanence.contacts.models import ContactNumber

    out = []
    for slug, (busy, quiet) in RATES.items():
        account = world.accounts[slug]
        known = list(ContactNumber.objects.filter(account=account).values_list("number", flat=True))
        moment = at(START.hour)
        while True:
            rate = busy if 8 <= moment.hour < 19 else quiet
            moment += timedelta(seconds=rng.expovariate(rate / 3600))
            if moment >= at(END.hour):
                break
            draw = rng.random()
            caller = None if draw < 0.05 else rng.choice(known) if known and draw < 0.5 else (
                "+336" + "".join(str(rng.randrange(10)) for _ in range(8))
            )
            impatience = rng.random()  # a fifth hang up within seconds, a fifth within about a minute
            if impatience < 0.2:
                patience = rng.uniform(1, 8)
            else:
                patience = rng.expovariate(1 / 60) if impatience < 0.4 else 600.0
            out.append((moment, slug, caller, patience))
    return sorted(out)


def prepare_accounts() -> None:
    """The demo (the medical practice is in Moselle), plus a terminated account; the second secretary
    trained on the law firm and the plumber too (the practice is closed today); one address that the
    mail server refuses."""
    from factories import office_hours
    from permanence.accounts.models import Account, PhoneNumber
    from permanence.directory.models import Collaborator
    from permanence.users.models import Training, User

    gone = Account.objects.create(
        slug="ancien-client", name="Ancien Client SARL", greeting="Ancien Client, bonjour", status="closed"
    )
    office_hours(gone)
    PhoneNumber.objects.create(account=gone, number="+33387000002")
    ines = User.objects.get(username="secretaire2")
    for slug in ("cabinet-durand", "plomberie-girard"):
        Training.objects.get_or_create(secretary=ines, account=Account.objects.get(slug=slug))
    Collaborator.objects.filter(account__slug="cabinet-durand", last_name="Moreau").update(
        email="j.moreau@" + REFUSING_DOMAIN
    )


def test_a_whole_day_ends_with_every_call_closed_and_every_message_accounted_for(
    settings, monkeypatch, tmp_path
):
    from permanence.calls import services

    rng = random.Random(2027)
    inbox = RefusingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.SMS_PROVIDER, settings.SMS_FILE_PATH = "file", str(tmp_path / "sms")
    settings.MESSAGING_LEASE_SECONDS = 60
    traveller = time_machine.travel(at(5, 0), tick=False)
    try:
        moved = traveller.start()
        call_command("load_demo", "--no-history", verbosity=0)
        prepare_accounts()
        clock = Clock(moved, at(5, 0))
        world = World(clock, rng, inbox)
        monkeypatch.setattr(services, "notify", world.notify)
        play_the_day(world, rng)
        check_the_day(world)
    finally:
        traveller.stop()
        controller.stop()


def play_the_day(world: World, rng: random.Random) -> None:
    from permanence.users.models import User

    clock = world.clock
    world.start_web()
    world.start_worker()
    camille = Secretary(User.objects.get(username="secretaire"), clock, random.Random(rng.random()))
    ines = Secretary(User.objects.get(username="secretaire2"), clock, random.Random(rng.random()))
    world.secretaries = {camille.user.pk: camille, ines.user.pk: ines}
    for secretary, (start, lunch, back, end) in (
        (camille, (at(8, 50), at(12, 30), at(13, 30), at(18, 40))),
        (ines, (at(8, 55), at(13, 0), at(14, 0), at(19, 0))),
    ):
        clock.at(start, secretary.start_shift)
        clock.at(start, lambda s=secretary: world.poll(s))
        clock.at(lunch, lambda s=secretary: pause_when_free(s, "déjeuner"))
        clock.at(back, secretary.start_shift)
        clock.at(end, secretary.end_shift)
    clock.at(at(15, 10), lambda: ines.train("cabinet-medical-tilleuls"))  # closed today: training works
    for moment, slug, caller, patience in arrivals(world, rng):
        clock.at(moment, lambda a=world.accounts[slug], c=caller, p=patience: world.ring(a, c, p))
    clock.at(at(10, 30), world.kill_worker_while_sending)
    clock.at(at(12, 0), lambda: world.kill_web(down_for=3.0))
    clock.run_until(at(END.hour, 45))  # the last calls end, the worker drains what is queued
    world.camille, world.ines = camille, ines


def pause_when_free(secretary: Secretary, reason: str) -> None:
    if secretary.busy:
        secretary.clock.after(20, lambda: pause_when_free(secretary, reason))
    else:
        secretary.status("paused", reason)


def check_the_day(world: World) -> None:
    from django.test import Client

    from permanence.calls import lifecycle
    from permanence.calls.models import Call
    from permanence.messaging.models import Delivery, Message
    from permanence.reporting import kpis, rollups
    from permanence.reporting.models import Rollup
    from permanence.users.models import User

    calls = list(Call.objects.select_related("account").order_by("pk"))
    states = Counter(c.state for c in calls)
    print(f"\n{len(calls)} calls ({world.lost_rings} rang while the web process was down): {dict(states)}")
    # every call is over, in the state its events add up to
    for call in calls:
        summary = call.summary()
        assert call.state in lifecycle.OVER, (
            call.pk, call.state, call.account.slug,
            [line for s in world.secretaries.values() for line in s.log if f"call {call.pk} " in line][-8:],
        )  # fmt: skip
        assert (summary.state, summary.answered_at, summary.ended_at) == (
            call.state, call.answered_at, call.ended_at
        ), call.pk  # fmt: skip
    real = [c for c in calls if not c.training]
    # the day had what it was meant to have
    assert states["done"] > 40 and states["abandoned"] > 3
    offers_lapsed = sum(c.events.filter(kind="offer_expired").count() for c in real)
    assert offers_lapsed >= 3 and world.camille.lapsed + world.ines.lapsed >= 3
    by_reason = Counter(c.summary().not_served for c in real if c.state == "not_served")
    assert by_reason["hours"] > 5 and by_reason["holiday"] > 5 and by_reason["terminated"] > 3
    assert all(c.summary().turned_to == "not_in_service" for c in real if c.account.slug == "ancien-client")
    assert not [c for c in real if c.account.slug == "cabinet-medical-tilleuls" and c.state != "not_served"]
    # nobody waited past the account's maximum (a dispatch period, or a worker's takeover, at most more)
    slack = TICK + TAKEOVER + 1
    for call in real:
        wait = call.summary().wait_seconds
        if wait is not None:
            assert wait <= call.account.max_wait_seconds + slack, (call.pk, wait, call.state)
    assert states["diverted"] >= 1
    # every message was delivered, or is on the operator's page of undelivered messages with its reason
    admin = Client()
    admin.force_login(User.objects.get(username="admin"))
    failed_page = admin.get("/messages/failed/").content.decode()
    # deliveries held by a recipient's wishes (the evening digest) go out at their time: the next day's
    held = Delivery.objects.filter(status="queued", next_attempt_at__gt=world.clock.now)
    assert all("held until" in (d.events.last().detail or "") for d in held)
    if held.exists():
        for worker in world.workers:
            worker.alive = False  # the night: only what is held matters now
        world.web_up = False
        world.clock.run_until(max(d.next_attempt_at for d in held) + timedelta(minutes=1))
        world.start_worker().run_tasks()
    received = {key for e in _mails(world.inbox) for key in e.get("X-Permanence-Delivery").split(", ")}
    messages = Message.objects.exclude(status=Message.Status.TRAINING)
    assert messages.count() > 30
    undelivered = 0
    for delivery in Delivery.objects.filter(message__in=messages).select_related("message"):
        if delivery.channel == "email" and str(delivery.key) in received:
            assert delivery.status in ("sent", "delivered", "acknowledged"), delivery.pk
            continue
        if delivery.status in ("sent", "delivered", "acknowledged"):
            assert delivery.channel != "email", delivery.pk  # an e-mail sent is in the inbox
            continue
        undelivered += 1
        assert delivery.status == "dead" and delivery.last_error, (
            delivery.pk, delivery.status, delivery.channel, delivery.address, delivery.next_attempt_at,
            list(delivery.events.values_list("status", "at", "detail")),
        )  # fmt: skip
        assert delivery.message.subject in failed_page or delivery.last_error in failed_page, delivery.pk
    assert undelivered >= 1  # the refused address
    killed = world.workers[0].killed_delivery
    assert killed is not None and Delivery.objects.get(pk=killed).status in ("sent", "dead")
    assert len(world.workers) >= 2
    # nothing was sent for the training call, and it counts in nobody's figures
    training = Call.objects.get(training=True)
    assert training.state == "done"
    assert Message.objects.get(call=training).status == "training"
    assert not Delivery.objects.filter(message__call=training).exists()
    real_keys = Delivery.objects.filter(message__in=messages).values_list("key", flat=True)
    sent_for_real = {str(k) for k in real_keys}
    assert received <= sent_for_real  # every e-mail received belongs to a real call's message
    rollups.sweep()
    figures = kpis.merge(
        rollups.from_json(r.figures) for r in Rollup.objects.filter(scope="total", grain="day")
    )
    assert figures.offered == sum(1 for c in real if c.state != "not_served")
    assert figures.out_of_hours == by_reason["hours"] + by_reason["holiday"] + by_reason["exception"]
    assert figures.not_in_service == by_reason["terminated"] + by_reason["suspended"]


def _mails(inbox: Inbox) -> list[Any]:
    import email
    from email import policy

    return [email.message_from_bytes(e.original_content, policy=policy.default) for e in inbox.envelopes]
