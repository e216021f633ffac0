"""permanence worker: run background tasks (database backend, or RQ on Redis) and sweep the outbox."""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections, connections
from django_tasks.signals import task_finished, task_started

from permanence.agenda import caldav_sync, notify
from permanence.messaging import escalation, outbox
from permanence.reporting import rollups

logger = logging.getLogger(__name__)


def _fresh_connections(**_kwargs: Any) -> None:
    close_old_connections()


class Command(BaseCommand):
    help = "Run the background worker: send messages (retries, dead letters), and other tasks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sweep-every",
            type=float,
            default=30.0,
            help="seconds between outbox sweeps (due retries, deliveries a killed worker left)",
        )
        parser.add_argument(
            "--calendars-every",
            type=float,
            default=60.0,
            help="seconds between looks for collaborators' calendars due a sync (CALENDAR_SYNC_SECONDS)",
        )
        parser.add_argument("--batch", action="store_true", help="run what is queued, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def sweeper() -> None:
            while not stop.wait(options["sweep_every"]):
                try:
                    outbox.sweep()
                    escalation.escalate()
                    notify.send_due_reminders()
                    rollups.sweep()
                    rollups.sweep_presence()
                    rollups.sweep_messages()
                finally:
                    connections.close_all()

        def calendars() -> None:  # network waits of its own, apart from the outbox sweeps
            while not stop.wait(options["calendars_every"]):
                try:
                    caldav_sync.sync_due()
                except Exception:  # a bug must not stop the worker; the next turn tries again
                    logger.exception("calendar sync")
                finally:
                    connections.close_all()

        outbox.sweep()  # what the last worker left behind
        if not options["batch"]:
            threading.Thread(target=sweeper, name="outbox-sweeper", daemon=True).start()
            threading.Thread(target=calendars, name="calendar-sync", daemon=True).start()
        try:
            if settings.TASKS["default"]["BACKEND"] == "django_tasks_rq.RQBackend":
                # Jobs run in this process (no fork per job: forking beside the sweeper thread could
                # leave a child stuck on a lock that thread held); connections are refreshed per job.
                task_started.connect(_fresh_connections, weak=False)
                task_finished.connect(_fresh_connections, weak=False)
                call_command(
                    "rqworker",
                    "default",
                    "--with-scheduler",
                    "--job-class",
                    "django_tasks_rq.Job",
                    "--worker-class",
                    "rq.worker.SimpleWorker",
                    *(["--burst"] if options["batch"] else []),
                )
            else:
                worker_args = ["--no-startup-delay"] + (["--batch"] if options["batch"] else [])
                call_command("db_worker", *worker_args)
        finally:
            stop.set()
