"""The acknowledgement link of urgent messages: signed, no sign-in needed; a POST confirms (not a GET,
so that a mail scanner following links acknowledges nothing)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages as django_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from permanence import policy
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.directory.models import Collaborator
from permanence.messaging import channels, escalation, outbox, quality, sensitive, signing, surveys
from permanence.messaging.forms import DeliveryPreferenceForm, EscalationForm
from permanence.messaging.models import Delivery, DeliveryPreference, EscalationPolicy, FlagReason, Message
from permanence.policy import Perm
from permanence.portal.access import member_required

PAGE = 50
#: a training call's messages stay in training: never on a client's or operator's page, never sent
NOT_TRAINING = ~Q(status=Message.Status.TRAINING) & ~Q(call__training=True)
#: what a delivery's channel is called on the pages
CHANNELS = {
    "email": gettext_lazy("e-mail"),
    "sms": gettext_lazy("SMS"),
    "webhook": gettext_lazy("webhook"),
    "digest": gettext_lazy("daily digest"),
}


def _explain(rows: list[Message]) -> None:
    """Each delivery's channel and, for one that failed, why, in words (``failure``); the raw reason
    stays in ``last_error`` as the technical detail."""
    for message in rows:
        for delivery in message.deliveries.all():
            delivery.channel_label = str(CHANNELS.get(delivery.channel, delivery.channel))
            failed = delivery.status in (Delivery.Status.DEAD, Delivery.Status.FAILED)
            delivery.failure = channels.failure_in_words(delivery.last_error) if failed else ""


@require_http_methods(["GET", "POST"])
def message_ack(request: HttpRequest, token: str) -> HttpResponse:
    read = escalation.read_token(token)
    if read is None:
        raise Http404
    message_id, address = read
    message = Message.objects.filter(NOT_TRAINING, pk=message_id).select_related("account", "parent").first()
    if message is None:
        raise Http404
    message = message.parent or message  # a reminder's link acknowledges the message it reminds of
    done = hasattr(message, "acknowledgement")
    if request.method == "POST" and not done:
        escalation.acknowledge(message, address)
        done = True
    return render(request, "messaging/ack.html", {"message": message, "done": done})


@member_required
@require_GET
def message_list(request: HttpRequest, slug: str) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_MESSAGES)
    messages_qs = (
        Message.objects.filter(NOT_TRAINING, account=account, parent__isnull=True)
        .prefetch_related("deliveries", "escalations", "flags")
        .select_related("acknowledgement", "call")
        .order_by("-created")
    )
    statuses = [(v, label) for v, label in Message.Status.choices if v != Message.Status.TRAINING]
    status = request.GET.get("status", "")
    if status in dict(statuses):
        messages_qs = messages_qs.filter(status=status)
    else:
        status = ""
    if request.GET.get("urgent") == "1":
        messages_qs = messages_qs.filter(urgent=True)
    q = request.GET.get("q", "").strip()[:100]
    if q:
        messages_qs = messages_qs.filter(Q(subject__icontains=q) | Q(body__icontains=q))
    page = max(1, int(request.GET.get("page", "1")) if request.GET.get("page", "1").isdigit() else 1)
    rows = list(messages_qs[(page - 1) * PAGE : page * PAGE + 1])
    _explain(rows)
    mine = sensitive.own_addresses(request.user, account)
    for row in rows:  # a link to read them, signed in, for those who may (a collaborator: if addressed)
        row.has_sensitive = bool(sensitive.marked(row.fields)) and sensitive.may_read(request.user, row, mine)
    trail.record(
        request.user,
        Action.LIST,
        account=account,
        object_type="messaging.message",
        request=request,
        filters={"status": status, "q": q},
    )
    return render(
        request,
        "messaging/list.html",
        {
            "account": account,
            "rows": rows[:PAGE],
            "more": len(rows) > PAGE,
            "page": page,
            "status": status,
            "q": q,
            "urgent": request.GET.get("urgent") == "1",
            "statuses": statuses,
            "can_resend": policy.has_perm(request.user, Perm.RESEND_MESSAGES),
            "can_ack": policy.has_perm(request.user, Perm.ACK_MESSAGES),
            "can_flag": policy.has_perm(request.user, Perm.FLAG_MESSAGES),
            "can_read_sensitive": policy.has_perm(request.user, Perm.READ_SENSITIVE),
            "flag_reasons": FlagReason.choices,
        },
    )


def _message(request: HttpRequest, slug: str, pk: int, perm: Perm) -> Message:
    """One of the account's messages; a training call's message is not there (404)."""
    account = policy.get_account_or_404(request.user, slug, perm)
    try:
        return Message.objects.get(NOT_TRAINING, pk=pk, account=account, parent__isnull=True)
    except Message.DoesNotExist:
        raise Http404 from None


@member_required
@require_POST
def message_resend(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    message = _message(request, slug, pk, Perm.RESEND_MESSAGES)  # never a training message
    count = outbox.resend(message)
    trail.record(request.user, Action.UPDATE, message, account=message.account, request=request, resent=count)
    django_messages.success(request, _("Sent again to %(count)s recipient(s).") % {"count": count})
    if request.POST.get("back") == "failed":
        return redirect("failed_messages")
    return redirect("messages", slug)


@member_required
@require_GET
def message_sensitive(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """A message's sensitive fields (health, legal), which nothing sent carries: read here, signed in, by
    a role allowed to (404 outside the user's reach, 403 without the right; a client collaborator, 403
    for a message not addressed to them); each read is audited."""
    message = _message(request, slug, pk, Perm.READ_SENSITIVE)
    if not sensitive.may_read(request.user, message):  # a client collaborator: a message addressed to them
        raise PermissionDenied
    rows = sensitive.values(message.fields)
    trail.record(request.user, Action.VIEW, message, account=message.account, request=request,
                 what="sensitive fields", fields=[name for name, _label, _value in rows])
    response = render(request, "messaging/sensitive.html",
                      {"account": message.account, "message": message, "rows": rows})
    response["Cache-Control"] = "private, no-store"
    return response


@member_required
@require_POST
def message_acknowledge(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    message = _message(request, slug, pk, Perm.ACK_MESSAGES)
    if message.urgent:
        escalation.acknowledge(message, request.user.get_username())
    if request.POST.get("next") == "app":  # the one tap of the web app
        return redirect("app_home")
    return redirect("messages", slug)


def _settings_page(
    request: HttpRequest,
    account: Any,
    *,
    bound: dict[int, DeliveryPreferenceForm] | None = None,
    escalation_form: EscalationForm | None = None,
    status: int = 200,
) -> HttpResponse:
    people = Collaborator.objects.filter(account=account, is_active=True).select_related(
        "delivery_preference"
    )
    rows = []
    for person in people:
        wishes = getattr(person, "delivery_preference", None)
        form = (bound or {}).get(person.pk) or DeliveryPreferenceForm(instance=wishes, prefix=f"p{person.pk}")
        rows.append({"person": person, "form": form, "set": wishes is not None})
    policy_row = EscalationPolicy.objects.filter(account=account).first()
    return render(
        request,
        "messaging/settings.html",
        {
            "account": account,
            "rows": rows,
            "escalation_form": escalation_form or EscalationForm(instance=policy_row),
        },
        status=status,
    )


@member_required
@require_GET
def message_settings(request: HttpRequest, slug: str) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_DELIVERY_PREFS)
    return _settings_page(request, account)


@member_required
@require_POST
def person_preferences(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_DELIVERY_PREFS)
    try:
        person = Collaborator.objects.select_related("delivery_preference").get(pk=pk, account=account)
    except Collaborator.DoesNotExist:
        raise Http404 from None
    wishes = getattr(person, "delivery_preference", None) or DeliveryPreference(collaborator=person)
    form = DeliveryPreferenceForm(request.POST, instance=wishes, prefix=f"p{person.pk}")
    if not form.is_valid():
        return _settings_page(request, account, bound={person.pk: form}, status=400)
    saved = form.save()
    trail.record(request.user, Action.UPDATE, saved, account=account, request=request)
    django_messages.success(request, _("Preferences of %(name)s saved.") % {"name": person})
    return redirect(reverse("message_settings", args=[slug]) + f"#p{person.pk}")


@member_required
@require_POST
def escalation_settings(request: HttpRequest, slug: str) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_DELIVERY_PREFS)
    current = EscalationPolicy.objects.filter(account=account).first() or EscalationPolicy(account=account)
    form = EscalationForm(request.POST, instance=current)
    if not form.is_valid():
        return _settings_page(request, account, escalation_form=form, status=400)
    saved = form.save()
    trail.record(request.user, Action.UPDATE, saved, account=account, request=request, steps=len(saved.steps))
    django_messages.success(request, _("Escalation saved."))
    return redirect("message_settings", slug)


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest, key: uuid.UUID) -> HttpResponse:
    """Twilio's status callback for one SMS: signed with the account's auth token (X-Twilio-Signature
    over the URL we gave it and the POST fields); "delivered" or a failure the operator must see."""
    params = {name: request.POST.get(name, "") for name in request.POST}
    url = channels.twilio_callback_url_for(key)
    token = getattr(settings, "TWILIO_AUTH_TOKEN", "")
    if not signing.twilio_valid(token, url, params, request.headers.get("X-Twilio-Signature", "")):
        return HttpResponse("bad signature", status=403, content_type="text/plain")
    try:
        outbox.provider_report(
            key,
            provider_id=f"twilio:{params.get('MessageSid', '')}",
            status=params.get("MessageStatus", ""),
            error=params.get("ErrorCode", ""),
        )
    except outbox.UnknownDelivery:
        raise Http404 from None
    return HttpResponse(status=204)


@member_required
@require_POST
def message_flag(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """The client flags a message as wrong, with a reason."""
    account = policy.get_account_or_404(request.user, slug, Perm.FLAG_MESSAGES)
    message = Message.objects.filter(NOT_TRAINING, account=account, pk=pk).first()
    if message is None:
        raise Http404
    try:
        quality.flag(message, request.POST.get("reason", ""), request.POST.get("text", ""),
                     actor=request.user, request=request)
    except ValidationError as error:
        django_messages.error(request, " ".join(error.messages))
    else:
        django_messages.success(request, _("Thank you: the secretary and her supervisor will see it."))
    return redirect("messages", slug)


def _inbound(number: str, text: str) -> None:
    from permanence.accounts.phones import try_normalize

    normalized = try_normalize(number, settings.PHONE_DEFAULT_REGION) or ""
    if surveys.answer_by_reply(normalized, text) is not None:
        return  # a caller's answer to the satisfaction survey
    acknowledged = escalation.acknowledge_by_reply(normalized, text)
    if acknowledged is not None:
        trail.record(None, Action.UPDATE, acknowledged, account=acknowledged.account_id,
                     acknowledged_by=f"SMS {normalized}")


@csrf_exempt
@require_POST
def sms_inbound_twilio(request: HttpRequest) -> HttpResponse:
    """An SMS received on the Twilio number (its "A message comes in" webhook, signed with the auth
    token over the URL configured there: SITE_URL + this path). A reply "OK" acknowledges the urgent
    message sent to that number."""
    params = {name: request.POST.get(name, "") for name in request.POST}
    url = getattr(settings, "SITE_URL", "http://127.0.0.1:8000").rstrip("/") + request.path
    token = getattr(settings, "TWILIO_AUTH_TOKEN", "")
    if not signing.twilio_valid(token, url, params, request.headers.get("X-Twilio-Signature", "")):
        return HttpResponse("bad signature", status=403, content_type="text/plain")
    _inbound(params.get("From", ""), params.get("Body", ""))
    return HttpResponse("<Response/>", content_type="text/xml")  # TwiML: no answer sent back


@csrf_exempt
@require_POST
def sms_inbound(request: HttpRequest) -> HttpResponse:
    """An SMS received by the generic gateway: form fields ``from`` and ``text``, signed with the
    Standard Webhooks scheme and ``SMS_GATEWAY_INBOUND_SECRET`` (nothing is accepted without it)."""
    secret = getattr(settings, "SMS_GATEWAY_INBOUND_SECRET", "")
    try:
        if not secret:
            raise signing.BadSignature("no inbound secret configured")
        signing.standard_verify(secret, dict(request.headers), request.body, int(time.time()))
    except signing.BadSignature:
        return HttpResponse("bad signature", status=403, content_type="text/plain")
    _inbound(request.POST.get("from", ""), request.POST.get("text", ""))
    return HttpResponse(status=204)


@member_required
@require_GET
def failed_messages(request: HttpRequest) -> HttpResponse:
    """Messages that could not be delivered, across the accounts within reach: the operator's to-do.
    Each says why: the deliveries that failed for good with their reason, or no recipient at all (the
    message went back to the desk as a call-back task). A training call's message is never there."""
    if not policy.has_perm(request.user, Perm.RESEND_MESSAGES):
        raise PermissionDenied
    rows = list(
        Message.objects.filter(
            NOT_TRAINING, account__in=policy.visible_accounts(request.user), status=Message.Status.FAILED
        )
        .select_related("account", "callback_task")
        .prefetch_related("deliveries")
        .order_by("-created")[: PAGE + 1]
    )
    _explain(rows)
    trail.record(request.user, Action.LIST, object_type="messaging.message", request=request, status="failed")
    return render(
        request, "messaging/failed.html", {"rows": rows[:PAGE], "more": len(rows) > PAGE, "page_size": PAGE}
    )
