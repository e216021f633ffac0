"""Background work of the agenda: write a booking to the collaborator's calendar soon after it is made
(the worker also syncs every link periodically, ``caldav_sync.sync_due``)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django_tasks import task

from permanence.agenda import caldav_sync
from permanence.agenda.models import CalendarLink


@task()
def sync_calendar(link_id: int) -> str:
    link = CalendarLink.objects.filter(pk=link_id, is_active=True).select_related("collaborator").first()
    if link is None:
        return "gone"
    report = caldav_sync.sync(link)
    return "busy" if report.skipped else report.error or f"pulled {report.pulled}, pushed {report.pushed}"


def soon(collaborator_id: int) -> None:
    """After a booking, a move or a cancellation: sync that collaborator's calendar, if linked."""
    link_id = (
        CalendarLink.objects.filter(collaborator_id=collaborator_id, is_active=True)
        .values_list("pk", flat=True)
        .first()
    )
    if link_id is None:
        return
    if settings.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend":
        sync_calendar.enqueue(link_id)  # in the same transaction as the change
    else:
        transaction.on_commit(lambda: sync_calendar.enqueue(link_id), robust=True)
