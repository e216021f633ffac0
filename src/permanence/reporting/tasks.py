"""Background work of the reports: count a call once it is over, a presence span once closed, a
message once taken and once acknowledged."""

from __future__ import annotations

from django_tasks import task

from permanence import background
from permanence.reporting import rollups


@task()
def rollup_call(call_id: int) -> int:
    return rollups.add([call_id])


def soon(call_id: int) -> None:
    """Queued with the event that ends the call (the worker's sweep catches one lost)."""
    background.enqueue(rollup_call, call_id)


@task()
def rollup_presence(span_id: int) -> int:
    return rollups.add_presence([span_id])


def presence_soon(span_id: int) -> None:
    background.enqueue(rollup_presence, span_id)


@task()
def rollup_message(message_id: int) -> int:
    return rollups.add_messages([message_id])


def message_soon(message_id: int) -> None:
    """Queued when a message is taken, and when it is acknowledged."""
    background.enqueue(rollup_message, message_id)
