"""On-call rotas written by the client: the page (rota, swaps), the audit trail, who is on call at the
desk, on_call(...) in the account's scenario, and the after-hours forward."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.test import Client
from tests.factories import office_hours

from permanence.accounts.models import AfterHours
from permanence.audit.models import AuditEvent
from permanence.calls import admission, services
from permanence.directory import actions, oncall
from permanence.directory.models import Collaborator, Rota, RotaSwap, Service
from permanence.scenarios import environment
from permanence.scenarios.engine import checker

MONDAY = date(2026, 10, 19)
WEDNESDAY_NOON = datetime(2026, 10, 21, 10, 0, tzinfo=UTC)  # 12:00 in Paris
WEDNESDAY_NIGHT = datetime(2026, 10, 21, 20, 0, tzinfo=UTC)  # 22:00 in Paris


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def team(alpha):
    urgences = Service.objects.create(account=alpha, name="Urgences")
    anne = Collaborator.objects.get(account=alpha)
    anne.mobile, anne.service = "+33611000001", urgences
    anne.save()
    bruno = Collaborator.objects.create(account=alpha, first_name="Bruno", last_name="Durand", title="Dr",
                                        mobile="+33611000002", service=urgences)
    return urgences, anne, bruno


def test_the_client_writes_a_rota_and_a_swap_on_the_page(personas, alpha, team):
    urgences, anne, bruno = team
    page = client_for(personas["client_admin"])
    with time_machine.travel(WEDNESDAY_NOON, tick=False):
        response = page.post("/a/alpha/on-call/", {
            "form": "rota", "service": urgences.pk, "first_day": MONDAY.isoformat(), "handover": "08:00",
            "covers": ["nights", "weekends"], "night_start": "19:00", "night_end": "08:00",
            "member_1": anne.pk, "member_2": bruno.pk, "forwards_after_hours": "1"})
        assert response.status_code == 302, response.content.decode()[:800]
        rota = Rota.objects.get(service=urgences)
        assert rota.on_call(WEDNESDAY_NOON) is None and rota.on_call(WEDNESDAY_NIGHT) == anne
        body = page.get("/a/alpha/on-call/").content.decode()
        assert "personne (le tableau ne s’applique pas maintenant)" in body
        response = page.post("/a/alpha/on-call/", {
            "form": "swap", "rota": rota.pk, "collaborator": bruno.pk, "starts_at": "2026-10-21T19:00",
            "ends_at": "2026-10-22T08:00", "reason": "Échange avec Anne"})
        assert response.status_code == 302
        assert Rota.objects.get(pk=rota.pk).on_call(WEDNESDAY_NIGHT) == bruno
        body = page.get("/a/alpha/on-call/").content.decode()
        assert "Échange avec Anne" in body and "échange" in body
    rows = [(r.object_type, r.action) for r in AuditEvent.objects.filter(account=alpha).order_by("pk")]
    assert rows == [("directory.rota", "create"), ("directory.rotaswap", "create")]
    swap = RotaSwap.objects.get()
    page.post(f"/a/alpha/on-call/swaps/{swap.pk}/remove")
    assert not RotaSwap.objects.exists()
    assert AuditEvent.objects.filter(object_type="directory.rotaswap", action="delete").count() == 1


@pytest.mark.parametrize("post, field", [
    ({"member_1": ""}, "members"),
    ({"covers": []}, "covers"),
    ({"first_day": "lundi"}, "first_day"),
    ({"handover": "8 heures"}, "handover"),
])
def test_a_bad_rota_is_refused_with_the_reason(personas, alpha, team, post, field):
    urgences, anne, bruno = team
    form = {"form": "rota", "service": urgences.pk, "first_day": MONDAY.isoformat(), "covers": ["always"],
            "member_1": anne.pk, **post}
    response = client_for(personas["client_admin"]).post("/a/alpha/on-call/", form)
    assert response.status_code == 422 and f'data-testid="error-{field}"' in response.content.decode()
    assert not Rota.objects.exists() and not AuditEvent.objects.filter(object_type="directory.rota")


def test_the_same_person_twice_or_from_another_account_is_refused(alpha, beta, team):
    urgences, anne, bruno = team
    with pytest.raises(Exception) as error:
        actions.save_rota(urgences, members=[anne, anne], covers=["always"], first_day=MONDAY)
    assert "members" in error.value.error_dict
    stranger = Collaborator.objects.get(account=beta)
    with pytest.raises(Exception) as error:
        actions.save_rota(urgences, members=[anne, stranger], covers=["always"], first_day=MONDAY)
    assert "members" in error.value.error_dict


def test_the_scenario_reads_who_is_on_call_and_the_checker_knows_the_rotas(alpha, team):
    urgences, anne, bruno = team
    actions.save_rota(urgences, members=[anne, bruno], covers=["always"], first_day=MONDAY,
                      handover=time(8, 0))
    info = environment.account_info(alpha)
    assert info.rotas == frozenset({"urgences"})
    env = environment.environment(alpha, WEDNESDAY_NOON)
    assert env.call("on_call", ("urgences",)) == environment.collaborator_ref(anne)
    next_week = environment.environment(alpha, WEDNESDAY_NOON + timedelta(days=7))
    assert next_week.call("on_call", ("urgences",)) == environment.collaborator_ref(bruno)
    assert env.call("on_call", ("compta",)) is None
    scenario = checker.check("""\
language: permanence/1
title: t
start: s
steps:
  s:
    decide:
      - {if: 'is_set(on_call("compta"))', goto: e}
      - {else: e}
  e: {end: information}
""", info)
    assert [p.code for p in scenario.problems.errors] == ["no_rota"]


def test_after_hours_calls_are_forwarded_to_the_person_on_call(alpha, team):
    urgences, anne, bruno = team
    office_hours(alpha)
    alpha.after_hours, alpha.on_call_number = AfterHours.FORWARD, "+33699999999"
    alpha.save()
    rota = actions.save_rota(urgences, members=[anne, bruno], covers=["nights"], first_day=MONDAY,
                             forwards_after_hours=True)
    night = services.admit(alpha, "+33612345678", WEDNESDAY_NIGHT)
    assert night.action is admission.Action.FORWARD and night.forward_to == "+33611000001"
    assert oncall.forward_number(alpha, WEDNESDAY_NIGHT + timedelta(days=7)) == "+33611000002"
    # a closed hour the rota does not cover (Wednesday 18:30): the account's on-call number
    evening = services.admit(alpha, "+33612345678", datetime(2026, 10, 21, 16, 30, tzinfo=UTC))
    assert evening.action is admission.Action.FORWARD and evening.forward_to == "+33699999999"
    anne.is_active = False  # left the directory: nobody is on call that week, the account's number takes it
    anne.save()
    assert oncall.forward_number(alpha, WEDNESDAY_NIGHT) == "+33699999999"
    assert environment.environment(alpha, WEDNESDAY_NIGHT).call("on_call", ("urgences",)) is None
    anne.is_active = True
    anne.save()
    rota.forwards_after_hours = False
    rota.save()
    assert services.admit(alpha, "+33612345678", WEDNESDAY_NIGHT).forward_to == "+33699999999"


def test_the_desk_shows_who_is_on_call_now(personas, alpha, team):
    from permanence.scenarios.models import ScenarioVersion

    urgences, anne, bruno = team
    actions.save_rota(urgences, members=[anne, bruno], covers=["always"], first_day=MONDAY)
    ScenarioVersion.objects.filter(scenario__account=alpha).update(status="published")
    secretary = client_for(personas["secretary"])
    with time_machine.travel(WEDNESDAY_NOON + timedelta(days=7), tick=False):
        url = secretary.post("/desk/training", {"account": "alpha"})["Location"]
        page = secretary.get(url).content.decode()
    assert 'data-testid="on-call-now"' in page and "Dr Bruno Durand" in page and "06 11 00 00 02" in page
