"""Scenario engine: checking a large scenario, and the time per answer at the desk.

Aims (issue 3): under 100 ms to check a scenario of 2,000 steps, under 1 ms per
``answer`` call. Run: make bench.
"""

from __future__ import annotations

import statistics
import time as clock

from permanence.scenarios.engine import checker, expressions
from permanence.scenarios.engine.runtime import Person, Run, StaticEnvironment


def generate(steps: int) -> str:
    """A scenario of ``steps`` steps: chains of questions, decisions, lookups and outcomes."""
    lines = [
        "title: Bench",
        "start: s0",
        "fields:",
        "  kind: {type: choice, options: {client: Client, prospect: Prospect, other: Autre}}",
        "  wanted: {type: person}",
        "  urgent: {type: yes_no}",
    ]
    lines += [f"  f{i}: {{type: text, label: Champ {i}}}" for i in range(40)]
    lines.append("steps:")
    groups = steps // 10
    for g in range(groups):
        base = g * 10
        nxt = f"s{base + 10}" if g < groups - 1 else "end"
        f = g % 40
        lines += [
            f"  s{base}: {{say: 'Étape {g} : bonjour {{{{ account.name }}}}.', next: s{base + 1}}}",
            f"  s{base + 1}: {{ask: [kind], next: s{base + 2}}}",
            f"  s{base + 2}:",
            "    decide:",
            f"      - {{if: kind == 'client' and is_open(), goto: s{base + 3}}}",
            f"      - {{if: kind == 'prospect', goto: s{base + 5}}}",
            f"      - else: s{base + 6}",
            f"  s{base + 3}: {{lookup: wanted, on: {{found: s{base + 4}, not_found: s{base + 6}}}}}",
            f"  s{base + 4}: {{transfer: wanted, on: {{other: s{base + 6}}}}}",
            f"  s{base + 5}: {{ask: [f{f}], note: 'Prospect {{{{ f{f} }}}}', next: s{base + 7}}}",
            f"  s{base + 6}: {{ask: [urgent], next: s{base + 7}}}",
            f"  s{base + 7}: {{say: 'Suite {g}', next: s{base + 8}}}",
            f"  s{base + 8}:",
            f"    decide: [{{if: 'is_set(urgent) and urgent', goto: s{base + 9}}}, {{else: {nxt}}}]",
            f"  s{base + 9}: {{message: [wanted, account], urgent: urgent}}",
        ]
    lines.append("  end: {end: information}")
    lines += ["settings:", "  max_questions: 100"]
    return "\n".join(lines) + "\n"


def main() -> None:
    text = generate(2000)
    result = checker.check(text)
    errors = [str(p) for p in result.problems.errors]
    assert not errors, errors[:5]
    samples = []
    for _ in range(15):
        expressions.parse.cache_clear()  # time a first reading, not a cached one
        started = clock.perf_counter()
        checker.check(text)
        samples.append(clock.perf_counter() - started)
    steps = len(result.scenario.steps)
    print(
        f"check, {steps} steps ({len(text) // 1024} KiB): median {statistics.median(samples) * 1000:.1f} ms, "
        f"best {min(samples) * 1000:.1f} ms  (aim: < 100 ms)"
    )

    env = StaticEnvironment(people={"p": Person("p", "P")}, functions={"is_open": True})
    scenario = result.scenario
    times = []
    run = Run.start(scenario, env)
    while run.step is not None and len(times) < 3000:
        kind = scenario.steps[run.step].kind
        given = {"kind": "prospect"} if kind == "ask" and run.step.endswith("1") else {}
        if kind == "ask" and not given:
            given = {
                name: "non" if name == "urgent" else "valeur"
                for name, _, _ in scenario.steps[run.step].fields
            }
        started = clock.perf_counter()
        run.answer(given)
        times.append(clock.perf_counter() - started)
    times.sort()
    print(
        f"answer: {len(times)} calls along one run, p50 {times[len(times) // 2] * 1e6:.0f} µs, "
        f"p99 {times[int(len(times) * 0.99)] * 1e6:.0f} µs, max {times[-1] * 1e6:.0f} µs  (aim: < 1 ms)"
    )
    started = clock.perf_counter()
    data = run.to_json()
    Run.from_json(scenario, env, data)
    print(
        f"resume a run of {len(data['inputs'])} answers from JSON: "
        f"{(clock.perf_counter() - started) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
