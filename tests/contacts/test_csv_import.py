from datetime import date

import pytest
from django.utils import translation

from permanence.audit.models import AuditEvent
from permanence.contacts import csvio
from permanence.contacts.models import Contact, ContactNumber

GOOD_AND_BAD = """Prénom;Nom;Société;Téléphone;Mobile;E-mail;Étiquettes;Notes;Couleur
Jeanne;Dupuis;;01 40 00 00 01;06 10 00 00 01;jeanne@example.fr;VIP, client;Appelle le lundi;bleu
;;;01 40 00 00 02;;;;;vert
Paul;Henry;;12;;;;;
Marc;Lenoir;;01 40 00 00 03;;pas-un-mail;;;
Luc;Petit;SARL Petit;0033 1 40 00 00 04 / +33 6 10 00 00 04;;;;;
Eva;Doublon;;+33140000001;;;;;
Léa;Vasseur;;;;;;;
"""


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English here; test_report_speaks_french checks the French ones."""
    with translation.override("en"):
        yield


def _import(account, text, encoding="utf-8"):
    return csvio.import_contacts(account, text.encode(encoding))


def test_good_rows_imported_bad_rows_reported(alpha):
    before = Contact.objects.filter(account=alpha).count()
    report = _import(alpha, GOOD_AND_BAD)
    assert report.created == 3  # Dupuis, Petit, Vasseur
    assert report.rejected_lines == 4
    by_line = {(e.line, e.column): e.message for e in report.errors}
    assert "name or a company" in by_line[(3, "")]
    assert "not a valid phone number" in by_line[(4, "Téléphone")]
    assert "e-mail" in by_line[(5, "E-mail")]
    assert "line 2 of this file" in by_line[(7, "Téléphone")]
    assert report.ignored_columns == ["Couleur"]
    assert report.delimiter == ";"
    assert Contact.objects.filter(account=alpha).count() == before + 3
    dupuis = Contact.objects.get(account=alpha, last_name="Dupuis")
    assert sorted(dupuis.numbers.values_list("number", flat=True)) == [
        "+33140000001", "+33610000001"]
    assert dupuis.tag_list == ["vip", "client"]
    assert dupuis.notes == "Appelle le lundi"
    petit = Contact.objects.get(account=alpha, last_name="Petit")
    assert sorted(petit.numbers.values_list("number", flat=True)) == [
        "+33140000004", "+33610000004"]
    # nothing half-written: rejected rows left no contact and no number
    assert not Contact.objects.filter(last_name__in=["Henry", "Lenoir", "Doublon"]).exists()
    assert not ContactNumber.objects.filter(number="+33140000002").exists()
    event = AuditEvent.objects.get(action="import")
    assert event.detail == {"created": 3, "rejected_lines": 4}


def test_number_already_on_an_existing_contact_is_reported(alpha):
    report = _import(alpha, "Nom,Téléphone\nNouveau,06 11 11 11 11\n")
    assert report.created == 0
    assert report.errors[0].line == 2
    assert "already belongs to the contact" in report.errors[0].message
    assert "Albert Client" in report.errors[0].message


def test_same_number_in_another_account_is_fine(alpha, beta):
    report = _import(beta, "Nom,Téléphone\nNouveau,06 11 11 11 11\n")
    assert report.created == 1 and not report.errors


def test_windows_1252_comma_english_headers(alpha):
    text = "first_name,last_name,company,phone,email\nFrançois,Bézier,,0145000055,f@b.fr\n"
    report = _import(alpha, text, encoding="cp1252")
    assert report.encoding == "windows-1252" and report.delimiter == ","
    assert Contact.objects.get(account=alpha, last_name="Bézier").first_name == "François"


def test_quoted_cells_with_delimiters_and_newlines(alpha):
    text = 'Nom;Notes\n"Durand; Fils";"ligne 1\nligne 2"\n'
    report = _import(alpha, text)
    assert report.created == 1
    assert Contact.objects.get(account=alpha, last_name="Durand; Fils").notes == "ligne 1\nligne 2"


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"\n\n", "empty"), (b"\x00\x01\x02PK", "binary"),
     (b"Couleur;Taille\nbleu;XL\n", "No name column"),
     (b"\xff\xfe\x00\x00\x81\x8d", "not text")],
)
def test_unusable_files_are_refused_whole(alpha, data, message):
    before = Contact.objects.count()
    with pytest.raises(csvio.CsvFileError) as info:
        csvio.import_contacts(alpha, data)
    assert message in str(info.value)
    assert Contact.objects.count() == before


def test_row_limit(alpha, settings):
    settings.CONTACTS_IMPORT_MAX_ROWS = 2
    with pytest.raises(csvio.CsvFileError, match="more than 2 rows"):
        _import(alpha, "Nom\nA\nB\nC\n")


def test_too_long_value_is_a_row_error(alpha):
    report = _import(alpha, "Nom;Prénom\nX;" + "a" * 101 + "\n")
    assert report.created == 0
    assert report.errors[0].column == "Prénom"


def test_export_then_import_round_trip(alpha, beta):
    _import(alpha, GOOD_AND_BAD)
    Contact.objects.create(account=alpha, last_name="=HYPERLINK(\"x\")", notes="+cmd")
    Contact.objects.filter(account=alpha, last_name="Dupuis").update(
        file_number="-2024/0153", birth_date=date(1975, 3, 12), postcode="75011")
    exported = "".join(csvio.export_csv_chunks(alpha))
    assert exported.startswith("\ufeffPrénom;Nom;Société;Téléphones;E-mail;Étiquettes;Notes;"
                               "N° de dossier;Date de naissance;Code postal\r\n")
    assert "'=HYPERLINK" in exported and "'+cmd" in exported  # formulas are neutralised
    assert "+33140000001 / +33610000001" in exported  # numbers are not
    assert "Béatrice" not in exported  # Beta's contact
    assert ";-2024/0153;12/03/1975;75011\r\n" in exported  # a date as French spreadsheets write it
    originals = {
        (c.first_name, c.last_name, c.company, c.email, c.tags, c.notes, c.file_number, c.birth_date,
         c.postcode, tuple(sorted(c.numbers.values_list("number", flat=True))))
        for c in Contact.objects.filter(account=alpha)
    }
    Contact.objects.filter(account=alpha).delete()
    report = csvio.import_contacts(alpha, exported.encode("utf-8"))
    assert report.errors == [] and report.created == len(originals)
    again = {
        (c.first_name, c.last_name, c.company, c.email, c.tags, c.notes, c.file_number, c.birth_date,
         c.postcode, tuple(sorted(c.numbers.values_list("number", flat=True))))
        for c in Contact.objects.filter(account=alpha)
    }
    assert again == originals


IDENTITY = """Nom;Prénom;N° de dossier;Date de naissance;CP
Garnier;Claire;AB-2024/0153;12/03/1975;75011
Roux;Paul;ab 77;12 mars 1975;
Petit;Luc;;1975-03-12;69 003
Martin;Anne;X1;31/02/1975;
Henry;Paul;X2;le 12;
Blanc;Eve;X3;12/03/2999;
Noir;Léo;;;
"""


def test_identity_columns_a_bad_date_is_refused_clearly(alpha):
    report = _import(alpha, IDENTITY)
    assert report.created == 4 and report.rejected_lines == 3
    by_line = {(e.line, e.column): e.message for e in report.errors}
    assert set(by_line) == {(5, "Date de naissance"), (6, "Date de naissance"), (7, "Date de naissance")}
    assert by_line[(5, "Date de naissance")] == "“31/02/1975” is not a date: write it like 24/12/1980."
    assert "“le 12” is not a date" in by_line[(6, "Date de naissance")]
    assert "not a possible date of birth" in by_line[(7, "Date de naissance")]
    imported = Contact.objects.filter(account=alpha, last_name__in=["Garnier", "Roux", "Petit", "Noir"])
    kept = {c.last_name: (c.file_number, c.birth_date, c.postcode) for c in imported}
    assert kept == {
        "Garnier": ("AB-2024/0153", date(1975, 3, 12), "75011"),
        "Roux": ("ab 77", date(1975, 3, 12), ""),  # as written: the identity check normalises
        "Petit": ("", date(1975, 3, 12), "69 003"),
        "Noir": ("", None, ""),
    }
    assert not Contact.objects.filter(last_name__in=["Martin", "Henry", "Blanc"]).exists()


def test_english_identity_headers(alpha):
    report = _import(alpha, "Last name,File number,Date of birth,Postcode\nDoe,F-1,1980-12-24,SW1A 1AA\n")
    assert report.errors == [] and report.ignored_columns == []
    doe = Contact.objects.get(account=alpha, last_name="Doe")
    assert (doe.file_number, doe.birth_date, doe.postcode) == ("F-1", date(1980, 12, 24), "SW1A 1AA")


def test_a_row_the_database_refuses_does_not_sink_its_batch(alpha, monkeypatch):
    """Rows go in by batches; if the database refuses one, the batch is retried row by row."""
    from django.db import IntegrityError

    real_save = csvio._save

    def refusing_save(account, rows):
        if any(row.values["last_name"] == "Boum" for row, _contact in rows):
            raise IntegrityError("simulated refusal")
        real_save(account, rows)

    monkeypatch.setattr(csvio, "_save", refusing_save)
    text = "Prénom;Nom;Téléphone\n" + "".join(
        f"P{i};{'Boum' if i == 7 else f'N{i}'};01 40 00 10 {i:02d}\n" for i in range(20)
    )
    before = Contact.objects.filter(account=alpha).count()
    report = _import(alpha, text)
    assert report.created == 19
    assert [(e.line, "simulated refusal" in e.message) for e in report.errors] == [(9, True)]
    assert Contact.objects.filter(account=alpha).count() == before + 19
    assert not Contact.objects.filter(last_name="Boum").exists()
    assert ContactNumber.objects.filter(account=alpha, number="+33140001007").count() == 0
    assert ContactNumber.objects.filter(account=alpha, number="+33140001008").count() == 1


def test_report_speaks_french(alpha):
    with translation.override("fr"):
        report = _import(alpha, GOOD_AND_BAD)
        messages = {(e.line, e.column): str(e.message) for e in report.errors}
        with pytest.raises(csvio.CsvFileError) as info:
            csvio.import_contacts(alpha, b"\x00\x01\x02PK")
        refused = str(info.value)
    assert "nom ou d’une société" in messages[(3, "")]
    assert "ligne 2 de ce fichier" in messages[(7, "Téléphone")]
    assert "binaires" in refused
