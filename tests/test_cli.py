"""The command line a newcomer meets: `permanence --help` lists every command, each command's
--help works, and `make demo` shows its progress while loading the history."""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command, get_commands, load_command_class

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


# The pure commands: no Django import, the same words as Django's commands ----------------------

LEGAL = SRC / "scenarios" / "library" / "legal.yaml"
VOLUMES = "account,start,calls,aht\nacme,2026-03-02T08:00,50,180\nbeta,2026-03-02T08:15,62.5,330\n"

# Runs `permanence ARGS` in a fresh interpreter, then says which modules of Django it had imported.
IMPORTS = """
import json, sys
from permanence import cli
status = cli.main(["permanence", *sys.argv[1:]])
django = sorted(m for m in sys.modules if m == "django" or m.startswith("django."))
sys.stderr.write("\\nIMPORTED " + json.dumps({"status": status, "django": django}) + "\\n")
"""


def _imports(*args: str) -> tuple[dict, str]:
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS, *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    found = json.loads(done.stderr.rpartition("IMPORTED ")[2])
    return found, done.stdout


def _history(tmp_path: Path) -> Path:
    rows = ["account,start,calls,aht"]
    for day in range(9 * 7):
        for hour in range(8, 19):
            at = datetime(2026, 9, 7, hour) + timedelta(days=day)
            if at.weekday() < 5:
                rows.append(f"acme,{at.isoformat()},{3 + hour % 4},{170 + hour}")
    path = tmp_path / "history.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_the_pure_commands_import_no_django(tmp_path):
    volumes = tmp_path / "volumes.csv"
    volumes.write_text(VOLUMES, encoding="utf-8")
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps([["welcome", {}], ["qualify", {"caller_type": "job_seeker"}]]))
    forms = {
        "staffing --calls-per-hour 200 --aht 180": "14 agents on the phones",
        f"staffing --input {volumes} --shrinkage 0.3": "acme,2026-03-02T08:00,50,180,10.000000,14,20,",
        f"scenario check {LEGAL}": "legal.yaml : aucun problème trouvé.",  # in French, the site's language
        f"scenario run {LEGAL} --answers {answers} --at 2026-11-23T10:00": '"path": [',
        f"scenario render {LEGAL} --format dot": "digraph scenario",
        f"forecast --input {_history(tmp_path)} --json": '"week": "2026-11-09"',
    }
    for words, shown in forms.items():
        found, out = _imports(*words.split())
        assert found == {"status": 0, "django": []}, words
        assert shown in out, (words, out)
    found, _ = _imports("staffing", "--calls-per-hour", "10", "--aht", "-5")
    assert found == {"status": 1, "django": []}  # a bad input too: one line, no Django


def test_the_forms_that_need_the_database_go_to_django(tmp_path, monkeypatch):
    from permanence.planning import commands as planning
    from permanence.scenarios import commands as scenarios

    assert planning.forecast_main(["--week", "2026-12-14"]) is None  # the rollups
    assert planning.forecast_main(["--input", "x.csv", "--account", "alpha"]) is None
    assert scenarios.main(["check", str(LEGAL), "--account", "alpha"]) is None
    shared = tmp_path / "shared.yaml"  # a block of the library: only the database has it
    shared.write_text("title: T\nstart: a\nsteps:\n  a: {use: cold_caller, with: {company: X}}\n")
    assert scenarios.main(["check", str(shared)]) is None
    handed = []
    monkeypatch.setattr("django.core.management.execute_from_command_line", handed.append)
    assert cli.main(["permanence", "scenario", "check", str(shared)]) == 0
    assert handed == [["permanence", "scenario", "check", str(shared)]]
    # Django's own options are Django's: the command goes there whole
    assert cli.main(["permanence", "staffing", "--calls-per-hour", "1", "--aht", "1", "--skip-checks"]) == 0
    assert handed[-1][-1] == "--skip-checks" and len(handed) == 2


def _both(capsys, *args: str) -> tuple[tuple[object, str, str], tuple[object, str, str]]:
    """``permanence ARGS`` without Django, then Django's command: (status, stdout, stderr) each."""
    try:
        status: object = cli.main(["permanence", *args])
    except SystemExit as exc:
        status = exc.code
    pure = (status, *capsys.readouterr())
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
        status = 0
    except SystemExit as exc:
        status = exc.code
    except CommandError as exc:
        status, err = 1, io.StringIO(f"CommandError: {exc}\n")
    return pure, (status, out.getvalue(), err.getvalue())


def test_the_pure_commands_say_what_django_s_commands_say(db, tmp_path, capsys):
    volumes = tmp_path / "volumes.csv"
    volumes.write_text(VOLUMES, encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: T\nstart: a\nsteps:\n  a: {say: bonjour, next: b}\n", encoding="utf-8")
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps([["welcome", {}], ["qualify", {"caller_type": "martian"}]]))
    forms = [
        ["staffing", "--calls-per-hour", "200", "--aht", "180", "--shrinkage", "0.3"],
        ["staffing", "--calls-per-hour", "1200", "--aht", "300", "--patience", "120", "--json"],
        ["staffing", "--input", str(volumes), "--patience", "90"],
        ["staffing", "--input", str(volumes), "--shrinkage", "1"],
        ["staffing", "--aht", "180"],
        ["scenario", "check", str(LEGAL)],
        ["scenario", "check", str(bad)],
        ["scenario", "check", str(bad), "--json"],
        ["scenario", "check", str(tmp_path / "missing.yaml")],
        ["scenario", "render", str(LEGAL)],
        ["scenario", "render", str(LEGAL), "--format", "dot"],
        ["scenario", "run", str(LEGAL), "--answers", str(answers), "--at", "2026-11-23T10:00"],
        ["scenario", "run", str(LEGAL), "--answers", str(answers), "--at", "demain"],
        ["scenario", "run", str(LEGAL), "--answers", str(tmp_path / "none.json")],
        ["forecast", "--input", str(_history(tmp_path)), "--interval", "60"],
        ["forecast", "--input", str(volumes), "--week", "2020-01-06"],
    ]
    for args in forms:
        pure, django = _both(capsys, *args)
        assert pure == django, args
        assert pure[1] or pure[2], args  # each says something
    statuses = [_both(capsys, *args)[0][0] for args in forms]
    assert statuses == [0, 0, 0, 1, 1, 0, 1, 1, 2, 0, 0, 1, 1, 2, 0, 1]


def test_the_pure_commands_read_the_settings_they_stand_for():
    from django.conf import settings

    from permanence.planning import commands as planning
    from permanence.planning import views, weekplan
    from permanence.scenarios import commands as scenarios

    assert scenarios.LANGUAGE_CODE == settings.LANGUAGE_CODE
    assert scenarios.OPERATOR_ZONE == planning.OPERATOR_ZONE == settings.TIME_ZONE
    assert scenarios.LOCALE in [Path(p) for p in settings.LOCALE_PATHS]
    assert views.week_allowed is weekplan.week_allowed  # the page's limits are the pure core's
    for command in ("staffing", "forecast", "scenario"):  # the same options, the same help
        django = {
            action.dest: (action.option_strings, action.default, action.help)
            for action in load_command_class("permanence.planning" if command != "scenario"
                                             else "permanence.scenarios", command)
            .create_parser("permanence", command)._actions
        }
        pure = {
            action.dest: (action.option_strings, action.default, action.help)
            for action in _pure_parser(command)._actions
        }
        assert pure.items() <= django.items(), command


def _pure_parser(command: str) -> argparse.ArgumentParser:
    from permanence.planning import commands as planning
    from permanence.scenarios import commands as scenarios

    parser = argparse.ArgumentParser()
    {"staffing": planning.staffing_arguments, "forecast": planning.forecast_arguments,
     "scenario": scenarios.arguments}[command](parser)
    return parser
