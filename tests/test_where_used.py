"""Where is it used? A collaborator, a service, an appointment type, a shared block: every scenario
version, rota, swap, absence, appointment type and escalation step naming it; deleting one in use is
refused in the back-office with that list."""

from datetime import date, timedelta

from django.test import Client
from django.utils import timezone

from permanence import where_used
from permanence.agenda.models import AppointmentType
from permanence.audit.models import AuditEvent
from permanence.directory import actions
from permanence.directory.models import Absence, Collaborator, RotaSwap, Service
from permanence.messaging.models import EscalationPolicy
from permanence.scenarios.models import Block, Scenario, ScenarioVersion

SOURCE = """\
language: permanence/1
title: Accueil
start: s
fields:
  wanted: {type: person, label: Personne}
steps:
  s:
    decide:
      - {if: 'is_set(on_call("urgences"))', goto: find}
      - {else: pass}
  find:
    lookup: wanted
    service: urgences
    on: {found: pass, not_found: rdv}
  pass:
    transfer: anne-alphonse
    on: {other: rdv}
  rdv:
    appointment: consultation
    on: {other: refus}
  refus: {use: polite_refusal}
"""


def version(account, source=SOURCE, status="draft", name="Accueil"):
    scenario = Scenario.objects.create(account=account, name=name, entry=name.lower())
    return ScenarioVersion.objects.create(scenario=scenario, number=1, source=source, status=status)


def test_a_collaborator_in_use_lists_every_use(alpha):
    anne = Collaborator.objects.get(account=alpha)
    bruno = Collaborator.objects.create(account=alpha, last_name="Durand")
    urgences = Service.objects.create(account=alpha, name="Urgences")
    assert where_used.of(anne) == []
    version(alpha)
    rota = actions.save_rota(urgences, members=[anne], covers=["always"], first_day=date(2026, 10, 19))
    start = timezone.now() + timedelta(days=1)
    RotaSwap.objects.create(rota=rota, collaborator=anne, starts_at=start, ends_at=start + timedelta(hours=8))
    Absence.objects.create(collaborator=bruno, kind="leave", starts_at=timezone.now(), replacement=anne)
    kind = AppointmentType.objects.create(account=alpha, name="Consultation", code="consultation")
    kind.collaborators.add(anne)
    kinds = sorted(u.kind for u in where_used.of(anne))
    assert kinds == ["absence", "appointment_type", "rota", "scenario", "swap"]
    assert where_used.of(bruno) == []


def test_a_service_an_appointment_type_and_a_block_in_use(alpha, beta):
    urgences = Service.objects.create(account=alpha, name="Urgences")
    compta = Service.objects.create(account=alpha, name="Compta")
    version(alpha, status="published")
    version(alpha, status="retired", name="Ancien", source=SOURCE.replace("urgences", "compta"))
    EscalationPolicy.objects.create(account=alpha, steps=["on_call:Urgences"])
    assert [u.kind for u in where_used.of(urgences)] == ["scenario", "escalation"]
    assert where_used.of(compta) == []  # only a retired version names it
    kind = AppointmentType.objects.create(account=alpha, name="Consultation", code="consultation")
    assert [u.kind for u in where_used.of(kind)] == ["scenario"]
    block = Block.objects.get_or_create(name="polite_refusal", defaults={"source": "start: x"})[0]
    version(beta)
    assert len(where_used.of(block)) == 2  # Alpha's and Beta's versions


def test_the_back_office_refuses_to_delete_what_is_in_use(alpha, personas):
    anne = Collaborator.objects.get(account=alpha)
    spare = Collaborator.objects.create(account=alpha, last_name="Libre")
    version(alpha)
    admin = Client()
    admin.force_login(personas["admin"])
    change = admin.get(f"/admin/directory/collaborator/{anne.pk}/change/").content.decode()
    assert "Accueil" in change  # where used, on its page
    url = f"/admin/directory/collaborator/{anne.pk}/delete/"
    page = admin.get(url).content.decode()
    assert "Accueil" in page
    admin.post(url, {"post": "yes"})
    assert Collaborator.objects.filter(pk=anne.pk).exists()
    assert not AuditEvent.objects.filter(action="delete").exists()
    response = admin.post(f"/admin/directory/collaborator/{spare.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Collaborator.objects.filter(pk=spare.pk).exists()
    [row] = AuditEvent.objects.filter(action="delete", object_type="directory.collaborator")
    assert row.account_id == alpha.pk and row.detail["via"] == "admin"
