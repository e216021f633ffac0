"""The whole account as one file, for its client admin (reversibility, ``accounts.portability``):
a page saying what it holds, and the download (a form's POST: a link or an image cannot start one),
audited. The client's download holds what the client sees (``for_client``); the command line
(``permanence export-account``) holds everything."""

from __future__ import annotations

import tempfile

from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from permanence import policy
from permanence.accounts import portability
from permanence.accounts.models import Account
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.calls import voicemail
from permanence.policy import Perm
from permanence.portal.access import member_required


def _audio_kinds(user: object, account: Account) -> frozenset[str]:
    """The audio files this user may take with the export: what they may hear anyway."""
    kinds = set()
    if policy.allowed(user, Perm.HEAR_RECORDINGS, account):
        kinds.add("call_recordings")
    if voicemail.in_portal(user, account):
        kinds.add("voicemails")
    if policy.allowed(user, Perm.EDIT_PROMPTS, account):
        kinds.add("account")
    return frozenset(kinds) & portability.audio_kinds()


@member_required
@require_GET
def account_export(request: HttpRequest, slug: str) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.EXPORT_ACCOUNT)
    return render(request, "portal/export.html", {
        "account": account, "files": [kind.file for kind in portability.KINDS],
        "audio": bool(_audio_kinds(request.user, account)),
    })


@member_required
@require_POST
def account_export_download(request: HttpRequest, slug: str) -> FileResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.EXPORT_ACCOUNT)
    audio = _audio_kinds(request.user, account) if request.POST.get("audio") == "1" else frozenset()
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (the response closes it once sent)
    try:
        manifest = portability.export_account(account, handle, audio=audio, for_client=True)
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    trail.record(request.user, Action.EXPORT, account, request=request, format="zip", rows=manifest.rows,
                 audio=manifest.data["audio"]["archived"])
    stamp = timezone.localdate().isoformat()
    return FileResponse(handle, as_attachment=True, filename=f"permanence-{account.slug}-{stamp}.zip",
                        content_type="application/zip")
