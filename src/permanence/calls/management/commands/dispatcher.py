"""permanence dispatcher: the desk's dispatch alone, in a process of its own (a cluster's dispatcher)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from permanence import loops
from permanence.messaging.management.commands.worker import _seconds, dispatch_loop


class Command(BaseCommand):
    help = (
        "Run the desk's dispatch (offers to ready secretaries, lapsed offers, maximum waits) once per "
        "cluster: woken by the web nodes with DISPATCH=dispatcher, else every --every seconds. The "
        "workers stand by: whoever holds the dispatch lock dispatches."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--every", type=_seconds, default=1.0, help="seconds between dispatches when nothing asks (1)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        runner = loops.Runner([dispatch_loop(options["every"])], loops.leadership()).start()
        try:
            stop.wait()
        finally:
            runner.stop()
