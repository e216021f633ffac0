"""What the identity check compares (a file number, a date of birth, a postcode) is kept on the contact
and handled wherever its other fields are: the client's contact page, the API, the back-office."""

from __future__ import annotations

from datetime import date

from django.test import Client

from factories import make_contact
from permanence.accounts.models import IDENTITY_KEPT, IdentityField
from permanence.scenarios.engine.identity import KINDS
from permanence.scenarios.environment import CONTACT_IDENTITY


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_every_identity_question_is_kept_by_the_contacts():
    assert set(IDENTITY_KEPT) == set(CONTACT_IDENTITY) == set(KINDS) == set(IdentityField.values)


def test_the_contact_page_the_api_and_the_back_office_show_them(personas, alpha):
    contact = make_contact(alpha, ("+33622334455",), first_name="Claire", last_name="Garnier",
                           file_number="AB-2024/0153", birth_date=date(1975, 3, 12), postcode="75011")
    page = signed_in(personas["client_admin"]).get(f"/a/alpha/contacts/{contact.pk}/").content.decode()
    assert 'data-testid="file_number">AB-2024/0153<' in page
    assert 'data-testid="birth_date">12/03/1975<' in page and 'data-testid="postcode">75011<' in page

    listed = signed_in(personas["client_admin"]).get("/api/v1/accounts/alpha/contacts?q=Garnier").json()
    assert [(c["file_number"], c["birth_date"], c["postcode"]) for c in listed] == [
        ("AB-2024/0153", "1975-03-12", "75011")]
    others = signed_in(personas["client_admin"]).get("/api/v1/accounts/alpha/contacts").json()
    assert all(c["birth_date"] is None for c in others if c["id"] != contact.pk)

    admin = signed_in(personas["admin"])
    change = admin.get(f"/admin/contacts/contact/{contact.pk}/change/").content.decode()
    assert 'name="file_number"' in change and 'name="birth_date"' in change and 'name="postcode"' in change
    assert admin.get("/admin/contacts/contact/?q=AB-2024").status_code == 200
