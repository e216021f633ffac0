"""The desk's telephone (real telephony, ``TELEPHONY = "sip"``).

The desk moves between full pages (/desk/, then /desk/calls/<id>/...), which would end a WebRTC call.
So the softphone lives in a shell page, /desk/phone/: a bar with the phone (static/permanence/
softphone.js, JsSIP) above a frame in which the secretary works on the desk pages as before. The
desk's page tells the shell which call she answers (``PermanencePhone.accept(call)``); the shell
answers the SIP call the call control rang her with for that call.

The softphone registers with Kamailio using ephemeral credentials (``phone_credentials``): the
signed-in secretary's own, valid for hours, fetched by the shell's script and never written into
a page or a log.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.http import require_GET

from permanence import policy
from permanence.policy import Perm
from permanence.portal.access import member_required


def telephony_mode() -> str:
    """``"sip"`` when calls reach the desk through real telephony, else ``"simulator"``."""
    return str(getattr(settings, "TELEPHONY", "simulator"))


def ws_url() -> str:
    """Where browsers reach Kamailio's SIP over WebSocket (wss:// behind a TLS proxy in production)."""
    return str(getattr(settings, "TELEPHONY_WS_URL", "") or "ws://" + settings.TELEPHONY_WS_ADDRESS)


def context(request: HttpRequest) -> dict[str, Any]:
    """Template context processor: ``phone_url``, the shell's address when telephony is real."""
    return {"phone_url": reverse("phone") if telephony_mode() == "sip" else ""}


def _desk_user(request: HttpRequest) -> Any:
    if not policy.has_perm(request.user, Perm.USE_DESK):
        raise Http404
    return request.user


def _words() -> dict[str, str]:
    """What the softphone's script says, translated here (the script has no catalogue)."""
    return {
        "connected": _("Line: connected"),
        "connecting": _("Line: connecting…"),
        "down": _("Line: down"),
        "ws_closed": _("telephone server unreachable"),
        "refused": _("registration refused"),
        "no_answer": _("the telephone server does not answer"),
        "no_credentials": _("no access to the line (signed out?)"),
        "incoming": _("Incoming call"),
        "talking": _("In a call"),
        "answering": _("Answering…"),
        "idle": _("No call"),
        "ended": _("Call ended"),
        "unknown_account": _("unknown account"),
        "mute": _("Mute"),
        "muted": _("Microphone off"),
        "headset_check": _("Check the headset"),
        "headset_stop": _("Stop the check"),
        "headset_no_mic": _("No microphone: allow it in the browser"),
        "tone": _("Test tone"),
        "dtmf_failed": _("not sent: no sound yet"),
        "sound_off": _("Sound is off: click anywhere to turn it on"),
    }


@member_required
@require_GET
@xframe_options_deny  # never inside a frame: a second shell would register the same phone twice
def phone(request: HttpRequest) -> HttpResponse:
    """The shell: the softphone's bar above a frame holding the desk."""
    _desk_user(request)
    mode = telephony_mode()
    response = render(
        request,
        "desk/phone.html",
        {"telephony": mode, "words": _words(), "credentials_url": reverse("phone_credentials")},
    )
    if mode == "sip":
        # The softphone's WebSocket goes to Kamailio, another origin than this site's: this page's
        # Content Security Policy allows it in connect-src (what django-csp's csp_update decorator
        # sets, read per request here because the address is a setting).
        ws = urlsplit(ws_url())
        response._csp_update = {"connect-src": [f"{ws.scheme}://{ws.netloc}"]}  # type: ignore[attr-defined]
    return response


@member_required
@require_GET
@never_cache
def phone_credentials(request: HttpRequest) -> JsonResponse:
    """The signed-in secretary's SIP credentials, ephemeral: Kamailio checks them with the shared
    secret, without a database of passwords. Only hers (there is no parameter to ask for another's)."""
    from permanence.telephony import credentials

    user = _desk_user(request)
    if telephony_mode() != "sip":
        raise Http404
    sip_user = credentials.sip_user(user.pk)
    try:
        username, password = credentials.ephemeral(
            settings.TELEPHONY_SIP_SECRET, sip_user, time.time(), ttl=credentials.TTL
        )
    except ValueError:  # no shared secret: `permanence telephony config` says so to the operator
        return JsonResponse({"error": "no credentials: TELEPHONY_SIP_SECRET is not set"}, status=503)
    return JsonResponse(
        {
            "ws": ws_url(),
            "uri": f"sip:{sip_user}@{settings.TELEPHONY_SIP_DOMAIN}",
            "username": username,
            "password": password,
            "expires": int(username.split(":", 1)[0]),
        }
    )
