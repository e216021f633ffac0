"""The main pages under the Content Security Policy, in Chromium: no violation, no page error.

Every document the browser loads must carry the policy; every `securitypolicyviolation` event (in any
page or frame), every console message of a refusal and every uncaught error fails the test. The
pages are used, not only opened: the desk's socket connects, a call is offered and answered, Mermaid
draws and htmx redraws, Swagger UI lists the API, a voice is heard, a filter submits itself, the web
app's service worker registers.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WATCH = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolation(`${event.effectiveDirective} refused ${event.blockedURI || "inline"}`
    + ` (${event.sourceFile || location.pathname}:${event.lineNumber}) on ${location.pathname}`);
});
"""

MENU = """language: permanence-ivr/1
start: accueil
menus:
  accueil:
    say: "Rendez-vous, tapez 1."
    options:
      1: {queue: Rendez-vous}
"""


@pytest.fixture
def problems(page: Any) -> list[str]:
    """What the browser reports while the test runs; the test asserts it stays empty."""
    found: list[str] = []
    page.expose_binding("__cspViolation", lambda _source, text: found.append(f"violation: {text}"))
    page.add_init_script(WATCH)

    def console(message: Any) -> None:
        if message.type == "error" and re.search(r"Content Security Policy|Refused to", message.text):
            found.append(f"console: {message.text}")

    def response(answer: Any) -> None:
        document = answer.request.resource_type == "document" and answer.status == 200
        if document and "content-security-policy" not in answer.headers:
            found.append(f"no policy on {answer.url}")

    page.on("console", console)
    page.on("pageerror", lambda error: found.append(f"page error: {error}"))
    page.on("response", response)
    return found


def as_user(page: Any, username: str) -> None:
    from browser.conftest import sign_in

    page.context.clear_cookies()
    sign_in(page, username)
    page.wait_for_url(lambda url: "/login/" not in url)


@pytest.fixture
def world(personas: Any, alpha: Any) -> Any:
    from permanence.accounts.models import WeeklyHours
    from permanence.directory.models import Collaborator
    from permanence.scenarios.models import ScenarioVersion

    WeeklyHours.objects.filter(account=alpha).delete()
    for day in range(7):  # open round the clock: the test does not depend on the hour
        WeeklyHours.objects.create(account=alpha, weekday=day, opens=time(0), closes=time(0))
    alpha.closed_on_holidays = False
    alpha.ivr_source = MENU
    alpha.save()
    Collaborator.objects.filter(account=alpha).update(email="anne@alpha.example")
    ScenarioVersion.objects.filter(scenario__account=alpha).update(status="published")
    return alpha


def test_the_watch_sees_a_refused_inline_script(page, problems, db):
    """The test below would pass for nothing if the watch saw nothing: a script without the nonce."""
    page.goto("/login/")
    page.evaluate("() => { const s = document.createElement('script');"
                  " s.textContent = 'window.ran = true'; document.body.appendChild(s); }")
    for _turn in range(50):
        if problems:
            break
        page.wait_for_timeout(50)
    assert page.evaluate("() => window.ran") is None
    assert any("script-src-elem refused inline" in p for p in problems), problems


def test_the_main_pages_run_under_the_policy(page, problems, personas, world):
    from browser.conftest import wait_until
    from permanence.calls import services
    from permanence.scenarios.models import ScenarioVersion
    from permanence.telephony import speech

    # the sign-in page, then the desk: its socket may open ('self' covers ws:// to this host; the live
    # server has no WebSocket, so it is refused there, after the browser let it go), a call is offered
    page.goto("/login/")
    as_user(page, "secretary")
    with page.expect_websocket(lambda ws: ws.url.endswith("/ws/desk/")):
        page.goto("/desk/")
    page.get_by_role("button", name="Disponible").click()
    page.get_by_test_id("status").filter(has_text="Disponible").wait_for()
    call = services.call_arrived("01 45 00 00 01", "06 11 11 11 11")
    offer = page.get_by_test_id("offer")
    offer.wait_for(state="visible")  # the desk's inline script shows it
    offer.get_by_role("button").first.click()
    page.wait_for_url(re.compile(rf"/desk/calls/{call.pk}/$"))
    page.get_by_test_id("greeting").wait_for()
    page.keyboard.press("Enter")  # the call page's inline script moves on
    page.get_by_text("Type d'appelant").wait_for()
    # the desk phone's shell frames the desk (frame-src, frame-ancestors 'self')
    page.goto("/desk/phone/")
    page.frame_locator("#desk-frame").get_by_test_id("greeting").wait_for()

    # the scenario's page: Mermaid draws, a change is checked by htmx and drawn again
    as_user(page, "assistant")
    version = ScenarioVersion.objects.get(scenario__account=world)
    version.status = "draft"  # (the call is over) a draft, to be edited
    version.save(update_fields=["status"])
    page.goto(f"/a/alpha/scenarios/{version.scenario_id}/v/{version.number}/")
    page.locator("#drawing svg").wait_for()
    source = page.locator("#source")
    text = source.input_value()
    source.fill(text.replace("next: qualify\n", "next: qualifier\n", 1))
    page.get_by_test_id("problems").locator("li.error").first.wait_for()
    source.fill(text)
    page.get_by_test_id("problems").get_by_text("Aucun problème trouvé.").wait_for()
    page.locator("#drawing svg").wait_for()  # drawn again after htmx's swap
    assert page.evaluate("htmx.config.allowEval") is False  # base.html's htmx-config
    # the voice menu's page
    page.goto("/a/alpha/voice-menu/")
    page.get_by_test_id("menu-accueil").wait_for()
    # the API's docs: Swagger UI lists the operations
    page.goto("/api/v1/docs")
    page.locator(".opblock").first.wait_for()
    page.locator(".info .title").wait_for()

    # the client's portal, the prompts heard, a filter that submits itself, the web app
    as_user(page, "client_admin")
    page.goto("/a/alpha/")
    page.get_by_test_id("collaborator").first.wait_for()
    page.goto("/a/alpha/prompts/")
    preview = page.locator("[data-preview]").first
    if speech.available() and preview.count():
        field = preview.get_attribute("data-preview")
        page.locator(f"textarea[name={field}]").fill("Un instant, nous prenons votre appel.")
        with page.expect_response(lambda r: "/prompts/preview" in r.url) as heard:
            preview.click()
        assert heard.value.status == 200
    page.goto("/a/alpha/messages/")
    page.locator("select[name=status]").select_option(index=1)  # page.js sends the form
    page.wait_for_url(re.compile(r"status="))
    page.goto("/a/alpha/agenda/")
    page.goto("/app/")
    wait_until(page, "window.permanenceWorker !== undefined")  # worker-src 'self'

    assert not problems, "\n".join(problems)
