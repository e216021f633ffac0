"""The flowchart of a 2,000-step scenario (issue 21) in Chromium: one Mermaid diagram refuses it (500
arrows at most, 50,000 characters), so it comes in pages; every page is drawn (an SVG, no Mermaid error),
the list of pages and the links between them lead where they say."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_scenarios.py"
# every page drawn, or the reason it was not: a Mermaid error, its "text too large" stand-in, no SVG
PAGES_STATE = """() => Array.from(document.querySelectorAll('.drawing-page')).map(s => {
  const svg = s.querySelector('pre.mermaid > svg');
  const text = svg ? svg.textContent : '';
  return {number: s.dataset.page, svg: !!svg,
          error: !!s.querySelector('.error-icon, .error-text') || /Syntax error|Maximum text size/.test(text),
          nodes: svg ? svg.querySelectorAll('g.node').length : 0};
})"""


def large_source() -> str:
    """The 2,000-step scenario of the scenario bench (bench/bench_scenarios.py)."""
    spec = importlib.util.spec_from_file_location("bench_scenarios", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.generate(2000))


def sign_in(page: Any, username: str) -> None:
    from browser.conftest import sign_in as sign_in_page

    sign_in_page(page, username)
    page.wait_for_url(re.compile(r"/(a/[a-z-]+/)?$"))


def all_pages_drawn(page: Any, total: int) -> list[dict[str, Any]]:
    from browser.conftest import wait_until

    wait_until(
        page,
        f"document.querySelectorAll('.drawing-page').length === {total} && "
        "Array.from(document.querySelectorAll('.drawing-page pre.mermaid'))"
        ".every(p => p.querySelector(':scope > svg'))",
        timeout=240_000,
    )
    return list(page.evaluate(PAGES_STATE))


def test_a_2000_step_scenario_is_drawn_on_pages_that_all_render(page: Any, personas: Any, alpha: Any) -> None:
    from browser.conftest import wait_until
    from permanence.scenarios import services
    from permanence.scenarios.engine import drawing
    from permanence.scenarios.models import ScenarioVersion

    version = ScenarioVersion.objects.get(scenario__account=alpha)  # the new account's draft
    source = large_source()
    saved = services.save_draft(version, source, personas["assistant"])
    assert saved.result.ok and len(saved.result.scenario.steps) == 2001
    drawn = drawing.paged(saved.result.scenario)
    total = len(drawn.pages)
    assert total > 1 and all(len(p.text) < drawing.MERMAID_MAX_TEXT for p in drawn.pages)
    page.set_default_timeout(60_000)
    sign_in(page, "assistant")
    base = f"/a/alpha/scenarios/{version.scenario_id}/v/1"

    # the printed copy: every page drawn, the list of pages, each step's page in the outline
    page.goto(base + "/print")
    check_pages(all_pages_drawn(page, total), drawn)
    items = page.locator("nav.drawing-pages li a")
    assert items.count() == total and items.nth(1).get_attribute("href") == "#drawing-page-2"
    assert items.nth(0).inner_text() == drawn.pages[0].title
    where = drawn.page_of()
    assert page.locator("ol.outline > li").count() == 2001
    assert f"page {where['s0']})" in page.locator("ol.outline > li").first.inner_text()
    last = page.locator("ol.outline > li").last
    assert f"page {where['end']})" in last.inner_text() and where["end"] > 1
    shoot(page, "nav.drawing-pages", "scenario-large-drawing-pages")
    # printed: every page laid out (none skipped as out of view), one sheet each, without the list
    page.emulate_media(media="print")
    printed = page.evaluate("""() => Array.from(document.querySelectorAll('.drawing-page')).map(
        s => getComputedStyle(s).contentVisibility + ' ' + getComputedStyle(s).breakBefore)""")
    assert set(printed) == {"visible page"}, set(printed)
    assert page.locator("nav.drawing-pages").is_hidden()
    page.emulate_media(media="screen")

    # the editor, opened on a far page: only the pages in view are drawn there (typing must not stall)
    far = total - 3
    page.goto(f"{base}/#drawing-page-{far}")
    wait_until(page, f"!!document.querySelector('#drawing-page-{far} pre.mermaid > svg')", 60_000)
    drawn_then = page.evaluate("() => document.querySelectorAll('.drawing-page pre.mermaid > svg').length")
    assert drawn_then < total // 2, drawn_then
    for number in range(1, total + 1):  # each page is drawn when it comes into view
        page.evaluate(f"() => document.getElementById('drawing-page-{number}').scrollIntoView()")
        wait_until(page, f"!!document.querySelector('#drawing-page-{number} pre.mermaid > svg')", 60_000)
    check_pages(all_pages_drawn(page, total), drawn)
    # a link on page 1 leads to the page holding its arrow's target
    link = page.locator("#drawing-page-1 svg a:has(g.node.goto)").first
    target = link.get_attribute("xlink:href")
    assert target and re.fullmatch(r"#drawing-page-\d+", target) and target != "#drawing-page-1"
    link.click()
    page.wait_for_url(re.compile(re.escape(target) + "$"))
    assert page.evaluate("() => document.querySelector(':target').id") == target[1:]
    assert abs(page.evaluate(f"() => document.querySelector('{target}').getBoundingClientRect().top")) < 100
    assert "depuis la page 1" in page.locator(target).inner_text()  # the way back
    shoot(page, target, "scenario-large-drawing")

    # a change of words on page 1: the live check draws page 1 again, the unchanged pages keep their picture
    picture = f"() => document.querySelector('#drawing-page-{far} pre.mermaid > svg').id"
    far_picture = page.evaluate(picture)
    page.evaluate("() => document.getElementById('drawing-page-1').scrollIntoView()")
    changed = source.replace("Étape 0 : bonjour", "Étape 0 : bienvenue")
    # as typing does (Playwright's fill() inserts the 100 KB as typed text: minutes)
    page.evaluate(
        "text => { const area = document.getElementById('source'); area.value = text;"
        " area.dispatchEvent(new Event('input', {bubbles: true})); }",
        changed,
    )
    wait_until(
        page,
        "(document.querySelector('#drawing-page-1 pre.mermaid > svg') || {}).textContent"
        "?.includes('Étape 0 : bienvenue')",
        60_000,
    )
    assert page.evaluate(picture) == far_picture
    check_pages(all_pages_drawn(page, total), drawn)


def check_pages(states: list[dict[str, Any]], drawn: Any) -> None:
    assert [s["number"] for s in states] == [str(p.number) for p in drawn.pages]
    assert not [s for s in states if s["error"] or not s["svg"]], states
    # each page has its steps' boxes (and the links to other pages): never an empty drawing
    for state, want in zip(states, drawn.pages, strict=True):
        assert state["nodes"] >= len(want.steps), (state, len(want.steps))


def shoot(page: Any, selector: str, name: str) -> None:
    """A screenshot of the window with ``selector`` at its top (the whole page would be far too tall)."""
    from browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate(f"() => document.querySelector('{selector}').scrollIntoView()")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
