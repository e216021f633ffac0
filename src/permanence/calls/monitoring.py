"""Live supervision of a call (real telephony): a supervisor listens silently, whispers to the
secretary only, or barges in (``Supervision``). The live view starts, changes and stops it; the call
control rings the supervisor's phone and mixes the voices (``telephony.bridge``); every use is in the
audit trail and shown to the secretary on the call's page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from permanence import policy
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.calls.lifecycle import State
from permanence.calls.models import Call, Supervision
from permanence.policy import Perm


class MonitoringError(Exception):
    """A supervision that cannot be done now, with a sentence for the page."""


def start(call_id: int, supervisor: Any, mode: str, request: Any = None) -> Supervision:
    """Start (or change the mode of) the supervision of a call being answered."""
    if mode not in Supervision.Mode.values:
        raise MonitoringError(f"unknown mode {mode!r}")
    with transaction.atomic():
        call = Call.objects.select_for_update().select_related("account").get(pk=call_id)
        if not policy.allowed(supervisor, Perm.SUPERVISE, call.account):
            raise Call.DoesNotExist
        if call.state not in (State.TALKING, State.ON_HOLD) or call.secretary_id is None:
            raise MonitoringError(_("This call is not being answered now."))
        if call.secretary_id == supervisor.pk:
            raise MonitoringError(_("This is your own call."))
        now = timezone.now()
        current = Supervision.objects.filter(call=call, ended_at__isnull=True).first()
        if current is not None:
            if current.supervisor_id != supervisor.pk:
                raise MonitoringError(_("Someone else is supervising this call."))
            if current.mode != mode:
                current.mode = mode
                current.modes = [*current.modes, [mode, now.isoformat()]]
                current.save(update_fields=["mode", "modes"])
                trail.record(supervisor, Action.UPDATE, current, request=request, mode=mode, call=call.pk)
            return current
        try:
            with transaction.atomic():
                made = Supervision.objects.create(
                    call=call, supervisor=supervisor, secretary_id=call.secretary_id, mode=mode,
                    modes=[[mode, now.isoformat()]], started_at=now,
                )  # fmt: skip
        except IntegrityError:
            raise MonitoringError(_("Someone else is supervising this call.")) from None
        trail.record(supervisor, Action.CREATE, made, request=request, mode=mode, call=call.pk,
                     secretary=call.secretary_id)  # fmt: skip
    return made


def stop(supervision_id: int, user: Any = None, reason: str = "stopped", request: Any = None) -> bool:
    """End a supervision (by the supervisor, or by the call control: call over, phone hung up...)."""
    now = timezone.now()
    open_ones = Supervision.objects.filter(pk=supervision_id, ended_at__isnull=True)
    ended = open_ones.update(ended_at=now, end_reason=reason[:40])
    if ended:
        row = Supervision.objects.get(pk=supervision_id)
        trail.record(user, Action.UPDATE, row, request=request, ended=reason, call=row.call_id)
    return bool(ended)


def connected(supervision_id: int, at: datetime | None = None) -> None:
    waiting = Supervision.objects.filter(pk=supervision_id, connected_at__isnull=True)
    waiting.update(connected_at=at or timezone.now())


def active(call_ids: list[int]) -> dict[int, tuple[int, int, str]]:
    """The calls' supervisions in progress: call -> (supervision, supervisor, mode)."""
    rows = Supervision.objects.filter(call_id__in=call_ids, ended_at__isnull=True)
    return {c: (pk, s, m) for c, pk, s, m in rows.values_list("call_id", "pk", "supervisor_id", "mode")}
