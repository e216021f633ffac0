"""Export an account's contacts as CSV (what import_contacts reads back)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from permanence.audit import trail
from permanence.audit.models import Action
from permanence.contacts import csvio
from permanence.contacts.management.commands._common import get_account


class Command(BaseCommand):
    help = "Export an account's contacts to CSV (UTF-8, ';')."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account", help="the account's short name (slug)")
        parser.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        account = get_account(options["account"])
        output: Path | None = options["output"]
        trail.record(None, Action.EXPORT, account=account, object_type="contacts.contact",
                     object_repr="contacts", via="cli")
        chunks = csvio.export_csv_chunks(account)
        if output is None:
            for chunk in chunks:
                sys.stdout.write(chunk)
            return
        try:
            with output.open("w", encoding="utf-8", newline="") as handle:
                for chunk in chunks:
                    handle.write(chunk)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}") from None
