"""Export a whole account as one zip archive (docs/export-format.md): what import_account reads back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from permanence.accounts import portability
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.contacts.management.commands._common import get_account


class Command(BaseCommand):
    help = "Export a whole account (settings, directory, scenarios, contacts, calls, messages...) to a zip."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account", help="the account's short name (slug)")
        parser.add_argument("-o", "--output", type=Path, required=True, help="the zip file to write")
        parser.add_argument("--with-audio", action="store_true",
                            help="put the audio files (voicemails, recordings, prompts) in the zip too")

    def handle(self, *args: Any, **options: Any) -> None:
        account = get_account(options["account"])
        output: Path = options["output"]
        audio = portability.audio_kinds() if options["with_audio"] else frozenset()
        try:
            manifest = portability.copy_to(
                str(output), lambda handle: portability.export_account(account, handle, audio=audio))
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror or exc}") from None
        except portability.ArchiveError as exc:
            raise CommandError(f"Cannot export {account.slug}: {exc}") from None
        sounds = manifest.data["audio"]
        trail.record(None, Action.EXPORT, account, object_repr=account.name, via="cli", format="zip",
                     rows=manifest.rows, audio=sounds["archived"])
        self.stdout.write(
            f"{account.slug}: {len(manifest.data['files'])} files, {manifest.rows} rows, "
            f"{sounds['archived']} of {sounds['referenced']} audio files in the archive → {output}"
        )
