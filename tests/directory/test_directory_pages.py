"""The client's directory pages: a person added with transfer rules, a change planned at a chosen time
and applied when due, a departure refused while in use, services written; refusals keep what was typed."""

from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from permanence.audit.models import AuditEvent
from permanence.directory import actions, people
from permanence.directory.models import ChangeStatus, Collaborator, DirectoryChange, Service


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def local(moment):
    return moment.astimezone(timezone.get_default_timezone()).strftime("%Y-%m-%dT%H:%M")


def person_form(**over):
    form = {"title": "", "first_name": "Chloé", "last_name": "Martin", "job_title": "", "service": "",
            "specialties": "fiscalité", "keywords": "", "direct_line": "01 45 00 00 13", "mobile": "",
            "email": "", "instructions": "", "transfer_mode": "conditional", "caller_types": ["client"],
            "windows_0": "9h-12h", "windows_1": "", "windows_2": "", "windows_3": "", "windows_4": "",
            "windows_5": "", "windows_6": "", "when": "now"}
    form.update(over)
    return form


@pytest.fixture
def anne(alpha):
    return Collaborator.objects.get(account=alpha)


def test_the_client_adds_a_person_with_transfer_rules(personas, alpha):
    page = client_for(personas["client_admin"])
    response = page.post("/a/alpha/directory/new", person_form(transfer_urgent_bypass="on"))
    assert response.status_code == 302, response.content.decode()[:800]
    chloe = Collaborator.objects.get(account=alpha, last_name="Martin")
    assert response["Location"] == f"/a/alpha/directory/{chloe.pk}/"
    assert chloe.direct_line == "+33145000013" and chloe.transfer_urgent_bypass
    assert [(w.weekday, w.start.hour, w.end.hour) for w in chloe.transfer_windows.all()] == [(0, 9, 12)]
    row = AuditEvent.objects.get(object_type="directory.collaborator", object_id=str(chloe.pk))
    assert row.action == "create" and row.actor_name == "client_admin" and row.account_id == alpha.pk
    listing = page.get("/a/alpha/directory/").content.decode()
    assert f'data-testid="person-{chloe.pk}"' in listing and "09:00-12:00" in listing


def test_a_refusal_says_what_is_wrong_and_keeps_what_was_typed(personas, alpha):
    page = client_for(personas["client_admin"])
    response = page.post("/a/alpha/directory/new", person_form(direct_line="12", windows_2="18h-9h"))
    assert response.status_code == 422
    text = response.content.decode()
    assert 'data-testid="error-direct_line"' in text and 'data-testid="error-windows_2"' in text
    assert 'value="Martin"' in text and 'value="18h-9h"' in text
    assert not Collaborator.objects.filter(last_name="Martin").exists()


def test_a_change_planned_at_a_time_is_listed_then_applied_when_due(personas, alpha, anne):
    page = client_for(personas["client_admin"])
    when = timezone.now() + timedelta(days=2)
    form = person_form(title="Maître", first_name="Anne", last_name="Alphonse",
                       specialties="droit de la famille", direct_line="+33145000011", transfer_mode="never",
                       caller_types=[], windows_0="",
                       when="at", effective_at=local(when))
    response = page.post(f"/a/alpha/directory/{anne.pk}/", form)
    assert response.status_code == 302, response.content.decode()[:800]
    change = DirectoryChange.objects.get(collaborator=anne)
    assert change.data == {"transfer_mode": "never"}
    assert Collaborator.objects.get(pk=anne.pk).transfer_mode == "always"  # not yet
    listing = page.get("/a/alpha/directory/").content.decode()
    assert f'data-testid="change-{change.pk}"' in listing
    assert people.apply_due(when + timedelta(minutes=1)) == 1
    assert Collaborator.objects.get(pk=anne.pk).transfer_mode == "never"
    assert DirectoryChange.objects.get(pk=change.pk).status == ChangeStatus.APPLIED


def test_a_time_gone_by_is_refused_on_the_form(personas, alpha, anne):
    page = client_for(personas["client_admin"])
    form = person_form(first_name="Anne", last_name="Alphonse", title="Maître", when="at",
                       effective_at=local(timezone.now() - timedelta(hours=1)))
    response = page.post(f"/a/alpha/directory/{anne.pk}/", form)
    assert response.status_code == 422 and 'data-testid="error-effective_at"' in response.content.decode()
    assert not DirectoryChange.objects.exists()


def test_a_departure_is_refused_while_on_a_rota_and_says_where(personas, alpha, anne):
    urgences = Service.objects.create(account=alpha, name="Urgences")
    actions.save_rota(urgences, members=[anne], covers=["always"], first_day=date(2026, 10, 19))
    page = client_for(personas["client_admin"])
    response = page.post(f"/a/alpha/directory/{anne.pk}/leave", {"when": "now"}, follow=True)
    assert "Urgences" in response.content.decode()
    assert Collaborator.objects.get(pk=anne.pk).is_active
    bruno = Collaborator.objects.create(account=alpha, last_name="Durand")
    response = page.post(f"/a/alpha/directory/{bruno.pk}/leave", {"when": "now"})
    assert response.status_code == 302 and not Collaborator.objects.get(pk=bruno.pk).is_active


def test_services_are_added_renamed_and_removed_only_when_unused(personas, alpha, anne):
    page = client_for(personas["client_admin"])
    assert page.post("/a/alpha/directory/", {"name": "Comptabilité"}).status_code == 302
    compta = Service.objects.get(account=alpha, name="Comptabilité")
    duplicate = page.post("/a/alpha/directory/", {"name": "comptabilité"})
    assert duplicate.status_code == 422 and 'data-testid="error-name"' in duplicate.content.decode()
    page.post(f"/a/alpha/directory/services/{compta.pk}/", {"name": "Comptabilité et paie"})
    compta.refresh_from_db()
    assert compta.name == "Comptabilité et paie"
    Collaborator.objects.filter(pk=anne.pk).update(service=compta)
    refused = page.post(f"/a/alpha/directory/services/{compta.pk}/remove", follow=True).content.decode()
    assert "Alphonse" in refused and Service.objects.filter(pk=compta.pk).exists()


def test_a_client_user_reads_the_directory_but_cannot_write_it(personas, alpha, anne):
    page = client_for(personas["client_user"])
    text = page.get(f"/a/alpha/directory/{anne.pk}/").content.decode()
    assert '<fieldset class="bare" disabled>' in text and 'data-testid="save"' not in text
    assert page.post(f"/a/alpha/directory/{anne.pk}/", person_form()).status_code == 403


def test_an_old_word_that_is_no_caller_type_is_shown_and_refused_until_unticked(personas, alpha, anne):
    Collaborator.objects.filter(pk=anne.pk).update(transfer_caller_types="client, voisins")
    page = client_for(personas["client_admin"])
    shown = page.get(f"/a/alpha/directory/{anne.pk}/").content.decode()
    assert 'data-testid="old-word"' in shown and 'value="voisins" checked' in shown
    form = person_form(title="Maître", first_name="Anne", last_name="Alphonse", transfer_mode="always",
                       caller_types=["client", "voisins"])
    refused = page.post(f"/a/alpha/directory/{anne.pk}/", form)
    assert refused.status_code == 422 and 'data-testid="error-caller_types"' in refused.content.decode()
    assert Collaborator.objects.get(pk=anne.pk).unknown_caller_types == ("voisins",)
    fixed = page.post(f"/a/alpha/directory/{anne.pk}/", {**form, "caller_types": ["client"]})
    assert fixed.status_code == 302
    assert Collaborator.objects.get(pk=anne.pk).transfer_caller_types == "client"


def test_a_date_out_of_the_calendar_is_a_clear_refusal(personas, alpha, anne):
    page = client_for(personas["client_admin"])
    response = page.post(f"/a/alpha/directory/{anne.pk}/leave",
                         {"when": "at", "effective_at": "0001-01-01T00:00"}, follow=True)
    assert response.status_code == 200 and Collaborator.objects.get(pk=anne.pk).is_active
