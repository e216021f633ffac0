"""permanence sync_calendars: sync the collaborators' own calendars now (the worker does it on its own)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from permanence.agenda import caldav_sync
from permanence.agenda.models import CalendarLink


class Command(BaseCommand):
    help = "Sync the collaborators' CalDAV calendars now: every active link, or those of one account."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="only this account's collaborators (its slug)")

    def handle(self, *args: Any, **options: Any) -> None:
        links = CalendarLink.objects.filter(is_active=True).select_related("collaborator__account")
        if options["account"]:
            links = links.filter(collaborator__account__slug=options["account"])
            if not links.exists():
                raise CommandError(f"No calendar linked in account {options['account']!r}.")
        failed = 0
        for link in links:
            report = caldav_sync.sync(link)
            if report.skipped:
                state = "already syncing"
            elif report.error:
                failed += 1
                state = f"ERROR {report.error}"
            else:
                state = (
                    f"read {report.pulled}, written {report.pushed}, deleted {report.deleted}, "
                    f"to look at {report.issues}"
                )
            self.stdout.write(f"{link.collaborator.account.slug} · {link.collaborator}: {state}")
        if failed:
            raise CommandError(f"{failed} calendar(s) could not be synced.")
