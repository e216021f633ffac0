"""What is held about one person in some accounts: found from their phone numbers, e-mail addresses and
contacts. The same selection serves a data subject's request (access, erasure) and a legal hold on a
caller (what the purge must leave alone).

A contact found brings its own numbers and e-mail: a request made with a phone number also finds the
messages that mention the person's e-mail. Messages are found by their call, by a delivery to the
person (an appointment's notice), or by a mention of one of the person's numbers (in its usual written
forms) or e-mails in their subject, text, fields or recipients."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import CharField, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy as _

from permanence.accounts.models import Account
from permanence.accounts.phones import display, try_normalize
from permanence.agenda.models import Appointment
from permanence.audit.models import AuditEvent
from permanence.calls.models import Call, CallRecording, Voicemail
from permanence.contacts.models import Contact, ContactNumber
from permanence.messaging.models import CallbackTask, Delivery, Message, Survey, SurveyOptOut

# What a selection finds, in the order the export and the erasure report list them.
SECTIONS = ("contacts", "calls", "messages", "appointments", "voicemails", "recordings", "surveys",
            "callbacks", "opt_outs", "audit")  # fmt: skip
AUDITED = {  # section → the audit trail's object type of its rows
    "contacts": "contacts.contact", "calls": "calls.call", "messages": "messaging.message",
    "appointments": "agenda.appointment", "voicemails": "calls.voicemail",
    "recordings": "calls.callrecording",
}  # fmt: skip


def number_forms(number: str) -> list[str]:
    """How a number may be written in a message: +33612345678, 06 12 34 56 78, 0612345678."""
    forms = {number}
    shown = display(number, settings.PHONE_DEFAULT_REGION)
    forms |= {shown, shown.replace(" ", "")}
    return sorted(form for form in forms if len(form) >= 6)


@dataclass(frozen=True)
class Person:
    numbers: frozenset[str] = field(default_factory=frozenset)  # E.164
    emails: frozenset[str] = field(default_factory=frozenset)  # lower case
    contacts: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def of(cls, numbers: Iterable[str] = (), emails: Iterable[str] = (),
           contacts: Iterable[Any] = ()) -> Person:  # fmt: skip
        normalised = {try_normalize(n, settings.PHONE_DEFAULT_REGION) for n in numbers if n}
        return cls(
            frozenset(n for n in normalised if n),
            frozenset(e.strip().lower() for e in emails if e and e.strip()),
            frozenset(int(getattr(c, "pk", c)) for c in contacts if c),
        )

    def __bool__(self) -> bool:
        return bool(self.numbers or self.emails or self.contacts)

    def widened(self, accounts: Any) -> Person:
        """With the contacts its numbers and e-mails find in these accounts, and theirs."""
        if not self:
            return self
        found = set(
            Contact.objects.filter(account__in=accounts)
            .filter(Q(pk__in=self.contacts) | Q(numbers__number__in=self.numbers)
                    | _iexact("email", self.emails))  # fmt: skip
            .values_list("pk", flat=True)
        )
        numbers = set(ContactNumber.objects.filter(contact__in=found).values_list("number", flat=True))
        emails = {e.lower() for e in Contact.objects.filter(pk__in=found).exclude(email="")
                  .values_list("email", flat=True)}  # fmt: skip
        return Person(self.numbers | numbers, self.emails | emails, frozenset(found))


def _iexact(name: str, values: Iterable[str]) -> Q:
    query = Q(pk__in=[])
    for value in values:
        query |= Q(**{f"{name}__iexact": value})
    return query


class Selection:
    """The rows about ``person`` in ``accounts`` (a queryset or ids), one queryset per section."""

    def __init__(self, person: Person, accounts: Any) -> None:
        self.accounts = accounts
        self.person = person.widened(accounts)

    def _none(self) -> bool:
        return not self.person

    def contacts(self) -> QuerySet[Contact]:
        if self._none():
            return Contact.objects.none()
        return Contact.objects.filter(account__in=self.accounts, pk__in=self.person.contacts)

    def calls(self) -> QuerySet[Call]:
        if not self.person.numbers:
            return Call.objects.none()
        return Call.objects.filter(account__in=self.accounts, caller__in=self.person.numbers)

    def messages(self) -> QuerySet[Message]:
        if self._none():
            return Message.objects.none()
        people = self.person.numbers | self.person.emails
        delivered = Delivery.objects.filter(
            Q(address__in=self.person.numbers) | _iexact("address", self.person.emails)
        )
        mentioned = Q(pk__in=[])
        for text in [f for n in self.person.numbers for f in number_forms(n)] + sorted(self.person.emails):
            mentioned |= (Q(subject__icontains=text) | Q(body__icontains=text)
                          | Q(fields_text__icontains=text) | Q(recipients_text__icontains=text))  # fmt: skip
        found = (
            Message.objects.filter(account__in=self.accounts)
            .annotate(fields_text=Cast("fields", TextField()),
                      recipients_text=Cast("recipients", TextField()))
            .filter(Q(call__in=self.calls()) | Q(reply_to__in=people)
                    | _iexact("reply_to", self.person.emails)
                    | Q(pk__in=delivered.values("message")) | mentioned)  # fmt: skip
        )
        # and the reminders the escalation sent of them
        return Message.objects.filter(Q(pk__in=found.values("pk")) | Q(parent__in=found.values("pk")))

    def deliveries(self) -> QuerySet[Delivery]:
        return Delivery.objects.filter(message__in=self.messages().values("pk"))

    def appointments(self) -> QuerySet[Appointment]:
        if self._none():
            return Appointment.objects.none()
        return Appointment.objects.filter(account__in=self.accounts).filter(
            Q(caller_phone__in=self.person.numbers) | _iexact("caller_email", self.person.emails)
            | Q(call__in=self.calls())
        )  # fmt: skip

    def voicemails(self) -> QuerySet[Voicemail]:
        if not self.person.numbers:
            return Voicemail.objects.none()
        return Voicemail.objects.filter(account__in=self.accounts).filter(
            Q(caller__in=self.person.numbers) | Q(call__in=self.calls())
        )

    def recordings(self) -> QuerySet[CallRecording]:
        return CallRecording.objects.filter(call__in=self.calls())

    def surveys(self) -> QuerySet[Survey]:
        if not self.person.numbers:
            return Survey.objects.none()
        return Survey.objects.filter(account__in=self.accounts).filter(
            Q(address__in=self.person.numbers) | Q(call__in=self.calls())
        )

    def callbacks(self) -> QuerySet[CallbackTask]:
        if not self.person.numbers:
            return CallbackTask.objects.none()
        return CallbackTask.objects.filter(account__in=self.accounts).filter(
            Q(number__in=self.person.numbers) | Q(call__in=self.calls())
        )

    def opt_outs(self) -> QuerySet[SurveyOptOut]:
        """The numbers that said STOP to the surveys (kept for every account)."""
        return SurveyOptOut.objects.filter(address__in=self.person.numbers)

    def audit(self) -> QuerySet[AuditEvent]:
        """The audit trail's rows about the rows found."""
        if self._none():
            return AuditEvent.objects.none()
        about = Q(pk__in=[])
        for section, object_type in AUDITED.items():
            keys = getattr(self, section)().annotate(key=Cast("pk", CharField())).values("key")
            about |= Q(object_type=object_type, object_id__in=keys)
        return AuditEvent.objects.filter(about)

    def ids(self) -> dict[str, list[int]]:
        """Each section's rows now (the erasure acts on these: once a call loses its number, the selection
        would no longer find it nor its messages)."""
        return {s: sorted(getattr(self, s)().values_list("pk", flat=True)) for s in SECTIONS}

    def accounts_with_data(self) -> list[Account]:
        ids: set[int] = set()
        for section in SECTIONS:
            if section not in ("opt_outs", "audit"):
                ids |= set(getattr(self, section)().values_list("account_id", flat=True))
        return list(Account.objects.filter(pk__in=ids).order_by("name"))


LABELS = {
    "contacts": _("contacts"), "calls": _("calls"), "call_events": _("call events"),
    "messages": _("messages"),
    "deliveries": _("deliveries of the messages"), "appointments": _("appointments"),
    "voicemails": _("voicemails"), "recordings": _("call recordings"), "surveys": _("satisfaction surveys"),
    "callbacks": _("call-back tasks"), "opt_outs": _("refusals of the surveys (STOP)"),
    "audit": _("audit trail rows"),
}  # fmt: skip
