"""The client writes its own absences with a replacement: validated, audited, and the desk puts
the calls asked for the absent person through to the replacement."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from permanence.audit.models import AuditEvent
from permanence.directory import rules
from permanence.directory.models import Absence, Collaborator
from permanence.scenarios.models import ScenarioVersion


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def local(moment):
    return moment.astimezone(timezone.get_default_timezone()).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def people(alpha):
    anne = Collaborator.objects.get(account=alpha)
    bruno = Collaborator.objects.create(account=alpha, first_name="Bruno", last_name="Durand", title="Maître",
                                        direct_line="+33145000012")
    return anne, bruno


def test_an_absence_with_a_replacement_changes_the_transfer_at_the_desk(personas, alpha, people):
    anne, bruno = people
    ScenarioVersion.objects.filter(scenario__account=alpha).update(status="published")
    page = client_for(personas["client_admin"])
    now = timezone.now()
    response = page.post("/a/alpha/absences/", {
        "collaborator": anne.pk, "kind": "leave", "starts_at": local(now - timedelta(hours=1)),
        "ends_at": local(now + timedelta(days=2)), "replacement": bruno.pk, "note": "Congés"})
    assert response.status_code == 302, response.content.decode()[:500]
    absence = Absence.objects.get(collaborator=anne)
    decision = anne.decide_transfer()
    assert decision.verdict is rules.Verdict.ABSENT and decision.replacement_id == bruno.pk
    [row] = AuditEvent.objects.filter(object_type="directory.absence", account=alpha)
    assert row.action == "create" and row.detail["after"]["replacement"] == bruno.pk
    assert row.actor_name == "client_admin"

    secretary = client_for(personas["secretary"])
    url = secretary.post("/desk/training", {"account": "alpha", "caller": "0699999999"})["Location"]
    secretary.post(url, {})
    secretary.post(url, {"caller_type": "client"})
    secretary.post(url, {"name": "Jean Dupont"})
    desk = secretary.post(url, {"search": "1", "q": "alphonse"}).content.decode()
    assert ">absent<" in desk and 'data-testid="replaced-by"' in desk and "Bruno Durand" in desk

    # back early: the absence ends now, audited, and calls go to Anne again
    assert page.post(f"/a/alpha/absences/{absence.pk}/end").status_code == 302
    assert anne.decide_transfer().verdict is not rules.Verdict.ABSENT
    assert [r.action for r in AuditEvent.objects.filter(object_type="directory.absence").order_by("pk")] == [
        "create", "update"]


@pytest.mark.parametrize("typed, field", [
    ({"replacement": "self"}, "replacement"),
    ({"collaborator": ""}, "collaborator"),
    ({"ends_at": "past"}, "ends_at"),
    ({"starts_at": "bientôt"}, "starts_at"),
    ({"replacement": "other-account"}, "replacement"),
])
def test_bad_absences_are_refused_under_their_field(personas, alpha, beta, people, typed, field):
    anne, bruno = people
    now = timezone.now()
    post = {"collaborator": str(anne.pk), "kind": "leave", "starts_at": local(now + timedelta(days=1)),
            "ends_at": local(now + timedelta(days=3)), "replacement": str(bruno.pk), **typed}
    if post["replacement"] == "self":
        post["replacement"] = str(anne.pk)
    if post["replacement"] == "other-account":
        post["replacement"] = str(Collaborator.objects.get(account=beta).pk)
    if post["ends_at"] == "past":
        post["ends_at"] = local(now - timedelta(days=1))
    response = client_for(personas["client_admin"]).post("/a/alpha/absences/", post)
    assert response.status_code == 422
    assert f'data-testid="error-{field}"' in response.content.decode()
    assert not Absence.objects.exists() and not AuditEvent.objects.filter(object_type="directory.absence")


def test_an_absence_still_to_come_is_cancelled_and_the_cancel_audited(personas, alpha, people):
    anne, _ = people
    absence = Absence.objects.create(collaborator=anne, kind="leave",
                                     starts_at=timezone.now() + timedelta(days=3))
    page = client_for(personas["client_admin"])
    assert "jusqu’à nouvel ordre" in page.get("/a/alpha/absences/").content.decode()
    page.post(f"/a/alpha/absences/{absence.pk}/end")
    assert not Absence.objects.exists()
    [row] = AuditEvent.objects.filter(object_type="directory.absence")
    assert row.action == "delete" and row.detail["before"]["kind"] == "leave"


def test_the_back_office_audits_directory_changes_and_inline_absences(personas, alpha, people):
    from tests.admin_forms import form_data

    anne, bruno = people
    admin = client_for(personas["admin"])
    change = f"/admin/directory/collaborator/{anne.pk}/change/"
    form = form_data(admin.get(change).content.decode(), "collaborator_form")
    n = int(form["absences-TOTAL_FORMS"])
    form.update({"absences-TOTAL_FORMS": str(n + 1), f"absences-{n}-kind": "leave",
                 f"absences-{n}-starts_at_0": "2099-08-12", f"absences-{n}-starts_at_1": "09:00:00",
                 f"absences-{n}-ends_at_0": "2099-08-20", f"absences-{n}-ends_at_1": "19:00:00",
                 f"absences-{n}-replacement": str(bruno.pk), f"absences-{n}-collaborator": str(anne.pk),
                 "job_title": "Associée"})
    response = admin.post(change, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    rows = {(r.object_type, r.action): r for r in AuditEvent.objects.filter(account=alpha)}
    assert rows[("directory.collaborator", "update")].detail["changes"]["job_title"] == {
        "before": "", "after": "Associée"}
    assert rows[("directory.absence", "create")].detail["via"] == "admin"
