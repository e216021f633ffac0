"""The desk's phone: the shell page around the desk, and the softphone's ephemeral SIP credentials
(the signed-in secretary's own, only with real telephony, never in a page or a log)."""

from __future__ import annotations

import logging
import time

import pytest
from django.test import Client

from permanence.telephony import credentials

SECRET = "0123456789abcdef0123456789abcdef"


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def sip(settings):
    settings.TELEPHONY = "sip"
    settings.TELEPHONY_SIP_SECRET = SECRET
    settings.TELEPHONY_SIP_DOMAIN = "sip.permanence.test"
    settings.TELEPHONY_WS_ADDRESS = "127.0.0.1:8088"
    return settings


def passwords_near(user: str, around: float) -> set[str]:
    """Every password the server could have made for ``user`` within a few seconds of ``around``."""
    return {credentials.ephemeral(SECRET, user, around + delta)[1] for delta in range(-5, 6)}


def test_credentials_are_the_secretarys_own_and_ephemeral(sip, personas):
    secretary = personas["secretary"]
    before = int(time.time())
    response = client_for(secretary).get("/desk/phone/credentials")
    after = int(time.time())
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    data = response.json()
    assert set(data) == {"ws", "uri", "username", "password", "expires"}
    assert data["ws"] == "ws://127.0.0.1:8088"
    assert data["uri"] == f"sip:desk-{secretary.pk}@sip.permanence.test"
    expiry, _, user = data["username"].partition(":")
    assert user == f"desk-{secretary.pk}"
    assert int(expiry) == data["expires"]
    assert before + credentials.TTL <= data["expires"] <= after + credentials.TTL
    # what Kamailio recomputes from the shared secret
    made = credentials.ephemeral(SECRET, user, data["expires"] - credentials.TTL)
    assert made == (data["username"], data["password"])


def test_each_desk_user_gets_hers_and_no_parameter_gives_anothers(sip, personas):
    secretary, other = personas["secretary"], personas["secretary_beta"]
    data = client_for(secretary).get(f"/desk/phone/credentials?user={other.pk}&uri=desk-{other.pk}").json()
    assert data["uri"] == f"sip:desk-{secretary.pk}@sip.permanence.test"
    assert data["username"].endswith(f":desk-{secretary.pk}")
    theirs = client_for(other).get("/desk/phone/credentials").json()
    assert theirs["username"].endswith(f":desk-{other.pk}") and theirs["password"] != data["password"]


@pytest.mark.parametrize("persona", ["client_admin", "client_user", "client_admin_beta"])
def test_people_without_a_desk_get_no_credentials(sip, personas, persona):
    response = client_for(personas[persona]).get("/desk/phone/credentials")
    assert response.status_code == 404
    assert b"password" not in response.content


def test_credentials_only_by_get_and_only_signed_in(sip, personas):
    assert client_for(personas["secretary"]).post("/desk/phone/credentials").status_code == 405
    response = Client().get("/desk/phone/credentials")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_no_credentials_with_the_simulator(personas, settings):
    settings.TELEPHONY = "simulator"
    settings.TELEPHONY_SIP_SECRET = SECRET
    response = client_for(personas["secretary"]).get("/desk/phone/credentials")
    assert response.status_code == 404


def test_no_secret_no_credentials_and_no_crash(sip, personas):
    sip.TELEPHONY_SIP_SECRET = ""
    response = client_for(personas["secretary"]).get("/desk/phone/credentials")
    assert response.status_code == 503
    assert set(response.json()) == {"error"}


def test_the_password_is_never_logged(sip, personas, caplog):
    caplog.set_level(logging.DEBUG)
    data = client_for(personas["secretary"]).get("/desk/phone/credentials").json()
    assert data["password"]
    assert all(data["password"] not in record.getMessage() for record in caplog.records)


def test_shell_holds_the_desk_in_a_frame_and_no_password(sip, personas):
    secretary = personas["secretary"]
    response = client_for(secretary).get("/desk/phone/")
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"  # a shell inside a frame would register twice
    page = response.content.decode()
    assert '<iframe class="desk-frame" name="desk-frame" id="desk-frame" src="/desk/"' in page
    assert 'data-credentials="/desk/phone/credentials"' in page
    assert "vendor/jssip/jssip.min.js" in page and "permanence/softphone.js" in page
    assert "<title>Poste · Permanence</title>" in page
    assert "Ligne : connexion…" in page
    for password in passwords_near(f"desk-{secretary.pk}", time.time()):
        assert password not in page
    assert SECRET not in page


def test_shell_with_the_simulator_says_so_and_loads_no_phone(personas, settings):
    settings.TELEPHONY = "simulator"
    page = client_for(personas["secretary"]).get("/desk/phone/").content.decode()
    assert "Téléphonie simulée" in page
    assert 'src="/desk/"' in page
    assert "jssip" not in page and "softphone.js" not in page


def test_shell_only_for_desk_users(sip, personas):
    assert client_for(personas["client_admin"]).get("/desk/phone/").status_code == 404
    assert client_for(personas["secretary_beta"]).get("/desk/phone/").status_code == 200


def test_desk_page_offers_the_shell_only_with_real_telephony(sip, personas, settings):
    from permanence.calls.phone_views import context

    secretary = client_for(personas["secretary_beta"])
    page = secretary.get("/desk/").content.decode()
    assert 'href="/desk/phone/">Ouvrir le poste téléphonique</a>' in page
    settings.TELEPHONY = "simulator"
    assert "Ouvrir le poste" not in secretary.get("/desk/").content.decode()
    assert context(None) == {"phone_url": ""}  # type: ignore[arg-type]
