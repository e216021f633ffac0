"""The client's web app (installable, a PWA): the messages addressed to the signed-in user, urgent ones
first with a one-tap acknowledgement, who is on call now, and Web Push notifications for this browser
(``webpush``). The manifest and the service worker are public files, as browsers fetch them."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from permanence import policy
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.directory import oncall
from permanence.messaging import webpush
from permanence.messaging.models import Message, PushSubscription
from permanence.policy import Perm
from permanence.portal.access import member_required

DAYS = 14


def _account(request: HttpRequest) -> Any:
    user: Any = request.user
    if user.account_id is None or not policy.has_perm(user, Perm.VIEW_MESSAGES):
        raise PermissionDenied
    return user.account


@member_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    user: Any = request.user
    since = timezone.now() - timedelta(days=DAYS)
    mine = (Message.objects.filter(account=account, parent__isnull=True, created__gte=since)
            .exclude(status=Message.Status.TRAINING)
            .filter(Q(deliveries__address__iexact=user.email) if user.email else Q(pk=None))
            .select_related("acknowledgement").distinct().order_by("-created"))
    rows = list(mine[:50])
    waiting = [m for m in rows if m.urgent and not hasattr(m, "acknowledgement")]
    trail.record(user, Action.LIST, account=account, object_type="messaging.message", request=request,
                 via="app")
    return render(request, "messaging/app.html", {
        "account": account,
        "waiting": waiting,
        "others": [m for m in rows if m not in waiting],
        "on_call": oncall.now_on_call(account),
        "can_ack": policy.has_perm(user, Perm.ACK_MESSAGES),
        "vapid_key": webpush.public_key(),
        "subscribed": PushSubscription.objects.filter(user=user).count(),
    })


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    data = {
        "name": "Permanence",
        "short_name": "Permanence",
        "description": _("Your messages and who is on call"),
        "start_url": "/app/",
        "scope": "/app/",
        "display": "standalone",
        "background_color": "#f5f7fb",
        "theme_color": "#1f5eff",
        "lang": request.LANGUAGE_CODE,
        "icons": [
            {"src": static("permanence/app-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("permanence/app-512.png"), "sizes": "512x512", "type": "image/png",
             "purpose": "any"},
        ],
    }
    return HttpResponse(json.dumps(data), content_type="application/manifest+json")


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    response = render(request, "messaging/sw.js", {"icon": static("permanence/app-192.png"),
                                                   "ack_label": _("Read: acknowledge")},
                      content_type="application/javascript")
    response["Cache-Control"] = "no-cache"
    return response


def _json(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


@member_required
@require_POST
def subscribe(request: HttpRequest) -> HttpResponse:
    """This browser's push subscription (``PushSubscription.toJSON()``) for the signed-in user."""
    _account(request)
    data = _json(request)
    endpoint = data.get("endpoint")
    keys = data.get("keys") if isinstance(data.get("keys"), dict) else {}
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not (isinstance(endpoint, str) and endpoint.startswith("https://") and len(endpoint) <= 1000
            and isinstance(p256dh, str) and isinstance(auth, str) and webpush.check_keys(p256dh, auth)):
        return JsonResponse({"detail": _("This is not a push subscription.")}, status=422)
    row, created = PushSubscription.objects.update_or_create(
        endpoint=endpoint, defaults={"user": request.user, "p256dh": p256dh, "auth": auth,
                                     "user_agent": request.headers.get("User-Agent", "")[:300]})
    trail.record(request.user, Action.CREATE if created else Action.UPDATE, row, request=request,
                 account=getattr(request.user, "account_id", None))
    return JsonResponse({"subscribed": True}, status=201 if created else 200)


@member_required
@require_POST
def unsubscribe(request: HttpRequest) -> HttpResponse:
    _account(request)
    endpoint = _json(request).get("endpoint")
    gone, _count = PushSubscription.objects.filter(user=request.user, endpoint=endpoint).delete()
    return JsonResponse({"subscribed": False, "removed": gone})
