"""A caller's data in an account, as the desk leaves it: an answered call with its scenario's answers, the
message taken (and its delivery), an appointment, a voicemail; for the privacy tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2027, 12, 15, 10, 0, tzinfo=PARIS)
OLD = NOW - timedelta(days=400)  # past the default periods (12 months)
RECENT = NOW - timedelta(days=20)


def secretary(account: Any) -> Any:
    from factories import make_user
    from permanence.users.models import Role, Training, User

    found = User.objects.filter(username="privacy-secretary").first()
    if found is None:
        found = make_user("privacy-secretary", Role.SECRETARY, first_name="Sarah")
    Training.objects.get_or_create(secretary=found, account=account)
    return found


def run_for(account: Any, user: Any, answers: dict[str, Any]) -> Any:
    from permanence.scenarios.models import Run, Scenario, ScenarioVersion, Status
    from permanence.scenarios.services import template_source

    scenario, _ = Scenario.objects.get_or_create(account=account, name="Standard")
    version = scenario.versions.first() or ScenarioVersion.objects.create(
        scenario=scenario, number=1, status=Status.PUBLISHED, source=template_source("legal"), digest="x"
    )
    state = {"version": "x", "inputs": [["name", answers.get("name", "")]], "facts": {"open": True},
             "step": "end", "path": ["welcome", "name", "end"], "answers": answers,
             "notes": ["rappeler avant midi"], "outcome": "message", "unapplied": []}  # fmt: skip
    return Run.objects.create(version=version, agent=user, test=False, state=state, outcome="message")


def answered_call(account: Any, caller: str | None, at: datetime, *, answers: dict[str, Any] | None = None,
                  rolled_up: bool = True) -> Any:  # fmt: skip
    """A call answered, ended and wrapped up at ``at``, with a scenario run; counted in the rollups."""
    from permanence.calls import services
    from permanence.calls.lifecycle import Kind
    from permanence.reporting import rollups

    who = secretary(account)
    with transaction.atomic():
        call = services.call_arrived("01 45 00 00 01", caller, account=account, at=at)
        services.record(call, Kind.OFFERED, at=at + timedelta(seconds=5), secretary=who)
        services.record(call, Kind.ANSWERED, at=at + timedelta(seconds=8), secretary=who)
        services.record(call, Kind.ENDED, at=at + timedelta(seconds=90), secretary=who)
        services.record(call, Kind.WRAPPED_UP, at=at + timedelta(seconds=120), secretary=who,
                        outcome="message")
        call.run = run_for(account, who, answers or {"name": "Jean Appelant", "phone": caller or ""})
        call.save(update_fields=["run"])
    if rolled_up:
        rollups.add([call.pk])
    call.refresh_from_db()
    return call


def message_for(call: Any, at: datetime, *, text: str = "", status: str = "sent", **fields: Any) -> Any:
    from permanence.messaging.models import Delivery, DeliveryEvent, Message

    message = Message.objects.create(
        account=call.account, call=call, subject=f"Appel de {call.caller}", created=at,
        body=text or f"Jean Appelant a appelé du {call.caller}. Rappeler.", recipients=["anne@alpha.example"],
        fields={"name": "Jean Appelant", "phone": call.caller}, reply_to=call.caller or "", status="sent",
        author=secretary(call.account), **fields,
    )  # fmt: skip
    delivery = Delivery.objects.create(message=message, channel="email", address="anne@alpha.example",
                                       status=status, sent_at=at)  # fmt: skip
    DeliveryEvent.objects.create(delivery=delivery, at=at, status=status, detail="to anne@alpha.example")
    return message


def appointment_for(account: Any, start: datetime, *, phone: str = "", email: str = "", call: Any = None,
                    name: str = "Jean Appelant") -> Any:  # fmt: skip
    from permanence.agenda.models import Appointment
    from permanence.directory.models import Collaborator

    person = Collaborator.objects.filter(account=account).first()
    end = start + timedelta(minutes=30)
    return Appointment.objects.create(
        account=account, collaborator=person, start=start, end=end, blocked_from=start, blocked_until=end,
        caller_name=name, caller_phone=phone, caller_email=email, notes="première visite",
        answers={"motif": "douleur"}, call=call,
    )  # fmt: skip


def voicemail_for(call: Any, at: datetime) -> Any:
    from permanence.calls import voicemail

    return voicemail.left(call.pk, b"RIFF....WAVEfmt ", 3.0, "silence", at=at)
