"""The command line a newcomer meets: `permanence --help` lists every command, each command's
--help works, and `make demo` shows its progress while loading the history."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from datetime import date, time
from pathlib import Path

import pytest
from django.core.management import call_command, get_commands

from permanence import cli
from permanence.accounts.models import WeeklyHours
from permanence.calls import history
from permanence.calls.models import Call


class Out(io.StringIO):
    """A command's stdout that records what had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


def test_history_reports_each_week_stored_then_the_count(alpha, personas):
    for weekday in range(5):
        WeeklyHours.objects.create(account=alpha, weekday=weekday, opens=time(8), closes=time(19))
    out = Out()
    stored = history.generate(
        alpha, weeks=3, until=date(2026, 11, 23), calls_per_week=200,
        secretaries=[personas["secretary"].pk], progress=history.report_to(out),
    )
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and len(out.flushed) == 4  # each line flushed as it is written
    pattern = rf"Call history, {re.escape(alpha.name)}: week (\d) of 3 stored \((\d+) calls\)"
    weeks = [re.fullmatch(pattern, line) for line in lines[:3]]
    assert all(weeks), lines
    assert [int(m.group(1)) for m in weeks] == [1, 2, 3]
    assert sum(int(m.group(2)) for m in weeks) == stored == Call.objects.filter(account=alpha).count() > 300
    assert lines[3] == f"Call history, {alpha.name}: {stored} calls counted in the reports"


def test_load_demo_prints_the_history_progress_before_the_logins(db, monkeypatch):
    from permanence.accounts.management.commands import load_demo

    monkeypatch.setattr(load_demo, "HISTORY_WEEKS", 2)  # the same code on two weeks: quick
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    text = out.getvalue()
    for name in ("Cabinet Durand & Associés", "Cabinet médical des Tilleuls", "Plomberie Girard"):
        assert f"Call history, {name}: week 1 of 2 stored" in text
        assert f"Call history, {name}: week 2 of 2 stored" in text
    assert text.index("week 2 of 2") < text.index("Demo data loaded.") < text.index("Logins")
    # loaded again: the history is there, nothing to report
    again = io.StringIO()
    call_command("load_demo", stdout=again)
    assert "Call history," not in again.getvalue()


SRC = Path(cli.__file__).resolve().parent


def permanence_commands() -> set[str]:
    """The management commands Permanence's own apps define, as Django finds them."""
    return {name for name, app in get_commands().items() if app.startswith("permanence.")}


def test_the_command_list_is_found_where_the_commands_live():
    on_disk = {
        path.stem for path in SRC.glob("*/management/commands/*.py") if not path.stem.startswith("_")
    }
    assert permanence_commands() == on_disk
    assert {"serve", "worker", "load_demo", "forecast", "staffing", "rollups", "scenario"} <= on_disk


def test_help_lists_every_permanence_command_with_one_line(capsys):
    assert cli.main(["permanence", "--help"]) == 0
    out = capsys.readouterr().out
    listed = dict(re.findall(r"^  (\w+) +(\S.*)$", out, re.MULTILINE))
    missing = permanence_commands() - set(listed)
    assert not missing, f"add these commands to permanence.cli.SECTIONS: {sorted(missing)}"
    assert listed == cli.SUBCOMMANDS  # nothing listed twice, each with its own line
    assert all(len(text) > 15 and not text.endswith(".") for text in listed.values())
    assert set(listed) <= set(get_commands())  # no stale name: each one runs
    assert cli.main(["permanence", "help"]) == 0 and capsys.readouterr().out == out


@pytest.mark.parametrize("command", [*cli.SUBCOMMANDS, "scenario check", "scenario run", "scenario render"])
def test_each_listed_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["permanence", *command.split(), "--help"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: permanence {command} ")
    assert "Traceback" not in out


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "permanence.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_the_installed_command_helps_and_refuses_an_unknown_word_without_a_traceback():
    shown = _cli("--help")
    assert shown.returncode == 0 and "  forecast " in shown.stdout and not shown.stderr
    forecast = _cli("forecast", "--help")
    assert forecast.returncode == 0 and forecast.stdout.startswith("usage: permanence forecast ")
    unknown = _cli("forcast")
    assert unknown.returncode == 1
    assert "Unknown command: 'forcast'" in unknown.stderr and "Traceback" not in unknown.stderr


def test_nothing_in_permanence_imports_a_test_tool():
    """`make demo` installs the dependencies without the test extra: no module may need one."""
    import ast
    import tomllib
    from importlib.metadata import packages_distributions

    from packaging.requirements import Requirement

    pyproject = tomllib.loads((SRC.parents[1] / "pyproject.toml").read_text())
    test_only = {
        Requirement(line).name.lower().replace("_", "-")
        for line in pyproject["project"]["optional-dependencies"]["test"]
    }
    runtime = {Requirement(line).name.lower() for line in pyproject["project"]["dependencies"]}
    assert not test_only & runtime
    modules = {
        module
        for module, dists in packages_distributions().items()
        if {d.lower().replace("_", "-") for d in dists} & test_only
    }
    assert {"pytest", "playwright", "hypothesis", "radicale", "aiosmtpd", "jsonschema", "mypy"} <= modules
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names] if isinstance(node, ast.Import)
                else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level
                else []
            )
            found += [f"{path.relative_to(SRC)}: {name}" for name in names if name.split(".")[0] in modules]
    assert not found, found
