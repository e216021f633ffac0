"""/api/v1/docs works offline: Swagger UI comes from the vendored copy, no other host is named."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

from django.test import Client

VENDOR = Path(__file__).resolve().parents[1] / "src" / "permanence" / "static" / "vendor" / "swagger-ui"


class References(HTMLParser):
    """Every URL the page makes the browser load: scripts, styles, icons, images, frames."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href", "srcset", "data", "action"):
            if values.get(name):
                self.urls.append(values[name] or "")


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_docs_page_loads_swagger_ui_from_local_static_files_only(db):
    client = Client()
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"(?i)\b(https?:)?//[a-z0-9]", html), "the page names another host"
    parser = References()
    parser.feed(html)
    assert sorted(parser.urls) == [
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/vendor/swagger-ui/swagger-ui.css",
    ]
    # the settings point at this API's own description and turn off the online validator's badge
    assert '"url": "/api/v1/openapi.json"' in html and '"validatorUrl": null' in html
    # the files the page names are served, and are the vendored ones
    for url in parser.urls:
        served = client.get(url)
        assert served.status_code == 200, url
        assert _body(served) == (VENDOR / url.rsplit("/", 1)[1]).read_bytes()
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_docs_page_sends_the_csrf_token_with_the_requests_it_makes(db):
    client = Client(enforce_csrf_checks=True)
    html = client.get("/api/v1/docs").content.decode()
    token = re.search(r'const csrfToken = "([^"]+)"', html)
    assert token and 'request.headers["X-CSRFToken"] = csrfToken' in html
    assert client.cookies["csrftoken"].value  # the cookie the token goes with is set


def test_vendored_swagger_ui_is_pinned_with_its_licence():
    version = (VENDOR / "VERSION").read_text()
    assert re.match(r"swagger-ui-dist \d+\.\d+\.\d+ \(npm package swagger-ui-dist", version)
    pinned = re.findall(r"^sha256 ([0-9a-f]{64}) (\S+)$", version, re.MULTILINE)
    assert {name for _, name in pinned} == {"swagger-ui-bundle.js", "swagger-ui.css"}
    for digest, name in pinned:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, f"{name} was changed"
    assert "Apache License" in (VENDOR / "LICENSE").read_text()
    assert "swagger-ui" in (VENDOR / "NOTICE").read_text()
    # the bundle's first line points at the notices of what it bundles, shipped beside it
    assert "swagger-ui-bundle.js.LICENSE.txt" in (VENDOR / "swagger-ui-bundle.js").read_text()[:200]
    assert (VENDOR / "swagger-ui-bundle.js.LICENSE.txt").stat().st_size > 1000
