"""Ephemeral SIP credentials of the secretaries' phones, as Kamailio's auth_ephemeral module checks them.

A secretary's address of record is ``sip:desk-<user pk>@<TELEPHONY_SIP_DOMAIN>``. Permanence gives her
softphone a username and a password valid until an expiry time; Kamailio holds only the shared secret
(TELEPHONY_SIP_SECRET) and recomputes the password, so no password is stored anywhere:

- username: ``"<expiry, unix time>:<user>"`` (the module's ``username_format`` 1, the IETF draft's);
- password: base64 of HMAC-SHA1(secret, username) (``sha_algorithm`` 0).

kamailio.cfg sets both parameters explicitly so that the two sides agree. The module refuses a username
whose expiry is past, and the configuration refuses one whose user is not the registered AOR's user.
Plain Python, no Django import.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

TTL = 12 * 3600  # a working day and then some


def sip_user(user_pk: int) -> str:
    """The SIP user of a secretary: ``desk-12`` for the user whose primary key is 12."""
    if isinstance(user_pk, bool) or not isinstance(user_pk, int) or user_pk < 1:
        raise ValueError(f"a user's primary key is a positive integer, not {user_pk!r}")
    return f"desk-{user_pk}"


def ephemeral(secret: str, user: str, now: float, ttl: int = TTL) -> tuple[str, str]:
    """(username, password) for ``user`` (e.g. ``desk-12``), valid from ``now`` for ``ttl`` seconds.

    Kamailio accepts them while its clock is at most the expiry (``int(now) + ttl``)."""
    if not secret:
        raise ValueError("no shared secret: set TELEPHONY_SIP_SECRET")
    if not user or any(c in user for c in ":@ \t\r\n"):
        # auth_ephemeral reads the user after the first ':' and a domain after an '@'
        raise ValueError(f"SIP user {user!r}: write a plain user such as desk-12 (no ':', '@' or space)")
    if ttl <= 0:
        raise ValueError(f"ttl={ttl}: credentials must be valid for at least one second")
    username = f"{int(now) + ttl}:{user}"
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")
