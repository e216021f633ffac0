"""Who is on call now, per service, and where after-hours calls are forwarded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from permanence.directory import rota as rota_core
from permanence.directory.models import Collaborator, Rota, RotaSwap


@dataclass(frozen=True)
class OnCall:
    rota: Rota
    person: Collaborator | None  # None: the rota does not apply now, or has nobody

    @property
    def number(self) -> str:
        if self.person is None:
            return ""
        return self.person.mobile or self.person.direct_line or ""


def rotas(account: Any) -> list[Rota]:
    return list(
        Rota.objects.filter(account=account)
        .select_related("service", "account")
        .prefetch_related("members", Prefetch("swaps", queryset=RotaSwap.objects.order_by("starts_at")))
    )


def now_on_call(account: Any, at: datetime | None = None) -> list[OnCall]:
    """Each rota of the account with its person on call at ``at``."""
    at = at or timezone.now()
    found = []
    for rota in rotas(account):
        who = rota_core.on_call(rota.as_core(), at, rota.is_holiday())
        person = Collaborator.objects.filter(pk=who).first() if who is not None else None
        found.append(OnCall(rota, person))
    return found


def on_call(account: Any, service: str, at: datetime | None = None) -> Collaborator | None:
    """The person on call for the service named ``service`` (case and accents as written)."""
    rota = next((r for r in rotas(account) if r.service.name == service), None)
    return rota.on_call(at) if rota else None


def forward_number(account: Any, at: datetime | None = None) -> str:
    """Where after-hours calls are forwarded: the forwarding rota's person on call (mobile, else direct
    line), else the account's on-call number."""
    rota = next((r for r in rotas(account) if r.forwards_after_hours), None)
    if rota is not None:
        person = rota.on_call(at)
        number = (person.mobile or person.direct_line) if person else ""
        if number:
            return str(number)
    return str(account.on_call_number or "")
