"""permanence worker: run background tasks (database backend, or RQ on Redis) and the periodic loops."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections
from django_tasks.signals import task_finished, task_started

from permanence import background, loops

logger = logging.getLogger(__name__)


def _fresh_connections(**_kwargs: Any) -> None:
    close_old_connections()


def dispatch_desks() -> None:
    """Offers left unanswered go to the next secretary (and whatever else time alone changes at the
    desk: ``services.tick`` when it exists, else ``services.dispatch``)."""
    from permanence.calls import services

    getattr(services, "tick", services.dispatch)()


def dispatch_loop(every: float) -> loops.Loop:
    """The desk's dispatch: every ``every`` seconds and, with ``DISPATCH=dispatcher``, as soon as a web
    node asks (a call waits, a secretary is ready: ``services.request_dispatch``). Once per cluster,
    like every loop: the worker or dispatcher process that holds its leader lock."""
    from django.conf import settings

    from permanence.calls import services

    wait = loops.Wakeup(services.DISPATCH_CHANNEL) if settings.DISPATCH == "dispatcher" else None
    return loops.Loop("dispatch", every, [("dispatch", dispatch_desks)], wait=wait)


def worker_loops(options: dict[str, Any]) -> list[loops.Loop]:
    """The periodic work, one loop each, so that a slow one (a rollup backlog, a calendar server that
    does not answer) never delays another (an urgent message's escalation)."""
    from permanence.agenda import caldav_sync, notify
    from permanence.calls import retention
    from permanence.directory import people
    from permanence.messaging import escalation, outbox, surveys
    from permanence.privacy import purge
    from permanence.reporting import rollups
    from permanence.scenarios import services as scenario_services

    found = [
        loops.Loop("outbox", options["sweep_every"],
                   [("sweep", outbox.sweep), ("surveys", surveys.send_due)]),
        loops.Loop(
            "escalation",
            options["escalation_every"],
            [("escalate", escalation.escalate), ("reminders", notify.send_due_reminders),
             ("publication", scenario_services.publish_due), ("directory", people.apply_due)],
        ),
        loops.Loop(
            "rollups",
            options["rollups_every"],
            [
                ("calls", rollups.sweep),
                ("presence", rollups.sweep_presence),
                ("messages", rollups.sweep_messages),
            ],
        ),
        loops.Loop("calendars", options["calendars_every"], [("sync", caldav_sync.sync_due)]),
        dispatch_loop(options["dispatch_every"]),
        loops.Loop(
            "retention",
            options["retention_every"],
            [("voicemails", retention.purge_voicemails), ("recordings", retention.purge_recordings),
             ("privacy", purge.purge_due)],
        ),
    ]
    if background.backend() == background.RQ:
        found.append(loops.Loop("rq-scheduler", 1.0, [("release", background.release_scheduled)]))
    return found


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 0 < seconds <= 86400:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{value}: give a number of seconds above 0, at most 86400")
    return seconds


class Command(BaseCommand):
    help = "Run the background worker: send messages (retries, dead letters), and other tasks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sweep-every",
            type=_seconds,
            default=30.0,
            help="seconds between outbox sweeps (deliveries whose task was lost, e.g. with a killed worker)",
        )
        parser.add_argument(
            "--escalation-every",
            type=_seconds,
            default=10.0,
            help="seconds between looks for urgent messages to escalate and appointment reminders due",
        )
        parser.add_argument(
            "--rollups-every",
            type=_seconds,
            default=30.0,
            help="seconds between rollup sweeps (calls, secretaries' presence, messages)",
        )
        parser.add_argument(
            "--calendars-every",
            type=_seconds,
            default=60.0,
            help="seconds between looks for collaborators' calendars due a sync (CALENDAR_SYNC_SECONDS)",
        )
        parser.add_argument(
            "--dispatch-every",
            type=_seconds,
            default=1.0,
            help="seconds between desk dispatches (lapsed offers go to the next secretary)",
        )
        parser.add_argument(
            "--retention-every",
            type=_seconds,
            default=600.0,
            help="seconds between looks for recordings and callers' data past their retention period",
        )
        parser.add_argument(
            "--batch", action="store_true", help="sweep the outbox, run what is queued, then exit"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        runner = None
        if options["batch"]:
            from permanence.messaging import outbox

            outbox.sweep()  # what a killed worker left behind
            if background.backend() == background.RQ:
                background.release_scheduled()  # what is due now runs in this batch too
        else:
            # Every loop runs in every worker, but only where its leader lock is held (permanence.loops).
            runner = loops.Runner(worker_loops(options), loops.leadership()).start()
        try:
            if background.backend() == background.RQ:
                # Jobs run in this process (no fork per job: forking beside the loops' threads could
                # leave a child stuck on a lock one of them held); connections are refreshed per job.
                # No --with-scheduler: RQ forks its scheduler, and a SIGKILL would leave it orphaned;
                # the rq-scheduler loop does its work instead.
                task_started.connect(_fresh_connections, weak=False)
                task_finished.connect(_fresh_connections, weak=False)
                call_command(
                    "rqworker",
                    "default",
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
            if runner is not None:
                runner.stop()
