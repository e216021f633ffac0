"""Serve Permanence over ASGI (pages and WebSockets) with Daphne."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Start the web server (ASGI, Daphne)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        from daphne.cli import CommandLineInterface

        CommandLineInterface().run(
            ["--bind", options["host"], "--port", str(options["port"]), "permanence.asgi:application"]
        )
