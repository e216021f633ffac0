"""The phones' ephemeral credentials, as Kamailio's auth_ephemeral module recomputes them: checked here
against an HMAC computed independently (Kamailio's own check is in test_kamailio.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from permanence.telephony.credentials import TTL, ephemeral, sip_user

SECRET = "0123456789abcdef-the-test-secret"


def test_a_secretary_is_desk_and_her_primary_key():
    assert sip_user(12) == "desk-12"
    for wrong in (0, -3, "12", 1.5, True, None):
        with pytest.raises(ValueError, match="positive integer"):
            sip_user(wrong)  # type: ignore[arg-type]


def test_the_username_is_the_expiry_then_the_user_and_the_password_its_hmac_sha1_in_base64():
    username, password = ephemeral(SECRET, "desk-12", now=1_800_000_000.75, ttl=3600)
    assert username == "1800003600:desk-12"  # the module's username_format 1: "<expiry>:<user>"
    expected = hmac.new(SECRET.encode(), b"1800003600:desk-12", hashlib.sha1).digest()
    assert base64.b64decode(password) == expected and len(expected) == 20  # sha_algorithm 0: SHA-1
    assert password == base64.b64encode(expected).decode()  # standard base64, with its padding


def test_a_known_vector():
    # computed apart, by OpenSSL:
    # printf %s '1700000000:desk-1' | openssl dgst -sha1 -hmac 'kamailio-secret-16' -binary | base64
    username, password = ephemeral("kamailio-secret-16", "desk-1", now=1_700_000_000 - TTL)
    assert (username, password) == ("1700000000:desk-1", "xXgi7jBwJL+TjKLDhbp/dmf4/KE=")


def test_credentials_last_twelve_hours_by_default_and_differ_per_user_and_expiry():
    username, _ = ephemeral(SECRET, "desk-1", now=1000)
    assert username == f"{1000 + 12 * 3600}:desk-1"
    # another secretary's credentials, or the same ones made at another time, are other passwords:
    # Kamailio refuses desk-2's for the AOR of desk-1 (its To user), and an expiry moved by hand
    one = ephemeral(SECRET, "desk-1", now=1000)
    assert ephemeral(SECRET, "desk-2", now=1000)[1] != one[1]
    assert ephemeral(SECRET, "desk-1", now=1001)[1] != one[1]
    assert ephemeral(SECRET + "x", "desk-1", now=1000)[1] != one[1]


@pytest.mark.parametrize(
    ("secret", "user", "ttl", "words"),
    [
        ("", "desk-1", 60, "TELEPHONY_SIP_SECRET"),
        (SECRET, "", 60, "plain user"),
        (SECRET, "desk-1@example.org", 60, "plain user"),  # the module would read a domain after '@'
        (SECRET, "1:desk-1", 60, "plain user"),  # ... and the user after the first ':'
        (SECRET, "desk-1", 0, "at least one second"),
    ],
)
def test_what_cannot_make_credentials_is_said(secret, user, ttl, words):
    with pytest.raises(ValueError, match=words):
        ephemeral(secret, user, now=1000, ttl=ttl)
