"""Background work of the messaging app (django-tasks: the database backend by default, RQ on Redis).

The outbox sweep is no task: it runs in the worker's "outbox" loop, once per cluster (permanence.loops).
"""

from __future__ import annotations

from django_tasks import task

from permanence.messaging import outbox
from permanence.messaging.models import Delivery


@task()
def deliver(delivery_id: int) -> str:
    try:
        return outbox.attempt(delivery_id)
    except Delivery.DoesNotExist:  # its message was deleted meanwhile
        return "gone"
