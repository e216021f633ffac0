"""Contacts CSV import and export.

Import is forgiving about the file and strict about each row:

* encoding UTF-8 (with or without BOM) or, failing that, Windows-1252 (Excel in
  French); delimiter ``,``, ``;`` or tab, detected from the header line;
* headers in French or English, any case and accents (``Prénom``, ``first_name``);
  several phone columns are allowed (``Téléphone``, ``Mobile``), and one cell may
  hold several numbers separated by ``/``, ``;`` or ``|``;
* optional identity columns (what a scenario's identity check compares): a file number, a postcode
  and a date of birth, read in any common French writing (``12/03/1975``, ``12 mars 1975``,
  ``1975-03-12``: the scenario engine's reading); a date that cannot be read, in the future or
  before 1900 is the row's error;
* every row is checked; a bad row is reported with its line and the column at
  fault and nothing of it is written; good rows are imported, each one whole
  (the contact and all its numbers, or nothing).

Export writes what import reads: UTF-8 with BOM, ``;``-separated, French headers, dates as
``dd/mm/yyyy``.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from permanence.accounts.models import Account
from permanence.accounts.phones import PhoneNumberError, display, normalize
from permanence.contacts.models import Contact, ContactNumber
from permanence.scenarios.engine.identity import IdentityInputError, normalise_date
from permanence.textlists import join_list

FIELDS = ("first_name", "last_name", "company", "phones", "email", "tags", "notes",
          "file_number", "birth_date", "postcode")  # fmt: skip

EXPORT_HEADERS = {
    "first_name": "Prénom",
    "last_name": "Nom",
    "company": "Société",
    "phones": "Téléphones",
    "email": "E-mail",
    "tags": "Étiquettes",
    "notes": "Notes",
    "file_number": "N° de dossier",
    "birth_date": "Date de naissance",
    "postcode": "Code postal",
}

_ALIASES = {
    "first_name": {"prenom", "first name", "firstname", "first_name", "given name"},
    "last_name": {"nom", "nom de famille", "last name", "lastname", "last_name", "surname", "name"},
    "company": {"societe", "entreprise", "company", "organisation", "organization", "raison sociale"},
    "phones": {
        "telephone", "telephones", "tel", "phone", "phones", "mobile", "portable",
        "numero", "numeros", "number", "numbers", "fixe", "telephone mobile",
    },
    "email": {"email", "e-mail", "mail", "courriel", "adresse e-mail", "adresse email"},
    "tags": {"tags", "etiquettes", "etiquette", "labels", "categories"},
    "notes": {"notes", "note", "remarques", "commentaire", "commentaires", "comments"},
    "file_number": {
        "n° de dossier", "no de dossier", "numero de dossier", "n° dossier", "numero dossier", "dossier",
        "reference dossier", "file number", "file_number", "file no", "customer number",
    },
    "birth_date": {
        "date de naissance", "date naissance", "naissance", "ne le", "nee le", "ne(e) le", "ddn",
        "date of birth", "birth date", "birth_date", "birthdate", "dob",
    },
    "postcode": {"code postal", "cp", "postcode", "post code", "postal code", "zip", "zip code"},
}

_MAX_LENGTHS = {
    name: Contact._meta.get_field(name).max_length
    for name in ("first_name", "last_name", "company", "email", "tags", "file_number", "postcode")
}

_PHONE_SPLIT = re.compile(r"[/;|,]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE_LIKE = re.compile(r"^\+?[\d\s./()-]+$")
_DATE_FORMAT = "%d/%m/%Y"
_FIRST_BIRTH_YEAR = 1900


class CsvFileError(ValueError):
    """The file as a whole cannot be read (encoding, no header, too large)."""


@dataclass(frozen=True)
class RowError:
    line: int  # line number in the file, the header being line 1
    column: str  # the header as written in the file, or "" for the whole row
    message: str


@dataclass
class ImportReport:
    created: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    encoding: str = ""
    delimiter: str = ""

    @property
    def rejected_lines(self) -> int:
        return len({e.line for e in self.errors})


def _key(header: str) -> str:
    text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode()
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split()).replace(
        "e mail", "e-mail"
    )


def _field_for(header: str) -> str | None:
    key = _key(header)
    for name, aliases in _ALIASES.items():
        if key in {_key(alias) for alias in aliases}:
            return name
    return None


def _decode(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="strict"), "windows-1252"


def _unescape(cell: str) -> str:
    cell = cell.strip()
    if len(cell) > 1 and cell[0] == "'" and cell[1] in _FORMULA_START:
        return cell[1:]
    return cell


def parse_csv(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]], str, str]:
    """Header, rows with their line numbers, encoding and delimiter. Raises CsvFileError."""
    if len(data) > settings.CONTACTS_IMPORT_MAX_BYTES:
        raise CsvFileError(
            _("The file is larger than %(max)d bytes.") % {"max": settings.CONTACTS_IMPORT_MAX_BYTES}
        )
    try:
        text, encoding = _decode(data)
    except UnicodeDecodeError:
        raise CsvFileError(_("The file is not text (neither UTF-8 nor Windows-1252).")) from None
    if "\x00" in text:
        raise CsvFileError(_("The file is not a CSV file (it contains binary data)."))
    first_line = text.lstrip().split("\n", 1)[0]
    if not first_line.strip():
        raise CsvFileError(_("The file is empty."))
    delimiter = max((";", ",", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise CsvFileError(_("The CSV file is malformed: %(error)s") % {"error": exc}) from None
    # Skip blank lines before the header, keeping line numbers true.
    numbered = [(n, row) for n, row in enumerate(rows, start=1)]
    while numbered and not any(cell.strip() for cell in numbered[0][1]):
        numbered.pop(0)
    if not numbered:
        raise CsvFileError(_("The file is empty."))
    header = [cell.strip() for cell in numbered[0][1]]
    body = [(n, row) for n, row in numbered[1:] if any(cell.strip() for cell in row)]
    if len(body) > settings.CONTACTS_IMPORT_MAX_ROWS:
        raise CsvFileError(
            _("The file has more than %(max)d rows; split it.")
            % {"max": settings.CONTACTS_IMPORT_MAX_ROWS}
        )
    return header, body, encoding, delimiter


@dataclass
class _Row:
    line: int
    values: dict[str, str]
    phones: list[tuple[str, str]]  # (e164, source column)
    birth_date: date | None = None


def _check_row(
    line: int, cells: list[str], header: list[str], columns: dict[int, str], region: str
) -> tuple[_Row | None, list[RowError]]:
    errors: list[RowError] = []
    if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
        errors.append(RowError(line, "", _("More cells than columns in the header.")))
    values: dict[str, str] = {name: "" for name in FIELDS if name not in ("phones", "birth_date")}
    phones: list[tuple[str, str]] = []
    tags: list[str] = []
    birth_date: date | None = None
    for index, name in columns.items():
        cell = _unescape(cells[index]) if index < len(cells) else ""
        column = header[index]
        if name == "phones":
            for raw in _PHONE_SPLIT.split(cell):
                if not raw.strip():
                    continue
                try:
                    number = normalize(raw, region)
                except PhoneNumberError:
                    errors.append(
                        RowError(line, column, _("“%(value)s” is not a valid phone number.")
                                 % {"value": raw.strip()})
                    )
                    continue
                if number not in {p for p, _c in phones}:
                    phones.append((number, column))
        elif name == "tags":
            tags.append(cell)
        elif name == "birth_date":
            try:
                birth_date = read_birth_date(cell) if cell else birth_date
            except ValidationError as exc:
                errors.append(RowError(line, column, exc.messages[0]))
        elif values[name] and cell:
            values[name] = f"{values[name]}\n{cell}" if name == "notes" else values[name]
        else:
            values[name] = cell
    values["tags"] = join_list(tags, lower=True)
    if values["email"]:
        try:
            validate_email(values["email"])
        except ValidationError:
            errors.append(RowError(line, _header_of("email", header, columns),
                                   _("“%(value)s” is not a valid e-mail address.")
                                   % {"value": values["email"]}))
    for name, limit in _MAX_LENGTHS.items():
        if limit and len(values[name]) > limit:
            errors.append(RowError(line, _header_of(name, header, columns),
                                   _("Longer than %(max)d characters.") % {"max": limit}))
    if not (values["first_name"] or values["last_name"] or values["company"]):
        errors.append(RowError(line, "", _("A contact needs a name or a company.")))
    if errors:
        return None, errors
    return _Row(line, values, phones, birth_date), []


def read_birth_date(text: str) -> date:
    """A date of birth as the identity check reads one (24/12/1980, 24.12.80, 1980-12-24, « 24 décembre
    1980 »...); ValidationError when it is not one (unreadable, in the future, before 1900)."""
    today = timezone.localdate()
    try:
        read = date.fromisoformat(normalise_date(text, today))
    except IdentityInputError:
        raise ValidationError(_("“%(value)s” is not a date: write it like 24/12/1980.")
                              % {"value": text.strip()[:40]}) from None
    if read.year < _FIRST_BIRTH_YEAR or read > today:
        raise ValidationError(
            _("“%(value)s” is not a possible date of birth (in the future, or before 1900).")
            % {"value": text.strip()[:40]})
    return read


def _header_of(name: str, header: list[str], columns: dict[int, str]) -> str:
    return next((header[i] for i, n in columns.items() if n == name), name)


def import_contacts(account: Account, data: bytes, *, actor: object = None) -> ImportReport:
    """Import contacts into ``account``. Raises CsvFileError when the file is unusable."""
    from permanence.audit import trail
    from permanence.audit.models import Action

    header, body, encoding, delimiter = parse_csv(data)
    columns: dict[int, str] = {}
    report = ImportReport(encoding=encoding, delimiter=delimiter)
    for index, title in enumerate(header):
        name = _field_for(title)
        if name is None:
            if title:
                report.ignored_columns.append(title)
        elif name in columns.values() and name not in ("phones", "tags", "notes"):
            report.ignored_columns.append(title)
        else:
            columns[index] = name
    if not {"first_name", "last_name", "company"} & set(columns.values()):
        raise CsvFileError(
            _("No name column found. The first line must name the columns, e.g. "
              "“Prénom;Nom;Société;Téléphones;E-mail”.")
        )
    region = settings.PHONE_DEFAULT_REGION
    existing = dict(
        ContactNumber.objects.filter(account=account).values_list("number", "contact_id")
    )
    seen_in_file: dict[str, int] = {}
    accepted: list[tuple[_Row, Contact]] = []
    for line, cells in body:
        row, errors = _check_row(line, cells, header, columns, region)
        if row is not None:
            for number, column in row.phones:
                if number in seen_in_file:
                    errors.append(RowError(line, column, _(
                        "%(number)s is already on line %(line)d of this file."
                    ) % {"number": display(number), "line": seen_in_file[number]}))
                elif number in existing:
                    owner = Contact.objects.filter(pk=existing[number]).first()
                    errors.append(RowError(line, column, _(
                        "%(number)s already belongs to the contact “%(contact)s”."
                    ) % {"number": display(number), "contact": owner}))
        if row is not None and not errors:
            contact = Contact(account=account, birth_date=row.birth_date, **row.values)
            try:
                contact.clean_fields()
            except ValidationError as exc:
                for column_name, messages in exc.message_dict.items():
                    column = _header_of(column_name, header, columns) if column_name in FIELDS else ""
                    errors.extend(RowError(line, column, m) for m in messages)
        if row is None or errors:
            report.errors.extend(errors)
            continue
        for number, _column in row.phones:
            seen_in_file[number] = line
        accepted.append((row, contact))
    with transaction.atomic():
        for start in range(0, len(accepted), _BATCH):
            batch = accepted[start : start + _BATCH]
            try:
                with transaction.atomic():
                    _save(account, batch)
                report.created += len(batch)
            except DatabaseError:
                # Find the rows at fault one by one; the others still go in.
                for row, contact in batch:
                    contact.pk = None
                    try:
                        with transaction.atomic():
                            _save(account, [(row, contact)])
                        report.created += 1
                    except DatabaseError as exc:
                        report.errors.append(RowError(
                            row.line, "", _("Could not be saved: %(error)s") % {"error": exc}))
        report.errors.sort(key=lambda e: e.line)
        trail.record(
            actor, Action.IMPORT, account=account, object_type="contacts.contact",
            object_repr=f"{report.created} contacts", created=report.created,
            rejected_lines=report.rejected_lines,
        )
    return report


_BATCH = 500


def _save(account: Account, rows: list[tuple[_Row, Contact]]) -> None:
    """Insert checked rows: contacts, then their numbers, a few queries per batch."""
    contacts = Contact.objects.bulk_create([contact for _row, contact in rows])
    ContactNumber.objects.bulk_create(
        ContactNumber(contact=contact, account=account, number=number)
        for (row, _contact), contact in zip(rows, contacts, strict=True)
        for number, _column in row.phones
    )


def _escape(cell: str) -> str:
    """Keep spreadsheet programs from running a cell as a formula (CSV injection)."""
    if cell.startswith(_FORMULA_START) and not _PHONE_LIKE.match(cell):
        return "'" + cell
    return cell


def export_rows(contacts: Iterable[Contact]) -> Iterable[list[str]]:
    yield [EXPORT_HEADERS[name] for name in FIELDS]
    for contact in contacts:
        numbers = " / ".join(n.number for n in contact.numbers.all())
        yield [
            _escape(value)
            for value in (
                contact.first_name,
                contact.last_name,
                contact.company,
                numbers,
                contact.email,
                contact.tags,
                contact.notes,
                contact.file_number,
                contact.birth_date.strftime(_DATE_FORMAT) if contact.birth_date else "",
                contact.postcode,
            )
        ]


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_csv_chunks(account: Account) -> Iterable[str]:
    """The account's contacts as CSV text chunks, for a streaming response."""
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
    yield "\ufeff"
    contacts = (
        Contact.objects.filter(account=account).prefetch_related("numbers").order_by("pk")
    )
    for row in export_rows(contacts.iterator(chunk_size=500)):
        yield writer.writerow(row)
