"""The invoice documents, plain Python (no Django): the Factur-X XML, the PDF and the accounting CSV.

A :class:`Document` is an issued invoice or credit note as the client reads it. From it:

- :func:`facturx_xml` makes the Cross Industry Invoice XML of the Factur-X profile EN 16931
  (``urn:cen.eu:en16931:2017``) with the ``factur-x`` library's data-dict API, checked against the XSD.
  One VAT rate per document: category ``S`` (standard rate) when the rate is above 0, ``E`` (exempt) at
  0 %, whose exemption reason (BT-120) is the first legal mention that speaks of VAT (e.g. "TVA non
  applicable, art. 293 B du CGI"). A negative line (a cap, a penalty) is written with a negated quantity
  and a positive net price (EN 16931 BR-27); a credit note (type code 381, an invoice is 380) carries
  positive amounts and the invoice it corrects (BT-25). The seller's SIRET gives its legal registration
  id (BT-30: the SIREN, its first 9 digits, scheme 0002) and its identifier (BT-29: the SIRET, scheme
  0009); the same for the buyer when its SIRET is known. Quantities are in unit C62 ("one").
- :func:`pdf` makes the human-readable document in the document's language, French or English (fpdf2,
  A4), and turns it into a Factur-X PDF/A-3 with the XML embedded as ``factur-x.xml``
  (``facturx.generate_from_binary``). The text uses DejaVu Sans (embedded, so accents, "€" and the
  narrow no-break spaces of French amounts render); when the font files are missing the built-in
  Helvetica is used with Latin-1 text (as the monthly report does), and the file then still carries the
  Factur-X XML but no longer meets PDF/A's embedded-font rule.
- :func:`accounting_csv` makes the sales journal for accounting software: per document, one row for
  the customer account (411, its auxiliary account being the buyer reference), one for the revenue
  (706) and one for the VAT collected (44571, left out at 0 % VAT), each with the VAT rate; an invoice
  debits 411 and credits 706 and 44571, a credit note the reverse, so that each document balances.
  Layout: semicolon separator, dates as DD/MM/YYYY, amounts with a decimal comma and no thousands
  separator, the empty side of a debit/credit pair left empty, CRLF line ends; a text cell that a
  spreadsheet would run as a formula (starting with =, +, -, @) gets a leading apostrophe. The text
  carries no byte-order mark: write it with ``encoding="utf-8-sig"`` for French Excel. It is the
  operator's (its accountant's): always in French.

Every function checks the document first and raises :class:`DocumentError` when amounts do not add
up (the lines' sum against the net, the VAT against net × rate give or take a cent and exactly 0 at
0 %, net + VAT against gross), an amount is not rounded to the cent or a total is negative, or a field
that the invoice needs is missing or malformed (the seller's name, address line, city, country, VAT
id and 14-digit SIRET; the buyer's name and country; a credit note's invoice; at 0 % VAT, a legal
mention giving the exemption). The PDF's words are French or English (``language``: "fr" or "en", the
client account's); the legal mentions and payment terms are written as given. The service is
taken as delivered on the period's last day (BT-72).

What the ``factur-x`` library cannot check here: the EN 16931 schematron (business rules) needs a
Saxon server, which is not used; the rules above that it would check are checked by this module
instead.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import facturx  # type: ignore[import-untyped]
from babel import Locale
from babel.numbers import format_currency, format_decimal
from fpdf import FPDF
from fpdf.fonts import FontFace

LEVEL = "en16931"
INVOICE = "invoice"
CREDIT_NOTE = "credit_note"
TYPE_CODES = {INVOICE: "380", CREDIT_NOTE: "381"}
UNIT_CODE = "C62"  # UN/ECE Recommendation 20: "one"
SCHEME_SIREN = "0002"  # ISO 6523 ICD: SIRENE
SCHEME_SIRET = "0009"  # ISO 6523 ICD: SIRET-CODE
PAYMENT_SEPA_TRANSFER = "58"  # UNTDID 4461

JOURNAL = "VE"
CUSTOMER_ACCOUNT = "411"
REVENUE_ACCOUNT = "706"
VAT_ACCOUNT = "44571"
CSV_HEADERS = (
    "Journal",
    "Date",
    "Pièce",
    "Type",
    "Compte",
    "Compte auxiliaire",
    "Client",
    "Référence client",
    "Libellé",
    "Taux TVA",
    "Débit",
    "Crédit",
    "Échéance",
    "Devise",
)

FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts"),
)
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}

CENT = Decimal("0.01")
_QUANTITY_STEP = Decimal("0.0001")  # Factur-X: at most 4 decimals for quantities and prices
_LOCALE = "fr_FR"  # of the accounting CSV
_KIND_LABELS = {INVOICE: "Facture", CREDIT_NOTE: "Avoir"}  # in the accounting CSV
#: the PDF's words by language (``Document.language``), with its locale for amounts and countries
_WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "locale": "fr_FR", "lang": "fr-FR",
        INVOICE: "Facture", CREDIT_NOTE: "Avoir",
        "number": "N°", "date": "Date", "due": "Échéance", "period": "Période",
        "period_value": "du {start} au {end}", "corrected": "Facture d'origine",
        "reference": "Référence client", "operation": "Opération",
        "operation_value": "prestation de services",
        "client": "Client", "fact": "{label} : {value}",
        "description": "Désignation", "quantity": "Quantité", "unit_price": "Prix unitaire HT",
        "amount": "Montant HT", "net": "Total HT", "vat": "TVA {rate}", "gross": "Total TTC",
        "to_pay": "Net à payer", "credit_amount": "Montant de l'avoir",
        "credit_of": "Avoir sur la facture N° {number}.", "terms": "Conditions de paiement : {terms}",
        "transfer": "Règlement par virement : IBAN {iban}", "quote": "Référence à rappeler : {number}",
        "siret": "SIRET : {siret}", "seller_vat_id": "N° TVA intracommunautaire : {vat_id}",
        "siren": "SIREN : {siren}", "buyer_vat_id": "N° TVA : {vat_id}",
        "foot": "{title} N° {number}", "subject": "{title} du {day} émise par {seller}",
    },
    "en": {
        "locale": "en_GB", "lang": "en-GB",
        INVOICE: "Invoice", CREDIT_NOTE: "Credit note",
        "number": "No.", "date": "Date", "due": "Due date", "period": "Period",
        "period_value": "from {start} to {end}", "corrected": "Original invoice",
        "reference": "Customer reference", "operation": "Supply", "operation_value": "services",
        "client": "Customer", "fact": "{label}: {value}",
        "description": "Description", "quantity": "Quantity", "unit_price": "Net unit price",
        "amount": "Net amount", "net": "Total excl. VAT", "vat": "VAT {rate}",
        "gross": "Total incl. VAT",
        "to_pay": "Amount due", "credit_amount": "Credit note amount",
        "credit_of": "Credit note on invoice No. {number}.", "terms": "Payment terms: {terms}",
        "transfer": "Payment by bank transfer: IBAN {iban}", "quote": "Reference to quote: {number}",
        "siret": "SIRET: {siret}", "seller_vat_id": "EU VAT number: {vat_id}",
        "siren": "SIREN: {siren}", "buyer_vat_id": "VAT number: {vat_id}",
        "foot": "{title} No. {number}", "subject": "{title} of {day} issued by {seller}",
    },
}  # fmt: skip
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NOTE_SUBJECTS = (  # UNTDID 4451 subject codes of the French mandatory mentions (BT-21)
    ("indemnité forfaitaire", "PMT"),
    ("pénalité", "PMD"),
    ("escompte", "AAB"),
)


@dataclass(frozen=True)
class Party:
    name: str
    address_lines: tuple[str, ...] = ()
    postcode: str = ""
    city: str = ""
    country: str = "FR"  # ISO 3166-1 alpha-2
    vat_id: str = ""  # e.g. FR..., may be empty for the buyer
    siret: str = ""  # 14 digits; the legal registration id (SIREN = first 9)
    email: str = ""


@dataclass(frozen=True)
class DocumentLine:
    label: str
    quantity: Decimal
    unit_price: Decimal  # >= 0, or negative for a negative line (written as a negated quantity)
    amount: Decimal  # net, rounded to the cent; may be negative (a cap, a penalty)
    note: str = ""  # e.g. the period "1–14 mars"


@dataclass(frozen=True)
class Document:
    number: str  # e.g. "F2026-000123" or "A2026-000004"
    kind: str  # "invoice" or "credit_note"
    issue_date: date
    due_date: date
    period_start: date
    period_end: date  # inclusive last day
    seller: Party
    buyer: Party
    lines: tuple[DocumentLine, ...]
    vat_rate: Decimal  # e.g. Decimal("0.20")
    net: Decimal
    vat: Decimal
    gross: Decimal
    currency: str = "EUR"
    preceding_invoice: str = ""  # a credit note's invoice number (BT-25)
    buyer_reference: str = ""  # the client account's short name
    payment_terms: str = ""  # free text
    iban: str = ""
    legal_mentions: tuple[str, ...] = ()  # French mandatory mentions (late-payment penalties, 40 € …)
    language: str = "fr"


class DocumentError(ValueError):
    """The document cannot be made: amounts that do not add up or a missing field."""


# -- checks --------------------------------------------------------------------------------------------


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise DocumentError(f"{what} must be a Decimal, not {type(value).__name__}.")
    number = Decimal(value)
    if not number.is_finite():
        raise DocumentError(f"{what} is not a number ({number}).")
    return number


def _money(value: Any, what: str) -> Decimal:
    number = _decimal(value, what)
    if number != number.quantize(CENT):
        raise DocumentError(f"{what} ({number}) is not rounded to the cent.")
    return number


def _digits(text: str) -> str:
    return re.sub(r"[\s.]", "", text)


def _check_party(party: Party, role: str) -> None:
    if not party.name.strip():
        raise DocumentError(f"The {role} has no name.")
    if not re.fullmatch(r"[A-Z]{2}", party.country or ""):
        raise DocumentError(f"The {role}'s country is not an ISO 3166-1 alpha-2 code: {party.country!r}.")
    if party.siret and not re.fullmatch(r"\d{14}", _digits(party.siret)):
        raise DocumentError(f"The {role}'s SIRET must have 14 digits, not {party.siret!r}.")
    if party.vat_id and not re.fullmatch(r"[A-Z]{2}[0-9A-Z+*.]{2,13}", party.vat_id.replace(" ", "")):
        # EN 16931 BR-CO-9: the VAT identifier starts with the country's 2-letter prefix
        raise DocumentError(f"The {role}'s VAT id {party.vat_id!r} does not start with a country prefix.")


def _check(document: Document) -> None:
    """Raise DocumentError unless the document is complete and its amounts add up."""
    if document.kind not in TYPE_CODES:
        raise DocumentError(f"Unknown document kind {document.kind!r}: 'invoice' or 'credit_note'.")
    if not document.number.strip():
        raise DocumentError("The document has no number.")
    if document.language not in _WORDS:
        known = " or ".join(repr(language) for language in _WORDS)
        raise DocumentError(f"Documents are written in {known}, not in {document.language!r}.")
    if not re.fullmatch(r"[A-Z]{3}", document.currency or ""):
        raise DocumentError(f"The currency must be an ISO 4217 code, not {document.currency!r}.")
    seller = document.seller
    _check_party(seller, "seller")
    missing = [
        label
        for label, value in (
            ("address", any(line.strip() for line in seller.address_lines)),
            ("city", seller.city.strip()),
            ("VAT id", seller.vat_id.strip()),
            ("SIRET", seller.siret.strip()),
        )
        if not value
    ]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise DocumentError(f"The seller's {', '.join(missing)} {verb} missing.")
    _check_party(document.buyer, "buyer")
    if document.kind == CREDIT_NOTE and not document.preceding_invoice.strip():
        raise DocumentError(f"The credit note {document.number} does not name the invoice it corrects.")
    if document.period_start > document.period_end:
        raise DocumentError(
            f"The period ends ({document.period_end}) before it starts ({document.period_start})."
        )
    if not document.lines:
        raise DocumentError(f"{document.number} has no line.")
    rate = _decimal(document.vat_rate, "The VAT rate")
    if not Decimal(0) <= rate < 1:
        raise DocumentError(f"The VAT rate is a fraction between 0 and 1 (0.20 for 20 %), not {rate}.")
    net = _money(document.net, "The net total")
    vat = _money(document.vat, "The VAT")
    gross = _money(document.gross, "The gross total")
    lines_sum = Decimal(0)
    for position, line in enumerate(document.lines, start=1):
        if not line.label.strip():
            raise DocumentError(f"Line {position} has no label.")
        _decimal(line.quantity, f"The quantity of line {position}")
        _decimal(line.unit_price, f"The unit price of line {position}")
        lines_sum += _money(line.amount, f"The amount of line {position}")
    if lines_sum != net:
        raise DocumentError(f"The lines of {document.number} add up to {lines_sum}, not to the net {net}.")
    expected_vat = (net * rate).quantize(CENT, rounding=ROUND_HALF_UP)
    if (rate == 0 and vat != 0) or abs(vat - expected_vat) > CENT:
        raise DocumentError(f"The VAT of {document.number} is {vat}, not {net} × {rate} = {expected_vat}.")
    if net + vat != gross:
        raise DocumentError(f"{document.number}: the net {net} plus the VAT {vat} is not the gross {gross}.")
    if net < 0 or gross < 0:
        raise DocumentError(
            f"The totals of {document.number} are negative: a credit note has positive amounts, "
            "and a negative balance is a credit note."
        )
    if rate == 0:
        _exemption_reason(document)


def _exemption_reason(document: Document) -> str:
    for mention in document.legal_mentions:
        if re.search(r"\bTVA\b|\bVAT\b|293 ?B", mention, flags=re.IGNORECASE):
            return mention.strip()
    raise DocumentError(
        f"{document.number} has no VAT: one of its legal mentions must give the reason "
        "(e.g. 'TVA non applicable, art. 293 B du CGI')."
    )


# -- shared helpers ------------------------------------------------------------------------------------


def _written_line(line: DocumentLine) -> tuple[Decimal, Decimal]:
    """The quantity and the non-negative net price written for a line (EN 16931 BR-27): a negative
    price goes into the quantity's sign, and a negative amount gets a negative quantity."""
    quantity = Decimal(line.quantity).quantize(_QUANTITY_STEP, rounding=ROUND_HALF_UP)
    price = Decimal(line.unit_price).quantize(_QUANTITY_STEP, rounding=ROUND_HALF_UP)
    if price < 0:
        quantity, price = -quantity, -price
    if line.amount and price and (quantity * price < 0) != (line.amount < 0):
        quantity = -quantity
    return quantity + 0, price + 0  # "+ 0" turns -0 into 0


def _plain(value: Decimal, minimum_places: int = 0) -> str:
    """A decimal in XML form: no exponent, no trailing zeros beyond ``minimum_places``."""
    text = format(value.normalize(), "f")
    places = len(text.partition(".")[2])
    if places < minimum_places:
        text = format(value.quantize(Decimal(1).scaleb(-minimum_places)), "f")
    return text


def _percent(rate: Decimal) -> Decimal:
    return (Decimal(rate) * 100).quantize(CENT)


def _vat_category(document: Document) -> str:
    return "S" if document.vat_rate > 0 else "E"


def _siren(siret: str) -> str:
    return _digits(siret)[:9]


# -- Factur-X XML --------------------------------------------------------------------------------------


def _party_dict(party: Party) -> dict[str, Any]:
    lines = [line.strip() for line in party.address_lines if line.strip()]
    if len(lines) > 3:
        lines = [*lines[:2], ", ".join(lines[2:])]
    data: dict[str, Any] = {"name": party.name.strip(), "country_code": party.country}
    for key, line in zip(("addr_l1", "addr_l2", "addr_l3"), lines, strict=False):
        data[key] = line
    if party.postcode.strip():
        data["postcode"] = party.postcode.strip()
    if party.city.strip():
        data["city"] = party.city.strip()
    if party.vat_id.strip():
        data["vat_identifier"] = party.vat_id.replace(" ", "")
    if party.siret.strip():
        data["identifiers"] = {SCHEME_SIRET: _digits(party.siret)}
        data["legal_identifier"] = _siren(party.siret)
        data["legal_identifier_schemeid"] = SCHEME_SIREN
    if party.email.strip():
        data["contacts"] = [{"email": party.email.strip()}]
    return data


def _note_subject(mention: str) -> str | None:
    lowered = mention.lower()
    for words, code in _NOTE_SUBJECTS:
        if words in lowered:
            return code
    return None


def _data_dict(document: Document) -> dict[str, Any]:
    category = _vat_category(document)
    percent = _plain(_percent(document.vat_rate), 2)
    lines = []
    for position, line in enumerate(document.lines, start=1):
        quantity, price = _written_line(line)
        lines.append(
            {
                "BT-126": str(position),
                "BT-127-00": [{"BT-127": line.note.strip()}] if line.note.strip() else [],
                "BT-129": _plain(quantity),
                "BT-130": UNIT_CODE,
                "BT-131": f"{line.amount:.2f}",
                "BT-146": _plain(price, 2),
                "BT-151": category,
                "BT-152": percent,
                "BT-153": line.label.strip(),
            }
        )
    breakdown: dict[str, Any] = {
        "BT-116": f"{document.net:.2f}",
        "BT-117": f"{document.vat:.2f}",
        "BT-118": category,
        "BT-119": percent,
    }
    if category == "E":
        breakdown["BT-120"] = _exemption_reason(document)
    notes = []
    for mention in document.legal_mentions:
        if not mention.strip():
            continue
        note = {"BT-22": mention.strip()}
        subject = _note_subject(mention)
        if subject:
            note["BT-21"] = subject
        notes.append(note)
    data: dict[str, Any] = {
        "BT-1": document.number.strip(),
        "BT-2": document.issue_date,
        "BT-3": TYPE_CODES[document.kind],
        "BT-5": document.currency,
        "BT-9": document.due_date,
        "BT-72": document.period_end,  # the service is complete at the period's end
        "BT-73": document.period_start,
        "BT-74": document.period_end,
        "BG-4": _party_dict(document.seller),
        "BG-7": _party_dict(document.buyer),
        "BG-23": [breakdown],
        "BG-25": lines,
        "BT-106": f"{document.net:.2f}",
        "BT-109": f"{document.net:.2f}",
        "BT-110": f"{document.vat:.2f}",
        "BT-112": f"{document.gross:.2f}",
        "BT-115": f"{document.gross:.2f}",
    }
    if notes:
        data["BG-1"] = notes
    if document.buyer_reference.strip():
        data["BT-10"] = document.buyer_reference.strip()
    if document.payment_terms.strip():
        data["BT-20"] = document.payment_terms.strip()
    if document.preceding_invoice.strip():
        data["BG-3"] = [{"BT-25": document.preceding_invoice.strip()}]
    if document.kind == INVOICE and document.iban.strip():
        data["BT-81"] = PAYMENT_SEPA_TRANSFER
        data["BT-83"] = document.number.strip()
        data["BT-84"] = document.iban.replace(" ", "").upper()
    return data


def facturx_xml(document: Document) -> bytes:
    """The Factur-X XML (CII, profile EN 16931) of the document, checked against the Factur-X XSD."""
    _check(document)
    try:
        data = _data_dict(document)
        xml = facturx.generate_cii_xml(data, level=LEVEL, check_xsd=True, check_schematron=False)
    except Exception as error:  # the library raises bare Exception when the XSD check fails
        raise DocumentError(f"The Factur-X XML of {document.number} cannot be made: {error}") from error
    return bytes(xml)


# -- PDF -----------------------------------------------------------------------------------------------


def _font_files() -> dict[str, Path] | None:
    for folder in FONT_DIRS:
        files = {style: folder / name for style, name in FONT_FILES.items()}
        if all(path.is_file() for path in files.values()):
            return files
    return None


def _latin(text: str) -> str:
    """Text for the built-in fonts (Latin-1 only), when no Unicode font is at hand."""
    for char, replacement in (
        ("\u202f", "\xa0"),
        ("’", "'"),
        ("–", "-"),
        ("—", "-"),
        ("\u2212", "-"),
        ("…", "..."),
        ("€", "EUR"),
        ("œ", "oe"),
        ("Œ", "OE"),
    ):
        text = text.replace(char, replacement)
    return text.encode("latin-1", "replace").decode("latin-1")


def _amount_text(value: Decimal, currency: str, locale: str = _LOCALE) -> str:
    return str(format_currency(value, currency, locale=locale))


def _price_text(value: Decimal, currency: str, locale: str = _LOCALE) -> str:
    # up to 4 decimals: a price per minute may be 0,045 €
    pattern = "#,##0.00##\xa0¤" if locale.startswith("fr") else "¤#,##0.00##"
    return str(format_currency(value, currency, format=pattern, locale=locale, currency_digits=False))


def _quantity_text(value: Decimal, locale: str = _LOCALE) -> str:
    return str(format_decimal(value, format="#,##0.####", locale=locale))


def _rate_text(rate: Decimal, locale: str = _LOCALE) -> str:
    return f"{format_decimal(_percent(rate), format='#,##0.##', locale=locale)}\xa0%"


def _day(value: date) -> str:
    return f"{value:%d/%m/%Y}"


def _iban_text(iban: str) -> str:
    compact = iban.replace(" ", "").upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def _country(code: str, locale: str = _LOCALE) -> str:
    return str(Locale.parse(locale).territories.get(code, code))


def _party_lines(party: Party, *, seller: bool, words: dict[str, str] = _WORDS["fr"]) -> list[str]:
    lines = [line.strip() for line in party.address_lines if line.strip()]
    town = f"{party.postcode.strip()} {party.city.strip()}".strip()
    if town:
        lines.append(town)
    if party.country != "FR":
        lines.append(_country(party.country, words["locale"]))
    if seller:
        lines.append(words["siret"].format(siret=_digits(party.siret)))
        lines.append(words["seller_vat_id"].format(vat_id=party.vat_id.replace(" ", "")))
        if party.email.strip():
            lines.append(party.email.strip())
    else:
        if party.siret.strip():
            lines.append(words["siren"].format(siren=_siren(party.siret)))
        if party.vat_id.strip():
            lines.append(words["buyer_vat_id"].format(vat_id=party.vat_id.replace(" ", "")))
    return lines


class _Sheet(FPDF):
    """An A4 page with the document's number and the page count at the foot."""

    def __init__(self, foot: str, family: str, **kwargs: Any) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4", **kwargs)
        self.foot = foot
        self.family = family

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 7)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"{self.foot} - page {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def _visual_pdf(document: Document) -> bytes:
    fonts = _font_files()
    text = (lambda value: value) if fonts else _latin
    family = "DejaVu" if fonts else "Helvetica"
    words = _WORDS[document.language]
    locale = words["locale"]
    title = words[document.kind]
    currency = document.currency
    compliance = "PDFA_3B" if fonts else None  # PDF/A wants embedded fonts: the built-in ones are not
    sheet = _Sheet(text(words["foot"].format(title=title, number=document.number)), family,
                   enforce_compliance=compliance)  # fmt: skip
    if fonts:
        for style, path in fonts.items():
            sheet.add_font(family, style, str(path))
    sheet.set_margins(15, 15, 15)
    sheet.set_auto_page_break(True, margin=18)
    sheet.set_title(text(f"{title} {document.number}"))
    sheet.set_author(text(document.seller.name))
    sheet.set_subject(text(f"{title} {document.number} - {document.buyer.name}"))
    sheet.set_creator("Permanence")
    sheet.set_lang(words["lang"])
    sheet.add_page()

    # the seller on the left; the title, the facts and the buyer on the right
    top = sheet.get_y()
    left_width = 88.0
    right_x = sheet.l_margin + 95
    right_width = sheet.epw - 95
    sheet.set_font(family, "B", 12)
    sheet.multi_cell(left_width, 6, text(document.seller.name), new_x="LMARGIN", new_y="NEXT")
    sheet.set_font(family, "", 8.5)
    for part in _party_lines(document.seller, seller=True, words=words):
        sheet.multi_cell(left_width, 4.3, text(part), new_x="LMARGIN", new_y="NEXT")
    left_bottom = sheet.get_y()

    sheet.set_xy(right_x, top)
    sheet.set_font(family, "B", 20)
    sheet.cell(right_width, 10, text(title), align="R", new_x="LEFT", new_y="NEXT")
    period = words["period_value"].format(start=_day(document.period_start), end=_day(document.period_end))
    facts = [
        (words["number"], document.number),
        (words["date"], _day(document.issue_date)),
        (words["due"], _day(document.due_date)),
        (words["period"], period),
    ]
    if document.preceding_invoice.strip():
        facts.append((words["corrected"], document.preceding_invoice.strip()))
    if document.buyer_reference.strip():
        facts.append((words["reference"], document.buyer_reference.strip()))
    facts.append((words["operation"], words["operation_value"]))
    sheet.set_font(family, "", 9)
    for label, value in facts:
        sheet.set_x(right_x)
        fact = text(words["fact"].format(label=label, value=value))
        sheet.multi_cell(right_width, 4.8, fact, align="R", new_x="LEFT", new_y="NEXT")

    box_top = sheet.get_y() + 4
    sheet.set_xy(right_x + 2, box_top + 2)
    sheet.set_font(family, "", 7.5)
    sheet.set_text_color(110, 110, 110)
    sheet.cell(right_width - 4, 4, text(words["client"]), new_x="LEFT", new_y="NEXT")
    sheet.set_text_color(0, 0, 0)
    sheet.set_font(family, "B", 10)
    sheet.multi_cell(right_width - 4, 5, text(document.buyer.name), new_x="LEFT", new_y="NEXT")
    sheet.set_font(family, "", 9)
    for part in _party_lines(document.buyer, seller=False, words=words):
        sheet.multi_cell(right_width - 4, 4.5, text(part), new_x="LEFT", new_y="NEXT")
    box_bottom = sheet.get_y() + 2
    sheet.set_draw_color(180, 180, 180)
    sheet.rect(right_x, box_top, right_width, box_bottom - box_top)
    sheet.set_xy(sheet.l_margin, max(left_bottom, box_bottom) + 8)

    # the lines: they wrap, and the headings come again on each new page
    heading = FontFace(emphasis="BOLD", fill_color=(235, 235, 235))
    sheet.set_font(family, "", 9)
    with sheet.table(
        col_widths=(90, 22, 34, 34),
        line_height=4.6,
        headings_style=heading,
        borders_layout="HORIZONTAL_LINES",
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
        v_align="TOP",
        padding=(0.8, 1.5),
        repeat_headings=1,
    ) as table:
        row = table.row()
        for label in (words["description"], words["quantity"], words["unit_price"], words["amount"]):
            row.cell(text(label))
        for line in document.lines:
            quantity, price = _written_line(line)
            label = line.label.strip() + (f"\n{line.note.strip()}" if line.note.strip() else "")
            row = table.row()
            row.cell(text(label))
            row.cell(text(_quantity_text(quantity, locale)))
            row.cell(text(_price_text(price, currency, locale)))
            row.cell(text(_amount_text(line.amount, currency, locale)))

    # the totals, kept together on one page
    totals = [
        (words["net"], document.net, False),
        (words["vat"].format(rate=_rate_text(document.vat_rate, locale)), document.vat, False),
        (words["gross"], document.gross, False),
        (words["to_pay"] if document.kind == INVOICE else words["credit_amount"], document.gross, True),
    ]
    if sheet.will_page_break(6.5 * len(totals) + 6):
        sheet.add_page()
    sheet.ln(4)
    label_x = sheet.l_margin + sheet.epw - 90
    for label, total, strong in totals:
        sheet.set_font(family, "B" if strong else "", 11 if strong else 9.5)
        if strong:
            sheet.line(label_x, sheet.get_y() + 0.5, sheet.l_margin + sheet.epw, sheet.get_y() + 0.5)
            sheet.ln(1)
        sheet.set_x(label_x)
        sheet.cell(55, 6.5 if strong else 5.5, text(label), align="R")
        sheet.cell(35, 6.5 if strong else 5.5, text(_amount_text(total, currency, locale)), align="R",
                   new_x="LMARGIN", new_y="NEXT")  # fmt: skip

    # payment, then the legal mentions
    sheet.ln(6)
    sheet.set_font(family, "", 9)
    payment = []
    if document.kind == CREDIT_NOTE:
        payment.append(words["credit_of"].format(number=document.preceding_invoice.strip()))
    if document.kind == INVOICE:
        if document.payment_terms.strip():
            payment.append(words["terms"].format(terms=document.payment_terms.strip()))
        if document.iban.strip():
            payment.append(words["transfer"].format(iban=_iban_text(document.iban)))
        payment.append(words["quote"].format(number=document.number))
    for sentence in payment:
        sheet.multi_cell(0, 4.6, text(sentence), new_x="LMARGIN", new_y="NEXT")
    mentions = [mention.strip() for mention in document.legal_mentions if mention.strip()]
    if mentions:
        sheet.ln(4)
        sheet.set_font(family, "", 7.5)
        sheet.set_text_color(70, 70, 70)
        for mention in mentions:
            sheet.multi_cell(0, 3.6, text(mention), new_x="LMARGIN", new_y="NEXT")
        sheet.set_text_color(0, 0, 0)
    return bytes(sheet.output())


def pdf(document: Document) -> bytes:
    """The document as a Factur-X PDF/A-3 (profile EN 16931): the PDF in its language with factur-x.xml
    inside."""
    xml = facturx_xml(document)
    words = _WORDS[document.language]
    title = f"{words[document.kind]} {document.number}"
    metadata = {
        "author": document.seller.name,
        "keywords": "Factur-X, " + words[document.kind],
        "title": words["fact"].format(label=document.seller.name, value=title),
        "subject": words["subject"].format(
            title=title, day=_day(document.issue_date), seller=document.seller.name
        ),
    }
    try:
        result = facturx.generate_from_binary(
            _visual_pdf(document),
            xml,
            flavor="factur-x",
            level=LEVEL,
            check_xsd=True,
            pdf_metadata=metadata,
            lang=words["lang"],
        )
    except Exception as error:  # the library raises bare Exception on a failed check
        raise DocumentError(f"The Factur-X PDF of {document.number} cannot be made: {error}") from error
    return bytes(result)


# -- accounting CSV ------------------------------------------------------------------------------------


def _csv_amount(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",") if value else ""


def _csv_text(value: str) -> str:
    """Keep spreadsheet programs from running a cell as a formula (CSV injection)."""
    value = value.strip()
    return "'" + value if value.startswith(_FORMULA_START) else value


def _journal_rows(document: Document) -> Iterable[Sequence[str]]:
    title = _KIND_LABELS[document.kind]
    label = _csv_text(f"{title} {document.number} {document.buyer.name}")
    rate = format_decimal(_percent(document.vat_rate), format="0.##", locale=_LOCALE)
    common = {
        "journal": JOURNAL,
        "date": _day(document.issue_date),
        "number": _csv_text(document.number),
        "kind": title,
        "buyer": _csv_text(document.buyer.name),
        "reference": _csv_text(document.buyer_reference),
        "due": _day(document.due_date),
    }
    entries = [(CUSTOMER_ACCOUNT, _csv_text(document.buyer_reference), "", document.gross, Decimal(0))]
    entries.append((REVENUE_ACCOUNT, "", rate, Decimal(0), document.net))
    if document.vat:
        entries.append((VAT_ACCOUNT, "", rate, Decimal(0), document.vat))
    for account, auxiliary, row_rate, debit, credit in entries:
        if document.kind == CREDIT_NOTE:
            debit, credit = credit, debit
        yield (
            common["journal"],
            common["date"],
            common["number"],
            common["kind"],
            account,
            auxiliary,
            common["buyer"],
            common["reference"],
            label,
            row_rate,
            _csv_amount(debit),
            _csv_amount(credit),
            common["due"],
            document.currency,
        )


def accounting_csv(documents: Iterable[Document]) -> str:
    """The sales journal of the documents (see the module's docstring for the layout)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADERS)
    for document in documents:
        _check(document)
        writer.writerows(_journal_rows(document))
    return out.getvalue()
