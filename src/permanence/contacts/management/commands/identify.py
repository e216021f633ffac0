"""Identify a caller: which account was called, which contact is calling."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from permanence.contacts.identify import identify


class Command(BaseCommand):
    help = "Identify a caller from the number called and the caller's number."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("called", help="the number that was called")
        parser.add_argument("caller", nargs="?", default="", help="the caller's number")
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        result = identify(options["called"], options["caller"])
        if result.called is None:
            raise CommandError(f"{options['called']!r} is not a valid phone number.")
        if result.account is None:
            raise CommandError(f"{result.called} belongs to no account.")
        data = {
            "account": result.account.slug,
            "greeting": result.account.greeting,
            "caller": result.caller,
            "contacts": [
                {"id": c.pk, "name": str(c), "tags": c.tag_list} for c in result.contacts
            ],
        }
        if options["json"]:
            self.stdout.write(json.dumps(data, ensure_ascii=False))
            return
        self.stdout.write(f"{result.account.name}: « {result.account.greeting} »")
        if result.caller is None:
            self.stdout.write("caller: number withheld")
        elif not result.contacts:
            self.stdout.write(f"caller: {result.caller} (unknown)")
        for contact in result.contacts:
            tags = f" [{', '.join(contact.tag_list)}]" if contact.tag_list else ""
            self.stdout.write(f"caller: {contact}{tags}")
