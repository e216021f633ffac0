"""Background tasks (django-tasks): queue one with the change that asks for it, and tell later whether a
task still waits to run.

Two backends (settings.TASKS, chosen by TASKS_BACKEND): the database (django-tasks-db, the default), or
RQ on Redis for scale-out.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

DATABASE = "django_tasks_db.DatabaseBackend"
RQ = "django_tasks_rq.RQBackend"
CHUNK = 500  # arguments looked up per query
TRACK_DAYS = 2  # how long RQ remembers which job runs a tracked task, beyond the time it is held until


def backend() -> str:
    return str(settings.TASKS["default"]["BACKEND"])


def enqueue(task: Any, *args: Any, track: bool = False) -> None:
    """The database backend stores the task in the current transaction (both or neither); RQ gets it
    once the transaction commits; if that fails, or the process dies just then, the worker's sweeps
    catch the work left undone.

    ``track``: remember, on RQ, which job runs the task for its first argument, so that ``waiting``
    can tell later whether that job still waits (the database backend needs nothing: the task's row
    says it)."""
    if backend() == DATABASE:
        task.enqueue(*args)
        return

    if task.run_after is not None:
        # RQ keeps a scheduled time in whole seconds, cut down: a task due at 12.7 s would be released
        # at 12 s, find its work not due yet and end, leaving it to the sweep. Rounded up instead.
        task = task.using(run_after=whole_second_up(task.run_after))

    def push() -> None:
        result = task.enqueue(*args)
        if track:
            _remember(task, args[0], str(result.id))

    transaction.on_commit(push, robust=True)


def whole_second_up(moment: datetime) -> datetime:
    return moment if not moment.microsecond else moment.replace(microsecond=0) + timedelta(seconds=1)


def waiting(task: Any, first_args: Iterable[int], held_until_before: datetime) -> set[int]:
    """Of these first arguments of ``task``, those for which a task still waits to run: queued, or held
    until a time not earlier than ``held_until_before`` (on RQ, a task held until longer ago should
    have been released by the scheduler loop: it is counted as lost). A task running or finished
    does not wait; neither does one that Redis lost, nor an RQ job that a killed worker had taken
    from the queue (it says "queued" but sits in RQ's intermediate list until RQ fails it)."""
    wanted = sorted(set(first_args))
    if backend() == DATABASE:
        found: set[int] = set()
        for start in range(0, len(wanted), CHUNK):
            found |= _waiting_in_database(task, wanted[start : start + CHUNK])
        return found
    return _waiting_on_rq(task, wanted, held_until_before)


def _waiting_in_database(task: Any, chunk: list[int]) -> set[int]:
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    # READY rows only: a partial index on PostgreSQL, an index led by the status on SQLite.
    rows = DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, task_path=task.module_path, args_kwargs__args__0__in=chunk
    ).order_by().values_list("args_kwargs__args__0", flat=True)
    return {int(value) for value in rows}


def _redis(task: Any) -> Any:
    import django_rq

    return django_rq.get_connection(task.queue_name)


def _track_key(task: Any, argument: Any) -> str:
    return f"permanence:task:{task.module_path}:{argument}"


def _remember(task: Any, argument: Any, job_id: str) -> None:
    held = task.run_after - timezone.now() if task.run_after else timedelta(0)
    seconds = int(max(held, timedelta(0)).total_seconds()) + TRACK_DAYS * 86400
    _redis(task).set(_track_key(task, argument), job_id, ex=seconds)


def _waiting_on_rq(task: Any, wanted: list[int], held_until_before: datetime) -> set[int]:
    import django_rq
    from rq.job import Job, JobStatus
    from rq.registry import ScheduledJobRegistry

    redis = _redis(task)
    known: list[tuple[int, str]] = []
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        job_ids = redis.mget([_track_key(task, argument) for argument in chunk])
        pairs = zip(chunk, job_ids, strict=True)
        known += [(argument, job_id.decode()) for argument, job_id in pairs if job_id]
    if not known:
        return set()
    scheduled = ScheduledJobRegistry(task.queue_name, connection=redis).key
    answers = []
    for start in range(0, len(known), CHUNK):
        with redis.pipeline(transaction=False) as pipe:
            for _argument, job_id in known[start : start + CHUNK]:
                pipe.hget(Job.key_for(job_id), "status")
                pipe.zscore(scheduled, job_id)
            answers += pipe.execute()
    in_queue: set[str] | None = None  # read once, and only if some job says it is queued
    found = set()
    for index, (argument, job_id) in enumerate(known):
        status = (answers[2 * index] or b"").decode()
        held_until = answers[2 * index + 1]
        if status == JobStatus.QUEUED:
            if in_queue is None:
                queue_key = django_rq.get_queue(task.queue_name).key
                in_queue = {raw.decode() for raw in redis.lrange(queue_key, 0, -1)}
            if job_id in in_queue:
                found.add(argument)
        elif (
            status == JobStatus.SCHEDULED
            and held_until is not None
            and held_until >= held_until_before.timestamp()
        ):
            found.add(argument)
    return found


_scheduler: Any = None


def release_scheduled() -> None:
    """RQ: move the tasks whose time has come (retries, held deliveries) from the scheduled registry to
    their queue. RQ's own ``--with-scheduler`` does this in a process forked from the worker, which a
    SIGKILL of the worker leaves running as an orphan, still holding RQ's scheduler lock; the worker
    runs this instead in one of its loops (once per cluster, see permanence.loops)."""
    global _scheduler
    if _scheduler is None:
        from rq.scheduler import RQScheduler

        queues = list(settings.TASKS["default"].get("QUEUES") or ["default"])
        import django_rq

        _scheduler = RQScheduler(queues, connection=django_rq.get_connection(queues[0]))
        _scheduler.prepare_registries(queues)
    _scheduler.enqueue_scheduled_jobs()
