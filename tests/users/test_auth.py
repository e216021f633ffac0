import time as clock

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from factories import PASSWORD, make_user
from permanence.users.models import Role


def test_client_users_belong_to_exactly_one_account(alpha):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_user("orphan", Role.CLIENT_USER)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_user("staff-with-account", Role.SECRETARY, alpha)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_user("nobody", "janitor")
    assert make_user("ok", Role.CLIENT_ADMIN, alpha).account == alpha


def test_back_office_access_follows_the_role(db):
    admin = make_user("a", Role.OPERATOR_ADMIN)
    assistant = make_user("t", Role.TECHNICAL_ASSISTANT)
    secretary = make_user("s", Role.SECRETARY, is_staff=True, is_superuser=True)
    assert (admin.is_staff, admin.is_superuser) == (True, True)
    assert (assistant.is_staff, assistant.is_superuser) == (True, False)
    assert (secretary.is_staff, secretary.is_superuser) == (False, False)
    assert assistant.has_perm("directory.change_collaborator")
    assert not assistant.has_perm("users.change_user")
    assert not assistant.has_perm("audit.view_auditevent")


def _login(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def test_sign_in_and_out(personas):
    client = Client()
    response = _login(client, "client_admin", PASSWORD)
    assert response.status_code == 302
    assert client.get("/").status_code == 302  # client goes to its account
    assert client.get("/a/alpha/").status_code == 200
    client.post("/logout/")
    assert client.get("/a/alpha/").status_code == 302


def test_failed_logins_are_rate_limited(personas):
    client = Client(REMOTE_ADDR="127.0.0.10")
    for _ in range(4):
        response = _login(client, "secretary", "wrong password")
        assert response.status_code == 200
        assert "Identifiant ou mot de passe incorrect" in response.content.decode()
    # the fifth failure locks the (username, address) pair, and the right password no longer helps
    assert _login(client, "secretary", "wrong password").status_code == 429
    locked = _login(client, "secretary", PASSWORD)
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    # another user from the same address is not locked out
    assert _login(client, "assistant", PASSWORD).status_code == 302


def test_a_guess_spread_over_many_addresses_locks_the_sign_in(personas):
    """The lock is per (username, address) and per username: five failures from five addresses lock
    the account for every address, the right password included; other users go on."""
    for last in range(20, 25):
        refused = _login(Client(REMOTE_ADDR=f"127.0.0.{last}"), "client_admin", "wrong password")
        assert refused.status_code in (200, 429)
    fresh = Client(REMOTE_ADDR="127.0.0.30")
    assert _login(fresh, "client_admin", PASSWORD).status_code == 429
    assert "_auth_user_id" not in fresh.session
    assert _login(Client(REMOTE_ADDR="127.0.0.30"), "client_user", PASSWORD).status_code == 302


def _current_token(device: TOTPDevice, offset: int = 0) -> str:
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits,
                 drift=device.drift + offset)
    return f"{value:0{device.digits}d}"


def test_staff_enable_totp_and_sign_in_needs_the_code(personas):
    client = Client()
    _login(client, "secretary", PASSWORD)
    page = client.get("/security/two-factor/")
    assert page.status_code == 200 and b"<svg" in page.content
    device = TOTPDevice.objects.get(user=personas["secretary"], confirmed=False)
    assert client.post("/security/two-factor/", {"token": "000000"}).status_code == 200
    device.refresh_from_db()
    assert not device.confirmed
    assert device.throttling_failure_count == 1  # wrong codes slow the next attempts down
    device.throttle_reset()
    enrolment_code = _current_token(device)
    response = client.post("/security/two-factor/", {"token": enrolment_code})
    assert response.status_code == 200 and 'data-testid="recovery-codes"' in response.content.decode()
    device.refresh_from_db()
    assert device.confirmed

    fresh = Client()
    assert _login(fresh, "secretary", PASSWORD).status_code == 302
    gate = fresh.get("/a/alpha/")
    assert gate.status_code == 302 and gate["Location"].startswith("/login/verify/")
    assert fresh.get("/api/v1/accounts").status_code == 401
    bad = fresh.post("/login/verify/", {"token": "123456", "next": "/a/alpha/"})
    assert bad.status_code == 200
    clock.sleep(0)  # the device throttles after failures; a valid code still passes once
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()
    # A code is good once (the enrolment's code is refused even if its time step has passed since);
    # the next time step's code (within the tolerated drift) signs in.
    assert fresh.post("/login/verify/", {"token": enrolment_code, "next": "/"}).status_code == 200
    device.throttle_reset()
    ok = fresh.post("/login/verify/", {"token": _current_token(device, 1), "next": "/a/alpha/"})
    assert ok.status_code == 302 and ok["Location"] == "/a/alpha/"
    assert fresh.get("/a/alpha/").status_code == 200


def test_verify_refuses_open_redirects(personas):
    client = Client()
    client.force_login(personas["admin"])
    response = client.get("/login/verify/?next=https://evil.example/")
    assert response["Location"] == "/"


def test_clients_have_no_totp_page(personas):
    client = Client()
    client.force_login(personas["client_admin"])
    assert client.get("/security/two-factor/").status_code == 404
    assert not TOTPDevice.objects.exists()
