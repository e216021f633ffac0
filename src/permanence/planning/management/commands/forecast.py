"""permanence forecast: next week's calls from the history, its error on the last week, and the
secretaries needed (the staffing page's plan, in a terminal)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from permanence.accounts.models import Account
from permanence.planning import erlang, plans, views
from permanence.reporting import rollups


class Command(BaseCommand):
    help = (
        "Forecast a week's calls from the last 8 whole weeks (one account, or all), with the error "
        "measured on the last week (WAPE), and the secretaries needed per day."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="the account's short name (default: all accounts)")
        parser.add_argument("--week", help="a day of the week to plan, 2026-12-07 (default: next week)")
        parser.add_argument("--interval", type=int, default=30, choices=(15, 30, 60), help="minutes (30)")
        parser.add_argument("--target-sl", type=float, default=0.8, help="share answered in time (0.8)")
        parser.add_argument("--target-seconds", type=float, default=20.0, help="answered within (20 s)")
        parser.add_argument("--shrinkage", type=float, default=0.3, help="share of paid time off the phones")
        parser.add_argument("--patience", type=float, help="mean seconds before a caller hangs up (Erlang A)")
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        account = None
        if options["account"]:
            account = Account.objects.filter(slug=options["account"]).first()
            if account is None:
                raise CommandError(f"no account named {options['account']!r}")
        zone = account.tz if account else rollups.operator_zone()
        today = timezone.now().astimezone(zone).date()
        try:
            week = date.fromisoformat(options["week"]) if options["week"] else today + timedelta(days=7)
        except ValueError:
            raise CommandError("dates are written 2026-12-31") from None
        if not views.week_allowed(week, today):
            raise CommandError("plan a week from this one up to twelve weeks ahead")
        if options["patience"] is not None and not views.MIN_PATIENCE <= options["patience"] <= 3600:
            raise CommandError(f"the patience is {views.MIN_PATIENCE} to 3600 seconds")
        targets = plans.Targets(
            service_level=options["target_sl"],
            seconds=options["target_seconds"],
            shrinkage=options["shrinkage"],
            patience=options["patience"],
            interval_minutes=options["interval"],
        )
        try:
            plan = plans.make(account, week, targets, today)
        except erlang.StaffingError as exc:
            raise CommandError(str(exc)) from None
        days = [
            {
                "day": day.isoformat(),
                "calls": round(sum(i.calls for i in intervals), 1),
                "peak_agents": max((i.agents for i in intervals), default=0),
                "scheduled_hours": sum(i.scheduled for i in intervals) * targets.interval_minutes / 60,
            }
            for day, intervals in plan.days()
        ]
        result = {
            "account": account.slug if account else None,
            "week": plan.week.isoformat(),
            "history_calls": plan.history_calls,
            "aht_seconds": round(plan.aht_seconds, 1),
            "aht_measured": plan.aht_measured,
            "wape_interval": None if plan.wape is None else round(plan.wape, 4),
            "wape_day": None if plan.wape_day is None else round(plan.wape_day, 4),
            "calls": round(plan.calls, 1),
            "scheduled_hours": plan.agent_hours,
            "days": days,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        name = account.name if account else "all accounts"
        self.stdout.write(f"{name}, week of {plan.week}: {plan.calls:.0f} calls forecast")
        if plan.wape is None:
            self.stdout.write("  no whole last week in the history: error not measured")
        else:
            self.stdout.write(
                f"  error on the last week (WAPE): {plan.wape:.1%} per {targets.interval_minutes} min, "
                f"{plan.wape_day:.1%} per day; from {plan.history_calls} calls, AHT {plan.aht_seconds:.0f} s"
            )
        for row in days:
            self.stdout.write(
                f"  {row['day']}  {row['calls']:7.1f} calls  peak {row['peak_agents']:3d} on the phones  "
                f"{row['scheduled_hours']:6.1f} h scheduled"
            )
