"""Voicemails at the desk (listen, take a message from it, or call the caller back) and in the portal
(the client listens, where the account wants it); call recordings in the portal, for the roles that may
hear them. Every play and download is written to the audit trail; a file is streamed only after these
checks (MEDIA_ROOT is never served)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from permanence import policy
from permanence.accounts import instructions
from permanence.accounts.models import Account, client_language
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.calls import prompts, recordings, services
from permanence.calls import voicemail as voicemails
from permanence.calls.models import CallRecording, Voicemail
from permanence.desk import recipients as desk_recipients
from permanence.messaging import outbox
from permanence.policy import Perm
from permanence.portal.access import member_required
from permanence.portal.templatetags.permanence_tags import phone
from permanence.scenarios.engine import ivr
from permanence.telephony import speech
from permanence.telephony.media import AUDIO


def _mine(request: HttpRequest, pk: int) -> Voicemail:
    try:
        return voicemails.for_desk(request.user, pk)
    except Voicemail.DoesNotExist:
        raise Http404 from None


def _stream(request: HttpRequest, row: Voicemail | CallRecording, name: str) -> FileResponse:
    """The file, after the caller's checks; ``?download=1`` as an attachment. Audited."""
    if not row.audio:
        raise Http404(_("This recording was deleted at the end of its retention period."))
    try:
        handle = row.audio.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    download = request.GET.get("download") == "1"
    if isinstance(row, Voicemail):
        voicemails.heard(request.user, row, request)
    else:
        recordings.heard(request.user, row, request, download=download)
    response = FileResponse(handle, content_type="audio/wav", as_attachment=download, filename=f"{name}.wav")
    response["Cache-Control"] = "private, no-store"
    return response


def _page(request: HttpRequest, voicemail: Voicemail, typed: dict[str, str] | None = None,
          status: int = 200) -> HttpResponse:  # fmt: skip
    typed = typed or {}
    caller = phone(voicemail.caller) if voicemail.caller else _("number withheld")
    return render(
        request,
        "desk/voicemail.html",
        {
            "voicemail": voicemail,
            "instructions": instructions.at_desk(voicemail.account),
            "late": voicemail.closed_at is None and voicemail.due_at < timezone.now(),
            "recipients": typed.get("recipients", ""),
            "defaults": desk_recipients.defaults(voicemail.account),
            "subject": typed.get("subject", _("Voicemail from %(caller)s") % {"caller": caller}),
            "body": typed.get("body", ""),
        },
        status=status,
    )


@member_required
@require_GET
def desk_voicemail(request: HttpRequest, pk: int) -> HttpResponse:
    return _page(request, _mine(request, pk))


@member_required
@require_GET
def desk_voicemail_audio(request: HttpRequest, pk: int) -> HttpResponse:
    return _stream(request, _mine(request, pk), f"message-vocal-{pk}")


@member_required
@require_POST
def desk_voicemail_message(request: HttpRequest, pk: int) -> HttpResponse:
    """The message taken from the voicemail: sent as a call's message, and the voicemail handled."""
    voicemail = _mine(request, pk)
    subject = request.POST.get("subject", "").replace("\x00", "").strip()[:300]
    body = request.POST.get("body", "").replace("\x00", "").strip()
    typed_to = request.POST.get("recipients", "").replace("\x00", "")[:2000]
    typed = {"subject": subject, "body": body, "recipients": typed_to}
    if voicemail.closed_at is not None:
        messages.error(request, _("This voicemail was already handled."))
        return redirect("desk_voicemail", voicemail.pk)
    problem, recipients = "", []
    if not subject or not body:
        problem = _("The message needs a subject and a text.")
    else:
        try:
            recipients = desk_recipients.checked(voicemail.account, typed_to)
        except services.CallError as exc:
            problem = str(exc)
    if problem:  # nothing is lost: the page comes back with what she typed
        messages.error(request, problem)
        return _page(request, voicemail, typed, status=400)
    try:
        with transaction.atomic():
            message = outbox.queue_message(
                voicemail.account, call=voicemail.call, recipients=recipients[:20], subject=subject,
                body=body, urgent=request.POST.get("urgent") == "1", author=request.user,
                fields={"voicemail": voicemail.pk, "caller": voicemail.caller},
            )  # fmt: skip
            voicemails.close(voicemail.pk, request.user, Voicemail.Closed.MESSAGE, message)
    except voicemails.VoicemailError as exc:  # handled by someone else meanwhile: nothing sent
        messages.error(request, str(exc))
        return redirect("desk_voicemail", voicemail.pk)
    who = ", ".join(recipients)
    messages.success(request, _("Message sent to %(who)s; the voicemail is handled.") % {"who": who})
    return redirect("desk")


@member_required
@require_POST
def desk_voicemail_called_back(request: HttpRequest, pk: int) -> HttpResponse:
    voicemail = _mine(request, pk)
    try:
        voicemails.close(voicemail.pk, request.user, Voicemail.Closed.CALLBACK)
    except voicemails.VoicemailError as exc:
        messages.error(request, str(exc))
        return redirect("desk_voicemail", voicemail.pk)
    messages.success(request, _("Caller called back: the voicemail is handled."))
    return redirect("desk")


def _portal_account(request: HttpRequest, slug: str) -> Any:
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_MESSAGES)
    if not voicemails.in_portal(request.user, account):
        raise Http404
    return account


@member_required
@require_GET
def account_voicemails(request: HttpRequest, slug: str) -> HttpResponse:
    """The account's voicemails, newest first, with what became of each."""
    account = _portal_account(request, slug)
    rows = (
        Voicemail.objects.filter(account=account)
        .select_related("message", "closed_by")
        .order_by("-recorded_at", "-pk")[:200]
    )
    trail.record(request.user, Action.LIST, account=account, object_type="calls.voicemail", request=request)
    return render(request, "portal/voicemails.html", {"account": account, "voicemails": rows})


@member_required
@require_GET
def account_voicemail_audio(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    account = _portal_account(request, slug)
    try:
        voicemail = Voicemail.objects.get(pk=pk, account=account)
    except Voicemail.DoesNotExist:
        raise Http404 from None
    return _stream(request, voicemail, f"message-vocal-{voicemail.pk}")


@member_required
@require_GET
def account_recordings(request: HttpRequest, slug: str) -> HttpResponse:
    """The account's call recordings, newest first: who answered, how long, to play or download."""
    account = policy.get_account_or_404(request.user, slug, Perm.HEAR_RECORDINGS)
    rows = (
        CallRecording.objects.filter(account=account)
        .select_related("call", "secretary")
        .order_by("-started_at", "-pk")[:200]
    )
    trail.record(
        request.user, Action.LIST, account=account, object_type="calls.callrecording", request=request
    )
    return render(request, "portal/recordings.html", {"account": account, "recordings": rows})


@member_required
@require_GET
def account_recording_audio(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.HEAR_RECORDINGS)
    try:
        recording = CallRecording.objects.get(pk=pk, account=account)
    except CallRecording.DoesNotExist:
        raise Http404 from None
    return _stream(request, recording, f"appel-{recording.call_id}-{recording.pk}")


PROMPT_FIELDS = {  # the prompt, the account's text field
    "waiting": "waiting_text",
    "closed": "closed_greeting",
    "voicemail": "voicemail_text",
    "notice": "recording_notice_text",
}


def _prompt_now(account: Any, name: str) -> prompts.Prompt:
    """The prompt as a caller would hear it now (the closed one with the account's policy)."""
    action = ""
    if name == "closed":
        action = str(services.admit(account, "", timezone.now()).action)
        if action == "serve":  # open now: as it would be said once closed
            action = account.after_hours
    return prompts.choose(account, name, action=action)


@member_required
@require_http_methods(["GET", "POST"])
def account_prompts(request: HttpRequest, slug: str) -> HttpResponse:
    """What callers hear: each text, heard as it is now; a draft heard before it goes live; saved."""
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_PROMPTS)
    errors: dict[str, str] = {}
    if request.method == "POST":
        changed = {}
        for field in PROMPT_FIELDS.values():
            value = " ".join(request.POST.get(field, "").replace("\x00", "").split())
            limit = Account._meta.get_field(field).max_length or 500
            if len(value) > limit:
                errors[field] = _("At most %(limit)s characters.") % {"limit": limit}
            elif value != getattr(account, field):
                changed[field] = value
        if not errors:
            for field, value in changed.items():
                setattr(account, field, value)
            if changed:
                account.save(update_fields=[*changed, "updated_at"])
                trail.record(request.user, Action.UPDATE, account, request=request, fields=sorted(changed))
                messages.success(request, _("The new texts are live: callers hear them from the next call."))
            return redirect("account_prompts", account.slug)
        messages.error(request, _("Nothing was saved: see the texts marked below."))
    rows = []
    for name, field in PROMPT_FIELDS.items():
        chosen = _prompt_now(account, name)
        rows.append({
            "name": name, "field": field, "label": Account._meta.get_field(field).verbose_name,
            "text": request.POST.get(field, getattr(account, field)) if errors else getattr(account, field),
            "said": chosen.text, "file": chosen.file is not None, "error": errors.get(field, ""),
        })  # fmt: skip
    return render(request, "portal/prompts.html", {
        "account": account, "rows": rows, "speech": speech.available(),
    }, status=400 if errors else 200)  # fmt: skip


def _audio_file(path: str | Path) -> FileResponse:
    file = path if isinstance(path, Path) else AUDIO / f"{path}.wav"
    kind = "audio/wav" if file.suffix == ".wav" else "audio/mpeg"
    response = FileResponse(file.open("rb"), content_type=kind)
    response["Cache-Control"] = "private, no-store"
    return response


@member_required
@require_GET
def account_prompt_audio(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    """The prompt as callers hear it now."""
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_PROMPTS)
    if name not in PROMPT_FIELDS:
        raise Http404
    path, _beep = prompts.sound(_prompt_now(account, name))
    return _audio_file(path)


@member_required
@require_GET
def account_prompt_preview(request: HttpRequest, slug: str) -> HttpResponse:
    """A draft text said, to hear it before it goes live (nothing saved but the sound, cached)."""
    account = policy.get_account_or_404(request.user, slug, Perm.EDIT_PROMPTS)
    text = request.GET.get("text", "").replace("\x00", "")
    if not text.strip():
        return HttpResponse(_("Type a text to hear it."), status=400, content_type="text/plain")
    try:
        path = speech.spoken(text[:600], prompts.folder(), voice=prompts.voice(client_language(account)))
    except speech.SpeechError as exc:
        return HttpResponse(str(exc), status=400 if speech.available() else 503, content_type="text/plain")
    return _audio_file(path)


@member_required
@require_http_methods(["GET", "POST"])
def account_voice_menu(request: HttpRequest, slug: str) -> HttpResponse:
    """The account's voice menu: read by all who see its scenarios, checked (line and column) and saved by
    those who write them; empty: no menu, the calls go straight to the queue."""
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_SCENARIOS)
    may_edit = policy.has_perm(request.user, Perm.EDIT_SCENARIOS)
    text = account.ivr_source
    status = 200
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied
        text = request.POST.get("source", "").replace("\x00", "").replace("\r\n", "\n")[:20000]
        checked = ivr.check(text) if text.strip() else None
        if checked is not None and not checked.ok:
            messages.error(request, _("Nothing was saved: the menu has errors (below)."))
            status = 400
        elif request.POST.get("save"):
            account.ivr_source = text if text.strip() else ""
            account.save(update_fields=["ivr_source", "updated_at"])
            trail.record(request.user, Action.UPDATE, account, request=request, fields=["ivr_source"])
            messages.success(request, _("Saved: callers hear this menu from the next call.") if text.strip()
                             else _("Saved: no voice menu, the calls go straight to the queue."))  # fmt: skip
            return redirect("account_voice_menu", account.slug)
    checked = ivr.check(text) if text.strip() else None
    problems = [p.as_dict(_) for p in checked.problems.sorted()] if checked else []
    menus = list(checked.ivr.menus.values()) if checked and checked.ivr else []
    return render(request, "portal/voice_menu.html", {
        "account": account, "source": text or (ivr.EXAMPLE if may_edit else ""), "problems": problems,
        "menus": menus, "start": checked.ivr.start if checked and checked.ivr else "", "may_edit": may_edit,
        "empty": not text.strip(),
    }, status=status)  # fmt: skip
