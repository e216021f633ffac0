"""Report pages, exports and the monthly PDF read the rollups; each user sees what is theirs."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from django.test import Client
from openpyxl import load_workbook

from permanence.audit.models import AuditEvent
from permanence.calls.models import Call
from permanence.reporting import kpis, rollups
from reporting_helpers import T0, make_calls

PERIOD = {
    "from": (T0 - timedelta(days=1)).date().isoformat(),
    "to": (T0 + timedelta(days=2)).date().isoformat(),
}


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def alpha_figures(alpha):
    facts = [
        rollups.call_facts(c)
        for c in Call.objects.filter(account=alpha, training=False)
        if c.state in rollups.OVER
    ]
    return kpis.merge(kpis.compute(facts, by="total", grain="day", zone=alpha.tz).values())


def test_the_clients_report_and_its_exports(alpha, beta, personas):
    make_calls(alpha, beta, personas, count=40, seed=5)
    rollups.sweep()
    expected = alpha_figures(alpha)
    client = signed_in(personas["client_user"])
    page = client.get("/a/alpha/reports/", PERIOD).content.decode()
    assert f'data-testid="kpi-offered">{expected.offered}<' in page
    assert "<svg" in page and 'role="img"' in page
    assert AuditEvent.objects.filter(object_type="reporting.report", action="view").exists()
    # CSV: one row per day with calls, offered adding up; semicolons, a BOM for Excel
    text = client.get("/a/alpha/reports/", {**PERIOD, "format": "csv"}).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    heads = ["Intervalle", "Reçus (pendant les horaires)", "Hors horaires", "Hors service", "Répondus"]
    assert rows[0][:5] == heads
    assert sum(int(r[1]) for r in rows[1:]) == expected.offered
    # XLSX: the same table
    book = load_workbook(io.BytesIO(client.get("/a/alpha/reports/", {**PERIOD, "format": "xlsx"}).content))
    sheet = book.active
    assert sum(row[1].value for row in sheet.iter_rows(min_row=2)) == expected.offered
    assert AuditEvent.objects.filter(object_type="reporting.report", action="export").count() == 2
    # quarter-hours add up to the same
    fine = client.get("/a/alpha/reports/", {**PERIOD, "grain": "15min", "format": "csv"}).content.decode(
        "utf-8-sig"
    )
    assert sum(int(r[1]) for r in list(csv.reader(io.StringIO(fine), delimiter=";"))[1:]) == expected.offered
    # the other account is not reachable
    assert client.get("/a/beta/reports/").status_code == 404


def test_bad_parameters_fall_back_and_say_so(alpha, personas):
    client = signed_in(personas["client_admin"])
    page = client.get("/a/alpha/reports/", {"from": "hier", "grain": "weekly", "threshold": "22"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "2026-12-31" in text and "multiple de 5" in text


def test_monthly_pdf(alpha, beta, personas):
    make_calls(alpha, beta, personas, count=40, seed=5)
    rollups.sweep()
    expected = alpha_figures(alpha)
    response = signed_in(personas["client_admin"]).get("/a/alpha/reports/monthly.pdf", {"month": "2026-11"})
    assert response["Content-Type"] == "application/pdf"
    body = response.content
    assert body.startswith(b"%PDF")  # in the account's language (French): the month from babel
    title = b"Cabinet Alpha - rapport de novembre 2026"
    assert title in body
    november = kpis.merge(
        f
        for (k, start), f in kpis.compute(
            [
                rollups.call_facts(c)
                for c in Call.objects.filter(account=alpha, training=False)
                if c.state in rollups.OVER
            ],
            by="total",
            grain="month",
            zone=alpha.tz,
        ).items()
        if start.month == 11
    )
    assert 0 < november.offered < expected.offered  # the calls of December 1 are not in it
    summary = body.split(b"Appels re")[1][:200]  # the label, then its value
    assert f"({november.offered}) Tj".encode() in summary
    # a month that cannot be read: last month's
    assert signed_in(personas["client_admin"]).get("/a/alpha/reports/monthly.pdf?month=x").status_code == 200


def test_monthly_pdf_in_the_accounts_language_not_the_pages(alpha, beta, personas):
    make_calls(alpha, beta, personas, count=10, seed=5)
    rollups.sweep()
    client = signed_in(personas["client_admin"])
    alpha.language = "en"
    alpha.save(update_fields=["language"])
    body = client.get("/a/alpha/reports/monthly.pdf", {"month": "2026-11"}, HTTP_ACCEPT_LANGUAGE="fr").content
    assert b"Cabinet Alpha - report of November 2026" in body and b"(Abandoned)" in body
    assert b"novembre" not in body and b"Abandons" not in body
    alpha.language = "fr"
    alpha.save(update_fields=["language"])
    body = client.get("/a/alpha/reports/monthly.pdf", {"month": "2026-11"}, HTTP_ACCEPT_LANGUAGE="en").content
    assert b"novembre 2026" in body and b"(Abandons)" in body and b"(Abandoned)" not in body


def test_operator_overview(alpha, beta, personas):
    make_calls(alpha, beta, personas, count=40, seed=5)
    rollups.sweep()
    admin = signed_in(personas["admin"])
    page = admin.get("/reports/", PERIOD).content.decode()
    assert f'data-testid="account-{alpha.pk}"' in page and f'data-testid="account-{beta.pk}"' in page
    assert f'data-testid="secretary-{personas["secretary"].pk}"' in page
    total = Call.objects.filter(training=False, state__in=rollups.OVER).count()
    assert f'data-testid="kpi-offered">{total}<' in page
    text = admin.get("/reports/", {**PERIOD, "format": "csv"}).content.decode("utf-8-sig")
    assert {r[0] for r in list(csv.reader(io.StringIO(text), delimiter=";"))[1:]} == {
        "Cabinet Alpha",
        "Plomberie Beta",
    }
    # a client admin is sent to their own account's report; a secretary has no figures
    assert signed_in(personas["client_admin"]).get("/reports/").url == "/a/alpha/reports/"
    assert signed_in(personas["secretary"]).get("/reports/").status_code == 403
