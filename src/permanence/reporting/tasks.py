"""Background work of the reports: count a call in the rollups once it is over."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django_tasks import task

from permanence.reporting import rollups


@task()
def rollup_call(call_id: int) -> int:
    return rollups.add([call_id])


def soon(call_id: int) -> None:
    """Queued with the event that ends the call (the worker's sweep catches one lost)."""
    if settings.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend":
        rollup_call.enqueue(call_id)
    else:
        transaction.on_commit(lambda: rollup_call.enqueue(call_id), robust=True)
