"""permanence rollups: count the calls that are over in the reports' rollups, or rebuild them all."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from permanence.reporting import rollups


class Command(BaseCommand):
    help = "Count the finished calls not yet in the reports (the worker does it), or --rebuild everything."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rebuild", action="store_true", help="recompute every rollup from the raw events"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rebuild"]:
            count = rollups.rebuild()
        else:
            count = 0
            while done := rollups.sweep(limit=5000):
                count += done
            while rollups.sweep_messages():
                pass
        self.stdout.write(f"{count} call(s) counted.")
