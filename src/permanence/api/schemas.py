from __future__ import annotations

from datetime import datetime

from ninja import Schema


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
    tags: list[str]
    numbers: list[str]


class IdentifyIn(Schema):
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


class CallerIn(Schema):
    name: str = ""
    phone: str = ""
    email: str = ""


class BookIn(Schema):
    appointment_type: int
    collaborator: int
    start: datetime
    caller: CallerIn = CallerIn()
    place: str = ""
    notes: str = ""


class RescheduleIn(Schema):
    start: datetime


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
    alternatives: list[SlotOut]


class InstructionOut(Schema):
    id: int
    text: str
    starts_at: datetime
    ends_at: datetime
    phase: str  # coming, current or past
    withdrawn_at: datetime | None
    created_at: datetime


class InstructionIn(Schema):
    text: str
    starts_at: datetime  # with its UTC offset
    ends_at: datetime


class StandingInstructionsIn(Schema):
    text: str


class FieldErrorsOut(Schema):
    detail: str
    errors: dict[str, str]
