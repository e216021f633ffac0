"""The client's own systems write its directory through the API with a write key: people (now or at a
chosen time), services, absences with replacements, rota swaps. The same actions as the pages: the same
refusals (422, errors by field), the same audit rows, idempotent creating POSTs."""

import json
from datetime import date, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from permanence.api import keys
from permanence.audit.models import AuditEvent
from permanence.directory import actions, people, rules
from permanence.directory.models import Absence, ChangeStatus, Collaborator, DirectoryChange, Service

PARIS = timezone.get_default_timezone()


@pytest.fixture
def api(alpha):
    key, token = keys.create(alpha, "Logiciel RH", "write")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.key = key
    return client


@pytest.fixture
def anne(alpha):
    return Collaborator.objects.get(account=alpha)


def post(client, path, body, **headers):
    return client.post(f"/api/v1/accounts/alpha{path}", json.dumps(body), content_type="application/json",
                       headers=headers)


def test_a_person_added_by_the_api_once_with_an_idempotency_key(api, alpha):
    body = {"first_name": "Chloé", "last_name": "Martin", "direct_line": "01 45 00 00 13",
            "transfer_mode": "conditional", "caller_types": ["client"], "windows": {"0": "9h-12h"}}
    first = post(api, "/directory/people", body, **{"Idempotency-Key": "rh-42"})
    again = post(api, "/directory/people", body, **{"Idempotency-Key": "rh-42"})
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert Collaborator.objects.filter(account=alpha, last_name="Martin").count() == 1
    out = first.json()
    assert out["direct_line"] == "+33145000013" and out["windows"]["0"] == "09:00-12:00"
    row = AuditEvent.objects.get(object_type="directory.collaborator", action="create")
    assert row.actor == api.key.user and row.detail["via"] == "api"
    monday_10 = datetime(2026, 12, 7, 10, 0, tzinfo=PARIS)
    person = Collaborator.objects.get(pk=out["id"])
    assert person.decide_transfer(at=monday_10, caller_type="client").verdict is rules.Verdict.PUT_THROUGH


def test_a_change_changes_only_the_fields_given(api, anne):
    response = post(api, f"/directory/people/{anne.pk}", {"mobile": "06 12 34 56 78"})
    assert response.status_code == 200, response.content
    anne.refresh_from_db()
    assert anne.mobile == "+33612345678" and anne.specialties == "droit de la famille"


def test_a_change_at_a_chosen_time_is_planned_then_applied(api, anne):
    when = timezone.now() + timedelta(days=1)
    response = post(api, f"/directory/people/{anne.pk}", {"transfer_mode": "never",
                                                          "effective_at": when.isoformat()})
    assert response.status_code == 202 and response.json()["data"] == {"transfer_mode": "never"}
    listed = api.get("/api/v1/accounts/alpha/directory/changes").json()
    assert [c["id"] for c in listed] == [response.json()["id"]]
    assert Collaborator.objects.get(pk=anne.pk).transfer_mode == "always"
    people.apply_due(when + timedelta(seconds=1))
    assert Collaborator.objects.get(pk=anne.pk).transfer_mode == "never"
    change = DirectoryChange.objects.get()
    assert change.status == ChangeStatus.APPLIED


@pytest.mark.parametrize(("body", "field"), [
    ({"direct_line": "12"}, "direct_line"),
    ({"windows": {"1": "midi"}}, "windows_1"),
    ({"caller_types": ["martians"]}, "caller_types"),
    ({"transfer_mode": "never", "effective_at": "2020-01-01T09:00:00+01:00"}, "effective_at"),
])
def test_refusals_come_with_the_field(api, anne, body, field):
    response = post(api, f"/directory/people/{anne.pk}", body)
    assert response.status_code == 422 and field in response.json()["errors"], response.content
    assert not AuditEvent.objects.filter(object_type__startswith="directory.").exists()


def test_a_time_without_its_offset_is_refused(api, anne):
    response = post(api, f"/directory/people/{anne.pk}", {"job_title": "X",
                                                          "effective_at": "2099-01-01T09:00"})
    assert response.status_code == 422 and "UTC offset" in response.json()["detail"]


def test_a_departure_in_use_is_refused_with_the_uses(api, alpha, anne):
    urgences = Service.objects.create(account=alpha, name="Urgences")
    actions.save_rota(urgences, members=[anne], covers=["always"], first_day=date(2026, 10, 19))
    response = post(api, f"/directory/people/{anne.pk}/leave", {})
    assert response.status_code == 422 and "Urgences" in response.json()["detail"]
    bruno = Collaborator.objects.create(account=alpha, last_name="Durand")
    assert post(api, f"/directory/people/{bruno.pk}/leave", {}).json()["is_active"] is False


def test_services_by_the_api(api, alpha, anne):
    made = post(api, "/directory/services", {"name": "Comptabilité"})
    assert made.status_code == 201
    service_id = made.json()["id"]
    assert post(api, "/directory/services", {"name": "comptabilité"}).status_code == 422
    assert post(api, f"/directory/services/{service_id}", {"name": "Paie"}).json()["name"] == "Paie"
    post(api, f"/directory/people/{anne.pk}", {"service": service_id})
    refused = post(api, f"/directory/services/{service_id}/remove", {})
    assert refused.status_code == 422 and "Alphonse" in refused.json()["detail"]
    post(api, f"/directory/people/{anne.pk}", {"service": None})
    assert post(api, f"/directory/services/{service_id}/remove", {}).status_code == 204
    assert not Service.objects.filter(pk=service_id).exists()


def test_an_absence_with_a_replacement_by_the_api_changes_the_transfer(api, alpha, anne):
    bruno = Collaborator.objects.create(account=alpha, last_name="Durand", direct_line="+33145000012")
    now = timezone.now()
    body = {"collaborator": anne.pk, "kind": "leave", "starts_at": (now - timedelta(minutes=5)).isoformat(),
            "ends_at": (now + timedelta(days=2)).isoformat(), "replacement": bruno.pk}
    first = post(api, "/absences", body, **{"Idempotency-Key": "abs-1"})
    again = post(api, "/absences", body, **{"Idempotency-Key": "abs-1"})
    assert first.status_code == again.status_code == 201 and Absence.objects.count() == 1
    decision = anne.decide_transfer()
    assert decision.verdict is rules.Verdict.ABSENT and decision.replacement_id == bruno.pk
    listed = api.get("/api/v1/accounts/alpha/absences").json()
    assert [a["replacement"] for a in listed] == [bruno.pk]
    back = post(api, f"/absences/{first.json()['id']}/end", {})
    assert back.status_code == 200 and anne.decide_transfer().verdict is not rules.Verdict.ABSENT
    assert [e.action for e in AuditEvent.objects.filter(object_type="directory.absence").order_by("pk")] == [
        "create", "update"]


def test_a_swap_by_the_api_changes_who_is_on_call(api, alpha, anne):
    bruno = Collaborator.objects.create(account=alpha, last_name="Durand", mobile="+33612345678")
    urgences = Service.objects.create(account=alpha, name="Urgences")
    actions.save_rota(urgences, members=[anne], covers=["always"], first_day=date(2026, 10, 19))
    [rota] = api.get("/api/v1/accounts/alpha/rotas").json()
    assert rota["on_call_now"] == anne.pk and rota["members"] == [anne.pk]
    now = timezone.now()
    swap = post(api, f"/rotas/{urgences.pk}/swaps", {
        "collaborator": bruno.pk, "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(hours=4)).isoformat(), "reason": "échange"})
    assert swap.status_code == 201, swap.content
    assert api.get("/api/v1/accounts/alpha/rotas").json()[0]["on_call_now"] == bruno.pk
    assert post(api, f"/rotas/swaps/{swap.json()['id']}/remove", {}).status_code == 204
    assert api.get("/api/v1/accounts/alpha/rotas").json()[0]["on_call_now"] == anne.pk
