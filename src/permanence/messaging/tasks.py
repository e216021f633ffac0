"""Background work of the messaging app (django-tasks: the database backend by default)."""

from __future__ import annotations

from django_tasks import task

from permanence.messaging import outbox


@task()
def deliver(delivery_id: int) -> str:
    return outbox.attempt(delivery_id)


@task()
def sweep() -> int:
    return outbox.sweep()
