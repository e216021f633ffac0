"""Import contacts from a CSV file into an account; bad rows are listed, good rows kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from permanence.contacts import csvio
from permanence.contacts.management.commands._common import get_account


class Command(BaseCommand):
    help = "Import an account's contacts from a CSV file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account", help="the account's short name (slug)")
        parser.add_argument("file", type=Path, help="CSV file (UTF-8 or Windows-1252)")

    def handle(self, *args: Any, **options: Any) -> None:
        account = get_account(options["account"])
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
        try:
            report = csvio.import_contacts(account, data)
        except csvio.CsvFileError as exc:
            raise CommandError(str(exc)) from None
        for error in report.errors:
            column = f" [{error.column}]" if error.column else ""
            self.stderr.write(f"line {error.line}{column}: {error.message}")
        if report.ignored_columns:
            self.stderr.write(f"ignored columns: {', '.join(report.ignored_columns)}")
        self.stdout.write(
            f"{report.created} contacts imported, {report.rejected_lines} rows rejected "
            f"({report.encoding}, delimiter {report.delimiter!r})"
        )
        if report.errors:
            raise SystemExit(1)
