"""A client admin registers a caller's request of access in Chromium and downloads the export."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_client_admin_registers_an_access_request_and_downloads_the_export(
    page: Any, personas: Any, alpha: Any, beta: Any
):
    from browser.conftest import screenshot, sign_in
    from permanence.privacy.models import DataRequest
    from privacy_helpers import OLD, answered_call, message_for

    call = answered_call(alpha, "+33611111111", OLD, answers={"name": "Albert Client", "reason": "devis"})
    message_for(call, OLD)
    answered_call(beta, "+33611111111", OLD, answers={"name": "Albert chez Beta"})
    sign_in(page, "client_admin")
    page.goto("/a/alpha/privacy/requests/")
    page.get_by_test_id("kind").select_option("access")
    page.get_by_test_id("phone").fill("06 11 11 11 11")
    page.get_by_test_id("name").fill("Albert Client")
    page.get_by_test_id("register").click()
    page.wait_for_url("**/a/alpha/privacy/requests/*/")
    item = DataRequest.objects.get()
    assert page.get_by_test_id("due").get_attribute("data-state") == "ok"
    assert page.get_by_test_id("found-alpha").is_visible()
    with page.expect_download() as download_info:
        page.get_by_test_id("export").click()
    download = download_info.value
    assert download.suggested_filename.startswith(f"data-alpha-{item.pk}-")
    archive = zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes()))
    data = json.loads(archive.read("data.json"))
    assert [c["id"] for c in data["calls"]] == [call.pk]
    assert [c["last_name"] for c in data["contacts"]] == ["Client"]
    assert "Albert chez Beta" not in archive.read("data.json").decode()
    page.reload()
    assert page.get_by_test_id("exported").is_visible()
    screenshot(page, "privacy-access-request")
    page.goto("/a/alpha/privacy/requests/")
    assert page.get_by_test_id(f"request-{item.pk}").is_visible()
