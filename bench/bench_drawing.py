"""The flowchart of a 2,000-step scenario (issue 21): Mermaid refuses one diagram past 500 arrows
(maxEdges) or 50,000 characters (maxTextSize), so the drawing is cut into pages (drawing.paged).

Prints the time to draw the pages, against two peers measured in the same run: the check of the same
scenario (what every page showing the drawing does first) and the one diagram Mermaid would refuse
(drawing.paged(max_steps=None)). Then the pages' sizes against Mermaid's limits. Run: make bench.
"""

from __future__ import annotations

import statistics
import time as clock
from collections.abc import Callable

from bench_scenarios import generate

from permanence.scenarios.engine import checker, drawing

ROUNDS = 7
STEPS = 2000


def _median(function: Callable[[], object]) -> float:
    samples = []
    for _ in range(ROUNDS):
        started = clock.perf_counter()
        function()
        samples.append(clock.perf_counter() - started)
    return statistics.median(samples)


def _arrows(text: str) -> int:
    return sum(1 for line in text.splitlines() if " --> " in line or " -->|" in line or " -.-> " in line)


def main() -> None:
    text = generate(STEPS)
    scenario = checker.check(text).scenario
    steps = len(scenario.steps)
    times: dict[str, list[float]] = {"pages": [], "check": [], "one diagram": []}
    for _ in range(3):  # interleaved, so that a busy moment of the machine weighs on all three
        times["pages"].append(_median(lambda: drawing.mermaid(scenario)))
        times["check"].append(_median(lambda: checker.check(text)))
        times["one diagram"].append(_median(lambda: drawing.paged(scenario, max_steps=None)))
    ours, check, whole = (statistics.median(times[k]) for k in ("pages", "check", "one diagram"))
    print(
        f"drawing, {steps} steps, in pages: {ours * 1000:.1f} ms; peer: the check of the same scenario "
        f"{check * 1000:.1f} ms, ratio {ours / check:.2f}x; the one diagram {whole * 1000:.1f} ms, "
        f"ratio {ours / whole:.2f}x"
    )
    one = drawing.paged(scenario, max_steps=None).pages[0].text
    print(
        f"one diagram: {len(one)} characters (Mermaid's maxTextSize {drawing.MERMAID_MAX_TEXT}), "
        f"{_arrows(one)} arrows (maxEdges {drawing.MERMAID_MAX_EDGES}): refused"
    )
    drawn = drawing.paged(scenario)
    sizes = [len(p.text) for p in drawn.pages]
    arrows = [_arrows(p.text) for p in drawn.pages]
    links = sum(p.text.count(":::goto") for p in drawn.pages)
    print(
        f"pages: {len(drawn.pages)} of at most {drawing.PAGE_STEPS} steps; largest {max(sizes)} characters "
        f"({max(sizes) / drawing.MERMAID_MAX_TEXT:.0%} of the limit), most arrows {max(arrows)} "
        f"({max(arrows) / drawing.MERMAID_MAX_EDGES:.0%}); {links} links between pages"
    )
    for limit in (300, 400, 500, 600, 650, 700):
        small = checker.check(generate(limit)).scenario
        flat = drawing.paged(small, max_steps=None).pages[0].text
        over = [
            name
            for name, value, most in (
                ("maxEdges", _arrows(flat), drawing.MERMAID_MAX_EDGES),
                ("maxTextSize", len(flat), drawing.MERMAID_MAX_TEXT),
            )
            if value >= most
        ]
        print(
            f"  {limit} steps as one diagram: {len(flat)} characters, {_arrows(flat)} arrows: "
            f"{'refused (' + ', '.join(over) + ')' if over else 'accepted'}; "
            f"in pages: {len(drawing.paged(small).pages)}"
        )


if __name__ == "__main__":
    main()
