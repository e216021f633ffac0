"""What is held about one person in some accounts: found from their phone numbers, e-mail addresses and
contacts. The same selection serves a data subject's request (access, erasure, rectification) and a legal
hold on a caller (what the purge must leave alone).

The person's contacts are the request's own contact and those that one of the request's numbers or e-mails
finds alone in its account; their numbers and e-mails join the search, except one that another contact
uses too (a family landline, a switchboard: its calls may be the other's). A contact found only through
a number or e-mail that others use too is not the person's: it is listed apart (``Person.others``), and
neither exported, erased nor corrected. A legal hold keeps more, never less (``wide``): every contact
sharing one of its identifiers, and all their numbers and e-mails.

Messages are found by their call, by a delivery to the person (an appointment's notice), or by a mention of
one of the person's numbers (in its usual written forms) or e-mails in their subject, text, fields or
recipients — a whole number or address: ``anne@x.fr`` is not mentioned by ``joanne@x.fr``, nor
``0612345678`` by ``30612345678``. The database narrows the candidates (a substring), Python checks them.

A selection reads each section's rows once and keeps them (``rows``): a page, an export or an erasure
asks it as often as it likes."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet, TextField
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
# The sections counted per account (the others are not an account's: the refusals, the audit trail).
PER_ACCOUNT = SECTIONS[:-2]
AUDITED = {  # section → the audit trail's object type of its rows
    "contacts": "contacts.contact", "calls": "calls.call", "messages": "messaging.message",
    "appointments": "agenda.appointment", "voicemails": "calls.voicemail",
    "recordings": "calls.callrecording",
}  # fmt: skip
# Around a mention: no character of an address (before it: its name's; after it: its domain's, or a dot
# followed by one); no digit around a number (nor a "+" before it).
EMAIL_BEFORE = r"(?<![\w.%+-])"
EMAIL_AFTER = r"(?![\w-]|\.[\w-])"
NUMBER_BEFORE = r"(?<![\d+])"
NUMBER_AFTER = r"(?!\d)"


def number_forms(number: str) -> list[str]:
    """How a number may be written in a message: +33612345678, 06 12 34 56 78, 0612345678,
    06.12.34.56.78."""
    forms = {number}
    shown = display(number, settings.PHONE_DEFAULT_REGION)
    forms |= {shown, shown.replace(" ", ""), shown.replace(" ", ".")}
    return sorted(form for form in forms if len(form) >= 6)


def mention_pattern(numbers: Iterable[str], emails: Iterable[str]) -> re.Pattern[str] | None:
    """A whole number (in its written forms) or a whole e-mail address, in any case."""
    parts = [EMAIL_BEFORE + re.escape(e) + EMAIL_AFTER for e in sorted(emails)]
    parts += [NUMBER_BEFORE + re.escape(f) + NUMBER_AFTER for n in sorted(numbers) for f in number_forms(n)]
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def _texts(value: Any) -> Iterator[str]:
    """The strings of a message's field, its JSON's keys and values one by one."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _texts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)
    elif value is not None:
        yield str(value)


@dataclass(frozen=True)
class Person:
    numbers: frozenset[str] = field(default_factory=frozenset)  # E.164
    emails: frozenset[str] = field(default_factory=frozenset)  # lower case
    contacts: frozenset[int] = field(default_factory=frozenset)
    # contacts that use one of the person's numbers or e-mails too, and are not the person's (``widened``)
    others: frozenset[int] = field(default_factory=frozenset)

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

    def widened(self, accounts: Any, *, wide: bool = False) -> Person:
        """With the person's contacts in these accounts, and their numbers and e-mails (see the module's
        description); ``wide``: every contact one of the identifiers finds, and all of theirs."""
        if not self:
            return self
        given = self.numbers | self.emails
        found = list(
            Contact.objects.filter(account__in=accounts)
            .filter(Q(pk__in=self.contacts) | Q(numbers__number__in=self.numbers)
                    | _iexact("email", self.emails))  # fmt: skip
            .distinct().only("pk", "account_id", "email").prefetch_related("numbers")
        )
        held = {c.pk: {n.number for n in c.numbers.all()} | ({c.email.lower()} if c.email else set())
                for c in found}  # fmt: skip
        if wide:
            own = set(held)
        else:
            users: dict[tuple[int, str], int] = defaultdict(int)  # (account, identifier) → contacts using it
            for c in found:
                for identifier in held[c.pk] & given:
                    users[(c.account_id, identifier)] += 1
            own = {c.pk for c in found if c.pk in self.contacts
                   or any(users[(c.account_id, i)] == 1 for i in held[c.pk] & given)}  # fmt: skip
        numbers = {i for pk in own for i in held[pk] if "@" not in i}
        emails = {i for pk in own for i in held[pk] if "@" in i}
        others = set(held) - own
        if not wide and (numbers or emails):
            shared = list(
                ContactNumber.objects.filter(account__in=accounts, number__in=numbers)
                .exclude(contact__in=own).values_list("contact", "number")
            )
            for pk, email in (Contact.objects.filter(account__in=accounts).filter(_iexact("email", emails))
                              .exclude(pk__in=own).values_list("pk", "email")):  # fmt: skip
                shared.append((pk, email.lower()))
            others |= {pk for pk, _identifier in shared}
            numbers -= {identifier for _pk, identifier in shared}
            emails -= {identifier for _pk, identifier in shared}
        return Person(self.numbers | numbers, self.emails | emails, frozenset(own), frozenset(others))


def _iexact(name: str, values: Iterable[str]) -> Q:
    query = Q(pk__in=[])
    for value in values:
        query |= Q(**{f"{name}__iexact": value})
    return query


Rows = list[tuple[int, int | None]]  # (id, account id)


class Selection:
    """The rows about ``person`` in ``accounts`` (a queryset or ids), one queryset per section, each read
    once (``rows``). ``wide``: as a legal hold selects (``Person.widened``); ``everywhere``: a request about
    every account, whose refusals of the surveys are all the person's (otherwise, only those of numbers the
    accounts sent a survey to)."""

    def __init__(self, person: Person, accounts: Any, *, wide: bool = False,
                 everywhere: bool = False) -> None:  # fmt: skip
        self.accounts = accounts
        self.everywhere = everywhere
        self.person = person.widened(accounts, wide=wide)
        self._rows: dict[str, Rows] = {}
        self._per_account: list[dict[str, Any]] | None = None

    def _none(self) -> bool:
        return not self.person

    # each section's rows, read once

    def rows(self, section: str) -> Rows:
        if section not in self._rows:
            found = getattr(self, f"_{section}")()
            account = "account_id" if section != "opt_outs" else None
            self._rows[section] = [
                (row[0], row[1] if account else None)
                for row in found.order_by("pk").values_list("pk", *([account] if account else []))
            ]  # fmt: skip
        return self._rows[section]

    def pks(self, section: str) -> list[int]:
        return [pk for pk, _account in self.rows(section)]

    def ids(self) -> dict[str, list[int]]:
        """Each section's rows (the erasure acts on these, taken before any change: once a call loses its
        number, the selection would no longer find it nor its messages)."""
        return {section: self.pks(section) for section in SECTIONS}

    def per_account(self) -> list[dict[str, Any]]:
        """Per account where something was found (by name): how many rows of each section."""
        if self._per_account is None:
            counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(PER_ACCOUNT, 0))
            for section in PER_ACCOUNT:
                for _pk, account_id in self.rows(section):
                    if account_id is not None:
                        counts[account_id][section] += 1
            self._per_account = [
                {"account": account, "counts": counts[account.pk]}
                for account in Account.objects.filter(pk__in=list(counts)).order_by("name")
            ]
        return self._per_account

    def accounts_with_data(self) -> list[Account]:
        return [row["account"] for row in self.per_account()]

    # the querysets, of the rows read

    def contacts(self) -> QuerySet[Contact]:
        return Contact.objects.filter(pk__in=self.pks("contacts"))

    def others(self) -> QuerySet[Contact]:
        """The contacts that use one of the person's numbers or e-mails too, left alone."""
        return Contact.objects.filter(pk__in=self.person.others)

    def calls(self) -> QuerySet[Call]:
        return Call.objects.filter(pk__in=self.pks("calls"))

    def messages(self) -> QuerySet[Message]:
        return Message.objects.filter(pk__in=self.pks("messages"))

    def deliveries(self) -> QuerySet[Delivery]:
        return Delivery.objects.filter(message__in=self.pks("messages"))

    def appointments(self) -> QuerySet[Appointment]:
        return Appointment.objects.filter(pk__in=self.pks("appointments"))

    def voicemails(self) -> QuerySet[Voicemail]:
        return Voicemail.objects.filter(pk__in=self.pks("voicemails"))

    def recordings(self) -> QuerySet[CallRecording]:
        return CallRecording.objects.filter(pk__in=self.pks("recordings"))

    def surveys(self) -> QuerySet[Survey]:
        return Survey.objects.filter(pk__in=self.pks("surveys"))

    def callbacks(self) -> QuerySet[CallbackTask]:
        return CallbackTask.objects.filter(pk__in=self.pks("callbacks"))

    def opt_outs(self) -> QuerySet[SurveyOptOut]:
        return SurveyOptOut.objects.filter(pk__in=self.pks("opt_outs"))

    def audit(self) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.filter(pk__in=self.pks("audit"))

    # how each section finds its rows

    def _contacts(self) -> QuerySet[Contact]:
        if self._none():
            return Contact.objects.none()
        return Contact.objects.filter(account__in=self.accounts, pk__in=self.person.contacts)

    def _calls(self) -> QuerySet[Call]:
        if not self.person.numbers:
            return Call.objects.none()
        return Call.objects.filter(account__in=self.accounts, caller__in=self.person.numbers)

    def _mentions(self) -> list[int]:
        """The messages naming one of the person's numbers or e-mails, whole."""
        pattern = mention_pattern(self.person.numbers, self.person.emails)
        if pattern is None:
            return []
        near = Q(pk__in=[])
        for text in [f for n in self.person.numbers for f in number_forms(n)] + sorted(self.person.emails):
            near |= (Q(subject__icontains=text) | Q(body__icontains=text)
                     | Q(fields_text__icontains=text) | Q(recipients_text__icontains=text))  # fmt: skip
        candidates = (
            Message.objects.filter(account__in=self.accounts)
            .annotate(fields_text=Cast("fields", TextField()),
                      recipients_text=Cast("recipients", TextField()))  # fmt: skip
            .filter(near).values_list("pk", "subject", "body", "fields", "recipients")
        )
        return [pk for pk, *texts in candidates.iterator()
                if any(pattern.search(text) for text in _texts(texts))]  # fmt: skip

    def _messages(self) -> QuerySet[Message]:
        if self._none():
            return Message.objects.none()
        people = self.person.numbers | self.person.emails
        delivered = Delivery.objects.filter(
            Q(address__in=self.person.numbers) | _iexact("address", self.person.emails)
        )
        found = Message.objects.filter(account__in=self.accounts).filter(
            Q(call__in=self.pks("calls")) | Q(reply_to__in=people) | _iexact("reply_to", self.person.emails)
            | Q(pk__in=delivered.values("message")) | Q(pk__in=self._mentions())
        )  # fmt: skip
        # and the reminders the escalation sent of them
        return Message.objects.filter(Q(pk__in=found.values("pk")) | Q(parent__in=found.values("pk")))

    def _appointments(self) -> QuerySet[Appointment]:
        if self._none():
            return Appointment.objects.none()
        return Appointment.objects.filter(account__in=self.accounts).filter(
            Q(caller_phone__in=self.person.numbers) | _iexact("caller_email", self.person.emails)
            | Q(call__in=self.pks("calls"))
        )  # fmt: skip

    def _voicemails(self) -> QuerySet[Voicemail]:
        if not self.person.numbers:
            return Voicemail.objects.none()
        return Voicemail.objects.filter(account__in=self.accounts).filter(
            Q(caller__in=self.person.numbers) | Q(call__in=self.pks("calls"))
        )

    def _recordings(self) -> QuerySet[CallRecording]:
        return CallRecording.objects.filter(call__in=self.pks("calls"))

    def _surveys(self) -> QuerySet[Survey]:
        if not self.person.numbers:
            return Survey.objects.none()
        return Survey.objects.filter(account__in=self.accounts).filter(
            Q(address__in=self.person.numbers) | Q(call__in=self.pks("calls"))
        )

    def _callbacks(self) -> QuerySet[CallbackTask]:
        if not self.person.numbers:
            return CallbackTask.objects.none()
        return CallbackTask.objects.filter(account__in=self.accounts).filter(
            Q(number__in=self.person.numbers) | Q(call__in=self.pks("calls"))
        )

    def _opt_outs(self) -> QuerySet[SurveyOptOut]:
        """The numbers that said STOP to the surveys (the refusal holds for every account): in a request
        about some accounts, those of the numbers these accounts sent a survey to."""
        found = SurveyOptOut.objects.filter(address__in=self.person.numbers)
        if self.everywhere:
            return found
        sent = Survey.objects.filter(account__in=self.accounts, address__in=self.person.numbers)
        return found.filter(address__in=sent.values("address"))

    def _audit(self) -> QuerySet[AuditEvent]:
        """The audit trail's rows about the rows found."""
        about = Q(pk__in=[])
        for section, object_type in AUDITED.items():
            keys = [str(pk) for pk in self.pks(section)]
            if keys:
                about |= Q(object_type=object_type, object_id__in=keys)
        return AuditEvent.objects.filter(about)


LABELS = {
    "contacts": _("contacts"), "calls": _("calls"), "call_events": _("call events"),
    "messages": _("messages"),
    "deliveries": _("deliveries of the messages"), "appointments": _("appointments"),
    "voicemails": _("voicemails"), "recordings": _("call recordings"), "surveys": _("satisfaction surveys"),
    "callbacks": _("call-back tasks"), "opt_outs": _("refusals of the surveys (STOP)"),
    "audit": _("audit trail rows"),
}  # fmt: skip
