"""The ``permanence`` command: Permanence's own subcommands, then Django's.

``permanence --help`` lists Permanence's subcommands; any other word is handed
to Django's management commands (``permanence migrate``, ``permanence shell``).
"""

from __future__ import annotations

import os
import sys

# Subcommands that belong to Permanence, shown by --help. Later capabilities
# add their management command here.
SUBCOMMANDS: dict[str, str] = {
    "serve": "start the web server (ASGI: pages and WebSockets)",
    "load_demo": "load or refresh the demo accounts (idempotent)",
    "import_contacts": "import an account's contacts from a CSV file",
    "export_contacts": "export an account's contacts to CSV",
    "identify": "identify a caller from the called and calling numbers",
    "worker": "run the background worker (sends the messages, with retries)",
    "simulate": "simulate incoming calls for the desk (Poisson arrivals, impatient callers)",
    "scenario": "check, run or draw a call scenario (scenario check|run|render FILE)",
    "sync_calendars": "sync the collaborators' own CalDAV calendars now (the worker does it on its own)",
    "rollups": "count finished calls in the reports' rollups (--rebuild: recompute them all)",
    "staffing": "agents needed for a volume of calls (Erlang C, or Erlang A with --patience)",
    "migrate": "create or update the database tables",
    "createsuperuser": "create an operator admin",
    "check": "check the configuration",
}

USAGE = """usage: permanence <command> [options]

Permanence: software for telephone answering services.

commands:
{commands}

Every Django management command works too (permanence help --commands).
Run `permanence <command> --help` for a command's options.
"""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "permanence.settings")
    if len(argv) < 2 or argv[1] in ("-h", "--help", "help") and len(argv) == 2:
        width = max(len(name) for name in SUBCOMMANDS)
        lines = "\n".join(f"  {name.ljust(width)}  {text}" for name, text in SUBCOMMANDS.items())
        print(USAGE.format(commands=lines))
        return 0
    if argv[1] in ("--version", "-V"):
        from permanence import __version__

        print(f"permanence {__version__}")
        return 0
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    argv[0] = "permanence"
    try:
        execute_from_command_line(argv)
    except ImproperlyConfigured as exc:  # a bad setting: say which, without a traceback
        print(f"permanence: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
