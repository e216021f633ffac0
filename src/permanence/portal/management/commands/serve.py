"""Serve Permanence over ASGI (pages and WebSockets) with Daphne.

Web processes hold no periodic work: offers left unanswered pass to the next secretary in the worker's
dispatch loop (`permanence worker`, once per cluster; see permanence.loops)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Start the web server (ASGI, Daphne)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--simulate", type=float, default=0.0, metavar="RATE",
                            help="also simulate incoming calls, RATE per hour and per account (the demo)")

    def handle(self, *args: Any, **options: Any) -> None:
        from daphne.cli import CommandLineInterface

        if options["simulate"] > 0:
            from permanence.calls import telephony
            from permanence.calls.management.commands.simulate import accounts_from

            adapter = telephony.SimulatorAdapter(accounts_from(""), options["simulate"])
            adapter.start(duration=8 * 3600)
            self.stdout.write(f"Simulated calls: about {options['simulate']:g} per hour and per account.")

        # a desk's socket may take longer than Daphne's 5 s to be checked when a wave of them connects
        # again (a web node restarted under a few hundred secretaries): 20 s before giving up on one
        CommandLineInterface().run(
            ["--bind", options["host"], "--port", str(options["port"]), "--websocket_connect_timeout", "20",
             "permanence.asgi:application"]
        )  # fmt: skip
