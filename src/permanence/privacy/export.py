"""The answer to a right of access: everything a selection finds, as one zip file — ``data.json`` (all
of it), one CSV file per kind (semicolons, UTF-8 with a BOM, as the contacts' export), and
``summary.html``, a short page in French saying what was found where. Recordings and voicemails are
listed by reference (their files are sent separately, on request)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.template.loader import render_to_string
from django.utils import timezone, translation

from permanence.calls.models import CallEvent
from permanence.contacts.csvio import _escape as escape_cell
from permanence.privacy.subjects import LABELS, Selection

Rows = list[dict[str, Any]]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _answers(call: Any) -> dict[str, Any]:
    state = call.run.state if call.run is not None and isinstance(call.run.state, dict) else {}
    answers = state.get("answers")
    return dict(answers) if isinstance(answers, dict) else {}


def sections(selection: Selection) -> dict[str, Rows]:
    """Each kind's rows, as plain data (what the JSON and CSV files hold)."""
    calls = list(selection.calls().select_related("account", "run").order_by("arrived_at", "pk"))
    messages = list(selection.messages().select_related("account").order_by("created", "pk"))
    return {
        "contacts": [
            {"id": c.pk, "account": c.account.name, "first_name": c.first_name, "last_name": c.last_name,
             "company": c.company, "email": c.email, "numbers": [n.number for n in c.numbers.all()],
             "file_number": c.file_number, "birth_date": c.birth_date.isoformat() if c.birth_date else None,
             "postcode": c.postcode,
             "tags": c.tags, "notes": c.notes, "created": _iso(c.created_at), "updated": _iso(c.updated_at)}
            for c in selection.contacts().select_related("account").prefetch_related("numbers").order_by("pk")
        ],
        "calls": [
            {"id": c.pk, "account": c.account.name, "arrived": _iso(c.arrived_at),
             "answered": _iso(c.answered_at), "ended": _iso(c.ended_at), "caller": c.caller,
             "number_called": c.called, "state": c.state,
             "outcome": c.outcome, "voice_menu": c.motive, "answers": _answers(c)}
            for c in calls
        ],
        "call_events": [
            {"call": e.call_id, "seq": e.seq, "kind": e.kind, "at": _iso(e.at)}
            for e in CallEvent.objects.filter(call__in=[c.pk for c in calls]).order_by("call", "seq")
        ],
        "messages": [
            {"id": m.pk, "account": m.account.name, "call": m.call_id, "created": _iso(m.created),
             "subject": m.subject, "body": m.body, "recipients": m.recipients, "fields": m.fields,
             "urgent": m.urgent, "status": m.status}
            for m in messages
        ],
        "deliveries": [
            {"message": d.message_id, "channel": d.channel, "address": d.address, "status": d.status,
             "sent": _iso(d.sent_at), "acknowledged": _iso(d.acknowledged_at)}
            for d in selection.deliveries().order_by("message", "pk")
        ],
        "appointments": [
            {"id": a.pk, "account": a.account.name, "start": _iso(a.start), "end": _iso(a.end),
             "status": a.status, "with": str(a.collaborator),
             "type": a.appointment_type.name if a.appointment_type else "",
             "caller_name": a.caller_name, "caller_phone": a.caller_phone, "caller_email": a.caller_email,
             "notes": a.notes, "answers": a.answers}
            for a in selection.appointments().select_related("account", "collaborator", "appointment_type")
            .order_by("start", "pk")
        ],
        "voicemails": [
            {"id": v.pk, "account": v.account.name, "call": v.call_id, "recorded": _iso(v.recorded_at),
             "seconds": v.seconds, "caller": v.caller, "file": v.audio.name or None,
             "deleted": _iso(v.purged_at)}
            for v in selection.voicemails().select_related("account").order_by("recorded_at", "pk")
        ],
        "recordings": [
            {"id": r.pk, "account": r.account.name, "call": r.call_id, "started": _iso(r.started_at),
             "seconds": r.seconds, "file": r.audio.name or None, "deleted": _iso(r.purged_at)}
            for r in selection.recordings().select_related("account").order_by("started_at", "pk")
        ],
        "surveys": [
            {"call": s.call_id, "account": s.account.name, "number": s.address, "sent": _iso(s.sent_at),
             "status": s.status, "rating": s.rating}
            for s in selection.surveys().select_related("account").order_by("sent_at", "pk")
        ],
        "callbacks": [
            {"id": t.pk, "account": t.account.name, "call": t.call_id, "number": t.number,
             "created": _iso(t.created), "done": _iso(t.done_at)}
            for t in selection.callbacks().select_related("account").order_by("created", "pk")
        ],
        "opt_outs": [{"number": o.address, "since": _iso(o.at)} for o in selection.opt_outs().order_by("pk")],
        "audit": [
            {"at": _iso(e.at), "who": e.actor_name, "action": e.action, "object_type": e.object_type,
             "object_id": e.object_id, "object": e.object_repr}
            for e in selection.audit().order_by("at", "pk")
        ],
    }  # fmt: skip


def _csv(rows: Rows) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")
    if rows:
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(list(rows[0]))
        for row in rows:
            writer.writerow([escape_cell(_cell(value)) for value in row.values()])
    return out.getvalue().encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, cls=DjangoJSONEncoder)
    return str(value)


def build(selection: Selection, *, subject: dict[str, Any], scope: str) -> tuple[bytes, dict[str, int]]:
    """(the zip file, how many rows of each kind)."""
    now = timezone.now()
    data = sections(selection)
    counts = {name: len(rows) for name, rows in data.items()}
    per_account = [
        {"account": row["account"], "counts": [(LABELS[k], n) for k, n in row["counts"].items() if n]}
        for row in selection.per_account()
    ]
    with translation.override("fr"):
        summary = render_to_string("privacy/export_summary.html", {
            "subject": subject, "scope": scope, "at": now, "per_account": per_account,
            "counts": [(LABELS[k], n) for k, n in counts.items() if n],
        })  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("summary.html", summary)
        document = {"generated": now.isoformat(), "subject": subject, "scope": scope, **data}
        text = json.dumps(document, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder)
        archive.writestr("data.json", text)
        for name, rows in data.items():
            archive.writestr(f"{name}.csv", _csv(rows))
    return buffer.getvalue(), counts
