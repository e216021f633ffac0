"""permanence staffing: agents needed for a volume of calls (Erlang C, or Erlang A with --patience);
with --input, for every row of a CSV file of volumes at once (the grid path, planning/grid.py).

The command itself is ``planning/commands.py`` (no Django): ``permanence staffing`` runs it before
any Django import; this management command (``call_command``, ``python -m django``) runs the same."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from permanence.planning import commands


class Command(BaseCommand):
    help = commands.STAFFING_HELP
    requires_system_checks: list[str] = []  # noqa: RUF012 - a computation: nothing of the site to check

    def add_arguments(self, parser: CommandParser) -> None:
        commands.staffing_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            commands.staffing(options, lambda text: self.stdout.write(text, ending=""))
        except commands.Failure as exc:
            raise CommandError(str(exc)) from None
