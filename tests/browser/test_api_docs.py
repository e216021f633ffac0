"""/api/v1/docs in a browser that may reach no other host: Swagger UI renders every operation from
the vendored copy and its "Try it out" works with the signed-in session (CSRF token included)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def block_other_hosts(page: Any, live_server: Any) -> list[str]:
    """Abort every request to a host other than the test server's; the list of those attempted."""
    local = urlsplit(live_server.url).netloc
    attempted: list[str] = []

    def handle(route: Any) -> None:
        if urlsplit(route.request.url).netloc == local:
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    page.context.route(re.compile(r".*"), handle)
    return attempted


def test_api_docs_render_offline_and_try_it_out_works(page, live_server, personas, alpha):
    from browser.conftest import screenshot, sign_in

    attempted = block_other_hosts(page, live_server)
    schema = Client().get("/api/v1/openapi.json").json()
    operations = sum(len(methods) for methods in schema["paths"].values())
    assert operations >= 10

    sign_in(page, "secretary")  # trained on alpha: may identify its callers
    page.wait_for_url(lambda url: "/login/" not in url)
    page.goto("/api/v1/docs")
    blocks = page.locator(".opblock")
    blocks.nth(operations - 1).wait_for()
    assert blocks.count() == operations
    assert page.locator(".info .title").inner_text().startswith("Permanence API")
    assert page.locator(".opblock-summary-path", has_text="/api/v1/accounts/{slug}/identify").count() == 1

    # a POST through the page: the session and the CSRF token go with it
    identify = page.locator(".opblock-post", has_text="/api/v1/accounts/{slug}/identify")
    identify.locator(".opblock-summary").click()
    identify.get_by_role("button", name="Try it out").click()
    identify.locator("input[placeholder='slug']").fill("alpha")
    identify.locator("textarea.body-param__text").fill(
        json.dumps({"called": "+33145000001", "caller": "+33611111111"})
    )
    identify.get_by_role("button", name="Execute").click()
    response = identify.locator(".live-responses-table tbody .response").first
    response.wait_for()
    assert response.locator(".response-col_status").inner_text().strip() == "200"
    body = response.locator(".response-col_description").inner_text()
    assert '"known": true' in body and "Albert" in body
    screenshot(page, "api-docs")
    assert attempted == [], f"the docs page tried to reach other hosts: {attempted}"
