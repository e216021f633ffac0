"""Scenario engine: checking a large scenario, and the time per answer at the desk.

Aims (issues 3 and 21): under 100 ms to check a scenario of 2,000 steps, ``answer`` p99 under 1 ms.
Run: make bench (or ``python bench/bench_scenarios.py``).

The peer, measured in the same run on the same text: what a project without this checker would do to
accept a file, libyaml's parse (``yaml.load`` with ``CBaseLoader``, no type resolution: the cheapest
full reading PyYAML offers) and a validation against the published JSON Schema
(``docs/scenario.schema.json``) by ``jsonschema_rs`` (compiled, the fastest validator installed), after
typing the scalars as ``tests/scenarios/test_schema.py`` does. The peer checks the shape only; the
checker also keeps every position, resolves the references, types the conditions and texts, and runs the
graph and dataflow analyses. Times are medians of interleaved rounds (wall clock and CPU time: the
machine is shared, so the ratio is the figure to read).
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time as clock
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from permanence.scenarios.engine import checker, expressions
from permanence.scenarios.engine.runtime import Person, Run, StaticEnvironment

SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "scenario.schema.json"
ROUNDS = 15


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


def _peer(validator: Any) -> Callable[[str], bool]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from scenario_helpers import typed  # the schema test's own typing of BaseLoader's strings

    def check(text: str) -> bool:
        return bool(validator.is_valid(typed(yaml.load(text, Loader=yaml.CBaseLoader))))

    return check


def _ours(text: str) -> bool:
    expressions.parse.cache_clear()  # time a first reading, not a cached one
    return bool(checker.check(text).ok)


def _timed(functions: dict[str, Callable[[str], bool]], text: str) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each function, in interleaved rounds."""
    wall: dict[str, list[float]] = {name: [] for name in functions}
    cpu: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(ROUNDS):
        for name, function in functions.items():
            started, started_cpu = clock.perf_counter(), clock.process_time()
            function(text)
            wall[name].append(clock.perf_counter() - started)
            cpu[name].append(clock.process_time() - started_cpu)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in functions}


def bench_check(label: str, text: str, functions: dict[str, Callable[[str], bool]]) -> None:
    times = _timed(functions, text)
    (ours, ours_cpu), (peer, peer_cpu) = times["checker"], times["peer"]
    print(
        f"check, {label} ({len(text) // 1024} KiB): {ours * 1000:.1f} ms (CPU {ours_cpu * 1000:.1f} ms); "
        f"peer {peer * 1000:.1f} ms (CPU {peer_cpu * 1000:.1f} ms); ratio {ours / peer:.2f}x "
        f"(CPU {ours_cpu / peer_cpu:.2f}x)  (aim: < 100 ms)"
    )


def _given(run: Run, kind: str) -> dict[str, Any] | str:
    step = run.scenario.steps[run.step or ""]
    if step.kind == "ask":
        return {name: kind if name == "kind" else "non" if name == "urgent" else "valeur"
                for name, _, _ in step.fields}
    if step.kind == "lookup":
        return {"person": "p"}
    if step.kind == "transfer":
        return "no_answer"
    return {}


def _quantiles(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p50, p99 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.99)]
    return f"p50 {p50 * 1e6:.0f} µs, p99 {p99 * 1e6:.0f} µs, max {ordered[-1] * 1e6:.0f} µs"


def bench_answers(scenario: Any) -> None:
    """Runs along the three paths of the scenario (a prospect, a client looked up and not put through,
    another caller), right after the check as a host does; the collector's pauses during the answers."""
    env = StaticEnvironment(people={"p": Person("p", "P")}, functions={"is_open": True})
    pauses: list[float] = []
    started_at: list[float] = []

    def watch(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started_at.append(clock.perf_counter())
        elif started_at:
            pauses.append(clock.perf_counter() - started_at.pop())

    times: list[float] = []
    screens: list[float] = []
    cpu: list[float] = []  # the thread's CPU time: what the call costs, without the waits of a shared machine
    screens_cpu: list[float] = []
    gc.callbacks.append(watch)
    try:
        for kind in ("prospect", "client", "other"):
            run = Run.start(scenario, env)
            while run.step is not None and len(times) < 10_000:
                given = _given(run, kind)
                started, started_cpu = clock.perf_counter(), clock.thread_time()
                run.answer(given)
                times.append(clock.perf_counter() - started)
                cpu.append(clock.thread_time() - started_cpu)
                started, started_cpu = clock.perf_counter(), clock.thread_time()
                run.screen()  # what the desk shows next: the step's words, its fields, the draft report
                screens.append(clock.perf_counter() - started)
                screens_cpu.append(clock.thread_time() - started_cpu)
    finally:
        gc.callbacks.remove(watch)
    longest = max(pauses, default=0.0)
    print(
        f"answer: {len(times)} calls along 3 runs, {_quantiles(times)}; CPU {_quantiles(cpu)}  "
        f"(aim: p99 < 1 ms); {len(pauses)} collections during answers and screens, "
        f"the longest {longest * 1e6:.0f} µs"
    )
    print(f"screen after each answer: {_quantiles(screens)}; CPU {_quantiles(screens_cpu)}")
    started = clock.perf_counter()
    data = json.loads(json.dumps(run.to_json()))
    Run.from_json(scenario, env, data)
    elapsed = clock.perf_counter() - started
    print(f"resume a run of {len(data['inputs'])} answers from JSON: {elapsed * 1000:.1f} ms")


def main() -> None:
    import jsonschema_rs

    validator = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text(encoding="utf-8")))
    functions = {"checker": _ours, "peer": _peer(validator)}
    text = generate(2000)
    result = checker.check(text)
    errors = [str(p) for p in result.problems.errors]
    assert not errors, errors[:5]
    assert functions["peer"](text), "the peer refuses the generated scenario"
    print(f"machine: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {ROUNDS} rounds each")
    bench_check(f"{len(result.scenario.steps)} steps", text, functions)
    lost = text.replace("start: s0", "start: s1000")  # half the steps unreachable (was quadratic)
    bench_check("the same, 1,000 steps unreachable", lost, functions)
    bench_answers(checker.check(text).scenario)


if __name__ == "__main__":
    main()
