"""The answer to a right to erasure: what a selection finds is emptied of the person's data (as the
retention purge does: the rows the figures count stay) or deleted, except what another obligation
keeps, each kept item listed with its reason:

- a legal hold on the account or on the person;
- an appointment still to come (cancel it first), a message still being sent, a call-back still to do;
- the numbers that refused the surveys (the refusal is honoured with the number);
- the audit trail (append-only: the proof of who read or changed the data) and the register's request.

There is no billing yet: when invoices arrive, what an issued invoice references is kept ten years
(French commercial law) and belongs in this list."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from permanence.agenda.models import Appointment
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


def _held(accounts: Iterable[Any]) -> dict[str, dict[int, tuple[str, str]]]:
    """Section → row id → the reason of the hold that keeps it."""
    kept: dict[str, dict[int, tuple[str, str]]] = {section: {} for section in SECTIONS}
    for hold in holds.active(accounts):
        reason = ("hold", _("legal hold: %(reason)s") % {"reason": hold.reason})
        for section in ERASED:
            if hold.whole_account:
                rows = MODELS[section].objects.filter(account_id=hold.account_id)
            else:
                rows = getattr(Selection(holds.person(hold), [hold.account_id]), section)()
            for pk in rows.values_list("pk", flat=True):
                kept[section].setdefault(pk, reason)
    return kept


def erase(selection: Selection, *, now: datetime | None = None) -> dict[str, Any]:
    """Erase what the selection finds; the report: {"erased": {section: n}, "kept": [{section, id, what,
    code, reason}]} (code: hold, upcoming, sending, to_do, opt_out, audit). The rows are taken once, before
    any change (see ``Selection.ids``)."""
    now = now or timezone.now()
    ids = selection.ids()
    accounts = [a.pk for a in selection.accounts_with_data()]
    held = _held(accounts)
    kept: list[dict[str, Any]] = []

    def keep(section: str, pk: int, why: tuple[str, str]) -> None:
        kept.append({"section": section, "what": str(LABELS[section]), "id": pk, "code": why[0],
                     "reason": why[1]})  # fmt: skip

    def free(section: str, extra: dict[int, tuple[str, str]] | None = None) -> list[int]:
        out = []
        for pk in ids[section]:
            why = held[section].get(pk) or (extra or {}).get(pk)
            if why:
                keep(section, pk, why)
            else:
                out.append(pk)
        return out

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
    erased: dict[str, int] = {}
    with transaction.atomic():
        targets = {section: free(section, {"appointments": upcoming, "messages": sending}.get(section))
                   for section in ERASED}  # fmt: skip
        erased["contacts"] = anonymise.contacts(targets["contacts"])
        anonymise.calls(targets["calls"], now)
        anonymise.messages(targets["messages"], now)
        anonymise.appointments(targets["appointments"], now)
        anonymise.recordings(Voicemail, targets["voicemails"], now)
        anonymise.recordings(CallRecording, targets["recordings"], now)
        erased.update({section: len(targets[section]) for section in ERASED if section != "contacts"})
    to_do = CallbackTask.objects.filter(pk__in=ids["callbacks"], done_at__isnull=True)
    for pk in to_do.values_list("pk", flat=True):
        keep("callbacks", pk, ("to_do", _("a call-back still to do")))
    for pk in ids["opt_outs"]:
        keep("opt_outs", pk, ("opt_out", _("the refusal of the surveys is honoured with this number")))
    for pk in ids["audit"]:
        keep("audit", pk, ("audit", _("the audit trail is kept as it is: the proof of who read or changed "
                                      "the data")))
    return {"at": now.isoformat(), "erased": {k: n for k, n in erased.items() if n}, "kept": kept}

