"""Messages to the caller about their appointment: a confirmation when booked or moved, a notice when
cancelled, a reminder some hours before. They go through the dispatch (``messaging.outbox``), by
e-mail when the caller gave one, else by SMS to a mobile number; the texts are the appointment
type's, with variables ({{ when }}, {{ date }}, {{ time }}, {{ type }}, {{ collaborator }},
{{ place }}, {{ account }}, {{ caller }}).

The subjects, the cancellation's text and the dates are in the account's language (``Account.language``);
the appointment type's texts are the account's own, sent as written."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from babel.dates import format_date, format_time
from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop, pgettext

from permanence.accounts.models import client_language
from permanence.accounts.phones import is_mobile, try_normalize
from permanence.agenda.models import Appointment, Place
from permanence.messaging import outbox
from permanence.scenarios.engine import templating

NAMES = frozenset({"when", "date", "time", "type", "collaborator", "place", "account", "caller"})


def template_problem(source: str) -> str:
    """Why this text cannot be used, or "" (shown in the forms)."""
    text, problems = templating.compile_text(source)
    if problems or text is None:
        return f"{problems[0].code}: {problems[0].params}" if problems else "unreadable"
    unknown = sorted(text.names - NAMES)
    return f"Unknown variable(s): {', '.join(unknown)}; known: {', '.join(sorted(NAMES))}." if unknown else ""


def _context(appointment: Appointment) -> dict[str, Any]:
    """The variables of the texts, in the active language (the account's: see ``_send``)."""
    account = appointment.account
    local = appointment.start.astimezone(account.tz)
    locale = translation.to_locale(translation.get_language() or settings.LANGUAGE_CODE)
    places = dict(Place.choices)
    date_text = format_date(local, "EEEE d MMMM", locale=locale)
    time_text = format_time(local, "short", locale=locale)
    return {
        # the same words as a message's header ("lundi 7 décembre à 10:00")
        "when": pgettext("message header", "%(date)s at %(time)s") % {"date": date_text, "time": time_text},
        "date": date_text,
        "time": time_text,
        "type": appointment.appointment_type.name if appointment.appointment_type else gettext("appointment"),
        "collaborator": str(appointment.collaborator),
        "place": str(places.get(appointment.place, "")),
        "account": account.name,
        "caller": appointment.caller_name,
    }


def _recipient(appointment: Appointment) -> str:
    if appointment.caller_email:
        return appointment.caller_email
    number = try_normalize(appointment.caller_phone, settings.PHONE_DEFAULT_REGION)
    return number if number and is_mobile(number) else ""


def _send(appointment: Appointment, source: str, subject: str, kind: str) -> bool:
    """Queue one notice; ``source`` and ``subject`` are rendered in the account's language (a text
    marked for translation is translated here)."""
    recipient = _recipient(appointment)
    if not source.strip() or not recipient:
        return False
    with translation.override(client_language(appointment.account)):
        text, _problems = templating.compile_text(gettext(source) if source in _OURS else source)
        if text is None:
            return False
        body = text.render(_context(appointment))
        subject = gettext(subject) % {"account": appointment.account.name}
    outbox.queue_message(
        appointment.account,
        subject=subject,
        body=body,
        recipients=[recipient],
        call=appointment.call,
        fields={"appointment": str(appointment.uid), "notice": kind},
    )
    return True


#: the subjects and the cancellation's text, marked for translation and translated in ``_send``
CONFIRMED = gettext_noop("%(account)s: appointment confirmed")
MOVED = gettext_noop("%(account)s: appointment moved")
CANCELLED = gettext_noop("%(account)s: appointment cancelled")
REMINDER = gettext_noop("%(account)s: appointment reminder")
CANCELLED_TEXT = gettext_noop("{{ account }}: your appointment ({{ type }}) of {{ when }} is cancelled.")
_OURS = frozenset({CANCELLED_TEXT})


def confirm(appointment: Appointment, *, moved: bool = False) -> bool:
    """Queue the confirmation (in the caller's transaction); False when there is nothing to send."""
    kind = appointment.appointment_type
    source = kind.confirmation_text if kind else ""
    return _send(appointment, source, MOVED if moved else CONFIRMED, "moved" if moved else "booked")


def cancelled(appointment: Appointment) -> bool:
    return _send(appointment, CANCELLED_TEXT, CANCELLED, "cancelled")


def send_due_reminders(now: datetime | None = None) -> int:
    """Queue the reminders now due (the worker runs this every few seconds); each goes once."""
    now = now or timezone.now()
    sent = 0
    candidates = (
        Appointment.objects.filter(
            status=Appointment.Status.BOOKED,
            reminder_sent_at__isnull=True,
            start__gt=now,
            start__lte=now + timedelta(days=8),
            appointment_type__isnull=False,
        )
        .select_related("appointment_type", "account", "collaborator", "call")
        .order_by("start")
    )
    for appointment in candidates:
        kind = appointment.appointment_type
        assert kind is not None
        if not kind.reminder_hours or appointment.start - timedelta(hours=kind.reminder_hours) > now:
            continue
        with transaction.atomic():
            locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
            if locked.reminder_sent_at is not None or locked.status != Appointment.Status.BOOKED:
                continue
            locked.reminder_sent_at = now
            locked.save(update_fields=["reminder_sent_at"])
            if _send(appointment, kind.reminder_text, REMINDER, "reminder"):
                sent += 1
    return sent
