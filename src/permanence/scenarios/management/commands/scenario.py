"""permanence scenario check|run|render FILE: the scenario language on the command line.

The command itself is ``scenarios/commands.py`` (no Django): ``permanence scenario`` runs it before
any Django import when the file needs nothing of the database; this management command runs the same
with the account (``--account``) and the shared blocks of the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone
from django.utils.translation import gettext

from permanence.accounts.models import Account
from permanence.scenarios import commands, environment, live
from permanence.scenarios.engine import checker, model

EXIT_ERRORS = commands.EXIT_ERRORS
EXIT_UNREADABLE = commands.EXIT_UNREADABLE
UNREADABLE = commands.UNREADABLE


class Command(BaseCommand):
    help = commands.HELP

    def add_arguments(self, parser: CommandParser) -> None:
        commands.arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        account = None
        if options.get("account"):
            account = Account.objects.filter(slug=options["account"]).first()
            if account is None:
                raise CommandError(gettext("No account “%(slug)s”.") % {"slug": options["account"]})
        info = environment.account_info(account) if account else None
        library = shared_blocks()

        def check(text: bytes) -> checker.Result:
            return checker.check(text, info, library)

        def env(at: datetime, caller: str | None) -> Any:
            return environment.environment(account, at, caller=caller, simulated_identity=True)

        zone = account.tz if account else timezone.get_current_timezone()
        context = commands.Context(check, env, zone, gettext, account)
        try:
            commands.handle(options, self.stdout, self.stderr, context)
        except commands.Failure as exc:
            raise CommandError(str(exc)) from None


def shared_blocks() -> dict[str, model.Block]:
    """The shared blocks of the database, as the editor and the desk use them (none without one)."""
    try:
        return dict(live.library().blocks)
    except DatabaseError:  # no database here, or not migrated: the file is checked on its own
        return {}
