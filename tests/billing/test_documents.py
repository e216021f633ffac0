"""The invoice documents: the Factur-X XML (checked with the factur-x library's own functions and read
back with lxml), the PDF/A-3 around it, and the accounting CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import facturx
import pytest
from babel.numbers import format_currency
from lxml import etree
from pypdf import PdfReader

from permanence.billing import documents
from permanence.billing.documents import Document, DocumentError, DocumentLine, Party

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
SETTLEMENT = "//ram:ApplicableHeaderTradeSettlement"
TOTALS = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
SELLER = "//ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty"
PRICE = "//ram:NetPriceProductTradePrice/ram:ChargeAmount"
LINE_CATEGORIES = "//ram:IncludedSupplyChainTradeLineItem//ram:CategoryCode/text()"
LONG_LABEL = "transfert vers le standard avec un libellé assez long pour passer à la ligne"

SELLER_PARTY = Party(
    name="Accueil Téléphonique SAS",
    address_lines=("12 rue de la Paix", "Bâtiment B"),
    postcode="75002",
    city="Paris",
    vat_id="FR32123456789",
    siret="12345678900017",
    email="factures@accueil.example",
)
BUYER_PARTY = Party(
    name="Cabinet Dupont & Fils",
    address_lines=("3 avenue Jean Jaurès",),
    postcode="69007",
    city="Lyon",
    siret="98765432100011",
)
MENTIONS = (
    "Pénalités de retard : trois fois le taux d'intérêt légal.",
    "Indemnité forfaitaire pour frais de recouvrement : 40 €.",
    "Pas d'escompte pour paiement anticipé.",
)


def invoice(**changes: object) -> Document:
    """An invoice with a zero-priced line, a negative price (a cap) and a negative quantity (a penalty)."""
    base = Document(
        number="F2026-000123",
        kind="invoice",
        issue_date=date(2026, 4, 1),
        due_date=date(2026, 5, 1),
        period_start=date(2026, 3, 1),
        period_end=date(2026, 3, 31),
        seller=SELLER_PARTY,
        buyer=BUYER_PARTY,
        lines=(
            DocumentLine("Forfait « Essentiel »", Decimal("1"), Decimal("1150.0000"), Decimal("1150.00")),
            DocumentLine("Appels inclus", Decimal("120"), Decimal("0"), Decimal("0.00"), note="1–31 mars"),
            DocumentLine("Appels hors forfait", Decimal("37"), Decimal("0.4500"), Decimal("16.65")),
            DocumentLine("Plafond mensuel", Decimal("1"), Decimal("-6.6500"), Decimal("-6.65")),
            DocumentLine("Pénalité de service", Decimal("-2"), Decimal("5.0000"), Decimal("-10.00")),
        ),
        vat_rate=Decimal("0.2000"),
        net=Decimal("1150.00"),
        vat=Decimal("230.00"),
        gross=Decimal("1380.00"),
        buyer_reference="dupont",
        payment_terms="Paiement à 30 jours.",
        iban="FR76 3000 6000 0112 3456 7890 189",
        legal_mentions=MENTIONS,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def credit_note() -> Document:
    return invoice(
        number="A2026-000004",
        kind="credit_note",
        issue_date=date(2026, 4, 10),
        due_date=date(2026, 4, 10),
        lines=(DocumentLine("Appels contestés", Decimal("3"), Decimal("0.4500"), Decimal("1.35")),),
        net=Decimal("1.35"),
        vat=Decimal("0.27"),
        gross=Decimal("1.62"),
        preceding_invoice="F2026-000123",
    )


def exempt() -> Document:
    return invoice(
        number="F2026-000124",
        lines=(DocumentLine("Forfait mensuel", Decimal("1"), Decimal("90"), Decimal("90.00")),),
        vat_rate=Decimal("0"),
        net=Decimal("90.00"),
        vat=Decimal("0.00"),
        gross=Decimal("90.00"),
        legal_mentions=("TVA non applicable, art. 293 B du CGI", *MENTIONS),
    )


def xml_of(document: Document) -> etree._Element:
    return etree.fromstring(documents.facturx_xml(document))


def one(root: etree._Element, path: str) -> str:
    found = root.xpath(path, namespaces=NS)
    assert len(found) == 1, f"{path}: {found}"
    return str(found[0].text if hasattr(found[0], "text") else found[0])


def money(root: etree._Element, path: str) -> Decimal:
    return Decimal(one(root, path))


def plain_spaces(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def pdf_text(data: bytes) -> str:
    return plain_spaces("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


@pytest.fixture(scope="module")
def invoice_pdf() -> bytes:
    return documents.pdf(invoice())


# -- the Factur-X XML, as the library reads it -----------------------------------------------------------


def test_the_pdf_embeds_a_factur_x_en16931_xml_that_passes_the_xsd(invoice_pdf):
    filename, xml = facturx.get_xml_from_pdf(invoice_pdf, check_xsd=False)
    assert filename == "factur-x.xml"
    root = etree.fromstring(xml)
    assert facturx.get_flavor(root) == "factur-x"
    assert facturx.get_level(root) == "en16931"
    guideline = "//rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"
    assert one(root, guideline) == "urn:cen.eu:en16931:2017"
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert xml == documents.facturx_xml(invoice())  # the embedded XML is the module's XML


def test_the_xsd_check_fails_on_a_broken_xml():
    """The library's check used above does refuse an invalid document."""
    xml = documents.facturx_xml(invoice()).replace(b"<ram:TypeCode>380</ram:TypeCode>", b"")
    with pytest.raises(Exception, match="XML Schema"):
        facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")


def test_invoice_totals_add_up_in_the_xml():
    root = xml_of(invoice())
    assert one(root, "//rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert one(root, "//rsm:ExchangedDocument/ram:ID") == "F2026-000123"
    line_totals = [
        Decimal(t)
        for t in root.xpath(
            "//ram:IncludedSupplyChainTradeLineItem//ram:SpecifiedTradeSettlementLineMonetarySummation"
            "/ram:LineTotalAmount/text()",
            namespaces=NS,
        )
    ]
    assert len(line_totals) == 5
    assert money(root, f"{TOTALS}/ram:LineTotalAmount") == sum(line_totals) == Decimal("1150.00")  # BT-106
    assert money(root, f"{TOTALS}/ram:TaxBasisTotalAmount") == Decimal("1150.00")  # BT-109
    assert money(root, f"{TOTALS}/ram:TaxTotalAmount[@currencyID='EUR']") == Decimal("230.00")  # BT-110
    assert money(root, f"{TOTALS}/ram:GrandTotalAmount") == Decimal("1380.00")  # BT-112
    assert money(root, f"{TOTALS}/ram:DuePayableAmount") == Decimal("1380.00")  # BT-115
    assert one(root, f"{SETTLEMENT}/ram:InvoiceCurrencyCode") == "EUR"
    breakdown = root.xpath(f"{SETTLEMENT}/ram:ApplicableTradeTax", namespaces=NS)
    assert len(breakdown) == 1
    assert one(breakdown[0], "ram:CategoryCode") == "S"
    assert Decimal(one(breakdown[0], "ram:RateApplicablePercent")) == 20
    assert money(breakdown[0], "ram:BasisAmount") == Decimal("1150.00")
    assert money(breakdown[0], "ram:CalculatedAmount") == Decimal("230.00")


def test_no_negative_price_and_negative_lines_carry_a_negative_quantity():
    root = xml_of(invoice())
    items = root.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
    prices = [Decimal(p) for p in root.xpath(f"{PRICE}/text()", namespaces=NS)]
    assert len(prices) == 5 and min(prices) >= 0  # BR-27
    by_name = {one(item, "ram:SpecifiedTradeProduct/ram:Name"): item for item in items}
    cap = by_name["Plafond mensuel"]  # given as 1 × -6.65
    assert Decimal(one(cap, ".//ram:BilledQuantity")) == -1
    assert Decimal(one(cap, ".//ram:NetPriceProductTradePrice/ram:ChargeAmount")) == Decimal("6.65")
    assert Decimal(one(cap, ".//ram:LineTotalAmount")) == Decimal("-6.65")
    penalty = by_name["Pénalité de service"]  # given as -2 × 5.00
    assert Decimal(one(penalty, ".//ram:BilledQuantity")) == -2
    assert Decimal(one(penalty, ".//ram:NetPriceProductTradePrice/ram:ChargeAmount")) == 5
    included = by_name["Appels inclus"]  # the zero-priced line
    assert Decimal(one(included, ".//ram:BilledQuantity")) == 120
    assert Decimal(one(included, ".//ram:NetPriceProductTradePrice/ram:ChargeAmount")) == 0
    assert one(included, ".//ram:AssociatedDocumentLineDocument/ram:IncludedNote/ram:Content") == "1–31 mars"
    assert set(root.xpath("//ram:BilledQuantity/@unitCode", namespaces=NS)) == {"C62"}
    assert set(root.xpath(LINE_CATEGORIES, namespaces=NS)) == {"S"}


def test_parties_dates_and_payment_in_the_xml():
    root = xml_of(invoice())
    assert one(root, f"{SELLER}/ram:Name") == "Accueil Téléphonique SAS"
    assert one(root, f"{SELLER}/ram:SpecifiedLegalOrganization/ram:ID") == "123456789"  # the SIREN (BT-30)
    assert one(root, f"{SELLER}/ram:SpecifiedLegalOrganization/ram:ID/@schemeID") == "0002"
    assert one(root, f"{SELLER}/ram:GlobalID[@schemeID='0009']") == "12345678900017"  # the SIRET (BT-29)
    assert one(root, f"{SELLER}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == "FR32123456789"
    assert one(root, f"{SELLER}/ram:PostalTradeAddress/ram:CountryID") == "FR"
    assert one(root, f"{SELLER}/ram:PostalTradeAddress/ram:CityName") == "Paris"
    buyer = "//ram:ApplicableHeaderTradeAgreement/ram:BuyerTradeParty"
    assert one(root, f"{buyer}/ram:Name") == "Cabinet Dupont & Fils"
    assert one(root, "//ram:ApplicableHeaderTradeAgreement/ram:BuyerReference") == "dupont"
    assert one(root, "//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == "20260401"
    due = f"{SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"
    assert one(root, due) == "20260501"
    period = f"{SETTLEMENT}/ram:BillingSpecifiedPeriod"
    assert one(root, f"{period}/ram:StartDateTime/udt:DateTimeString") == "20260301"
    assert one(root, f"{period}/ram:EndDateTime/udt:DateTimeString") == "20260331"
    means = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans"
    assert one(root, f"{means}/ram:TypeCode") == "58"
    iban = f"{means}/ram:PayeePartyCreditorFinancialAccount/ram:IBANID"
    assert one(root, iban) == "FR7630006000011234567890189"
    notes = root.xpath("//rsm:ExchangedDocument/ram:IncludedNote", namespaces=NS)
    assert [one(n, "ram:Content") for n in notes] == list(MENTIONS)
    assert [n.findtext("ram:SubjectCode", namespaces=NS) for n in notes] == ["PMD", "PMT", "AAB"]


def test_credit_note_has_type_381_positive_amounts_and_the_preceding_invoice():
    root = xml_of(credit_note())
    assert one(root, "//rsm:ExchangedDocument/ram:TypeCode") == "381"
    preceding = f"{SETTLEMENT}/ram:InvoiceReferencedDocument/ram:IssuerAssignedID"  # BT-25
    assert one(root, preceding) == "F2026-000123"
    assert money(root, f"{TOTALS}/ram:LineTotalAmount") == Decimal("1.35")
    assert money(root, f"{TOTALS}/ram:TaxTotalAmount") == Decimal("0.27")
    assert money(root, f"{TOTALS}/ram:DuePayableAmount") == Decimal("1.62")
    assert not root.xpath(f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans", namespaces=NS)
    assert facturx.xml_check_xsd(etree.tostring(root), flavor="factur-x", level="en16931")


def test_credit_note_pdf(tmp_path: Path):
    data = documents.pdf(credit_note())
    filename, xml = facturx.get_xml_from_pdf(data)
    assert filename == "factur-x.xml"
    assert one(etree.fromstring(xml), "//rsm:ExchangedDocument/ram:TypeCode") == "381"
    text = pdf_text(data)
    assert "Avoir" in text and "A2026-000004" in text
    assert "Avoir sur la facture N° F2026-000123" in text
    assert "Montant de l'avoir" in text and "Net à payer" not in text
    assert "1,62 €" in text


def test_zero_rate_is_exempt_with_its_reason():
    root = xml_of(exempt())
    breakdown = f"{SETTLEMENT}/ram:ApplicableTradeTax"
    assert one(root, f"{breakdown}/ram:CategoryCode") == "E"
    assert Decimal(one(root, f"{breakdown}/ram:RateApplicablePercent")) == 0
    assert one(root, f"{breakdown}/ram:ExemptionReason") == "TVA non applicable, art. 293 B du CGI"
    assert money(root, f"{breakdown}/ram:CalculatedAmount") == 0
    assert set(root.xpath(LINE_CATEGORIES, namespaces=NS)) == {"E"}
    assert money(root, f"{TOTALS}/ram:GrandTotalAmount") == Decimal("90.00")
    filename, xml = facturx.get_xml_from_pdf(documents.pdf(exempt()))
    assert filename == "factur-x.xml" and facturx.get_level(etree.fromstring(xml)) == "en16931"


# -- what is refused --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"net": Decimal("1151.00"), "vat": Decimal("230.20"), "gross": Decimal("1381.20")}, "add up"),
        ({"gross": Decimal("1380.01")}, "is not the gross"),
        ({"vat": Decimal("229.00"), "gross": Decimal("1379.00")}, "The VAT of F2026-000123 is 229.00"),
        ({"seller": dataclasses.replace(SELLER_PARTY, vat_id="")}, "seller's VAT id is missing"),
        ({"seller": dataclasses.replace(SELLER_PARTY, siret="", address_lines=())}, "address, SIRET are"),
        ({"seller": dataclasses.replace(SELLER_PARTY, name=" ")}, "seller has no name"),
        ({"seller": dataclasses.replace(SELLER_PARTY, country="")}, "seller's country"),
        ({"seller": dataclasses.replace(SELLER_PARTY, siret="1234")}, "14 digits"),
        ({"buyer": dataclasses.replace(BUYER_PARTY, name="")}, "buyer has no name"),
        ({"kind": "credit_note"}, "does not name the invoice"),
        ({"kind": "quote"}, "Unknown document kind"),
        ({"net": Decimal("1150.001")}, "not rounded to the cent"),
        ({"lines": ()}, "has no line"),
        ({"period_end": date(2026, 2, 28)}, "before it starts"),
        ({"language": "de"}, "written in .fr. or .en., not in .de."),
        ({"vat_rate": Decimal("0"), "vat": Decimal("0.00"), "gross": Decimal("1150.00")}, "give the reason"),
    ],
)
def test_documents_that_do_not_hold_are_refused(changes, message):
    bad = invoice(**changes)
    for make in (documents.facturx_xml, documents.pdf, lambda d: documents.accounting_csv([d])):
        with pytest.raises(DocumentError, match=message):
            make(bad)


def test_negative_totals_are_refused():
    lines = (DocumentLine("Remise", Decimal("1"), Decimal("-10"), Decimal("-10.00")),)
    bad = invoice(lines=lines, net=Decimal("-10.00"), vat=Decimal("-2.00"), gross=Decimal("-12.00"))
    with pytest.raises(DocumentError, match="negative"):
        documents.facturx_xml(bad)


# -- the PDF ----------------------------------------------------------------------------------------------


def test_the_pdf_is_pdf_a_3_with_embedded_fonts(invoice_pdf):
    reader = PdfReader(io.BytesIO(invoice_pdf))
    xmp = reader.xmp_metadata
    assert xmp is not None
    part = xmp.rdf_root.getElementsByTagNameNS("http://www.aiim.org/pdfa/ns/id/", "part")
    conformance = xmp.rdf_root.getElementsByTagNameNS("http://www.aiim.org/pdfa/ns/id/", "conformance")
    assert [node.firstChild.data for node in part] == ["3"]
    assert [node.firstChild.data for node in conformance] == ["B"]
    root = reader.trailer["/Root"]
    assert root["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    assert root["/AF"][0].get_object()["/AFRelationship"] == "/Data"
    fonts = [font.get_object() for font in reader.pages[0]["/Resources"]["/Font"].values()]
    # embedded TrueType (DejaVu), not the built-in Helvetica
    assert fonts and all("/DescendantFonts" in font for font in fonts)
    assert reader.metadata is not None and "F2026-000123" in str(reader.metadata.title)


def test_the_pdf_reads_in_french(invoice_pdf):
    text = pdf_text(invoice_pdf)
    for label in ("Facture", "N° : F2026-000123", "Date : 01/04/2026", "Échéance : 01/05/2026", "Période",
                  "Désignation", "Quantité", "Prix unitaire HT", "Montant HT", "Total HT", "TVA 20 %",
                  "Total TTC", "Net à payer"):  # fmt: skip
        assert label in text, label
    assert "Cabinet Dupont & Fils" in text and "Accueil Téléphonique SAS" in text
    total = plain_spaces(format_currency(Decimal("1380.00"), "EUR", locale="fr_FR"))
    assert total == "1 380,00 €"
    assert f"Net à payer {total}" in text
    assert "1 150,00 €" in text and "-6,65 €" in text and "0,45 €" in text
    assert "SIRET : 12345678900017" in text and "FR32123456789" in text
    assert "FR76 3000 6000 0112 3456 7890 189" in text
    for mention in MENTIONS:
        assert mention in text
    assert len(PdfReader(io.BytesIO(invoice_pdf)).pages) == 1


def test_the_pdf_reads_in_english_for_an_english_account():
    text = pdf_text(documents.pdf(invoice(language="en")))
    for label in ("Invoice", "No.: F2026-000123", "Date: 01/04/2026", "Due date: 01/05/2026",
                  "Period: from 01/03/2026 to 31/03/2026", "Description", "Quantity", "Net unit price",
                  "Net amount", "Total excl. VAT", "VAT 20 %", "Total incl. VAT", "Amount due €1,380.00",
                  "SIRET: 12345678900017", "Payment by bank transfer: IBAN FR76"):  # fmt: skip
        assert label in text, label
    for french in ("Facture", "Net à payer", "Échéance", "Désignation"):
        assert french not in text, french
    note = pdf_text(documents.pdf(dataclasses.replace(credit_note(), language="en")))
    assert "Credit note on invoice No. F2026-000123." in note and "Credit note amount" in note


def test_many_lines_flow_onto_further_pages():
    lines = tuple(
        DocumentLine(f"Appel n° {i} — {LONG_LABEL}", Decimal("1"), Decimal("0.45"), Decimal("0.45"))
        for i in range(1, 121)
    )
    document = invoice(lines=lines, net=Decimal("54.00"), vat=Decimal("10.80"), gross=Decimal("64.80"))
    data = documents.pdf(document)
    pages = PdfReader(io.BytesIO(data)).pages
    assert len(pages) > 2
    texts = [plain_spaces(page.extract_text()) for page in pages]
    with_lines = [text for text in texts if "Appel n° " in text]
    assert len(with_lines) > 2
    assert all("Désignation" in text for text in with_lines)  # the headings come again
    everything = "\n".join(texts)
    assert "Appel n° 1 " in everything and "Appel n° 120 " in everything
    assert everything.index("Appel n° 120 ") < everything.index("Net à payer 64,80 €")
    assert f"page {len(pages)}/{len(pages)}" in texts[-1]
    filename, _xml = facturx.get_xml_from_pdf(data)
    assert filename == "factur-x.xml"


def test_without_the_unicode_font_the_pdf_falls_back_to_latin_1(monkeypatch, tmp_path):
    monkeypatch.setattr(documents, "FONT_DIRS", (tmp_path,))
    data = documents.pdf(invoice())
    text = pdf_text(data)
    assert "1 380,00 EUR" in text and "Échéance" in text
    filename, _xml = facturx.get_xml_from_pdf(data)
    assert filename == "factur-x.xml"


# -- the accounting CSV -----------------------------------------------------------------------------------


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def amount(cell: str) -> Decimal:
    return Decimal(cell.replace(",", ".")) if cell else Decimal(0)


def test_the_csv_balances_each_document_and_reverses_credit_notes():
    text = documents.accounting_csv([invoice(), credit_note(), exempt()])
    assert not text.startswith("\ufeff")  # the caller writes it with utf-8-sig
    rows = parse_csv(text)
    assert list(rows[0]) == list(documents.CSV_HEADERS)
    by_number: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_number.setdefault(row["Pièce"], []).append(row)
    assert list(by_number) == ["F2026-000123", "A2026-000004", "F2026-000124"]
    for number, entries in by_number.items():
        debit = sum(amount(r["Débit"]) for r in entries)
        credit = sum(amount(r["Crédit"]) for r in entries)
        assert debit == credit, number
    first = by_number["F2026-000123"]
    assert [(r["Compte"], r["Débit"], r["Crédit"]) for r in first] == [
        ("411", "1380,00", ""),
        ("706", "", "1150,00"),
        ("44571", "", "230,00"),
    ]
    assert {r["Journal"] for r in rows} == {"VE"}
    assert first[0]["Compte auxiliaire"] == "dupont" and first[0]["Client"] == "Cabinet Dupont & Fils"
    assert first[0]["Date"] == "01/04/2026" and first[0]["Type"] == "Facture" and first[1]["Taux TVA"] == "20"
    note = by_number["A2026-000004"]
    assert [(r["Compte"], r["Débit"], r["Crédit"]) for r in note] == [
        ("411", "", "1,62"),
        ("706", "1,35", ""),
        ("44571", "0,27", ""),
    ]
    assert {r["Type"] for r in note} == {"Avoir"}
    exempt_rows = by_number["F2026-000124"]  # no VAT row at 0 %
    assert [(r["Compte"], r["Débit"], r["Crédit"], r["Taux TVA"]) for r in exempt_rows] == [
        ("411", "90,00", "", ""),
        ("706", "", "90,00", "0"),
    ]


def test_the_csv_round_trips_text_and_keeps_formulas_out():
    buyer = dataclasses.replace(BUYER_PARTY, name='=HYPERLINK("http://x";"Société ; « test »")')
    text = documents.accounting_csv([invoice(buyer=buyer, buyer_reference="+33")])
    rows = parse_csv(text)
    assert len(rows) == 3
    # the separator and the quotes survive, the formula does not run
    assert rows[0]["Client"] == "'" + buyer.name
    assert rows[0]["Compte auxiliaire"] == "'+33"
    assert all(not cell.startswith("=") for row in rows for cell in row.values())
    assert text.encode("utf-8").decode("utf-8-sig") == text


def test_the_csv_refuses_a_document_that_does_not_add_up():
    with pytest.raises(DocumentError, match="add up"):
        documents.accounting_csv([credit_note(), invoice(net=Decimal("1.00"))])
