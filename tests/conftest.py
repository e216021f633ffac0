"""Shared fixtures: two client accounts and one persona per role (Healthchecks style).

Alpha is "our" account; Beta is the other tenant. Every persona's reach is known:

| persona           | role                 | reaches        |
| admin             | operator admin       | Alpha, Beta    |
| assistant         | technical assistant  | Alpha, Beta    |
| secretary         | secretary            | Alpha (trained)|
| secretary_beta    | secretary            | Beta only      |
| client_admin      | client admin         | Alpha          |
| client_user       | client collaborator  | Alpha          |
| client_admin_beta | client admin         | Beta           |
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from factories import make_account, make_contact, make_user


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> None:
    """Tests create many users; the production hasher is slow on purpose."""
    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_hashers.cache_clear()


@pytest.fixture(autouse=True, scope="session")
def _second_factor_optional() -> Iterator[None]:
    """Most tests sign personas in with ``force_login``; the second factor that operator staff must
    pass is shown by tests/users/test_second_factor.py, which turns the requirement back on."""
    import os

    from django.conf import settings

    settings.SECOND_FACTOR_REQUIRED = False
    before = os.environ.get("SECOND_FACTOR_REQUIRED")
    os.environ["SECOND_FACTOR_REQUIRED"] = "0"  # for the servers and workers tests start
    yield
    if before is None:
        os.environ.pop("SECOND_FACTOR_REQUIRED", None)
    else:
        os.environ["SECOND_FACTOR_REQUIRED"] = before


@pytest.fixture
def alpha(db: Any) -> Any:
    from permanence.accounts.models import PhoneNumber
    from permanence.directory.models import Collaborator

    account = make_account("alpha", name="Cabinet Alpha", instructions="Consigne Alpha")
    PhoneNumber.objects.create(account=account, number="+33145000001", label="Standard")
    Collaborator.objects.create(
        account=account, last_name="Alphonse", first_name="Anne", title="Maître",
        specialties="droit de la famille", direct_line="+33145000011",
    )
    make_contact(account, ("+33611111111",), first_name="Albert", last_name="Client",
                 tags="vip")
    return account


@pytest.fixture
def beta(db: Any) -> Any:
    from permanence.accounts.models import PhoneNumber
    from permanence.directory.models import Collaborator

    account = make_account("beta", name="Plomberie Beta", instructions="Consigne Beta")
    PhoneNumber.objects.create(account=account, number="+33478000002", label="Ligne")
    Collaborator.objects.create(account=account, last_name="Bertrand", first_name="Bruno")
    make_contact(account, ("+33622222222",), first_name="Béatrice", last_name="Secret")
    return account


@pytest.fixture
def personas(alpha: Any, beta: Any) -> dict[str, Any]:
    from permanence.users.models import Role, Training

    people = {
        "admin": make_user("admin", Role.OPERATOR_ADMIN),
        "assistant": make_user("assistant", Role.TECHNICAL_ASSISTANT),
        "secretary": make_user("secretary", Role.SECRETARY),
        "secretary_beta": make_user("secretary_beta", Role.SECRETARY),
        "client_admin": make_user("client_admin", Role.CLIENT_ADMIN, alpha),
        "client_user": make_user("client_user", Role.CLIENT_USER, alpha),
        "client_admin_beta": make_user("client_admin_beta", Role.CLIENT_ADMIN, beta),
    }
    Training.objects.create(secretary=people["secretary"], account=alpha)
    Training.objects.create(secretary=people["secretary_beta"], account=beta)
    return people


# A real CalDAV server (Radicale, a test dependency) on 127.0.0.1, for the agenda's calendar sync.
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("radicale")
    port = _free_port()
    config = folder / "config"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = none\n"
        f"[storage]\nfilesystem_folder = {folder / 'collections'}\n"
        "[rights]\ntype = owner_only\n[logging]\nlevel = warning\n"
    )
    log = (folder / "log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError("Radicale did not start: " + Path(folder / "log").read_text()) from None
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/"
    server.terminate()
    server.wait(10)
    log.close()


# Outbound requests to addresses users type (permanence.outbound): see outbound_peers.
@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch, settings: Any) -> dict[str, str]:
    """Name → address for the names under .test (change it to make a name resolve elsewhere); the
    operator's list allows 127.0.0.2."""
    from outbound_peers import ALLOWED, resolving

    names: dict[str, str] = {}
    monkeypatch.setattr(socket, "getaddrinfo", resolving(names, socket.getaddrinfo))
    settings.OUTBOUND_ALLOWED_NETWORKS = [f"{ALLOWED}/32"]
    return names


@pytest.fixture
def loopback_peers() -> Iterator[Any]:
    from outbound_peers import serving

    with serving() as peers:
        yield peers
