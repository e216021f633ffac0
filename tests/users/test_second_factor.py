"""Operator staff who reach every account (operator admins, technical assistants) must sign in with a
second factor; recovery codes sign in once each when the phone is lost."""

import os
import re
import subprocess
import sys

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from factories import PASSWORD
from permanence.audit.models import AuditEvent


@pytest.fixture(autouse=True)
def _required(settings):
    settings.SECOND_FACTOR_REQUIRED = True  # as deployed (tests/conftest.py turns it off elsewhere)


def _login(username):
    client = Client()
    assert client.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def _code(device, offset=0):
    device.refresh_from_db()
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits,
                 drift=device.drift + offset)
    return f"{value:0{device.digits}d}"


def _enrol(client, user):
    page = client.get("/security/two-factor/")
    assert page.status_code == 200 and b"<svg" in page.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    done = client.post("/security/two-factor/", {"token": _code(device)})
    assert done.status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    codes = re.findall(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4})</code></li>", done.content.decode())
    return device, codes


def test_the_default_requires_it():
    env = {k: v for k, v in os.environ.items() if k != "SECOND_FACTOR_REQUIRED"}
    env["DJANGO_SETTINGS_MODULE"] = "permanence.settings"
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings;"
         " print(settings.SECOND_FACTOR_REQUIRED)"],
        env=env, capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == "True"


@pytest.mark.parametrize("persona", ["admin", "assistant"])
def test_operator_staff_set_it_up_before_anything_else(personas, persona):
    user = personas[persona]
    client = _login(persona)
    for page in ("/", "/a/alpha/", "/reports/", "/desk/"):
        gate = client.get(page)
        assert gate.status_code == 302 and gate["Location"] == "/security/two-factor/", page
    assert client.get("/admin/").status_code == 302  # the back-office too
    back_office = client.get("/admin/contacts/contact/", follow=True)
    assert back_office.redirect_chain[-1][0] == "/security/two-factor/"
    assert client.get("/api/v1/accounts").status_code == 401
    assert client.get("/login/verify/?next=/a/alpha/")["Location"] == "/security/two-factor/"
    page = client.get("/security/two-factor/")
    assert 'data-testid="second-factor-required"' in page.content.decode()

    device, codes = _enrol(client, user)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert StaticToken.objects.filter(device__user=user).count() == 10
    assert client.get("/a/alpha/").status_code == 200
    assert client.get("/admin/").status_code == 200
    assert AuditEvent.objects.filter(object_type="users.second_factor", action="create",
                                     actor=user).exists()

    # the next sign-in asks for the code
    fresh = _login(persona)
    assert fresh.get("/a/alpha/")["Location"].startswith("/login/verify/")
    device.throttle_reset()
    ok = fresh.post("/login/verify/", {"token": _code(device, 1), "next": "/a/alpha/"})
    assert ok.status_code == 302 and ok["Location"] == "/a/alpha/"


def test_a_recovery_code_signs_in_once(personas):
    admin = personas["admin"]
    _device, codes = _enrol(_login("admin"), admin)
    lost_phone = _login("admin")
    ok = lost_phone.post("/login/verify/", {"token": codes[3].upper().replace("-", " "), "next": "/a/alpha/"})
    assert ok.status_code == 302 and ok["Location"] == "/a/alpha/"
    assert lost_phone.get("/a/alpha/").status_code == 200
    assert StaticToken.objects.filter(device__user=admin).count() == 9
    used = AuditEvent.objects.get(object_type="users.second_factor", detail__recovery_code_used=True)
    assert used.detail["codes_left"] == 9

    again = _login("admin")
    refused = again.post("/login/verify/", {"token": codes[3], "next": "/"})
    assert refused.status_code == 200 and "_auth_user_id" in again.session
    assert again.get("/a/alpha/")["Location"].startswith("/login/verify/")
    garbage = again.post("/login/verify/", {"token": "not a code!", "next": "/"})
    assert garbage.status_code == 200 and "codes de secours" in garbage.content.decode()

    # new codes replace the old ones
    page = lost_phone.post("/security/two-factor/", {"action": "recovery"})
    fresh_codes = re.findall(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4})</code></li>", page.content.decode())
    assert len(fresh_codes) == 10 and not set(fresh_codes) & set(codes)
    assert StaticToken.objects.filter(device__user=admin).count() == 10
    stale = _login("admin")
    assert stale.post("/login/verify/", {"token": codes[0], "next": "/"}).status_code == 200
    assert stale.get("/a/alpha/")["Location"].startswith("/login/verify/")


def test_required_staff_replace_the_app_but_cannot_turn_it_off(personas):
    admin = personas["admin"]
    client = _login("admin")
    device, _codes = _enrol(client, admin)
    page = client.get("/security/two-factor/").content.decode()
    assert "Turn off" not in page and "Désactiver" not in page
    device.throttle_reset()
    replaced = client.post("/security/two-factor/", {"token": _code(device, 1)})
    assert replaced.status_code == 302
    assert not TOTPDevice.objects.filter(user=admin, confirmed=True).exists()
    assert not StaticToken.objects.filter(device__user=admin).exists()
    # straight back to setting up a new one: nothing else opens meanwhile
    assert client.get("/a/alpha/")["Location"] == "/security/two-factor/"


def test_secretaries_and_clients_are_not_forced(personas):
    for persona, page in (("secretary", "/desk/"), ("client_admin", "/a/alpha/")):
        client = _login(persona)
        assert client.get(page).status_code == 200, persona


def test_a_pending_second_factor_cannot_manage_it(personas):
    """Password only, with an app set up: the security page asks the code first (no turning off, no
    new recovery codes from a stolen password)."""
    secretary = personas["secretary"]
    TOTPDevice.objects.create(user=secretary, name="phone", confirmed=True)
    client = _login("secretary")
    assert client.get("/security/two-factor/")["Location"].startswith("/login/verify/")
    refused = client.post("/security/two-factor/", {"action": "recovery"})
    assert refused["Location"].startswith("/login/verify/")
    assert not StaticToken.objects.exists()
