"""The private iCalendar feed: no sign-in, the secret address is the key."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from permanence.agenda import feeds


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    feed = feeds.active(token)
    if feed is None:
        raise Http404
    response = HttpResponse(feeds.calendar(feed.collaborator), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    response["Content-Disposition"] = 'inline; filename="agenda.ics"'
    return response
