"""Where is this used? For a collaborator, a service, an appointment type or a shared block: every
scenario version (not retired), rota, swap, absence, appointment type and escalation step that names
it. Removing something in use is refused with that list (the back-office asks here before deleting).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from permanence.agenda.models import AppointmentType
from permanence.directory.models import Absence, Collaborator, Rota, RotaMember, RotaSwap, Service
from permanence.messaging.escalation import ON_CALL_PREFIX
from permanence.messaging.models import EscalationPolicy
from permanence.scenarios.engine import source
from permanence.scenarios.engine.problems import Problems
from permanence.scenarios.environment import collaborator_ref
from permanence.scenarios.models import Block, ScenarioVersion, Status

_ON_CALL_CALL = re.compile(r"""on_call\(\s*["']([^"']+)["']\s*\)""")
PERSON_KEYS = frozenset({"transfer", "with", "message", "to"})
SERVICE_KEYS = frozenset({"service", "on_call"})


@dataclass(frozen=True)
class Use:
    kind: str  # scenario, rota, swap, absence, appointment_type, escalation
    text: str  # what the user reads, e.g. "Scénario « Accueil » v3 (publiée)"

    def __str__(self) -> str:
        return self.text


def _walk(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(key, text) for every string of a YAML tree, with the mapping key it sits under."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, str(k))
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, key)
    elif isinstance(node, str):
        yield key, node


def _versions(account_id: int | None) -> Iterator[tuple[ScenarioVersion, list[tuple[str, str]]]]:
    versions = ScenarioVersion.objects.exclude(status=Status.RETIRED).select_related("scenario")
    if account_id is not None:
        versions = versions.filter(scenario__account_id=account_id)
    for version in versions.order_by("scenario__name", "number"):
        tree = source.load(version.source, Problems())  # the scenarios' own bounded reader
        if tree is not None:
            yield version, list(_walk(tree.plain()))


def _scenario_use(version: ScenarioVersion) -> Use:
    return Use("scenario", _("Scenario “%(name)s” version %(number)s (%(status)s)") % {
        "name": version.scenario.name, "number": version.number, "status": version.get_status_display()})


def of_collaborator(person: Collaborator) -> list[Use]:
    ref = collaborator_ref(person)
    uses = [_scenario_use(v) for v, strings in _versions(person.account_id)
            if any(k in PERSON_KEYS and s == ref for k, s in strings)]
    now = timezone.now()
    uses += [Use("rota", _("On-call rota of “%(service)s”") % {"service": m.rota.service.name})
             for m in RotaMember.objects.filter(collaborator=person).select_related("rota__service")]
    swaps = RotaSwap.objects.filter(collaborator=person, ends_at__gt=now).select_related("rota__service")
    uses += [Use("swap", _("Swap in the on-call rota of “%(service)s” on %(day)s") % {
                 "service": s.rota.service.name, "day": timezone.localtime(s.starts_at).strftime("%d/%m/%Y")})
             for s in swaps]
    replacing = Absence.objects.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now), replacement=person)
    uses += [Use("absence", _("Replaces %(person)s during an absence") % {"person": a.collaborator})
             for a in replacing.select_related("collaborator")]
    uses += [Use("appointment_type", _("Appointment type “%(name)s”") % {"name": t.name})
             for t in AppointmentType.objects.filter(collaborators=person, is_active=True)]
    return uses


def of_service(service: Service) -> list[Use]:
    slug = slugify(service.name)
    uses = []
    for version, strings in _versions(service.account_id):
        if any(k in SERVICE_KEYS and slugify(s) == slug for k, s in strings) or any(
            slugify(name) == slug for _k, s in strings for name in _ON_CALL_CALL.findall(s)
        ):
            uses.append(_scenario_use(version))
    if Rota.objects.filter(service=service).exists():
        uses.append(Use("rota", _("Its on-call rota")))
    for policy in EscalationPolicy.objects.filter(account_id=service.account_id):
        if ON_CALL_PREFIX + service.name in (policy.steps or []):
            uses.append(Use("escalation", _("The escalation list of urgent messages")))
    return uses


def of_appointment_type(kind: AppointmentType) -> list[Use]:
    return [_scenario_use(v) for v, strings in _versions(kind.account_id)
            if any(k == "appointment" and s == kind.code for k, s in strings)]


def of_block(block: Block) -> list[Use]:
    """Blocks are shared: the versions of every account that use it."""
    uses = []
    for version, strings in _versions(None):
        if any(k == "use" and s == block.name for k, s in strings):
            account = version.scenario.account
            uses.append(Use("scenario", f"{account}: {_scenario_use(version).text}"))
    return uses


KINDS = (Collaborator, Service, AppointmentType, Block)


def of(obj: Any) -> list[Use]:
    """Where ``obj`` is used (empty for a kind of object nobody refers to by name)."""
    if isinstance(obj, Collaborator):
        return of_collaborator(obj)
    if isinstance(obj, Service):
        return of_service(obj)
    if isinstance(obj, AppointmentType):
        return of_appointment_type(obj)
    if isinstance(obj, Block):
        return of_block(obj)
    return []
