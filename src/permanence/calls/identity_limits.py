"""Guesses at the identity check, counted per caller rather than per call.

A scenario's ``attempts`` limit one call; a caller who calls back would get fresh attempts. So each failed
check at the desk is written to the audit trail about the contact (``Action.IDENTIFY``, what
``"identity check failed"``, never a value typed nor kept), and a contact with ``LIMIT`` failed checks
within ``WINDOW`` is not checked any more: the step answers "not verified" without comparing, and the
secretary is told why.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from permanence.audit import trail
from permanence.audit.models import Action, AuditEvent
from permanence.contacts.models import Contact

FAILED = "identity check failed"
LIMIT = 5
WINDOW = timedelta(hours=24)


def record_failure(
    user: Any, contact: Contact, call: Any, request: HttpRequest | None = None, *, ip: str | None = None
) -> None:
    """One failed check of this contact's identity (what was typed is not written); the client's address
    is the ``request``'s, or ``ip``."""
    trail.record(user, Action.IDENTIFY, contact, request=request, ip=ip, via="desk", call=call.pk,
                 what=FAILED, training=bool(call.training))


def failures(contact: Contact, now: datetime | None = None) -> int:
    """The contact's failed checks within ``WINDOW``."""
    since = (now or timezone.now()) - WINDOW
    return AuditEvent.objects.filter(
        object_type=Contact._meta.label_lower, object_id=str(contact.pk), action=Action.IDENTIFY,
        detail__what=FAILED, at__gte=since,
    ).count()


def refusal(contact: Contact | None, now: datetime | None = None) -> str:
    """Why the contact's identity is not checked now (too many failed checks), or ""."""
    if contact is None:
        return ""
    count = failures(contact, now)
    if count < LIMIT:
        return ""
    return _(
        "Identity not verified: this caller's answers were wrong %(count)s times in the last 24 hours, so "
        "they are not compared any more for now. Go on as for a caller who is not verified."
    ) % {"count": count}
