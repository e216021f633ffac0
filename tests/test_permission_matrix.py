"""Permission matrix: every URL and API endpoint × every role × own account vs another.

To add a page or endpoint, add one Route row: its URL and the personas allowed
on account Alpha. Everyone else is expected to get 404 when Alpha is outside
their reach (the account's existence is not revealed) and 403 when Alpha is
within reach but the role may not do this. ``test_every_url_is_in_the_matrix``
fails when a URL exists without a row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from permanence.audit.models import AuditEvent
from permanence.contacts.models import Contact
from permanence.directory.models import Collaborator

PERSONAS = [
    "admin", "assistant", "secretary", "secretary_beta",
    "client_admin", "client_user", "client_admin_beta",
]
# Who reaches account Alpha at all (declared here, not read from the policy).
REACHES_ALPHA = {"admin", "assistant", "secretary", "client_admin", "client_user"}
REACHES_BETA = {"admin", "assistant", "secretary_beta", "client_admin_beta"}
STAFF = {"admin", "assistant", "secretary", "secretary_beta"}
BACK_OFFICE = {"admin", "assistant"}
BOOKERS = {"admin", "assistant", "secretary", "client_admin"}
EDITORS = {"admin", "assistant", "client_admin"}
CLIENTS = {"client_admin", "client_user", "client_admin_beta"}  # who writes an account's own settings
EVERYONE = set(PERSONAS)
NO_INVOICES = {"assistant": 403, "secretary": 403, "client_user": 403}  # reach Alpha, may not see invoices

CSV_BODY = "Prénom;Nom;Téléphones\nZoé;Nouvelle;06 99 88 77 66\n".encode()


@dataclass(frozen=True)
class Route:
    name: str  # URL name, or "api:<operation>" for API endpoints
    method: str
    path: str  # {a}: Alpha's slug; {c}: a contact of Alpha; {cb}: a contact of Beta
    allow: frozenset[str]
    ok: int = 200
    ok_for: dict[str, int] = field(default_factory=dict, hash=False)  # per allowed persona
    scoped: bool = True  # about account Alpha: outsiders get 404; False: 403 for all denied
    denied: int | None = None  # override the status expected for denied personas
    denied_for: dict[str, int] = field(default_factory=dict, hash=False)  # per persona
    body: dict[str, Any] = field(default_factory=dict, hash=False)
    api: bool = False


def R(name: str, path: str, allow: set[str], method: str = "GET", **kw: Any) -> Route:
    return Route(name, method, path, frozenset(allow), **kw)


ROUTES = [
    # pages
    # Staff get the list of accounts they reach; a client goes straight to its account.
    R("home", "/", EVERYONE, scoped=False,
      ok_for={"client_admin": 302, "client_user": 302, "client_admin_beta": 302}),
    R("account", "/a/{a}/", REACHES_ALPHA),
    R("contacts", "/a/{a}/contacts/", REACHES_ALPHA),
    R("contact", "/a/{a}/contacts/{c}/", REACHES_ALPHA),
    R("contact", "/a/{a}/contacts/{cb}/", set(), denied=404),  # Beta's contact under Alpha
    R("contact_import", "/a/{a}/contacts/import/", {"admin", "assistant", "client_admin"}),
    R("contact_import", "/a/{a}/contacts/import/", {"admin", "assistant", "client_admin"},
      method="POST"),
    R("contact_export", "/a/{a}/contacts/export.csv", {"admin", "client_admin"}),
    R("identify", "/a/{a}/identify/?called=0145000001&caller=0611111111",
      {"admin", "assistant", "secretary"}),
    R("audit", "/a/{a}/audit/", {"admin", "client_admin"}),
    # the whole account as one file (reversibility): the page, and the download (audited)
    R("account_export", "/a/{a}/export/", {"admin", "client_admin"}),
    R("account_export_download", "/a/{a}/export/download", {"admin", "client_admin"}, method="POST",
      body={"audio": "1"}),
    R("two_factor", "/security/two-factor/", STAFF, scoped=False, denied=404),
    R("verify_second_factor", "/login/verify/", EVERYONE, scoped=False, ok=302),
    R("admin", "/admin/", BACK_OFFICE, scoped=False, denied=302),
    R("admin", "/admin/accounts/account/", BACK_OFFICE, scoped=False, denied=302),
    # The assistant may enter the back-office but not these two pages.
    R("admin", "/admin/users/user/", {"admin"}, scoped=False, denied=302,
      denied_for={"assistant": 403}),
    R("admin", "/admin/audit/auditevent/", {"admin"}, scoped=False, denied=302,
      denied_for={"assistant": 403}),
    # call scenarios: {s} is Alpha's scenario (v1 published, v2 sent to the client), {sb} Beta's
    R("scenarios", "/a/{a}/scenarios/", REACHES_ALPHA),
    R("scenarios", "/a/{a}/scenarios/", {"admin", "assistant"}, method="POST", ok=302,
      body={"name": "Nouveau", "template": "switchboard"}),
    R("scenario", "/a/{a}/scenarios/{s}/", REACHES_ALPHA, ok=302),
    R("scenario", "/a/{a}/scenarios/{sb}/", set(), denied=404),  # Beta's scenario under Alpha
    R("scenario_version", "/a/{a}/scenarios/{s}/v/1/", REACHES_ALPHA),
    R("scenario_version", "/a/{a}/scenarios/{s}/v/2/", {"admin", "assistant", "client_admin"},
      denied_for={"secretary": 404, "client_user": 404}),
    R("scenario_version", "/a/{a}/scenarios/{s}/v/2/", {"admin", "assistant"}, method="POST", ok=302,
      denied_for={"secretary": 404, "client_user": 404}, body={"source": "title: x"}),
    R("scenario_check", "/a/{a}/scenarios/{s}/v/2/check", {"admin", "assistant"}, method="POST",
      body={"source": "title: x"}),
    R("scenario_test", "/a/{a}/scenarios/{s}/v/1/test", REACHES_ALPHA),
    R("scenario_test", "/a/{a}/scenarios/{s}/v/1/test", REACHES_ALPHA, method="POST", body={"restart": "1"}),
    R("scenario_print", "/a/{a}/scenarios/{s}/v/1/print", REACHES_ALPHA),
    R("scenario_replay", "/a/{a}/scenarios/{s}/v/1/replay", BACK_OFFICE),
    R("scenario_diff", "/a/{a}/scenarios/{s}/diff/?a=1&b=2", {"admin", "assistant", "client_admin"},
      denied_for={"secretary": 404, "client_user": 404}),
    R("scenario_action", "/a/{a}/scenarios/{s}/v/1/remark", {"admin", "assistant", "secretary"},
      method="POST", ok=302, body={"step": "welcome", "text": "Trop long"}),
    R("scenario_action", "/a/{a}/scenarios/{s}/v/2/approve", {"admin", "client_admin"}, method="POST",
      ok=302, denied_for={"secretary": 404, "client_user": 404}),
    R("scenario_action", "/a/{a}/scenarios/{s}/v/2/send", {"admin", "assistant"}, method="POST", ok=302,
      denied_for={"secretary": 404, "client_user": 404}),
    R("scenario_action", "/a/{a}/scenarios/{s}/v/1/new_version", {"admin", "assistant"}, method="POST",
      ok=302),
    # the desk: {call} is a call of Alpha answered by "secretary"; {offer} one offered to her
    R("desk", "/desk/", STAFF, scoped=False, denied=404, ok_for={"secretary": 302}),  # to her live call
    R("desk_poll", "/desk/poll", STAFF, scoped=False, denied=404),
    R("phone", "/desk/phone/", STAFF, scoped=False, denied=404),
    # the simulator here: no line, no credentials (with TELEPHONY "sip": tests/calls/test_phone_views.py)
    R("phone_credentials", "/desk/phone/credentials", set(), scoped=False, denied=404),
    R("desk_callback_done", "/desk/callbacks/{cbt}/done", {"admin", "assistant", "secretary"}, method="POST",
      ok=302, denied=404),
    # voicemails: {vm} one of Alpha, {vmb} one of Beta; the portal's only where the account wants it
    # (not Alpha here: its clients get 404; with it, tests/calls/test_voicemail.py)
    R("desk_voicemail", "/desk/voicemails/{vm}/", {"admin", "assistant", "secretary"}, denied=404),
    R("desk_voicemail", "/desk/voicemails/{vmb}/", {"admin", "assistant", "secretary_beta"}, denied=404,
      scoped=False),
    R("desk_voicemail_audio", "/desk/voicemails/{vm}/audio", {"admin", "assistant", "secretary"}, denied=404),
    R("desk_voicemail_message", "/desk/voicemails/{vm}/message", {"admin", "assistant", "secretary"},
      method="POST", ok=302, denied=404, body={"subject": "Rappel", "body": "Rappeler le patient"}),
    R("desk_voicemail_called_back", "/desk/voicemails/{vm}/called-back", {"admin", "assistant", "secretary"},
      method="POST", ok=302, denied=404),
    R("account_calls", "/a/{a}/calls/", {"admin", "assistant", "client_admin", "client_user"}),
    R("account_voicemails", "/a/{a}/voicemails/", {"admin", "assistant"},
      denied_for={"client_admin": 404, "client_user": 404}),
    R("account_voicemail_audio", "/a/{a}/voicemails/{vm}/audio", {"admin", "assistant"},
      denied_for={"client_admin": 404, "client_user": 404}),
    R("account_voicemail_audio", "/a/{a}/voicemails/{vmb}/audio", set(), denied=404,
      denied_for={"secretary": 403}),
    # call recordings: {rec} one of Alpha, {recb} one of Beta
    R("account_recordings", "/a/{a}/recordings/", {"admin", "assistant", "client_admin"}),
    R("account_recording_audio", "/a/{a}/recordings/{rec}/audio", {"admin", "assistant", "client_admin"}),
    R("account_recording_audio", "/a/{a}/recordings/{recb}/audio", set(), denied=404,
      denied_for={"secretary": 403, "client_user": 403}),
    # instructions (consignes): {ins} a dated one of Alpha, {insb} one of Beta
    R("account_instructions", "/a/{a}/instructions/", REACHES_ALPHA),
    R("account_instructions", "/a/{a}/instructions/", {"admin", "assistant", "client_admin"}, method="POST",
      ok=302, body={"form": "dated", "text": "Urgences au Dr Martin", "starts_at": "2099-08-12T09:00",
                    "ends_at": "2099-08-20T19:00"}),
    R("account_instructions", "/a/{a}/instructions/", {"admin", "assistant", "client_admin"}, method="POST",
      ok=302, body={"form": "standing", "standing": "Ne jamais donner les portables."}),
    R("account_instruction", "/a/{a}/instructions/{ins}/", REACHES_ALPHA),
    R("account_instruction", "/a/{a}/instructions/{insb}/", set(), denied=404),
    R("account_instruction", "/a/{a}/instructions/{ins}/", {"admin", "assistant", "client_admin"},
      method="POST", ok=302, body={"text": "Urgences au Dr Durand", "starts_at": "2099-08-12T09:00",
                                   "ends_at": "2099-08-20T19:00"}),
    R("account_instruction_withdraw", "/a/{a}/instructions/{ins}/withdraw",
      {"admin", "assistant", "client_admin"}, method="POST", ok=302),
    R("account_instruction_withdraw", "/a/{a}/instructions/{insb}/withdraw", set(), method="POST", denied=404,
      denied_for={"secretary": 403, "client_user": 403}),
    # the directory: {p} Alpha's first person, {pb} Beta's; {svc} a service of Alpha's ({svcb}: Beta's);
    # {chg} a change planned in Alpha's directory ({chgb}: in Beta's)
    R("account_directory", "/a/{a}/directory/", REACHES_ALPHA),
    R("account_directory", "/a/{a}/directory/", EDITORS, method="POST", ok=302, body={"name": "Accueil"}),
    R("account_collaborator_new", "/a/{a}/directory/new", EDITORS),
    R("account_collaborator_new", "/a/{a}/directory/new", EDITORS, method="POST", ok=302,
      body={"last_name": "Nouveau", "transfer_mode": "always"}),
    R("account_collaborator", "/a/{a}/directory/{p}/", REACHES_ALPHA),
    R("account_collaborator", "/a/{a}/directory/{pb}/", set(), denied=404),
    R("account_collaborator", "/a/{a}/directory/{p}/", EDITORS, method="POST", ok=302,
      body={"title": "Maître", "first_name": "Anne", "last_name": "Alphonse", "transfer_mode": "never"}),
    R("account_collaborator", "/a/{a}/directory/{pb}/", set(), method="POST", denied=404),
    R("account_collaborator_leave", "/a/{a}/directory/{p}/leave", EDITORS, method="POST", ok=302),
    R("account_collaborator_leave", "/a/{a}/directory/{pb}/leave", set(), method="POST", denied=404,
      denied_for={"secretary": 403, "client_user": 403}),
    R("account_collaborator_rejoin", "/a/{a}/directory/{p}/rejoin", EDITORS, method="POST", ok=302),
    R("account_collaborator_rejoin", "/a/{a}/directory/{pb}/rejoin", set(), method="POST", denied=404,
      denied_for={"secretary": 403, "client_user": 403}),
    R("account_service", "/a/{a}/directory/services/{svc}/", EDITORS, method="POST", ok=302,
      body={"name": "Accueil général"}),
    R("account_service", "/a/{a}/directory/services/{svcb}/", set(), method="POST", denied=404,
      denied_for={"secretary": 403, "client_user": 403}),
    R("account_service_remove", "/a/{a}/directory/services/{svc}/remove", EDITORS, method="POST", ok=302),
    R("account_service_remove", "/a/{a}/directory/services/{svcb}/remove", set(), method="POST", denied=404,
      denied_for={"secretary": 403, "client_user": 403}),
    R("account_directory_change_cancel", "/a/{a}/directory/changes/{chg}/cancel", EDITORS, method="POST",
      ok=302),
    R("account_directory_change_cancel", "/a/{a}/directory/changes/{chgb}/cancel", set(), method="POST",
      denied=404, denied_for={"secretary": 403, "client_user": 403}),
    # absences and replacements: {abs} an absence of Alpha's, {absb} one of Beta's
    R("account_absences", "/a/{a}/absences/", REACHES_ALPHA),
    R("account_absences", "/a/{a}/absences/", {"admin", "assistant", "client_admin"}, method="POST", ok=302,
      body={"collaborator": "{p}", "kind": "leave", "starts_at": "2099-08-12T09:00",
            "ends_at": "2099-08-20T19:00"}),
    R("account_absence_end", "/a/{a}/absences/{abs}/end", {"admin", "assistant", "client_admin"},
      method="POST", ok=302),
    R("account_absence_end", "/a/{a}/absences/{absb}/end", set(), method="POST", denied=404,
      denied_for={"secretary": 403, "client_user": 403}),
    # on-call rotas: a rota written (here without its service: refused after the permission check),
    # {swp} a swap of Alpha's rota, {swpb} one of Beta's
    R("account_on_call", "/a/{a}/on-call/", REACHES_ALPHA),
    R("account_on_call", "/a/{a}/on-call/", {"admin", "assistant", "client_admin"}, method="POST", ok=422,
      body={"form": "rota"}),
    R("account_on_call_swap_remove", "/a/{a}/on-call/swaps/{swp}/remove",
      {"admin", "assistant", "client_admin"}, method="POST", ok=302),
    R("account_on_call_swap_remove", "/a/{a}/on-call/swaps/{swpb}/remove", set(), method="POST", denied=404,
      denied_for={"secretary": 403, "client_user": 403}),
    # hours, closures, after-hours policy: {hx} an exception of Alpha's, {hxb} one of Beta's
    R("account_hours", "/a/{a}/hours/", REACHES_ALPHA),
    R("account_hours", "/a/{a}/hours/", {"admin", "assistant", "client_admin"}, method="POST", ok=302,
      body={"form": "after_hours", "after_hours": "voicemail"}),
    R("account_hours_exception_remove", "/a/{a}/hours/exceptions/{hx}/remove",
      {"admin", "assistant", "client_admin"}, method="POST", ok=302),
    R("account_hours_exception_remove", "/a/{a}/hours/exceptions/{hxb}/remove", set(), method="POST",
      denied=404, denied_for={"secretary": 403, "client_user": 403}),
    # API keys: the client admin's page, and a key revoked ({key}: Alpha's, {keyb}: Beta's)
    R("account_api_keys", "/a/{a}/api-keys/", {"admin", "client_admin"}),
    R("account_api_keys", "/a/{a}/api-keys/", {"admin", "client_admin"}, method="POST",
      body={"name": "Logiciel du cabinet", "scope": "read"}),
    R("account_api_key_revoke", "/a/{a}/api-keys/{key}/revoke", {"admin", "client_admin"}, method="POST",
      ok=302),
    R("account_api_key_revoke", "/a/{a}/api-keys/{keyb}/revoke", set(), method="POST", denied=404,
      denied_for={"assistant": 403, "secretary": 403, "client_user": 403}),
    # what callers hear: the texts, heard now, a draft heard
    R("account_prompts", "/a/{a}/prompts/", {"admin", "assistant", "client_admin"}),
    R("account_prompts", "/a/{a}/prompts/", {"admin", "assistant", "client_admin"}, method="POST", ok=302,
      body={"waiting_text": "Un instant"}),
    R("account_prompt_audio", "/a/{a}/prompts/waiting.wav", {"admin", "assistant", "client_admin"}),
    R("account_prompt_preview", "/a/{a}/prompts/preview?text=", {"admin", "assistant", "client_admin"},
      ok=400),  # an empty text: nothing to say
    R("account_voice_menu", "/a/{a}/voice-menu/", REACHES_ALPHA),
    R("account_voice_menu", "/a/{a}/voice-menu/", BACK_OFFICE, method="POST", ok=302,
      body={"source": "", "save": "1"}),
    # live supervision: the operator's staff (an answered call of Alpha; a redirect to the live view)
    R("supervise_call", "/supervision/calls/{call}/supervise", BACK_OFFICE, method="POST", ok=302,
      scoped=False, body={"mode": "listen"}),
    R("desk_status", "/desk/status", STAFF, method="POST", scoped=False, denied=404, ok=302,
      body={"status": "paused", "reason": "café"}),
    R("desk_training", "/desk/training", {"admin", "assistant", "secretary"}, method="POST", ok=302,
      denied=404, body={"account": "alpha"}),
    R("desk_call", "/desk/calls/{call}/", {"secretary"}, denied=404),
    R("desk_accept", "/desk/calls/{offer}/accept", STAFF, method="POST", scoped=False, denied=404, ok=302),
    R("desk_transfer", "/desk/calls/{call}/transfer", {"secretary"}, method="POST", denied=404, ok=302),
    R("desk_finish", "/desk/calls/{call}/finish", {"secretary"}, method="POST", denied=404, ok=302,
      body={"force": "1", "send": "1", "subject": "Essai", "body": "Texte",
            "recipients": "accueil@alpha.example"}),
    R("desk_hold", "/desk/calls/{call}/hold", {"secretary"}, method="POST", denied=404, ok=302),
    R("desk_remark", "/desk/calls/{call}/remark", {"secretary"}, method="POST", denied=404, ok=302,
      body={"step": "welcome", "text": "Trop long"}),
    # messages: {m} is a message of Alpha; {mb} one of Beta
    R("messages", "/a/{a}/messages/", {"admin", "assistant", "client_admin", "client_user"}),
    R("message_flag", "/a/{a}/messages/{m}/flag", {"admin", "client_admin", "client_user"}, method="POST",
      ok=302, body={"reason": "missing"}),
    R("message_flag", "/a/{a}/messages/{mb}/flag", set(), method="POST", denied=404,
      denied_for={"assistant": 403, "secretary": 403}),
    # a message's sensitive fields (health, legal): read signed in, audited; not by the operator's staff;
    # a client collaborator only for a message addressed to them ({m} is not: tests/messaging/test_sensitive)
    R("message_sensitive", "/a/{a}/messages/{m}/sensitive/", {"admin", "client_admin"}),
    R("message_sensitive", "/a/{a}/messages/{mb}/sensitive/", set(), denied=404,
      denied_for={"assistant": 403, "secretary": 403}),
    R("message_resend", "/a/{a}/messages/{m}/resend", {"admin", "assistant", "client_admin"}, method="POST",
      ok=302),
    R("message_resend", "/a/{a}/messages/{mb}/resend", set(), method="POST", denied=404,
      denied_for={"secretary": 403, "client_user": 403}),  # no such right at all: 403 before the lookup
    R("message_acknowledge", "/a/{a}/messages/{m}/acknowledge", {"admin", "client_admin", "client_user"},
      method="POST", ok=302),
    R("agenda", "/a/{a}/agenda/", REACHES_ALPHA),
    R("agenda_feed", "/a/{a}/agenda/feed/{p}", {"admin", "assistant", "client_admin"}, method="POST", ok=302),
    R("agenda_feed", "/a/{a}/agenda/feed/{pb}", set(), method="POST", denied=404,
      denied_for={"secretary": 403, "client_user": 403}),
    R("agenda_calendar", "/a/{a}/agenda/calendar/{p}", {"admin", "assistant", "client_admin"}, method="POST",
      ok=302, body={"action": "unlink"}),
    R("agenda_calendar", "/a/{a}/agenda/calendar/{pb}", set(), method="POST", denied=404,
      denied_for={"secretary": 403, "client_user": 403}, body={"action": "unlink"}),
    # agenda settings: {t} a type of Alpha, {tb} one of Beta, {ex} an availability exception of {p}
    R("agenda_settings", "/a/{a}/agenda/settings/", {"admin", "assistant", "client_admin"}),
    R("agenda_type_new", "/a/{a}/agenda/types/new", {"admin", "assistant", "client_admin"}),
    R("agenda_type", "/a/{a}/agenda/types/{t}", {"admin", "assistant", "client_admin"}),
    R("agenda_type", "/a/{a}/agenda/types/{tb}", set(), denied=404,
      denied_for={"secretary": 403, "client_user": 403}),
    R("agenda_hours", "/a/{a}/agenda/hours/{p}", {"admin", "assistant", "client_admin"}),
    R("agenda_hours", "/a/{a}/agenda/hours/{pb}", set(), denied=404,
      denied_for={"secretary": 403, "client_user": 403}),
    R("agenda_exception_delete", "/a/{a}/agenda/hours/{p}/exceptions/{ex}/delete",
      {"admin", "assistant", "client_admin"}, method="POST", ok=302),
    # {si} what the calendar sync of Alpha's collaborator reported; {sib} the same in Beta
    R("agenda_issue_seen", "/a/{a}/agenda/issues/{si}/seen", BOOKERS, method="POST", ok=302),
    R("agenda_issue_seen", "/a/{a}/agenda/issues/{sib}/seen", set(), method="POST", denied=404,
      denied_for={"client_user": 403}),
    # figures: an account's (its client's portal, the operator), the operator's overview
    R("account_report", "/a/{a}/reports/", {"admin", "assistant", "client_admin", "client_user"}),
    R("monthly_report", "/a/{a}/reports/monthly.pdf", {"admin", "assistant", "client_admin", "client_user"}),
    R("reports", "/reports/", {"admin", "assistant", "client_admin", "client_user", "client_admin_beta"},
      scoped=False, ok_for={"client_admin": 302, "client_user": 302, "client_admin_beta": 302}),
    R("supervision", "/supervision/", {"admin", "assistant"}, scoped=False),
    R("staffing", "/planning/", {"admin", "assistant"}, scoped=False),
    R("staffing", "/planning/?account={a}&format=csv", {"admin", "assistant"}, scoped=False),
    R("failed_messages", "/messages/failed/", {"admin", "assistant", "client_admin", "client_admin_beta"},
      scoped=False),  # each sees the accounts within reach
    # who gets the messages: {p} a collaborator of Alpha, {pb} one of Beta; form fields are prefixed
    R("message_settings", "/a/{a}/messages/settings/", {"admin", "assistant", "client_admin"}),
    R("message_person_preferences", "/a/{a}/messages/settings/people/{p}",
      {"admin", "assistant", "client_admin"}, method="POST", ok=302,
      body={"{p}-normal_email": "on", "{p}-digest_at": "18:00"}),
    R("message_person_preferences", "/a/{a}/messages/settings/people/{pb}", set(), method="POST", denied=404,
      denied_for={"secretary": 403, "client_user": 403}, body={"{pb}-digest_at": "18:00"}),
    R("message_escalation", "/a/{a}/messages/settings/escalation", {"admin", "assistant", "client_admin"},
      method="POST", ok=302, body={"delay_minutes": "10", "steps_text": "a@example.fr\n06 12 34 56 78"}),
    # privacy: retention periods, legal holds ({hold}: Alpha's, {holdb}: Beta's), the register and a request
    # ({dr}: an erasure request of Alpha's about nobody, {drb}: Beta's, {dro}: one about every account)
    R("privacy", "/a/{a}/privacy/", {"admin", "client_admin"}),
    R("privacy", "/a/{a}/privacy/", {"admin", "client_admin"}, method="POST", ok=302,
      body={"calls_months": "6"}),
    R("privacy_holds", "/a/{a}/privacy/holds/", {"admin", "client_admin"}),
    R("privacy_holds", "/a/{a}/privacy/holds/", {"admin", "client_admin"}, method="POST", ok=302,
      body={"phone": "0611111111", "reason": "Litige"}),
    R("privacy_hold_lift", "/a/{a}/privacy/holds/{hold}/lift", {"admin", "client_admin"}, method="POST",
      ok=302),
    R("privacy_hold_lift", "/a/{a}/privacy/holds/{holdb}/lift", set(), method="POST", denied=404,
      denied_for={"assistant": 403, "secretary": 403, "client_user": 403}),
    R("privacy_requests", "/a/{a}/privacy/requests/", {"admin", "client_admin"}),
    R("privacy_requests", "/a/{a}/privacy/requests/", {"admin", "client_admin"}, method="POST", ok=302,
      body={"kind": "access", "phone": "0611111111"}),
    R("privacy_request", "/a/{a}/privacy/requests/{dr}/", {"admin", "client_admin"}),
    R("privacy_request", "/a/{a}/privacy/requests/{drb}/", set(), denied=404,
      denied_for={"assistant": 403, "secretary": 403, "client_user": 403}),
    R("privacy_request", "/a/{a}/privacy/requests/{dr}/", {"admin", "client_admin"}, method="POST", ok=302,
      body={"status": "done", "notes": "Répondu"}),
    R("privacy_request_export", "/a/{a}/privacy/requests/{dr}/export", {"admin", "client_admin"},
      method="POST"),
    R("privacy_request_export", "/a/{a}/privacy/requests/{drb}/export", set(), method="POST", denied=404,
      denied_for={"assistant": 403, "secretary": 403, "client_user": 403}),
    R("privacy_request_erase", "/a/{a}/privacy/requests/{dr}/erase", {"admin", "client_admin"}, method="POST",
      ok=302, body={"confirm": "1"}),
    R("privacy_request_erase", "/a/{a}/privacy/requests/{drb}/erase", set(), method="POST", denied=404,
      denied_for={"assistant": 403, "secretary": 403, "client_user": 403}, body={"confirm": "1"}),
    # no contact named: refused after the permission check
    R("privacy_request_rectify", "/a/{a}/privacy/requests/{dr}/rectify", {"admin", "client_admin"},
      method="POST", ok=422),
    R("privacy_operator", "/privacy/", {"admin", "client_admin", "client_admin_beta"}, scoped=False,
      ok_for={"client_admin": 302, "client_admin_beta": 302}),  # a client admin: to their own register
    R("privacy_operator", "/privacy/", {"admin"}, method="POST", scoped=False, ok=302,
      body={"kind": "access", "phone": "0611111111"}),
    R("privacy_request_all", "/privacy/requests/{dro}/", {"admin"}, scoped=False,
      denied_for={"client_admin": 404, "client_admin_beta": 404}),
    R("privacy_request_export_all", "/privacy/requests/{dro}/export", {"admin"}, method="POST", scoped=False,
      denied_for={"client_admin": 404, "client_admin_beta": 404}),
    R("privacy_request_erase_all", "/privacy/requests/{dro}/erase", {"admin"}, method="POST", scoped=False,
      ok=302, body={"confirm": "1"}, denied_for={"client_admin": 404, "client_admin_beta": 404}),
    R("privacy_request_rectify_all", "/privacy/requests/{dro}/rectify", {"admin"}, method="POST",
      scoped=False, ok=422, denied_for={"client_admin": 404, "client_admin_beta": 404}),
    # billing: {inv} an issued invoice of Alpha ({invb}: Beta's), {invd} a draft of Alpha, {icall} a call
    # billed on {inv}'s first line, {disp} an open dispute of Alpha's
    R("invoices", "/a/{a}/invoices/", {"admin", "client_admin"}),
    R("invoice", "/a/{a}/invoices/{inv}/", {"admin", "client_admin"}),
    R("invoice", "/a/{a}/invoices/{invb}/", set(), denied=404, denied_for=NO_INVOICES),
    R("invoice", "/a/{a}/invoices/{invd}/", {"admin"}, denied_for={**NO_INVOICES, "client_admin": 404}),
    R("invoice_line", "/a/{a}/invoices/{inv}/lines/1/", {"admin", "client_admin"}),
    R("invoice_line", "/a/{a}/invoices/{invb}/lines/1/", set(), denied=404, denied_for=NO_INVOICES),
    R("invoice_excluded", "/a/{a}/invoices/{inv}/excluded/", {"admin", "client_admin"}),
    R("invoice_pdf", "/a/{a}/invoices/{inv}/pdf", {"admin", "client_admin"}),
    R("invoice_pdf", "/a/{a}/invoices/{invb}/pdf", set(), denied=404, denied_for=NO_INVOICES),
    R("invoice_dispute", "/a/{a}/invoices/{inv}/calls/{icall}/dispute", {"admin", "client_admin"},
      method="POST", ok=302, body={"reason": "Un faux numéro"}),
    R("invoice_dispute", "/a/{a}/invoices/{invb}/calls/{icall}/dispute", set(), method="POST", denied=404,
      denied_for=NO_INVOICES, body={"reason": "Un faux numéro"}),
    R("billing", "/billing/", {"admin"}, scoped=False),
    R("billing_run", "/billing/run", {"admin"}, method="POST", scoped=False, ok=302,
      body={"month": "2020-01"}),
    R("billing_issue", "/billing/issue", {"admin"}, method="POST", scoped=False, ok=302,
      body={"month": "2020-01"}),
    R("billing_csv", "/billing/export.csv?month=2020-01", {"admin"}, scoped=False),
    R("billing_disputes", "/billing/disputes/", {"admin"}, scoped=False),
    R("billing_decide", "/billing/disputes/{disp}/decide", {"admin"}, method="POST", scoped=False, ok=302,
      body={"decision": "refuse", "answer": "Appel bien traité."}),
    # API
    R("api:list_accounts", "/api/v1/accounts", EVERYONE, scoped=False, api=True),
    R("api:get_account", "/api/v1/accounts/{a}", REACHES_ALPHA, api=True),
    R("api:get_directory", "/api/v1/accounts/{a}/directory", REACHES_ALPHA, api=True),
    R("api:list_instructions", "/api/v1/accounts/{a}/instructions", REACHES_ALPHA, api=True),
    R("api:add_instruction", "/api/v1/accounts/{a}/instructions", {"admin", "assistant", "client_admin"},
      method="POST", ok=201, api=True, body={"text": "Urgences au Dr Martin",
                                             "starts_at": "2099-08-12T09:00:00+02:00",
                                             "ends_at": "2099-08-20T19:00:00+02:00"}),
    R("api:set_standing_instructions", "/api/v1/accounts/{a}/instructions/standing",
      {"admin", "assistant", "client_admin"}, method="POST", api=True, body={"text": "Jamais de portable."}),
    R("api:change_instruction", "/api/v1/accounts/{a}/instructions/{ins}",
      {"admin", "assistant", "client_admin"}, method="POST", api=True,
      body={"text": "Urgences au Dr Durand", "starts_at": "2099-08-12T09:00:00+02:00",
            "ends_at": "2099-08-20T19:00:00+02:00"}),
    R("api:change_instruction", "/api/v1/accounts/{a}/instructions/{insb}", set(), method="POST", api=True,
      denied=404, denied_for={"secretary": 403, "client_user": 403},
      body={"text": "x", "starts_at": "2099-08-12T09:00:00+02:00", "ends_at": "2099-08-20T19:00:00+02:00"}),
    R("api:withdraw_instruction", "/api/v1/accounts/{a}/instructions/{ins}/withdraw",
      {"admin", "assistant", "client_admin"}, method="POST", api=True),
    # the client's web app: each client user's own messages (no account in the URL: everyone's own);
    # a subscription posted empty is refused after the permission check
    R("app_home", "/app/", CLIENTS, scoped=False),
    R("app_push_subscribe", "/app/push/subscribe", CLIENTS, method="POST", scoped=False, ok=422),
    R("app_push_unsubscribe", "/app/push/unsubscribe", CLIENTS, method="POST", scoped=False),
    # supervisors' call reviews: {rv} a real call of Alpha answered by "secretary" (operator staff reach
    # every account: no other account's call to refuse them)
    R("reviews", "/reports/reviews/", BACK_OFFICE, scoped=False),
    R("review_call", "/reports/reviews/{rv}/", BACK_OFFICE, scoped=False),
    R("review_call", "/reports/reviews/{rv}/", BACK_OFFICE, method="POST", scoped=False, ok=302,
      body={"greeting": "2", "message": "2"}),
    # the directory's API: {p}/{pb} a person, {svc}/{svcb} a service, {chg}/{chgb} a planned change,
    # {abs}/{absb} an absence, {rs}/{rsb} a service with a rota, {swp}/{swpb} a swap in it
    R("api:get_person", "/api/v1/accounts/{a}/directory/people/{p}", REACHES_ALPHA, api=True),
    R("api:get_person", "/api/v1/accounts/{a}/directory/people/{pb}", set(), api=True, denied=404),
    R("api:add_person", "/api/v1/accounts/{a}/directory/people", EDITORS, method="POST", api=True, ok=201,
      body={"last_name": "Nouveau"}),
    R("api:change_person", "/api/v1/accounts/{a}/directory/people/{p}", EDITORS, method="POST", api=True,
      body={"job_title": "Associée"}),
    R("api:change_person", "/api/v1/accounts/{a}/directory/people/{pb}", set(), method="POST", api=True,
      denied=404, denied_for={"secretary": 403, "client_user": 403}),
    # Alpha's person is in an appointment type: the departure is refused after the permission check
    R("api:person_leaves", "/api/v1/accounts/{a}/directory/people/{p}/leave", EDITORS, method="POST",
      api=True, ok=422),
    R("api:person_leaves", "/api/v1/accounts/{a}/directory/people/{pb}/leave", set(), method="POST",
      api=True, denied=404, denied_for={"secretary": 403, "client_user": 403}),
    R("api:list_planned_changes", "/api/v1/accounts/{a}/directory/changes", REACHES_ALPHA, api=True),
    R("api:cancel_planned_change", "/api/v1/accounts/{a}/directory/changes/{chg}/cancel", EDITORS,
      method="POST", api=True),
    R("api:cancel_planned_change", "/api/v1/accounts/{a}/directory/changes/{chgb}/cancel", set(),
      method="POST", api=True, denied=404, denied_for={"secretary": 403, "client_user": 403}),
    R("api:list_services", "/api/v1/accounts/{a}/directory/services", REACHES_ALPHA, api=True),
    R("api:add_service", "/api/v1/accounts/{a}/directory/services", EDITORS, method="POST", api=True,
      ok=201, body={"name": "Accueil"}),
    R("api:change_service", "/api/v1/accounts/{a}/directory/services/{svc}", EDITORS, method="POST",
      api=True, body={"name": "Accueil général"}),
    R("api:change_service", "/api/v1/accounts/{a}/directory/services/{svcb}", set(), method="POST",
      api=True, body={"name": "Accueil général"}, denied=404,
      denied_for={"secretary": 403, "client_user": 403}),
    R("api:remove_service", "/api/v1/accounts/{a}/directory/services/{svc}/remove", EDITORS,
      method="POST", api=True, ok=204),
    R("api:remove_service", "/api/v1/accounts/{a}/directory/services/{svcb}/remove", set(),
      method="POST", api=True, denied=404, denied_for={"secretary": 403, "client_user": 403}),
    R("api:list_absences", "/api/v1/accounts/{a}/absences", REACHES_ALPHA, api=True),
    R("api:add_absence", "/api/v1/accounts/{a}/absences", EDITORS, method="POST", api=True, ok=201,
      body={"collaborator": "{p}", "kind": "leave", "starts_at": "2099-08-12T09:00:00+02:00",
            "ends_at": "2099-08-20T19:00:00+02:00"}),
    R("api:end_absence", "/api/v1/accounts/{a}/absences/{abs}/end", EDITORS, method="POST", api=True),
    R("api:end_absence", "/api/v1/accounts/{a}/absences/{absb}/end", set(), method="POST", api=True,
      denied=404, denied_for={"secretary": 403, "client_user": 403}),
    R("api:list_rotas", "/api/v1/accounts/{a}/rotas", REACHES_ALPHA, api=True),
    R("api:add_swap", "/api/v1/accounts/{a}/rotas/{rs}/swaps", EDITORS, method="POST", api=True, ok=201,
      body={"collaborator": "{p}", "starts_at": "2099-08-12T09:00:00+02:00",
            "ends_at": "2099-08-12T21:00:00+02:00"}),
    R("api:add_swap", "/api/v1/accounts/{a}/rotas/{rsb}/swaps", set(), method="POST", api=True,
      body={"collaborator": "{p}", "starts_at": "2099-08-12T09:00:00+02:00",
            "ends_at": "2099-08-12T21:00:00+02:00"}, denied=404,
      denied_for={"secretary": 403, "client_user": 403}),
    R("api:remove_swap", "/api/v1/accounts/{a}/rotas/swaps/{swp}/remove", EDITORS, method="POST",
      api=True, ok=204),
    R("api:remove_swap", "/api/v1/accounts/{a}/rotas/swaps/{swpb}/remove", set(), method="POST",
      api=True, denied=404, denied_for={"secretary": 403, "client_user": 403}),
    R("api:list_contacts", "/api/v1/accounts/{a}/contacts", REACHES_ALPHA, api=True),
    R("api:identify_caller", "/api/v1/accounts/{a}/identify", {"admin", "assistant", "secretary"},
      method="POST", api=True, body={"called": "01 45 00 00 01", "caller": "0611111111"}),
    # agenda: {t} an appointment type of Alpha, {ap} an appointment of Alpha, {apb} one of Beta,
    # {free} a free slot of Alpha's collaborator {p}
    R("api:list_appointment_types", "/api/v1/accounts/{a}/appointment-types", REACHES_ALPHA, api=True),
    R("api:find_slots", "/api/v1/accounts/{a}/slots?appointment_type={t}", REACHES_ALPHA, api=True),
    R("api:list_appointments", "/api/v1/accounts/{a}/appointments", REACHES_ALPHA, api=True),
    R("api:book_appointment", "/api/v1/accounts/{a}/appointments", BOOKERS, method="POST", api=True, ok=201,
      body={"appointment_type": "{t}", "collaborator": "{p}", "start": "{free}"}),
    R("api:reschedule_appointment", "/api/v1/accounts/{a}/appointments/{ap}/reschedule", BOOKERS,
      method="POST", api=True, body={"start": "{free}"}),
    R("api:reschedule_appointment", "/api/v1/accounts/{a}/appointments/{apb}/reschedule", set(),
      method="POST", api=True, body={"start": "{free}"}, denied_for={"client_user": 403},
      denied=404),
    R("api:cancel_appointment", "/api/v1/accounts/{a}/appointments/{ap}/cancel", BOOKERS, method="POST",
      api=True),
    R("api:cancel_appointment", "/api/v1/accounts/{a}/appointments/{apb}/cancel", set(), method="POST",
      api=True, denied_for={"client_user": 403}, denied=404),
]

# URL names that need no matrix row, with the reason.
PUBLIC = {
    "login": "the sign-in page",
    "logout": "signing out",
    "set_language": "language switch",
    "api-v1:openapi-json": "the public API description",
    "api-v1:openapi-view": "the API docs page",
    "api-v1:api-root": "the API root, which leads to its docs",
    "app_manifest": "the web app's manifest, fetched by browsers without cookies (test_webpush.py)",
    "app_service_worker": "the web app's service worker script (tests/messaging/test_webpush.py)",
    "message_ack": "an urgent message's signed acknowledgement link (tests/messaging/test_escalation.py)",
    "calendar_feed": "a collaborator's private iCalendar address (tests/agenda/test_feed.py)",
    "sms_status_twilio": "Twilio's status callback, signed (tests/messaging/test_sms_providers.py)",
    "sms_inbound_twilio": "an SMS received by Twilio, signed (tests/messaging/test_sms_providers.py)",
    "sms_inbound": "an SMS received by the gateway, signed (tests/messaging/test_sms_providers.py)",
    "healthz": "the load balancer's health check: no data, only ok or an error's class (tests/test_ops.py)",
    "metrics": "Prometheus: a bearer token, or from the machine itself only (tests/test_ops.py)",
}


def _expected(route: Route, persona: str) -> int:
    if persona in route.allow:
        return route.ok_for.get(persona, route.ok)
    if persona in route.denied_for:
        return route.denied_for[persona]
    if route.denied is not None:
        return route.denied
    if route.scoped and persona not in REACHES_ALPHA:
        return 404
    return 403


def _request(client: Client, route: Route, alpha: Any, beta: Any) -> Any:
    contact_a = Contact.objects.filter(account=alpha).first()
    contact_b = Contact.objects.filter(account=beta).first()
    scenario_a, scenario_b = _scenarios(alpha, beta)
    call, offer = _calls(alpha)
    callback = _callback(alpha)
    message_a = _message(alpha)
    message_b = _message(beta)
    person_a = Collaborator.objects.filter(account=alpha).first()
    person_b = Collaborator.objects.filter(account=beta).first()
    path = route.path.replace("{si}", "{{si}}").replace("{sib}", "{{sib}}").replace("{tb}", "{{tb}}")
    path = path.replace("{ex}", "{{ex}}").replace("{vmb}", str(_voicemail(beta).pk))
    path = path.replace("{vm}", str(_voicemail(alpha).pk))
    if "{ins" in path:
        path = path.replace("{insb}", str(_instruction(beta).pk))
        path = path.replace("{ins}", str(_instruction(alpha).pk))
    if "{key" in path:
        path = path.replace("{keyb}", str(_api_key(beta)[0].pk)).replace("{key}", str(_api_key(alpha)[0].pk))
    if "{hx" in path:
        path = path.replace("{hxb}", str(_hours_exception(beta).pk))
        path = path.replace("{hx}", str(_hours_exception(alpha).pk))
    if "{rs" in path:
        path = path.replace("{rsb}", str(_swap(beta).rota.service_id))
        path = path.replace("{rs}", str(_swap(alpha).rota.service_id))
    if "{swp" in path:
        path = path.replace("{swpb}", str(_swap(beta).pk)).replace("{swp}", str(_swap(alpha).pk))
    if "{rv}" in path:
        path = path.replace("{rv}", str(_reviewable(alpha).pk))
    if "{svc" in path:
        path = path.replace("{svcb}", str(_service(beta).pk)).replace("{svc}", str(_service(alpha).pk))
    if "{chg" in path:
        path = path.replace("{chgb}", str(_planned(beta).pk)).replace("{chg}", str(_planned(alpha).pk))
    if "{abs" in path:  # only here: an absence would take Alpha's person off the agenda's free slots
        path = path.replace("{absb}", str(_absence(beta).pk)).replace("{abs}", str(_absence(alpha).pk))
    path = path.replace("{recb}", str(_recording(beta).pk)).replace("{rec}", str(_recording(alpha).pk))
    path = _privacy_path(path, alpha, beta)
    path = _billing_path(path, alpha, beta)
    path = path.replace("{t}", "{{t}}").replace("{ap}", "{{ap}}").replace("{apb}", "{{apb}}")
    path = path.format(a=alpha.slug, c=contact_a.pk, cb=contact_b.pk, s=scenario_a.pk, sb=scenario_b.pk,
                             call=call.pk, offer=offer.pk, cbt=callback.pk, m=message_a.pk, mb=message_b.pk,
                             p=person_a.pk, pb=person_b.pk)
    kind, appointment_a, appointment_b, free = _agenda(alpha, beta)
    path = path.replace("{t}", str(kind.pk)).replace("{apb}", str(appointment_b.pk))
    path = path.replace("{ap}", str(appointment_a.pk))
    path = path.replace("{sib}", str(_sync_issue(person_b).pk)).replace("{si}", str(_sync_issue(person_a).pk))
    path = path.replace("{tb}", str(_beta_type(beta).pk)).replace("{ex}", str(_exception(person_a).pk))
    values = {"{t}": kind.pk, "{p}": person_a.pk, "{free}": free}
    body = {key.format(p=f"p{person_a.pk}", pb=f"p{person_b.pk}"):
            values.get(value, value) if isinstance(value, str) else value
            for key, value in route.body.items()}
    if route.method == "GET":
        return client.get(path)
    if route.api:
        return client.post(path, json.dumps(body), content_type="application/json")
    if route.name == "contact_import":
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = SimpleUploadedFile("c.csv", CSV_BODY, content_type="text/csv")
        return client.post(path, {"file": upload})
    return client.post(path, body)


def _scenarios(alpha: Any, beta: Any) -> tuple[Any, Any]:
    """Alpha: a scenario with v1 published and v2 sent to the client; Beta: one published scenario."""
    from permanence.scenarios.models import Scenario, ScenarioVersion, Status
    from permanence.scenarios.services import template_source

    made = []
    for account, statuses in ((alpha, (Status.PUBLISHED, Status.SENT)), (beta, (Status.PUBLISHED,))):
        scenario, created = Scenario.objects.get_or_create(account=account, name="Standard")
        if created:
            for number, status in enumerate(statuses, start=1):
                ScenarioVersion.objects.create(scenario=scenario, number=number, status=status,
                                               source=template_source("legal"), digest="x")
        made.append(scenario)
    return made[0], made[1]


def _message(account: Any) -> Any:
    from permanence.messaging.models import Message

    message = Message.objects.filter(account=account, subject="Message à lire").first()
    return message or Message.objects.create(account=account, subject="Message à lire", body="Texte",
                                             urgent=True, status="sent")


def _agenda(alpha: Any, beta: Any) -> tuple[Any, Any, Any, str]:
    """An appointment type of Alpha, an appointment of Alpha and one of Beta, and a free start."""
    from datetime import datetime, timedelta

    from django.utils import timezone

    from permanence.agenda.models import Appointment, AppointmentType

    found = []
    for account in (alpha, beta):
        person = Collaborator.objects.filter(account=account).first()
        kind, created = AppointmentType.objects.get_or_create(
            account=account, name="Consultation", defaults={"min_notice_minutes": 0, "code": "first_meeting"}
        )
        if created:
            kind.collaborators.add(person)
        monday = (timezone.now() + timedelta(days=7 - timezone.now().weekday() + 7)).date()
        start = datetime.combine(monday, datetime.min.time().replace(hour=9), tzinfo=account.tz)
        appointment = Appointment.objects.filter(account=account).first() or Appointment.objects.create(
            account=account, collaborator=person, appointment_type=kind, start=start,
            end=start + timedelta(minutes=30), blocked_from=start,
            blocked_until=start + timedelta(minutes=30), caller_name="Appelant " + account.slug,
        )
        found.append((kind, appointment, (start + timedelta(hours=2)).isoformat()))
    return found[0][0], found[0][1], found[1][1], found[0][2]


def _beta_type(beta: Any) -> Any:
    from permanence.agenda.models import AppointmentType

    return AppointmentType.objects.get_or_create(account=beta, name="Consultation")[0]


def _exception(person: Any) -> Any:
    """A day off of the collaborator."""
    from datetime import date

    from permanence.agenda.models import AvailabilityException

    return AvailabilityException.objects.get_or_create(
        collaborator=person, start_date=date(2027, 3, 1), end_date=date(2027, 3, 1)
    )[0]


def _sync_issue(person: Any) -> Any:
    """A calendar link of the collaborator and one thing its sync reported, not yet seen."""
    from permanence.agenda.models import CalendarLink, SyncIssue

    link, _ = CalendarLink.objects.get_or_create(collaborator=person, defaults={"url": "https://dav.example/"})
    return SyncIssue.objects.filter(link=link).first() or SyncIssue.objects.create(
        link=link, kind=SyncIssue.Kind.OVERLAP
    )


def _instruction(account: Any) -> Any:
    """A dated instruction of the account, still to come."""
    from datetime import timedelta

    from django.utils import timezone

    from permanence.accounts.models import Instruction

    start = timezone.now() + timedelta(days=7)
    return Instruction.objects.filter(account=account).first() or Instruction.objects.create(
        account=account, text="Urgences au Dr Martin", starts_at=start, ends_at=start + timedelta(days=8))


def _absence(account: Any) -> Any:
    """An absence of one of the account's collaborators, under way."""
    from datetime import timedelta

    from django.utils import timezone

    from permanence.directory.models import Absence

    person = Collaborator.objects.filter(account=account).first()
    return Absence.objects.filter(collaborator=person).first() or Absence.objects.create(
        collaborator=person, kind="leave", starts_at=timezone.now() - timedelta(hours=1))


def _api_key(account: Any, scope: str = "read") -> Any:
    """(key, its text): an API key of the account (made without an audit event, as a fixture)."""
    import secrets

    from permanence.api import keys
    from permanence.api.models import ApiKey
    from permanence.users.models import Role, User

    prefix = secrets.token_hex(4)
    token = f"{keys.PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    user = User.objects.create(username=f"api-{prefix}", account=account,
                               role=Role.CLIENT_ADMIN if scope == "write" else Role.CLIENT_USER)
    key = ApiKey.objects.create(account=account, user=user, name=f"Logiciel {scope}", prefix=prefix,
                                digest=keys._digest(token), scope=scope)
    return key, token


def _hours_exception(account: Any) -> Any:
    """An exceptional closure of the account, still to come."""
    from datetime import timedelta

    from django.utils import timezone

    from permanence.accounts.models import HoursException

    day = timezone.localdate() + timedelta(days=30)
    return HoursException.objects.filter(account=account).first() or HoursException.objects.create(
        account=account, start_date=day, end_date=day, label="Séminaire")


def _service(account: Any) -> Any:
    from permanence.directory.models import Service

    return Service.objects.get_or_create(account=account, name="Secrétariat")[0]


def _planned(account: Any) -> Any:
    """A change of the account's first person, planned for tomorrow."""
    from datetime import timedelta

    from django.utils import timezone

    from permanence.directory.models import DirectoryChange

    person = Collaborator.objects.filter(account=account).first()
    return DirectoryChange.objects.filter(account=account).first() or DirectoryChange.objects.create(
        account=account, collaborator=person, kind="change", data={"job_title": "Associée"},
        effective_at=timezone.now() + timedelta(days=1))


def _swap(account: Any) -> Any:
    """A swap in the on-call rota of the account's service "Urgences" (made for the test)."""
    from datetime import date, timedelta

    from django.utils import timezone

    from permanence.directory.models import Rota, RotaMember, RotaSwap, Service

    person = Collaborator.objects.filter(account=account).first()
    service, _ = Service.objects.get_or_create(account=account, name="Urgences")
    rota, made = Rota.objects.get_or_create(account=account, service=service,
                                            defaults={"first_day": date(2026, 10, 19)})
    if made:
        RotaMember.objects.create(rota=rota, collaborator=person, position=1)
    start = timezone.now() + timedelta(days=1)
    return RotaSwap.objects.filter(rota=rota).first() or RotaSwap.objects.create(
        rota=rota, collaborator=person, starts_at=start, ends_at=start + timedelta(hours=12))


def _privacy_path(path: str, alpha: Any, beta: Any) -> str:
    """{dr}/{drb}/{dro}: an erasure request of Alpha, of Beta, about every account (about nobody known);
    {hold}/{holdb}: a legal hold on a caller of Alpha, of Beta."""
    if "{dr" not in path and "{hold" not in path:
        return path
    from permanence.privacy.models import DataRequest, LegalHold

    def request(account: Any) -> str:
        found, _ = DataRequest.objects.get_or_create(account=account, kind="erasure", phone="+33699999999")
        return str(found.pk)

    def hold(account: Any) -> str:
        found, _ = LegalHold.objects.get_or_create(account=account, phone="+33699999999",
                                                   defaults={"reason": "Litige"})  # fmt: skip
        return str(found.pk)

    if "{dr" in path:
        path = path.replace("{drb}", request(beta)).replace("{dro}", request(None))
        path = path.replace("{dr}", request(alpha))
    if "{hold" in path:
        path = path.replace("{holdb}", hold(beta)).replace("{hold}", hold(alpha))
    return path


def _billing_path(path: str, alpha: Any, beta: Any) -> str:
    """{inv}/{invb}: an issued invoice of Alpha, of Beta, each with a call billed on its first line ({icall}:
    Alpha's); {invd}: a draft of Alpha; {disp}: an open dispute about Alpha's call."""
    if "{inv" not in path and "{disp}" not in path:
        return path
    from billing_helpers import issued_invoice
    from permanence.billing.models import Dispute, Invoice

    invoice_a, call_a = issued_invoice(alpha)
    invoice_b, _call_b = issued_invoice(beta)
    draft = Invoice.objects.filter(account=alpha, status="draft").first() or Invoice.objects.create(
        account=alpha, month=invoice_a.month.replace(year=invoice_a.month.year + 1))
    if "{disp}" in path:
        found = Dispute.objects.filter(invoice=invoice_a, call=call_a).first() or Dispute.objects.create(
            account=alpha, invoice=invoice_a, call=call_a, reason="Faux numéro")
        path = path.replace("{disp}", str(found.pk))
    return (path.replace("{invb}", str(invoice_b.pk)).replace("{invd}", str(draft.pk))
            .replace("{inv}", str(invoice_a.pk)).replace("{icall}", str(call_a.pk)))


def _voicemail(account: Any) -> Any:
    """A voicemail left for the account (its recording under the test's MEDIA_ROOT)."""
    from permanence.calls import voicemail
    from permanence.calls.models import Call, Voicemail

    found = Voicemail.objects.filter(account=account).first()
    if found is None:
        call = Call.objects.create(account=account, called="+33145000001", caller="+33612345678",
                                   state="not_served")  # fmt: skip
        found = voicemail.left(call.pk, b"RIFF....WAVE", 1.0, "silence")
    return found


def _recording(account: Any) -> Any:
    """A call recording of the account."""
    from django.utils import timezone

    from permanence.calls import recordings
    from permanence.calls.models import Call, CallRecording

    found = CallRecording.objects.filter(account=account).first()
    if found is None:
        call = Call.objects.create(account=account, called="+33145000001", state="wrap_up")
        found = recordings.stored(call.pk, b"RIFF....WAVE", 1.0, timezone.now(), None)
    return found


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _callback(alpha: Any) -> Any:
    """A call-back task of Alpha (an urgent message nobody acknowledged)."""
    from permanence.messaging.models import CallbackTask, Message

    task = CallbackTask.objects.filter(account=alpha).first()
    if task is None:
        message = Message.objects.create(account=alpha, subject="Urgent", body="Rappeler", urgent=True)
        task = CallbackTask.objects.create(account=alpha, message=message)
    return task


def _reviewable(alpha: Any) -> Any:
    """A real call of Alpha answered by "secretary", over and wrapped up."""
    from django.db import transaction

    from permanence.calls import services
    from permanence.calls.lifecycle import Kind
    from permanence.calls.models import Call
    from permanence.users.models import User

    secretary = User.objects.get(username="secretary")
    found = Call.objects.filter(secretary=secretary, training=False, answered_at__isnull=False).first()
    if found is None:
        with transaction.atomic():
            found = services.call_arrived("01 45 00 00 01", "0611111111", account=alpha)
            for kind in (Kind.OFFERED, Kind.ANSWERED, Kind.ENDED, Kind.WRAPPED_UP):
                services.record(found, kind, secretary=secretary if kind != Kind.ENDED else None)
    return found


def _calls(alpha: Any) -> tuple[Any, Any]:
    """A training call of Alpha answered by "secretary", and a call offered to her."""
    from django.db import transaction

    from permanence.calls import services
    from permanence.calls.lifecycle import Kind
    from permanence.calls.models import Call
    from permanence.users.models import User

    secretary = User.objects.get(username="secretary")
    answered = Call.objects.filter(secretary=secretary).first()
    if answered is None:
        with transaction.atomic():
            answered = services.call_arrived("01 45 00 00 01", None, account=alpha, training=True)
            services.record(answered, Kind.OFFERED, secretary=secretary)
            services.record(answered, Kind.ANSWERED, secretary=secretary)
    offered = Call.objects.filter(offered_to=secretary).first()
    if offered is None:
        offered = services.call_arrived("01 45 00 00 01", "0611111111", account=alpha)
        with transaction.atomic():
            services.record(offered, Kind.OFFERED, secretary=secretary)
            offered.offered_to = secretary
            offered.save()
    return answered, offered


CASES = [(route, persona) for route in ROUTES for persona in PERSONAS]


@pytest.mark.parametrize(
    ("route", "persona"), CASES,
    ids=[f"{r.method}-{r.path}-{p}" for r, p in CASES],
)
def test_matrix(route: Route, persona: str, personas: dict[str, Any], alpha: Any, beta: Any):
    client = Client()
    client.force_login(personas[persona])
    contacts_before = Contact.objects.count()
    response = _request(client, route, alpha, beta)
    expected = _expected(route, persona)
    assert response.status_code == expected, (
        f"{persona} {route.method} {route.path}: {response.status_code}, expected {expected}"
    )
    if route.method == "POST" and expected >= 300:
        assert Contact.objects.count() == contacts_before, "a refused request changed data"
    if route.name == "contact_import" and route.method == "POST" and expected == 200:
        assert Contact.objects.filter(account=alpha, last_name="Nouvelle").count() == 1
    if expected == 200 and not route.name.startswith("admin"):
        body = b"".join(response.streaming_content) if response.streaming else response.content
        foreign = []
        if persona not in REACHES_BETA:
            foreign += ["Plomberie Beta", "Béatrice", "beta"]
        if persona not in REACHES_ALPHA:
            foreign += ["Cabinet Alpha", "Albert", "alpha"]
        leaked = [text for text in foreign if text.encode() in body]
        assert not leaked, f"another tenant's data leaked to {persona}: {leaked}"


API_ROUTES = [r for r in ROUTES if r.api and r.scoped]
# An API key acts for its own account only: a read key as its client user does, reading only; a write
# key as its client admin does. Beta's key sees Alpha as the client admin of Beta does.
KEYS = {"alpha_read": ("client_user", "read"), "alpha_write": ("client_admin", "write"),
        "beta_write": ("client_admin_beta", "write")}
KEY_CASES = [(route, key) for route in API_ROUTES for key in KEYS]


@pytest.mark.parametrize(("route", "key"), KEY_CASES, ids=[f"{r.method}-{r.path}-{k}" for r, k in KEY_CASES])
def test_api_keys_matrix(route: Route, key: str, personas: dict[str, Any], alpha: Any, beta: Any):
    like, scope = KEYS[key]
    _key, token = _api_key(alpha if key.startswith("alpha") else beta, scope)
    expected = _expected(route, like)
    if scope == "read" and route.method != "GET":
        expected = 403  # a read key may only read, whatever it asks
    response = _request(Client(HTTP_AUTHORIZATION=f"Bearer {token}"), route, alpha, beta)
    assert response.status_code == expected, (
        f"{key} {route.method} {route.path}: {response.status_code}, expected {expected}"
    )


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.method}-{r.path}" for r in ROUTES])
def test_anonymous_is_refused(route: Route, personas: dict[str, Any], alpha: Any, beta: Any):
    _billing_path(route.path, alpha, beta)  # the invoices are made (and audited) before counting
    audit_before = AuditEvent.objects.count()
    response = _request(Client(), route, alpha, beta)
    if route.api:
        assert response.status_code == 401
    else:
        assert response.status_code == 302
        assert "/login/" in response["Location"]
    assert AuditEvent.objects.count() == audit_before


def _names(patterns: list[Any], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            if pattern.namespace == "admin":
                names.add("admin")
                continue
            names |= _names(pattern.url_patterns, ns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(prefix + pattern.name)
    return names


def test_every_url_is_in_the_matrix():
    covered = {r.name for r in ROUTES if not r.api} | set(PUBLIC)
    covered |= {f"api-v1:{r.name.split(':', 1)[1]}" for r in ROUTES if r.api}
    missing = _names(get_resolver().url_patterns) - covered
    assert not missing, f"URLs without a permission-matrix row: {sorted(missing)}"


def test_public_api_description_lists_only_matrix_endpoints(db: Any):
    schema = Client().get("/api/v1/openapi.json").json()
    operations = {
        op["operationId"].removeprefix("permanence_api_endpoints_")
        .removeprefix("permanence_api_directory_endpoints_")
        for methods in schema["paths"].values() for op in methods.values()
    }
    in_matrix = {r.name.split(":", 1)[1] for r in ROUTES if r.api}
    assert operations == in_matrix
