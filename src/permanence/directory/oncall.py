"""Who is on call now, per service, and where after-hours calls are forwarded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.text import slugify

from permanence.directory.models import Collaborator, Rota, RotaMember, RotaSwap


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
    """The account's rotas with their service, members and swaps (and these people) at hand."""
    return list(
        Rota.objects.filter(account=account)
        .select_related("service", "account")
        .prefetch_related(
            Prefetch("members", queryset=RotaMember.objects.select_related("collaborator")),
            Prefetch("swaps", queryset=RotaSwap.objects.select_related("collaborator").order_by("starts_at")),
        )
    )


def now_on_call(account: Any, at: datetime | None = None) -> list[OnCall]:
    """Each rota of the account with its person on call at ``at``."""
    at = at or timezone.now()
    return [OnCall(rota, rota.on_call(at)) for rota in rotas(account)]


def on_call(account: Any, service: str, at: datetime | None = None) -> Collaborator | None:
    """The person on call in the rota of ``service``: its name as written ("Urgences", in an escalation
    list) or as scenarios name it ("urgences")."""
    rota = next((r for r in rotas(account) if slugify(r.service.name) == slugify(service)), None)
    return rota.on_call(at) if rota else None


def forward_number(account: Any, at: datetime | None = None) -> str:
    """Where after-hours calls are forwarded: the forwarding rota's person on call (mobile, else direct
    line), else the account's on-call number."""
    rota = next((r for r in rotas(account) if r.forwards_after_hours), None)
    number = OnCall(rota, rota.on_call(at)).number if rota is not None else ""
    return str(number or account.on_call_number or "")
