"""Restore an account exported by export_account into this instance: all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from permanence.accounts import portability


class Command(BaseCommand):
    help = "Import an account from a zip made by export_account (all or nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the zip file")
        parser.add_argument("--slug", help="the new account's short name (default: the exported one)")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"Cannot read {path}: no such file")
        try:
            report = portability.import_account(str(path), slug=options["slug"])
        except portability.ArchiveError as exc:
            raise CommandError(f"Nothing imported: {exc}") from None
        account = report.account
        assert account is not None
        write = self.stdout.write
        write(f"{account.slug}: {report.rows} rows imported ({account.name})")
        if report.users_created:
            write(f"users made again, without a password (set one: permanence changepassword USER): "
                  f"{', '.join(report.users_created)}")
        if report.staff_mapped:
            write(f"staff named in the data, found here: {', '.join(report.staff_mapped)}")
        if report.staff_kept_as_names:
            write(f"staff unknown here, kept as names (inactive users, no password, no training): "
                  f"{', '.join(report.staff_kept_as_names)}")
        if report.api_keys_revoked:
            write(f"{report.api_keys_revoked} API keys kept revoked (their secrets are not exported): "
                  "make new ones")
        if report.webhook_secrets:
            write(f"{report.webhook_secrets} webhooks have a new signing secret (back-office): give it to "
                  "the receiving systems")
        if report.audio_restored:
            write(f"{report.audio_restored} audio files restored")
        if report.audio_missing:
            write(f"{len(report.audio_missing)} audio files not in the archive, imported without their audio "
                  "(export with --with-audio to bring them):")
            for missing in report.audio_missing:
                write(f"  {missing}")
        write("Not imported, see docs/export-format.md: trainings, calendar links, audit trail.")
