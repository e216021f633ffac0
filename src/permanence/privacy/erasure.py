"""The answer to a right to erasure: what a selection finds is emptied of the person's data (as the
retention purge does: the rows the figures count stay) or deleted, except what another obligation
keeps, each kept item listed with its reason:

- a legal hold on the account or on the person;
- an appointment still to come (cancel it first), a message still being sent, a call-back still to do;
- a call still in progress, and its messages, appointments, voicemails and recordings (the desk is on it);
- the numbers that refused the surveys (the refusal is honoured with the number);
- the audit trail (append-only: the proof of who read or changed the data) and the register's request;
- what an issued invoice accounts for (French commercial law, ten years): a call on it is emptied of the
  caller's number, answers and the secretary's words, but its times and its billing decision (the rule)
  stay, and the client's disputes with it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from permanence.agenda.models import Appointment
from permanence.calls.lifecycle import OVER, State
from permanence.calls.models import Call, CallRecording, Voicemail
from permanence.contacts.models import Contact
from permanence.messaging.models import CallbackTask, Message
from permanence.privacy import anonymise, holds
from permanence.privacy.subjects import LABELS, SECTIONS, Selection

ERASED = ("contacts", "calls", "messages", "appointments", "voicemails", "recordings")
MODELS: dict[str, Any] = {
    "contacts": Contact, "calls": Call, "messages": Message, "appointments": Appointment,
    "voicemails": Voicemail, "recordings": CallRecording,
}  # fmt: skip


#: the states of a call not yet over: the desk is still on it
IN_PROGRESS = tuple(state for state in State if state not in OVER)


def _held(selection: Selection) -> dict[str, dict[int, tuple[str, str]]]:
    """Section → row id (of those the selection found) → the reason of the hold that keeps it. An account
    held whole keeps all its rows; a hold on a caller, what it selects among the rows found."""
    kept: dict[str, dict[int, tuple[str, str]]] = {section: {} for section in SECTIONS}
    accounts = [account.pk for account in selection.accounts_with_data()]
    whole: dict[int, tuple[str, str]] = {}
    callers = []
    for hold in holds.active(accounts).order_by("set_at", "pk"):
        reason = ("hold", _("legal hold: %(reason)s") % {"reason": hold.reason})
        if hold.whole_account:
            whole.setdefault(hold.account_id, reason)
        else:
            callers.append((hold, reason))
    for hold, reason in callers:
        if hold.account_id in whole:
            continue
        covered = Selection(holds.person(hold), [hold.account_id], wide=True)
        for section in ERASED:
            found = {pk for pk, account_id in selection.rows(section) if account_id == hold.account_id}
            for pk in found.intersection(covered.pks(section)) if found else ():
                kept[section].setdefault(pk, reason)
    for section in ERASED:
        for pk, account_id in selection.rows(section):
            if account_id in whole:
                kept[section].setdefault(pk, whole[account_id])
    return kept


def _in_progress(ids: dict[str, list[int]]) -> dict[str, dict[int, tuple[str, str]]]:
    """The calls not yet over, and what hangs on them: the desk is still writing them."""
    why = ("in_progress", _("a call still in progress: erase again once it is over"))
    found: dict[str, Any] = {"calls": Call.objects.filter(pk__in=ids["calls"], state__in=IN_PROGRESS)}
    for section in ("messages", "appointments", "voicemails", "recordings"):
        found[section] = MODELS[section].objects.filter(pk__in=ids[section], call__state__in=IN_PROGRESS)
    return {section: dict.fromkeys(rows.values_list("pk", flat=True), why) for section, rows in found.items()}


def erase(selection: Selection, *, now: datetime | None = None) -> dict[str, Any]:
    """Erase what the selection finds; the report: {"erased": {section: n}, "kept": [{section, id, what,
    code, reason}]} (code: hold, in_progress, upcoming, sending, to_do, opt_out, audit, invoice). The rows
    are taken once, before any change (see ``Selection.ids``)."""
    now = now or timezone.now()
    ids = selection.ids()
    held = _held(selection)
    kept: list[dict[str, Any]] = []

    def keep(section: str, pk: int, why: tuple[str, str]) -> None:
        kept.append({"section": section, "what": str(LABELS[section]), "id": pk, "code": why[0],
                     "reason": why[1]})  # fmt: skip

    def free(section: str, *others: dict[int, tuple[str, str]]) -> list[int]:
        out = []
        for pk in ids[section]:
            why = held[section].get(pk) or next((o[pk] for o in others if pk in o), None)
            if why:
                keep(section, pk, why)
            else:
                out.append(pk)
        return out

    in_progress = _in_progress(ids)
    upcoming = dict.fromkeys(
        Appointment.objects.filter(pk__in=ids["appointments"], status=Appointment.Status.BOOKED, end__gt=now)
        .values_list("pk", flat=True),
        ("upcoming", _("an appointment still to come: cancel it first, then erase again")),
    )  # fmt: skip
    sending = dict.fromkeys(
        Message.objects.filter(pk__in=ids["messages"], deliveries__status__in=anonymise.SENDING)
        .values_list("pk", flat=True),
        ("sending", _("a message still being sent: erase again once it is delivered")),
    )  # fmt: skip
    extra = {"appointments": upcoming, "messages": sending}
    erased: dict[str, int] = {}
    with transaction.atomic():
        targets = {section: free(section, in_progress.get(section, {}), extra.get(section, {}))
                   for section in ERASED}  # fmt: skip
        erased["contacts"] = anonymise.contacts(targets["contacts"])
        anonymise.calls(targets["calls"], now)
        anonymise.messages(targets["messages"], now)
        anonymise.appointments(targets["appointments"], now)
        anonymise.recordings(Voicemail, targets["voicemails"], now)
        anonymise.recordings(CallRecording, targets["recordings"], now)
        erased.update({section: len(targets[section]) for section in ERASED if section != "contacts"})
    invoiced = anonymise.invoiced_calls(targets["calls"]).values_list("item", flat=True).distinct()
    for pk in sorted(invoiced):
        keep("calls", pk, ("invoice", _(
            "on an issued invoice: the call's times, the rule that billed it or not, and its disputes stay "
            "ten years (French commercial law); the caller's number and answers are erased")))
    to_do = CallbackTask.objects.filter(pk__in=ids["callbacks"], done_at__isnull=True)
    for pk in to_do.values_list("pk", flat=True):
        keep("callbacks", pk, ("to_do", _("a call-back still to do")))
    for pk in ids["opt_outs"]:
        keep("opt_outs", pk, ("opt_out", _("the refusal of the surveys is honoured with this number")))
    for pk in ids["audit"]:
        keep("audit", pk, ("audit", _("the audit trail is kept as it is: the proof of who read or changed "
                                      "the data")))
    return {"at": now.isoformat(), "erased": {k: n for k, n in erased.items() if n}, "kept": kept}

