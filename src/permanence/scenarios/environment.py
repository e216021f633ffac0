"""What a scenario sees of an account: built from the database for the pure engine."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from babel.dates import format_datetime
from django.conf import settings
from django.utils import timezone, translation
from django.utils.text import slugify

from permanence.accounts.models import Account
from permanence.accounts.phones import try_normalize
from permanence.contacts.models import Contact, ContactNumber
from permanence.directory import oncall, search
from permanence.directory.models import CALLER_TYPE_LABELS, Collaborator
from permanence.directory.rules import caller_type_code
from permanence.scenarios.engine.checker import AccountInfo
from permanence.scenarios.engine.identity import IdentityCheck, Simulated, Verifier
from permanence.scenarios.engine.runtime import Person, StaticEnvironment

#: what each identity question is compared with on the caller's contact (``Account.identity_fields``
#: names some of them: ``accounts.models.IDENTITY_KEPT``), as the contact keeps it: the engine normalises
#: it (a date of birth as ISO 8601, which it reads like any other writing).
CONTACT_IDENTITY: dict[str, Callable[[Contact], str]] = {
    "file_number": lambda contact: contact.file_number,
    "birth_date": lambda contact: contact.birth_date.isoformat() if contact.birth_date else "",
    "postcode": lambda contact: contact.postcode,
    "last_name": lambda contact: contact.last_name,
    "first_name": lambda contact: contact.first_name,
    "company": lambda contact: contact.company,
    "email": lambda contact: contact.email,
}


def collaborator_ref(collaborator: Collaborator) -> str:
    """How a scenario names a collaborator: ``claire-durand``."""
    return slugify(f"{collaborator.first_name} {collaborator.last_name}") or f"c{collaborator.pk}"


def directory_entries(account: Account) -> list[search.Entry]:
    """The account's directory for the tolerant search of the lookup steps."""
    return [
        search.Entry(
            ref=collaborator_ref(c),
            name=str(c),
            first_name=c.first_name,
            last_name=c.last_name,
            service=c.service.name if c.service else "",
            specialties=tuple(c.specialty_list),
            keywords=tuple(c.keyword_list),
        )
        for c in account.collaborators.filter(is_active=True).select_related("service")
    ]


def _fold(word: str) -> str:
    text = unicodedata.normalize("NFKD", word.casefold().replace("œ", "oe"))
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).split())


def _label_codes() -> dict[str, str]:
    """The caller types' labels, in French and in English, folded: "confrere / collegue" -> colleague."""
    out: dict[str, str] = {}
    for language in ("en", "fr"):
        with translation.override(language):
            out.update({_fold(str(label)): str(code) for code, label in CALLER_TYPE_LABELS.items()})
    return out


def caller_type_from_tags(tags: Iterable[str]) -> str | None:
    """The caller type a contact's tags say: the first tag that is a caller type of the shared vocabulary
    (its code, its label, or a word the transfer rules read, accents and case forgiven: "Confrère",
    "client", "Démarchage", "cold caller"); a tag written "Confrère / collègue" is read part by part.
    None when no tag is one ("vip", "blocked" and free tags are not caller types)."""
    labels: dict[str, str] | None = None
    for tag in tags:
        code = caller_type_code(tag)
        if code is None:
            labels = labels if labels is not None else _label_codes()
            code = labels.get(_fold(tag))
        if code is None and "/" in tag:
            code = next((c for c in map(caller_type_code, tag.split("/")) if c), None)
        if code is not None:
            return code
    return None


def caller_contact(account: Account, caller: str | None) -> Contact | None:
    """The account's contact with the caller's number (the first by name when several have it)."""
    number = try_normalize(caller, settings.PHONE_DEFAULT_REGION)
    if number is None:
        return None
    matching = ContactNumber.objects.filter(account=account, number=number).values("contact_id")
    return Contact.objects.filter(account=account, pk__in=matching).order_by("last_name", "pk").first()


def caller_record(account: Account, caller: str | None, contact: Contact | None = None) -> dict[str, Any]:
    """What the account's contacts say of the caller (empty when unknown or withheld): name, company,
    tags, e-mail and the caller type its tags say (``caller.type``), which prefills a scenario's fields."""
    contact = contact or caller_contact(account, caller)
    if contact is None:
        return {"known": False, "tags": []}
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
    tags = contact.tag_list
    return {
        "known": True,
        "name": name,
        "company": contact.company,
        "tags": tags,
        "email": contact.email,
        "type": caller_type_from_tags(tags),
    }


def hours_text(account: Account) -> str:
    """The weekly hours in words: "lundi : 09:00–12:30, 14:00–18:30 ; …"."""
    days = {}
    for row in account.weekly_hours.order_by("weekday", "opens"):
        days.setdefault(row.weekday, []).append(f"{row.opens:%H:%M}–{row.closes:%H:%M}")
    names = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
    return " ; ".join(f"{names[d]} : {', '.join(r)}" for d, r in sorted(days.items())) or "fermé"


def account_info(account: Account) -> AccountInfo:
    collaborators = {collaborator_ref(c): str(c) for c in account.collaborators.filter(is_active=True)}
    services = frozenset(slugify(s.name) for s in account.services.all())
    rotas = frozenset(slugify(name) for name in account.rotas.values_list("service__name", flat=True))
    from permanence.agenda.models import AppointmentType  # the agenda builds on scenarios' neighbours

    codes = frozenset(
        AppointmentType.objects.filter(account=account, is_active=True).values_list("code", flat=True)
    )
    return AccountInfo(
        slug=account.slug,
        name=account.name,
        collaborators=collaborators,
        services=services,
        appointment_types=codes or None,  # none set up yet: not checked
        max_questions=getattr(account, "max_questions", None),  # the account's question threshold
        rotas=rotas,
        identity_fields=tuple(account.identity_field_list()),
    )


def identity_check(
    account: Account, contact: Contact | None, at: datetime, *, simulated: bool = False
) -> IdentityCheck | None:
    """How a run checks the caller's identity: a verifier prepared from the contact (it keeps digests of
    the values, never the values), a simulation (the scenario's test mode, the command line: nothing is
    read), or nothing for an unknown caller."""
    keys = account.identity_field_list()
    today = at.astimezone(account.tz).date()
    if simulated:
        return Simulated(keys, today=today)
    if contact is None:
        return None
    stored = {key: read(contact) for key, read in CONTACT_IDENTITY.items()}
    return Verifier(keys, stored, today=today)


def environment(
    account: Account | None,
    at: datetime | None = None,
    *,
    caller: str | None = None,
    called: str | None = None,
    agent: str = "",
    motive: str = "",
    simulated_identity: bool = False,
) -> StaticEnvironment:
    """An environment frozen at ``at``: the runtime records what it reads as facts. The identity check
    compares with the caller's contact, or is ``simulated_identity`` (test mode, command line)."""
    at = at or timezone.now()
    records: dict[str, dict[str, Any]] = {
        "call": {"caller": caller, "called": called, "date": at.isoformat(), "motive": motive or None},
        "agent": {"first_name": agent, "name": agent},
        "caller": {"known": False, "tags": []},
    }
    if account is None:
        return StaticEnvironment(records=records, identity=Simulated() if simulated_identity else None)
    status = account.opening_status(at)
    next_opening = ""
    if not status.is_open and status.next_change:
        next_opening = format_datetime(
            status.next_change.astimezone(account.tz), "EEEE d MMMM 'à' HH:mm", locale="fr"
        )
    records["account"] = {
        "name": account.name,
        "greeting": account.greeting,
        "next_opening": next_opening,
        "hours": hours_text(account),
    }
    contact = caller_contact(account, caller)
    records["caller"] = caller_record(account, caller, contact)
    people: dict[str, Person] = {}
    decisions: dict[str, Collaborator] = {}
    for c in (
        account.collaborators.filter(is_active=True)
        .select_related("service")
        .prefetch_related("absences", "transfer_windows")
    ):
        ref = collaborator_ref(c)
        absence = c.current_absence(at)
        people[ref] = Person(
            ref=ref,
            name=str(c),
            title=c.title,
            email=c.email,
            service=c.service.name if c.service else "",
            direct_line=c.direct_line or "",
            mobile=c.mobile or "",
            available=absence is None,
            transfer=c.transfer_mode,
            absence=absence.kind if absence else None,
            until=absence.ends_at.isoformat() if absence and absence.ends_at else None,
            replacement=collaborator_ref(absence.replacement) if absence and absence.replacement else None,
        )
        decisions[ref] = c

    def can_transfer(person: Person, caller_type: str | None = None, urgent: bool | None = False) -> bool:
        return (
            decisions[person.ref].decide_transfer(at=at, caller_type=caller_type, urgent=bool(urgent)).allowed
        )

    weekday = at.astimezone(account.tz).strftime("%A").lower()
    return StaticEnvironment(
        identity=identity_check(account, contact, at, simulated=simulated_identity),
        sensitive=frozenset(account.sensitive_field_list()),
        people=people,
        records=records,
        functions={
            "is_open": status.is_open,
            "is_holiday": status.reason == "holiday",
            "weekday": weekday,
            "can_transfer": can_transfer,
            "time_between": lambda a, b: _between(at.astimezone(account.tz), a, b),
            "on_call": lambda service: _on_call(account, str(service), at),
        },
    )


def _on_call(account: Account, service: str, at: datetime) -> str | None:
    """The ref of the person on call at ``at`` in the rota of the service ``service`` (its slug)."""
    person = oncall.on_call(account, service, at)
    return collaborator_ref(person) if person is not None else None


def _between(local: datetime, start: str, end: str) -> bool:
    def minutes(text: str) -> int:
        hours, _, mins = text.replace("h", ":").partition(":")
        return int(hours) * 60 + int(mins or 0)

    now = local.hour * 60 + local.minute
    a, b = minutes(start), minutes(end)
    return a <= now < b if a <= b else now >= a or now < b
