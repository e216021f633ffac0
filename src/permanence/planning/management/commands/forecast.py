"""permanence forecast: next week's calls from the history, its error on the last week, and the
secretaries needed (the staffing page's plan, in a terminal).

From the database's rollups (one account, or all); with --input, from a CSV file of past calls
(``planning/commands.py``, no Django: ``permanence forecast --input`` runs it before any Django import,
and this command runs the same)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from permanence.accounts.models import Account
from permanence.planning import commands, erlang, plans
from permanence.reporting import rollups


class Command(BaseCommand):
    help = commands.FORECAST_HELP

    def add_arguments(self, parser: CommandParser) -> None:
        commands.forecast_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        def write(text: str) -> None:
            self.stdout.write(text, ending="")

        try:
            if options["input"] is not None:
                commands.forecast_file(options, write)
            else:
                self.from_database(options, write)
        except commands.Failure as exc:
            raise CommandError(str(exc)) from None

    def from_database(self, options: dict[str, Any], write: commands.Write) -> None:
        if options["aht"] is not None:
            raise commands.Failure("--aht goes with --input (the database measures the handle time).")
        account = None
        if options["account"]:
            account = Account.objects.filter(slug=options["account"]).first()
            if account is None:
                raise commands.Failure(f"no account named {options['account']!r}")
        zone = account.tz if account else rollups.operator_zone()
        today = timezone.now().astimezone(zone).date()
        week = commands.plan_week(options, today, today + timedelta(days=7))
        targets = commands.forecast_targets(options)
        try:
            plan = plans.make(account, week, targets, today)
        except erlang.StaffingError as exc:
            raise commands.Failure(str(exc)) from None
        named = {"slug": account.slug, "name": account.name} if account else None
        commands.write_plan(plan, named, None, targets, options["json"], write)
