"""The agenda at the desk: the scenario's appointment step shows the free slots, the secretary picks
one, and it is booked with the call (a training call books nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from babel.dates import format_datetime
from django.utils.translation import gettext as _

from permanence.accounts.models import Account
from permanence.agenda import services, slots
from permanence.agenda.models import AppointmentType
from permanence.directory import search
from permanence.directory.models import Collaborator
from permanence.scenarios.environment import collaborator_ref

SHOWN = 6


@dataclass
class Offer:
    kind: AppointmentType | None = None
    collaborator: Collaborator | None = None
    slots: list[dict[str, Any]] = field(default_factory=list)
    problem: str = ""
    types: list[AppointmentType] = field(default_factory=list)  # to switch to another one
    chosen_by: str = ""  # "secretary", "scenario", "motive" or "only"


def type_by_motive(kinds: list[AppointmentType], answers: dict[str, Any]) -> AppointmentType | None:
    """The type whose motives (or name) best match what the caller said (the call's text answers):
    the directory's need search, accents and typos forgiven."""
    said = " ".join(str(v) for v in answers.values() if isinstance(v, str))
    entries = [search.Entry(ref=str(k.pk), name=k.name, keywords=(*k.motive_list, k.name)) for k in kinds]
    found = search.search(entries, said, by="need", limit=1)
    return next((k for k in kinds if found and str(k.pk) == found[0].ref), None)


def choose_type(
    account: Account, code: str, answers: dict[str, Any] | None = None, picked: str = ""
) -> tuple[AppointmentType | None, str, list[AppointmentType]]:
    """The type to offer: the one the secretary picked, else the scenario's, else the caller's
    motive's, else the only one."""
    kinds = list(AppointmentType.objects.filter(account=account, is_active=True).order_by("name"))
    chosen = next((k for k in kinds if picked and str(k.pk) == picked), None)
    if chosen is not None:
        return chosen, "secretary", kinds
    if code:
        return next((k for k in kinds if k.code == code), None), "scenario", kinds
    by_motive = type_by_motive(kinds, answers or {})
    if by_motive is not None:
        return by_motive, "motive", kinds
    return (kinds[0], "only", kinds) if len(kinds) == 1 else (None, "", kinds)


def appointment_type_for(account: Account, code: str) -> AppointmentType | None:
    types = AppointmentType.objects.filter(account=account, is_active=True)
    if code:
        return types.filter(code=code).first()
    return types.first() if types.count() == 1 else None


def collaborator_for(account: Account, person: dict[str, Any] | None) -> Collaborator | None:
    ref = (person or {}).get("ref")
    if not ref:
        return None
    return next((c for c in account.collaborators.filter(is_active=True) if collaborator_ref(c) == ref), None)


def slot_text(slot: slots.Slot, account: Account, names: dict[str, str]) -> str:
    when = format_datetime(slot.start.astimezone(account.tz), "EEEE d MMMM 'à' HH:mm", locale="fr")
    return f"{when} avec {names.get(slot.person, '')}".strip()


def offer(
    account: Account,
    screen: dict[str, Any],
    answers: dict[str, Any] | None = None,
    picked_type: str = "",
    now: datetime | None = None,
) -> Offer | None:
    """The slots to show at an appointment step (None at any other step)."""
    if screen.get("kind") != "appointment":
        return None
    code = screen.get("appointment_type") or ""
    kind, chosen_by, kinds = choose_type(account, code, answers, picked_type)
    if kind is None:
        if not code and kinds:
            return Offer(problem=_("Pick the type of appointment."), types=kinds)
        return Offer(
            problem=_("No appointment type “%(code)s” is set up for this account: agree on a slot by hand.")
            % {"code": code},
            types=kinds,
        )
    collaborator = collaborator_for(account, screen.get("person"))
    found = services.search(kind, collaborator=collaborator, now=now, count=SHOWN)
    names = {str(c.pk): str(c) for c in services.candidates(kind)}
    rows = [
        {"value": f"{s.start.isoformat()}|{s.person}|{kind.pk}", "text": slot_text(s, account, names)}
        for s in found
    ]
    problem = "" if rows else _("No free slot within the booking horizon.")
    return Offer(kind, collaborator, rows, problem, kinds, chosen_by)


def book(call: Any, screen: dict[str, Any], picked: str, answers: dict[str, Any], user: Any) -> str:
    """Book the slot picked (``start|collaborator|type``); returns its text for the call report.
    Raises services.BookingError (or SlotTaken) when it cannot be booked."""
    account = call.account
    try:
        start_text, person_pk, *rest = picked.split("|")
        kind = (
            AppointmentType.objects.filter(account=account, is_active=True, pk=int(rest[0])).first()
            if rest
            else appointment_type_for(account, screen.get("appointment_type") or "")
        )
        start = datetime.fromisoformat(start_text)
        collaborator = Collaborator.objects.get(account=account, pk=int(person_pk), is_active=True)
    except (ValueError, Collaborator.DoesNotExist):
        raise services.BookingError(_("Pick one of the slots shown.")) from None
    if kind is None:
        raise services.BookingError(_("No appointment type is set up for this account."))
    names = {str(collaborator.pk): str(collaborator)}
    text = slot_text(slots.Slot(start, start, str(collaborator.pk)), account, names)
    if call.training:
        return text + " (" + _("training call: not booked") + ")"
    name = " ".join(str(answers.get(k) or "") for k in ("first_name", "last_name")).strip()
    services.book(
        kind,
        collaborator,
        start,
        caller=services.Caller(
            name=str(answers.get("caller_name") or answers.get("name") or name),
            phone=call.caller or "",
            email=str(answers.get("email") or ""),
        ),
        answers={k: v for k, v in answers.items() if isinstance(v, (str, int, float, bool))},
        call=call,
        by=user,
    )
    return text
