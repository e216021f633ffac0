"""Queue a background task with the change that asks for it (django-tasks)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction


def enqueue(task: Any, *args: Any) -> None:
    """The database backend stores the task in the current transaction (both or neither); another
    backend (Redis) gets it once the transaction commits; if that fails, or the process dies just
    then, the worker's sweeps catch the work left undone."""
    if settings.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend":
        task.enqueue(*args)
    else:
        transaction.on_commit(lambda: task.enqueue(*args), robust=True)
