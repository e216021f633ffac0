"""An operator admin's first sign-in: the second factor is set up before anything else opens, the
recovery codes are shown once, and the next sign-in asks for the code."""

import base64

import pytest
from django_otp.oath import totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _code(secret: str, drift: int = 0) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key, step=30, t0=0, digits=6, drift=drift):06d}"


def test_the_admin_sets_up_the_second_factor_at_first_sign_in(page, second_page, personas, settings):
    from browser.conftest import screenshot, sign_in

    settings.SECOND_FACTOR_REQUIRED = True
    sign_in(page, "admin")
    page.get_by_test_id("second-factor-required").wait_for()
    assert page.url.endswith("/security/two-factor/")
    page.goto("/a/alpha/")  # nothing else opens before
    page.get_by_test_id("second-factor-required").wait_for()
    screenshot(page, "second-factor-setup")
    secret = page.get_by_test_id("totp-secret").inner_text()
    page.locator("input[name=token]").fill(_code(secret))
    page.locator("form button[type=submit]").click()
    codes = page.get_by_test_id("recovery-codes").locator("code").all_inner_texts()
    assert len(codes) == 10 and all(len(code) == 9 and code[4] == "-" for code in codes)
    screenshot(page, "second-factor-recovery-codes")
    page.get_by_role("link", name="J'ai conservé ces codes : continuer").click()
    page.goto("/a/alpha/")
    page.get_by_role("heading", name="Cabinet Alpha").first.wait_for()

    # another browser: the password alone is not enough; a recovery code signs in once
    sign_in(second_page, "admin")
    second_page.locator("input[name=token]").wait_for()
    assert "/login/verify/" in second_page.url
    second_page.locator("input[name=token]").fill(codes[0])
    second_page.locator("form button[type=submit]").click()
    second_page.get_by_text("code de secours").first.wait_for()
    assert "/login/verify/" not in second_page.url
