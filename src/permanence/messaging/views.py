"""The acknowledgement link of urgent messages: signed, no sign-in needed; a POST confirms (not a GET,
so that a mail scanner following links acknowledges nothing)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from permanence.messaging import escalation
from permanence.messaging.models import Message


@require_http_methods(["GET", "POST"])
def message_ack(request: HttpRequest, token: str) -> HttpResponse:
    read = escalation.read_token(token)
    if read is None:
        raise Http404
    message_id, address = read
    message = Message.objects.filter(pk=message_id).select_related("account").first()
    if message is None:
        raise Http404
    done = hasattr(message, "acknowledgement")
    if request.method == "POST" and not done:
        escalation.acknowledge(message, address)
        done = True
    return render(request, "messaging/ack.html", {"message": message, "done": done})
