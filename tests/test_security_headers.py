"""The Content Security Policy on every page (django-csp), the nonce of the pages' inline scripts, and
cookies marked Secure outside DEBUG unless SECURE_COOKIES says otherwise."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

SRC = Path(__file__).resolve().parents[1] / "src" / "permanence"
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)([^>]*)>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)


def policy(response: Any) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    parts = [part.split() for part in header.split(";") if part.strip()]
    return {name: values for name, *values in parts}


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_strict_scripts(directives: dict[str, list[str]]) -> None:
    scripts = directives["script-src"]
    assert scripts[0] == "'self'"
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    assert all(v == "'self'" or v.startswith("'nonce-") for v in scripts), scripts


def assert_inline_scripts_carry_the_nonce(response: Any, at_least: int) -> str:
    """Every inline script of the page has the header's nonce; returns it."""
    directives = policy(response)
    assert_strict_scripts(directives)
    nonces = [v[len("'nonce-"):-1] for v in directives["script-src"] if v.startswith("'nonce-")]
    assert len(nonces) == 1, directives["script-src"]
    html = response.content.decode()
    scripts = [a for a in INLINE_SCRIPT.findall(html) if "application/json" not in a]  # data, not code
    assert len(scripts) >= at_least
    for attributes in scripts:
        assert f'nonce="{nonces[0]}"' in attributes, attributes
    assert not EVENT_HANDLER.search(html), EVENT_HANDLER.search(html)
    return nonces[0]


def test_the_sign_in_page_gets_the_whole_policy(db):
    response = Client().get("/login/")
    assert response.status_code == 200
    directives = policy(response)
    assert directives == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],  # no inline script on this page: no nonce
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "media-src": ["'self'"],
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
        "frame-src": ["'self'"],
        "frame-ancestors": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
    assert response["X-Frame-Options"] == "SAMEORIGIN"


def test_the_pages_inline_scripts_carry_the_nonce_of_their_own_response(personas, alpha):
    from permanence.scenarios.models import ScenarioVersion

    secretary = signed_in(personas["secretary"])
    first = assert_inline_scripts_carry_the_nonce(secretary.get("/desk/"), at_least=2)
    again = assert_inline_scripts_carry_the_nonce(secretary.get("/desk/"), at_least=2)
    assert first != again  # one per response
    assistant = signed_in(personas["assistant"])
    version = ScenarioVersion.objects.get(scenario__account=alpha)
    page = assistant.get(f"/a/alpha/scenarios/{version.scenario_id}/v/1/")
    assert page.status_code == 200
    assert_inline_scripts_carry_the_nonce(page, at_least=2)  # Mermaid's start, the editor's
    assert_inline_scripts_carry_the_nonce(assistant.get("/a/alpha/voice-menu/"), at_least=1)
    client_admin = signed_in(personas["client_admin"])
    assert_inline_scripts_carry_the_nonce(client_admin.get("/a/alpha/prompts/"), at_least=1)


def test_the_api_docs_page_gets_the_policy_and_its_script_the_nonce(db):
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    assert_inline_scripts_carry_the_nonce(response, at_least=1)


def test_the_service_worker_gets_the_policy(db):
    response = Client().get("/app/sw.js")
    assert response.status_code == 200
    directives = policy(response)
    assert_strict_scripts(directives)
    assert directives["connect-src"] == ["'self'"]  # what the worker's fetch() may reach


def test_the_desk_phone_may_reach_its_telephony_websocket_only(personas, settings):
    secretary = signed_in(personas["secretary"])
    assert policy(secretary.get("/desk/phone/"))["connect-src"] == ["'self'"]  # simulator: no softphone
    settings.TELEPHONY = "sip"
    settings.TELEPHONY_WS_URL = "wss://sip.example.fr/ws"
    phone = secretary.get("/desk/phone/")
    assert phone.status_code == 200
    assert policy(phone)["connect-src"] == ["'self'", "wss://sip.example.fr"]
    assert_strict_scripts(policy(phone))
    settings.TELEPHONY_WS_URL = ""
    settings.TELEPHONY_WS_ADDRESS = "127.0.0.1:8088"
    assert policy(secretary.get("/desk/phone/"))["connect-src"] == ["'self'", "ws://127.0.0.1:8088"]
    # the other pages stay on 'self'
    assert policy(secretary.get("/desk/"))["connect-src"] == ["'self'"]


def test_no_template_has_an_inline_handler_or_a_script_without_the_nonce():
    """Nonces cover <script> elements, not onclick="…" attributes: those would be refused."""
    found = []
    for path in SRC.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if EVENT_HANDLER.search(text):
            found.append(f"{path.relative_to(SRC)}: an inline event handler")
        for attributes in INLINE_SCRIPT.findall(text):
            if 'nonce="{{ CSP_NONCE }}"' not in attributes and "application/json" not in attributes:
                found.append(f"{path.relative_to(SRC)}: <script{attributes}> has no nonce")
    assert not found, found


def _cookie_settings(tmp_path: Path, **env: str) -> str:
    """SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE read by a fresh process from a clean environment."""
    clean = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(SRC.parent),  # this checkout's settings
        "DJANGO_SETTINGS_MODULE": "permanence.settings",
        "PERMANENCE_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "x" * 50,
        **env,
    }
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("env", "secure"),
    [
        ({}, "True True"),  # production by default: HTTPS only
        ({"DEBUG": "1"}, "False False"),  # a developer's machine
        ({"SECURE_COOKIES": "0"}, "False False"),  # plain http on purpose (make demo)
        ({"DEBUG": "1", "SECURE_COOKIES": "1"}, "True True"),
    ],
)
def test_cookies_are_secure_outside_debug_unless_told(tmp_path, env, secure):
    assert _cookie_settings(tmp_path, **env) == secure
