"""permanence simulate: simulated calls arrive for the accounts, callers hang up when tired of waiting."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from permanence.accounts.models import Account
from permanence.calls import simulator, telephony


class Command(BaseCommand):
    help = "Simulate incoming calls (Poisson arrivals per account, impatient callers, transfer answers)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--accounts", default="", help="short names, comma-separated (default: all)")
        parser.add_argument("--rate", type=float, default=20.0, help="calls per hour and per account")
        parser.add_argument("--duration", type=float, default=3600.0, help="seconds of simulation")
        parser.add_argument("--patience", type=float, default=90.0, help="mean seconds a caller waits")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = accounts_from(options["accounts"])
        if options["rate"] < 0 or options["duration"] <= 0 or options["speed"] <= 0:
            raise CommandError("--rate must be ≥ 0, --duration and --speed > 0")
        adapter = telephony.SimulatorAdapter(
            accounts,
            options["rate"],
            options["seed"],
            simulator.Behaviour(mean_patience=options["patience"]),
            speed=options["speed"],
        )
        planned = adapter.plan(options["duration"])
        self.stdout.write(
            f"{planned} calls planned over {options['duration']:.0f} s for "
            f"{', '.join(a.slug for a in accounts)}. Ctrl+C to stop."
        )
        try:
            while adapter.pending() or adapter.waiting():  # until the last caller is answered or gone
                adapter.run_due()
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        self.stdout.write("Simulation over.")


def accounts_from(slugs: str) -> list[Account]:
    wanted = [s.strip() for s in slugs.split(",") if s.strip()]
    accounts = list(Account.objects.filter(slug__in=wanted) if wanted else Account.objects.all())
    missing = set(wanted) - {a.slug for a in accounts}
    if missing:
        raise CommandError(f"unknown accounts: {', '.join(sorted(missing))}")
    if not accounts:
        raise CommandError("no account to simulate")
    return accounts
