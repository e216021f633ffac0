from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from django.utils.translation import gettext
from ninja import Schema
from pydantic import AfterValidator, field_validator
from pydantic_core import PydanticCustomError

# The dates the API takes: years far from Python's limits, so that converting to UTC or adding a horizon
# never overflows, and the UTC offsets in use (ISO 8601 allows up to ±23:59, which PostgreSQL refuses).
# Outside them, a 400 (the error's type) rather than a 500 from deep inside.
FIRST_YEAR, LAST_YEAR = 1900, 2999
WEST, EAST = timedelta(hours=-12), timedelta(hours=14)
OUT_OF_RANGE = "date_out_of_range"


def _in_range(value: date) -> date:
    offset = value.utcoffset() if isinstance(value, datetime) else None
    if not FIRST_YEAR <= value.year <= LAST_YEAR or offset is not None and not WEST <= offset <= EAST:
        message = gettext("Out of range: a date from %(first)d to %(last)d, with a UTC offset from -12:00 "
                          "to +14:00.")
        raise PydanticCustomError(OUT_OF_RANGE, message % {"first": FIRST_YEAR, "last": LAST_YEAR})
    return value


Instant = Annotated[datetime, AfterValidator(_in_range)]  # every date and time the API reads
Day = Annotated[date, AfterValidator(_in_range)]


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise PydanticCustomError("nul_character", gettext("Null characters are not allowed."))
    if isinstance(value, (list, tuple)):
        for item in value:
            _no_nul(item)
    return value


class In(Schema):
    """What the API reads: texts with a NUL character are refused (422), as PostgreSQL stores none."""

    @field_validator("*", mode="after")
    @classmethod
    def _texts_without_nul(cls, value: Any) -> Any:
        return _no_nul(value)


class NumberOut(Schema):
    number: str
    label: str


class OpeningOut(Schema):
    is_open: bool
    reason: str
    label: str
    next_change: datetime | None


class AccountOut(Schema):
    slug: str
    name: str
    trade: str
    greeting: str
    timezone: str
    language: str  # of the messages, notices, reports and invoices: fr or en
    status: str


class AccountDetailOut(AccountOut):
    instructions: str
    numbers: list[NumberOut]
    opening: OpeningOut


class AbsenceOut(Schema):
    kind: str
    until: datetime | None
    replacement: str | None


class CollaboratorOut(Schema):
    id: int
    name: str
    job_title: str
    service: str | None
    specialties: list[str]
    keywords: list[str]
    direct_line: str
    mobile: str
    email: str
    transfer_mode: str
    transfer_now: str
    absence: AbsenceOut | None


class ContactOut(Schema):
    id: int
    first_name: str
    last_name: str
    company: str
    email: str
    file_number: str
    birth_date: date | None
    postcode: str
    tags: list[str]
    numbers: list[str]


class IdentifyIn(In):
    called: str
    caller: str | None = None


class IdentifyOut(Schema):
    account: str | None
    caller: str | None
    known: bool
    contacts: list[ContactOut]


class ErrorOut(Schema):
    detail: str


class AppointmentTypeOut(Schema):
    id: int
    name: str
    motives: list[str]
    duration_minutes: int
    places: list[str]
    questions: list[str]
    collaborators: list[int]


class SlotOut(Schema):
    start: datetime
    end: datetime
    collaborator: int
    adjacent: bool


class CallerIn(In):
    name: str = ""
    phone: str = ""
    email: str = ""


class BookIn(In):
    appointment_type: int
    collaborator: int
    start: Instant
    caller: CallerIn = CallerIn()
    place: str = ""
    notes: str = ""


class RescheduleIn(In):
    start: Instant


class AppointmentOut(Schema):
    id: int
    uid: str
    appointment_type: int | None
    collaborator: int
    start: datetime
    end: datetime
    status: str
    place: str
    caller_name: str
    caller_phone: str
    caller_email: str
    notes: str
    source: str


class SlotTakenOut(Schema):
    detail: str
    alternatives: list[SlotOut] = []  # none when the 409 is the Idempotency-Key's (see idempotency)


class InstructionOut(Schema):
    id: int
    text: str
    starts_at: datetime
    ends_at: datetime
    phase: str  # coming, current or past
    withdrawn_at: datetime | None
    created_at: datetime


class InstructionIn(In):
    text: str
    starts_at: Instant  # with its UTC offset
    ends_at: Instant


class StandingInstructionsIn(In):
    text: str


class FieldErrorsOut(Schema):
    """A refusal; `errors` gives a message per field (`start`, `caller.name`…) when fields are wrong."""

    detail: str
    errors: dict[str, str] = {}


class PersonIn(In):
    """A person's details (``directory.people.FIELDS``): on a change, only the fields given change.
    ``effective_at`` (with its UTC offset): the change takes effect then; absent, now."""

    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    job_title: str | None = None
    service: int | None = None
    specialties: str | None = None
    keywords: str | None = None
    direct_line: str | None = None
    mobile: str | None = None
    email: str | None = None
    instructions: str | None = None
    transfer_mode: str | None = None  # always, conditional, never
    caller_types: list[str] | None = None  # codes of the shared list: client, colleague, …
    transfer_urgent_only: bool | None = None
    transfer_urgent_bypass: bool | None = None
    windows: dict[str, str] | None = None  # "0" (Monday) … "6": "09:00-12:00, 14:00-18:00"
    effective_at: Instant | None = None


class PersonOut(Schema):
    id: int
    is_active: bool
    title: str
    first_name: str
    last_name: str
    job_title: str
    service: int | None
    specialties: str
    keywords: str
    direct_line: str
    mobile: str
    email: str
    instructions: str
    transfer_mode: str
    caller_types: list[str]
    transfer_urgent_only: bool
    transfer_urgent_bypass: bool
    windows: dict[str, str]


class WhenIn(In):
    effective_at: Instant | None = None


class PlannedChangeOut(Schema):
    id: int
    kind: str  # add, change, leave
    collaborator: int | None
    data: dict[str, object]
    effective_at: datetime
    status: str  # pending, applied, cancelled, refused
    outcome: str


class ServiceIn(In):
    name: str
    description: str = ""


class ServiceOut(Schema):
    id: int
    name: str
    description: str


class AbsenceIn(In):
    collaborator: int
    kind: str  # absent, leave, meeting, consultation, other
    starts_at: Instant
    ends_at: Instant | None = None  # absent: until further notice
    replacement: int | None = None
    note: str = ""


class AbsenceDetailOut(Schema):
    id: int
    collaborator: int
    kind: str
    starts_at: datetime
    ends_at: datetime | None
    replacement: int | None
    note: str


class RotaOut(Schema):
    service: int
    service_name: str
    covers: list[str]
    members: list[int]
    on_call_now: int | None
    forwards_after_hours: bool


class SwapIn(In):
    collaborator: int
    starts_at: Instant
    ends_at: Instant
    reason: str = ""


class SwapOut(Schema):
    id: int
    collaborator: int
    starts_at: datetime
    ends_at: datetime
    reason: str
