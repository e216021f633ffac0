"""The ``permanence`` command: Permanence's own subcommands, then Django's.

``permanence --help`` lists Permanence's subcommands; any other word is handed
to Django's management commands (``permanence migrate``, ``permanence shell``).

The pure commands run before any Django import (no site to load, no system checks: they start in a
tenth of a second instead of seconds): ``staffing``, ``scenario check|run|render FILE`` and
``forecast --input FILE``. The forms that read the database (``--account``, a scenario's shared
blocks, ``forecast`` on the rollups) and Django's own options (``--settings``...) go to Django's
command of the same name, which runs the same code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

# Every Permanence management command, by theme, with one line each; then the Django commands a
# newcomer needs. tests/test_cli.py fails when a command under permanence/*/management/commands/
# is missing here, so add a new command's line with it.
SECTIONS: tuple[tuple[str, dict[str, str]], ...] = (
    ("run", {
        "serve": "start the web server (ASGI: pages and WebSockets; --simulate RATE for the demo)",
        "worker": "run the background worker (messages with retries, rollups, calendar sync)",
        "dispatcher": "run the desk's dispatch alone: a cluster's dispatcher (docs/deployment.md)",
        "load_demo": "load or refresh the demo accounts, users and ten weeks of past calls (idempotent)",
        "simulate": "simulate incoming calls for the desk (Poisson arrivals, impatient callers)",
        "telephony": "real telephony: write Kamailio's and rtpengine's configuration, or run them (up)",
    }),
    ("scenarios and callers", {
        "scenario": "check, run or draw a call scenario (scenario check|run|render FILE)",
        "identify": "identify a caller from the called and calling numbers",
        "import_contacts": "import an account's contacts from a CSV file",
        "export_contacts": "export an account's contacts to CSV",
    }),
    ("reversibility", {
        "export_account": "export a whole account to one zip file (docs/export-format.md; --with-audio)",
        "import_account": "import an account exported by export_account, all or nothing (--slug NEW)",
    }),
    ("agenda", {
        "sync_calendars": "sync the collaborators' own CalDAV calendars now (the worker does it on its own)",
    }),
    ("billing", {
        "billing": "bill a month (--month YYYY-MM): run (drafts), issue (numbers them), export (Factur-X)",
    }),
    ("figures and planning", {
        "rollups": "count finished calls in the reports' rollups (--rebuild: recompute them all)",
        "forecast": "forecast a week's calls and the secretaries needed (--account, --week, or --input CSV)",
        "staffing": "agents needed for a volume of calls (Erlang C, or Erlang A with --patience)",
    }),
    ("database and administration (Django)", {
        "migrate": "create or update the database tables",
        "createsuperuser": "create an operator admin",
        "changepassword": "change a user's password",
        "check": "check the configuration",
    }),
)  # fmt: skip
SUBCOMMANDS: dict[str, str] = {name: text for _, commands in SECTIONS for name, text in commands.items()}

USAGE = """usage: permanence <command> [options]

Permanence: software for telephone answering services.
{commands}

Every Django management command works too (permanence help --commands). A command's
underscores may be written as dashes (permanence export-account).
Run `permanence <command> --help` for a command's options.
"""


def usage() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    parts = []
    for title, commands in SECTIONS:
        parts.append(f"\n{title}:")
        parts += [f"  {name.ljust(width)}  {text}" for name, text in commands.items()]
    return USAGE.format(commands="\n".join(parts))


# Django's options of every command: with one of them, the command is Django's
DJANGO_OPTIONS = ("--settings", "--pythonpath", "--traceback", "--no-color", "--force-color", "--skip-checks",
                  "--verbosity", "-v", "--version")  # fmt: skip


def pure_command(name: str) -> Callable[[list[str]], int | None] | None:
    """The plain-Python entry point of a command (its arguments -> exit status, or None when this
    form needs Django), imported only when it runs."""
    if name == "staffing":
        from permanence.planning import commands as planning

        return planning.staffing_main
    if name == "forecast":
        from permanence.planning import commands as planning

        return planning.forecast_main
    if name == "scenario":
        from permanence.scenarios import commands as scenarios

        return scenarios.main
    return None


def _django_option(word: str) -> bool:
    return any(word == option or word.startswith(option + "=") for option in DJANGO_OPTIONS) or (
        word.startswith("-v") and word[2:].isdigit()
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "permanence.settings")
    if len(argv) < 2 or argv[1] in ("-h", "--help", "help") and len(argv) == 2:
        print(usage())
        return 0
    if argv[1] in ("--version", "-V"):
        from permanence import __version__

        print(f"permanence {__version__}")
        return 0
    argv[0] = "permanence"
    if argv[1].replace("-", "_") in SUBCOMMANDS:  # export-account is export_account
        argv[1] = argv[1].replace("-", "_")
    pure = pure_command(argv[1])
    if pure is not None and not any(_django_option(word) for word in argv[2:]):
        try:
            status = pure(argv[2:])
        except BrokenPipeError:  # `permanence staffing --input big.csv | head`: the reader has gone
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush there
            return 1
        if status is not None:
            return status
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(argv)
    except ImproperlyConfigured as exc:  # a bad setting: say which, without a traceback
        print(f"permanence: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
