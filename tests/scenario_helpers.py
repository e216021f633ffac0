"""Scenarios in tests: the `permanence scenario` command run in-process, a version put in service."""

from __future__ import annotations

import io
from typing import Any

from django.core.management import call_command


def scenario_cmd(*args: str) -> tuple[Any, str, str]:
    """``permanence scenario ARGS``: (exit code, standard output, standard error)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("scenario", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def put_in_service(account: Any, name: str, source: str, user: Any, entry: str = "main") -> Any:
    """A scenario through its life: created, written, sent, approved (as the pages do)."""
    from permanence.scenarios import services
    from permanence.scenarios.models import Scenario, ScenarioVersion

    scenario = Scenario.objects.create(account=account, name=name, entry=entry)
    version = ScenarioVersion(scenario=scenario, number=1, source=source)
    services.store_check(version, services.check(source, account))
    version.save()
    services.send_to_client(version, user)
    return services.approve(version, user)


def large_scenario(groups=200, phase_every=4, lonely=True):
    """The text of a scenario of ``groups`` × 10 steps; every ``phase_every`` groups share a phase; with
    ``lonely``, one step no arrow reaches (its only error)."""
    lines = [
        "title: Grand",
        "start: s0",
        "fields:",
        "  kind: {type: choice, label: Genre, options: {client: Client, prospect: Prospect}}",
        "  wanted: {type: person, label: Personne demandée}",
        "  urgent: {type: yes_no, label: Urgent}",
        "steps:",
    ]
    for g in range(groups):
        b = g * 10
        nxt = f"s{b + 10}" if g < groups - 1 else "done"
        phase = f"    phase: Partie {g // phase_every}\n" if phase_every else ""
        for i, body in enumerate(
            [
                f"say: 'Étape {g}.'\n    next: s{b + 1}",
                f"ask: [kind]\n    next: s{b + 2}",
                f"decide:\n      - {{if: kind == 'client', goto: s{b + 3}}}"
                f"\n      - {{if: kind == 'prospect', goto: s{b + 5}}}\n      - else: s{b + 6}",
                f"lookup: wanted\n    on: {{found: s{b + 4}, not_found: s{b + 6}}}",
                f"transfer: wanted\n    on: {{other: s{b + 6}}}",
                f"say: 'Prospect {g}'\n    next: s{b + 7}",
                f"ask: [urgent]\n    next: s{b + 7}",
                f"say: 'Suite {g}'\n    next: s{b + 8}",
                f"decide:\n      - {{if: urgent, goto: s{b + 9}}}\n      - else: {nxt}",
                "message: [wanted, account]",
            ]
        ):
            lines.append(f"  s{b + i}:\n    {body}\n{phase}".rstrip("\n"))
    lines.append("  done: {end: information}")
    if lonely:
        lines.append("  lonely: {say: 'Jamais atteinte', next: done}")
    lines += ["settings:", "  max_questions: 1000"]
    return "\n".join(lines) + "\n"


def typed(value: Any) -> Any:
    """YAML's BaseLoader keeps every scalar a string; give booleans and numbers back their types (for the
    JSON Schema, which expects them typed)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if value in ("true", "false"):
        return value == "true"
    if value.isdigit():
        return int(value)
    return value
