"""Background work of the agenda: write a booking to the collaborator's calendar soon after it is made
(the worker also syncs every link periodically, ``caldav_sync.sync_due``)."""

from __future__ import annotations

from django_tasks import task

from permanence import background
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
    background.enqueue(sync_calendar, link_id)
