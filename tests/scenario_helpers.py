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
