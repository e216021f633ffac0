from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from factories import office_hours
from permanence.accounts.models import HoursException
from permanence.directory.models import Absence, Collaborator


@pytest.fixture
def alpha(alpha):
    """Office hours (Monday to Friday 9:00-18:00, closed on public holidays): these tests are about them."""
    return office_hours(alpha)



def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_account_page_shows_greeting_instructions_hours_directory(personas, alpha):
    page = _client(personas["client_user"]).get("/a/alpha/").content.decode()
    assert "Cabinet Alpha, bonjour" in page
    assert "Consigne Alpha" in page
    assert "09:00 – 18:00" in page
    assert "Maître Anne Alphonse" in page
    assert "01 45 00 00 11" in page  # direct line, national format
    assert "01 45 00 00 01" in page  # the account's number


def test_absence_and_replacement_shown(personas, alpha):
    anne = Collaborator.objects.get(account=alpha)
    bob = Collaborator.objects.create(account=alpha, last_name="Remplaçant", first_name="Bob")
    Absence.objects.create(collaborator=anne, kind="leave", starts_at=timezone.now() - timedelta(hours=1),
                           ends_at=timezone.now() + timedelta(days=2), replacement=bob)
    page = _client(personas["secretary"]).get("/a/alpha/").content.decode()
    assert "Bob Remplaçant" in page
    assert "En congés" in page or "On leave" in page


def test_account_opening_status_uses_exceptions(alpha):
    paris = ZoneInfo("Europe/Paris")
    monday = date(2026, 11, 23)
    assert alpha.opening_status(datetime.combine(monday, time(10), paris)).is_open
    HoursException.objects.create(account=alpha, start_date=monday, end_date=monday,
                                  label="Séminaire")
    alpha.refresh_from_db()
    status = alpha.opening_status(datetime.combine(monday, time(10), paris))
    assert not status.is_open and status.label == "Séminaire"
    assert status.next_change == datetime.combine(monday + timedelta(days=1), time(9), paris)


def test_account_closed_on_public_holiday(alpha):
    paris = ZoneInfo("Europe/Paris")
    christmas = datetime(2026, 12, 25, 10, tzinfo=paris)  # a Friday
    status = alpha.opening_status(christmas)
    assert not status.is_open and status.reason == "holiday"
    assert status.next_change == datetime(2026, 12, 28, 9, tzinfo=paris)


def test_contact_search_by_number_in_any_spelling(personas, alpha):
    page = _client(personas["secretary"]).get("/a/alpha/contacts/?q=0033611111111").content.decode()
    assert "Albert" in page
    page = _client(personas["secretary"]).get("/a/alpha/contacts/?q=zzz").content.decode()
    assert "Albert" not in page


def test_company_only_contact_is_reachable_from_the_list(personas, alpha):
    from permanence.contacts.models import Contact

    contact = Contact.objects.create(account=alpha, company="Annuaire Pro Plus")
    page = _client(personas["secretary"]).get("/a/alpha/contacts/").content.decode()
    assert f'href="/a/alpha/contacts/{contact.pk}/">Annuaire Pro Plus</a>' in page


def test_opening_status_words_are_french_and_distinct_from_account_status(personas, alpha):
    page = _client(personas["secretary"]).get("/a/alpha/").content.decode()
    assert ">Ouvert<" in page or ">Fermé<" in page
    assert ">Clos<" not in page and "Résilié" not in page


def test_bad_import_file_gets_a_clear_error(personas, alpha):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = _client(personas["client_admin"])
    response = client.post("/a/alpha/contacts/import/",
                           {"file": SimpleUploadedFile("x.csv", b"\x00\x01binary")})
    assert response.status_code == 400
    assert "binary" in response.content.decode() or "binaire" in response.content.decode()


def test_identify_page(personas, alpha):
    client = _client(personas["secretary"])
    page = client.get("/a/alpha/identify/?called=01+45+00+00+01&caller=%2B33611111111")
    assert "Albert Client" in page.content.decode()
    wrong = client.get("/a/alpha/identify/?called=0478000002&caller=0611111111")
    assert "Albert Client" not in wrong.content.decode()


def test_admin_is_french_and_lists_accounts(personas, alpha):
    page = _client(personas["assistant"]).get("/admin/accounts/account/").content.decode()
    assert "Cabinet Alpha" in page
    assert "Sélectionnez" in page or "Choisissez" in page or "compte" in page
