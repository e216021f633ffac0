"""Every write path of the directory (page, API, back-office) goes through the same checks and leaves an
audit row; the back-office refuses the renames and departures the pages refuse."""

import json

from django.test import Client
from tests.admin_forms import form_data

from permanence.audit.models import AuditEvent
from permanence.directory.models import Collaborator, Service
from permanence.scenarios.models import Scenario, ScenarioVersion

NAMING_ANNE = """\
language: permanence/1
title: Accueil
start: pass
steps:
  pass:
    transfer: anne-alphonse
    on: {other: end}
  end: {end: done}
"""


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def rows(alpha, object_type):
    return list(AuditEvent.objects.filter(account=alpha, object_type=object_type).order_by("pk"))


def test_page_api_and_back_office_each_leave_an_audit_row(alpha, personas):
    anne = Collaborator.objects.get(account=alpha)
    page = client_for(personas["client_admin"])
    page.post("/a/alpha/directory/", {"name": "Comptabilité"})
    api = client_for(personas["client_admin"])
    api.post("/api/v1/accounts/alpha/directory/people", json.dumps({"last_name": "Martin"}),
             content_type="application/json")
    admin = client_for(personas["admin"])
    change = f"/admin/directory/collaborator/{anne.pk}/change/"
    form = form_data(admin.get(change).content.decode(), "collaborator_form")
    form["job_title"] = "Associée"
    assert admin.post(change, form).status_code == 302
    assert [r.action for r in rows(alpha, "directory.service")] == ["create"]
    made, changed = rows(alpha, "directory.collaborator")
    assert made.action == "create" and made.detail["via"] == "api"
    assert changed.action == "update" and changed.detail["via"] == "admin"


def test_the_back_office_refuses_a_rename_a_scenario_would_lose_and_a_departure_in_use(alpha, personas):
    anne = Collaborator.objects.get(account=alpha)
    scenario = Scenario.objects.create(account=alpha, name="Accueil", entry="accueil")
    ScenarioVersion.objects.create(scenario=scenario, number=1, source=NAMING_ANNE, status="published")
    admin = client_for(personas["admin"])
    change = f"/admin/directory/collaborator/{anne.pk}/change/"
    form = form_data(admin.get(change).content.decode(), "collaborator_form")
    refused = admin.post(change, {**form, "last_name": "Martin"})
    assert refused.status_code == 200 and "Accueil" in refused.content.decode()
    form.pop("is_active", None)  # unticked: she leaves, but the scenario transfers to her
    refused = admin.post(change, form)
    assert refused.status_code == 200 and "Accueil" in refused.content.decode()
    anne.refresh_from_db()
    assert anne.last_name == "Alphonse" and anne.is_active


def test_the_back_office_refuses_a_second_service_of_the_same_name(alpha, personas):
    Service.objects.create(account=alpha, name="Comptabilité")
    admin = client_for(personas["admin"])
    form = form_data(admin.get("/admin/directory/service/add/").content.decode(), "service_form")
    form.update({"account": str(alpha.pk), "name": "comptabilité"})
    refused = admin.post("/admin/directory/service/add/", form)
    assert refused.status_code == 200 and Service.objects.filter(account=alpha).count() == 1


def test_a_departure_in_the_back_office_cancels_what_was_planned_and_a_service_stays_in_its_account(
        alpha, beta, personas):
    from datetime import timedelta

    from django.utils import timezone

    from permanence.directory import people
    from permanence.directory.models import ChangeStatus

    bruno = Collaborator.objects.create(account=alpha, last_name="Durand")
    planned = people.plan_change(alpha, "change", timezone.now() + timedelta(days=1), {"job_title": "X"},
                                 bruno)
    admin = client_for(personas["admin"])
    change = f"/admin/directory/collaborator/{bruno.pk}/change/"
    form = form_data(admin.get(change).content.decode(), "collaborator_form")
    form.pop("is_active", None)
    assert admin.post(change, form).status_code == 302
    planned.refresh_from_db()
    assert planned.status == ChangeStatus.CANCELLED
    service = Service.objects.create(account=alpha, name="Comptabilité")
    page = admin.get(f"/admin/directory/service/{service.pk}/change/").content.decode()
    form = form_data(page, "service_form")
    assert "account" not in form  # shown, not editable
    admin.post(f"/admin/directory/service/{service.pk}/change/", {**form, "account": str(beta.pk)})
    assert Service.objects.get(pk=service.pk).account == alpha
