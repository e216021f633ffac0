"""The language of the messages (``Account.language``): what the client and its callers read and hear,
apart from the language of the calls (who answers them); edited in the back-office, audited, read by
the API."""

from __future__ import annotations

from django.test import Client
from tests.admin_forms import form_data

from permanence.accounts.models import Account, client_language
from permanence.api import keys
from permanence.audit.models import AuditEvent


def test_french_by_default_and_apart_from_the_language_of_the_calls(alpha):
    assert Account._meta.get_field("language").default == "fr" and client_language(alpha) == "fr"
    alpha.call_language = "en"  # English-speaking secretaries answer: the messages stay French
    assert client_language(alpha) == "fr"
    alpha.language = "xx"  # not a language of the site: the site's
    assert client_language(alpha) == "fr"


def test_the_back_office_edits_it_audited_and_the_api_reads_it(alpha, personas):
    admin = Client()
    admin.force_login(personas["admin"])
    change = f"/admin/accounts/account/{alpha.pk}/change/"
    page = admin.get(change).content.decode()
    assert 'name="language"' in page
    form = form_data(page, "account_form")
    assert form["language"] == "fr"
    form["language"] = "en"
    response = admin.post(change, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    alpha.refresh_from_db()
    assert alpha.language == "en" and alpha.call_language == ""
    row = AuditEvent.objects.get(account=alpha, object_type="accounts.account")
    assert row.detail["changes"] == {"language": {"before": "fr", "after": "en"}}
    api = Client(HTTP_AUTHORIZATION=f"Bearer {keys.create(alpha, 'Logiciel', 'read')[1]}")
    assert api.get("/api/v1/accounts/alpha").json()["language"] == "en"
