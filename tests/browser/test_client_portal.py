"""A client admin signs in, sees the directory, and cannot open another account."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page: Any, username: str) -> None:
    from browser.conftest import sign_in as sign_in_page

    sign_in_page(page, username)


def test_client_admin_sees_directory_and_not_another_account(page, personas, alpha, beta):
    from browser.conftest import screenshot

    sign_in(page, "client_admin")
    page.wait_for_url(re.compile(r"/a/alpha/$"))
    assert page.locator("h1").first.inner_text().startswith("Cabinet Alpha")
    assert "Cabinet Alpha, bonjour" in page.locator(".greeting").inner_text()
    rows = page.get_by_test_id("collaborator")
    assert rows.count() == 1
    assert "Maître Anne Alphonse" in rows.first.inner_text()
    assert "01 45 00 00 11" in rows.first.inner_text()
    screenshot(page, "client-account")

    response = page.goto("/a/beta/")
    assert response.status == 404
    assert "Plomberie Beta" not in page.content()
    response = page.goto("/api/v1/accounts/beta")
    assert response.status == 404


def test_language_switch_to_english(page, personas, alpha):
    sign_in(page, "client_admin")
    page.wait_for_url(re.compile(r"/a/alpha/$"))
    page.get_by_role("button", name="EN").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Directory").is_visible()
    assert page.get_by_role("link", name="Contacts").is_visible()


def test_contacts_import_report_in_browser(page, personas, alpha, tmp_path):
    from browser.conftest import screenshot

    sign_in(page, "client_admin")
    page.wait_for_url(re.compile(r"/a/alpha/$"))
    page.goto("/a/alpha/contacts/import/")
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text("Prénom;Nom;Téléphone\nZoé;Nouvelle;06 99 88 77 66\n;;12\n",
                        encoding="utf-8")
    page.set_input_files("input[type=file]", str(csv_file))
    page.get_by_role("button", name="Importer").click()
    report = page.get_by_test_id("import-report")
    assert report.get_by_test_id("created").inner_text() == "1"
    assert report.get_by_test_id("rejected").inner_text() == "1"
    screenshot(page, "contacts-import")


def test_secretary_home_lists_trained_accounts_only(page, personas, alpha, beta):
    from browser.conftest import screenshot

    sign_in(page, "secretary")
    page.wait_for_url(re.compile(r"/$"))
    text = page.locator("main").inner_text()
    assert "Cabinet Alpha" in text and "Plomberie Beta" not in text
    screenshot(page, "secretary-home")


def test_the_clients_figures_page(page, personas, alpha, beta):
    from browser.conftest import screenshot, sign_in
    from permanence.reporting import rollups
    from reporting_helpers import T0, make_calls

    make_calls(alpha, beta, personas, count=80, seed=11)
    rollups.sweep()
    sign_in(page, "client_admin")
    page.wait_for_url(re.compile(r"/a/alpha/$"))
    page.get_by_role("link", name="Chiffres").click()
    page.get_by_label("Du", exact=True).fill((T0.date()).isoformat())
    page.get_by_label("Au", exact=True).fill((T0.date()).isoformat())
    page.locator("select[name=grain]").select_option("60min")
    page.get_by_role("button", name="Afficher").click()
    page.wait_for_load_state()
    assert int(page.get_by_test_id("kpi-offered").inner_text()) > 0
    assert page.locator("svg.chart rect.answered").count() > 3
    screenshot(page, "reports-account")
