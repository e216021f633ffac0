"""The privacy actions the pages call: they validate, write in one transaction and append to the audit
trail. Retention periods; the register of requests (recorded, answered); a request's export (access),
erasure and rectification of a contact."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from permanence.accounts.models import Account
from permanence.accounts.phones import PhoneNumberError, normalize
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.contacts.csvio import read_birth_date
from permanence.contacts.models import Contact, ContactNumber
from permanence.privacy import erasure, export
from permanence.privacy.holds import clean_email, clean_phone, contact_of
from permanence.privacy.models import KINDS, MAX_MONTHS, DataRequest, RetentionPolicy
from permanence.privacy.subjects import Person, Selection


def set_retention(account: Account, typed: dict[str, str], *, actor: Any,
                  request: HttpRequest | None = None) -> RetentionPolicy:  # fmt: skip
    """Each period as typed: a whole number of months from 1 to 120, or empty for the default."""
    policy = RetentionPolicy.for_account(account)
    errors: dict[str, str] = {}
    changes: dict[str, list[Any]] = {}
    for kind in KINDS:
        name = f"{kind}_months"
        raw = (typed.get(name) or "").strip()
        value: int | None = None
        if raw:
            try:
                value = int(raw)
            except ValueError:
                value = -1
            if not 1 <= value <= MAX_MONTHS:
                errors[name] = _("Give a whole number of months from 1 to %(max)d, or leave it empty.") % {
                    "max": MAX_MONTHS}
                continue
        if getattr(policy, name) != value:
            changes[name] = [getattr(policy, name), value]
            setattr(policy, name, value)
    if errors:
        raise ValidationError(errors)
    if changes:
        with transaction.atomic():
            policy.updated_by = actor
            policy.save()
            trail.record(actor, Action.UPDATE, policy, request=request, changes=changes)
    return policy


def _when(raw: str) -> datetime:
    try:
        day = datetime.strptime(raw.strip(), "%Y-%m-%d")
    except ValueError:
        raise ValidationError({"received_at": _("Give the date the request was received.")}) from None
    if not 1900 <= day.year <= 2999:
        raise ValidationError({"received_at": _("Give the date the request was received.")})
    moment = timezone.make_aware(day.replace(hour=12))
    if moment > timezone.now() + timedelta(days=1):
        raise ValidationError({"received_at": _("The request cannot be received in the future.")})
    return moment


def register(account: Account | None, typed: dict[str, str], *, actor: Any,
             request: HttpRequest | None = None) -> DataRequest:  # fmt: skip
    """A request in the register: its kind, who (a phone number, an e-mail or a contact of the account), when
    it was received (today unless said); due one month later. ``account`` None: about every account."""
    errors: dict[str, str] = {}
    item = DataRequest(account=account, created_by=actor, name=(typed.get("name") or "").strip()[:200],
                       notes=(typed.get("notes") or "").strip())  # fmt: skip
    kind = typed.get("kind", "")
    if kind not in DataRequest.Kind.values:
        errors["kind"] = _("Choose the kind of request.")
    item.kind = kind
    for name, clean in (("phone", clean_phone), ("email", clean_email)):
        raw = (typed.get(name) or "").strip()
        if raw:
            try:
                setattr(item, name, clean(raw))
            except ValidationError as error:
                errors[name] = error.message_dict[name][0]
    raw_contact = (typed.get("contact") or "").strip()
    if raw_contact:
        if account is None:
            errors["contact"] = _("A contact belongs to one account: give a phone number or an e-mail.")
        else:
            try:
                item.contact = contact_of(account, raw_contact)
            except ValidationError as error:
                errors["contact"] = error.message_dict["contact"][0]
    if not errors and not (item.phone or item.email or item.contact):
        errors["phone"] = _("Give the person's phone number, e-mail or contact.")
    if (typed.get("received_at") or "").strip():
        try:
            item.received_at = _when(typed["received_at"])
        except ValidationError as error:
            errors.update({k: v[0] for k, v in error.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    if not item.name and item.contact:
        item.name = str(item.contact)[:200]
    with transaction.atomic():
        item.save()
        trail.record(actor, Action.CREATE, item, request=request, kind=item.kind,
                     due=item.due_at.isoformat())  # fmt: skip
    return item


def set_status(item: DataRequest, status: str, notes: str, *, actor: Any,
               request: HttpRequest | None = None) -> DataRequest:  # fmt: skip
    if status not in DataRequest.Status.values:
        raise ValidationError({"status": _("Choose a status.")})
    changes = {}
    if status != item.status:
        changes["status"] = [item.status, status]
    if notes.strip() != item.notes:
        changes["notes"] = True
    if changes:
        with transaction.atomic():
            item.status, item.notes = status, notes.strip()
            if status != DataRequest.Status.OPEN:
                item.handled_by, item.handled_at = actor, timezone.now()
            item.save()
            trail.record(actor, Action.UPDATE, item, request=request, changes=changes)
    return item


def selection(item: DataRequest, accounts: QuerySet[Account]) -> Selection:
    """What the request's person has in these accounts: read once, then passed along (a page, an export
    and an erasure ask it many times)."""
    person = Person.of([item.phone], [item.email], [item.contact_id] if item.contact_id else [])
    return Selection(person, accounts, everywhere=item.account is None)


def subject(item: DataRequest) -> dict[str, Any]:
    return {"label": item.subject_label(), "name": item.name, "phone": item.phone, "email": item.email,
            "contact": item.contact_id}  # fmt: skip


def _scope(accounts: QuerySet[Account], item: DataRequest) -> str:
    if item.account is None:
        return _("Looked for in every account of the answering service.")
    return _("Looked for in the account %(account)s.") % {"account": item.account.name}


def export_zip(item: DataRequest, accounts: QuerySet[Account], *, actor: Any,
               request: HttpRequest | None = None) -> bytes:  # fmt: skip
    """The zip of everything found; one audit row per account where something was found (the export
    reads caller data), or one for the request if nothing was."""
    found = selection(item, accounts)
    data, counts = export.build(found, subject=subject(item), scope=_scope(accounts, item))
    with transaction.atomic():
        item.exported_at = timezone.now()
        item.save(update_fields=["exported_at"])
        where = found.accounts_with_data() or [item.account]
        for account in where:
            trail.record(actor, Action.EXPORT, item, account=account, request=request,
                         counts={k: n for k, n in counts.items() if n})  # fmt: skip
    return data


def erase(item: DataRequest, accounts: QuerySet[Account], *, actor: Any,
          request: HttpRequest | None = None) -> dict[str, Any]:  # fmt: skip
    """Erase what the request's person has in these accounts (``erasure.erase``); the report is kept
    with the request, and one audit row per account touched."""
    if item.kind != DataRequest.Kind.ERASURE:
        raise ValidationError(_("Only a request of erasure erases."))
    found = selection(item, accounts)
    where = found.accounts_with_data() or [item.account]
    report = erasure.erase(found)
    with transaction.atomic():
        item.result, item.erased_at = report, timezone.now()
        item.save(update_fields=["result", "erased_at"])
        for account in where:
            trail.record(actor, Action.DELETE, item, account=account, request=request,
                         erased=report["erased"], kept=len(report["kept"]))  # fmt: skip
    return report


CONTACT_FIELDS = ("first_name", "last_name", "company", "email", "notes",
                  "file_number", "birth_date", "postcode")  # fmt: skip
#: what a scenario's identity check compares: a change is audited without the values (the trail is
#: append-only and outlives an erasure)
IDENTITY_FIELDS = ("file_number", "birth_date", "postcode")
NOT_KEPT = "***"


def rectify(item: DataRequest, contact: Contact, typed: dict[str, str], *, actor: Any,
            request: HttpRequest | None = None) -> dict[str, list[Any]]:  # fmt: skip
    """Correct a contact's fields and numbers (one per line) as the person asks; the changes, before and
    after, in the audit trail."""
    if item.kind != DataRequest.Kind.RECTIFICATION:
        raise ValidationError(_("Only a request of rectification corrects a contact."))
    errors: dict[str, str] = {}
    values = {name: (typed.get(name) or "").strip() for name in CONTACT_FIELDS}
    limits = {f.name: f.max_length for f in Contact._meta.fields if f.name in CONTACT_FIELDS}
    for name, value in values.items():
        if limits.get(name) and len(value) > (limits[name] or 0):
            errors[name] = _("At most %(max)d characters.") % {"max": limits[name]}
    if values["email"]:
        try:
            values["email"] = clean_email(values["email"])
        except ValidationError as error:
            errors["email"] = error.message_dict["email"][0]
    birth_date: date | None = None
    if values["birth_date"]:
        try:
            birth_date = read_birth_date(values["birth_date"])
        except ValidationError as error:
            errors["birth_date"] = error.messages[0]
    if not (values["first_name"] or values["last_name"] or values["company"]):
        errors["last_name"] = _("A contact needs a name or a company.")
    numbers: list[str] = []
    for line in (typed.get("numbers") or "").replace(",", "\n").splitlines():
        if line.strip():
            try:
                number = normalize(line, settings.PHONE_DEFAULT_REGION)
            except PhoneNumberError:
                errors["numbers"] = _("“%(number)s” is not a valid phone number.") % {"number": line.strip()}
                break
            if number not in numbers:
                numbers.append(number)
    if errors:
        raise ValidationError(errors)
    after: dict[str, Any] = {**values, "birth_date": birth_date}
    before_numbers = sorted(contact.numbers.values_list("number", flat=True))
    changes = {name: [NOT_KEPT, NOT_KEPT] if name in IDENTITY_FIELDS else [getattr(contact, name), value]
               for name, value in after.items() if getattr(contact, name) != value}  # fmt: skip
    if sorted(numbers) != before_numbers:
        changes["numbers"] = [before_numbers, sorted(numbers)]
    if changes:
        with transaction.atomic():
            for name, value in after.items():
                setattr(contact, name, value)
            contact.save()
            ContactNumber.objects.filter(contact=contact).exclude(number__in=numbers).delete()
            for number in numbers:
                if number not in before_numbers:
                    ContactNumber.objects.create(contact=contact, account=contact.account, number=number)
            trail.record(actor, Action.UPDATE, contact, request=request, changes=changes,
                         data_request=item.pk)  # fmt: skip
    return changes
