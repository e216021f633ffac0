"""Every write path of the instructions (page, API, back-office) goes through the named actions:
validated the same way, and each leaves an audit row."""

import json

import pytest
from django.test import Client
from tests.admin_forms import form_data

from permanence.accounts.models import Account, Instruction
from permanence.audit.models import AuditEvent


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def audit_rows(account, object_type="accounts.instruction"):
    return list(AuditEvent.objects.filter(account=account, object_type=object_type).order_by("pk"))


def test_the_page_writes_through_the_actions(alpha, personas):
    page = client_for(personas["client_admin"])
    response = page.post("/a/alpha/instructions/", {
        "form": "dated", "text": "Urgences au Dr Martin", "starts_at": "2099-08-12T09:00",
        "ends_at": "2099-08-20T19:00"})
    assert response.status_code == 302
    instruction = Instruction.objects.get(account=alpha)
    assert instruction.starts_at.isoformat() == "2099-08-12T07:00:00+00:00"  # 09:00 in Paris, summer time
    assert instruction.created_by == personas["client_admin"]
    page.post(f"/a/alpha/instructions/{instruction.pk}/", {"text": "Urgences au Dr Durand",
                                                           "starts_at": "2099-08-12T09:00",
                                                           "ends_at": "2099-08-21T19:00"})
    page.post(f"/a/alpha/instructions/{instruction.pk}/withdraw")
    page.post("/a/alpha/instructions/", {"form": "standing", "standing": "Jamais le portable du Dr Martin."})
    assert [r.action for r in audit_rows(alpha)] == ["create", "update", "update"]
    assert [r.detail["field"] for r in audit_rows(alpha, "accounts.account")] == ["instructions"]
    history = page.get(f"/a/alpha/instructions/{instruction.pk}/").content.decode()
    assert "Urgences au Dr Martin" in history and "Urgences au Dr Durand" in history  # before and after


@pytest.mark.parametrize("typed, field, says", [
    ({"starts_at": "2099-03-29T02:30"}, "starts_at", "on avance les horloges"),
    ({"starts_at": "le 12 août"}, "starts_at", "par exemple 12/08/2026"),
    ({"ends_at": "2099-08-11T09:00"}, "ends_at", "La fin doit venir après"),
    ({"starts_at": "2020-01-01T09:00", "ends_at": "2020-01-02T09:00"}, "ends_at", "déjà passée"),
    ({"text": ""}, "text", "Écrivez la consigne"),
])
def test_bad_input_on_the_page_is_said_under_its_field_and_writes_nothing(
        alpha, personas, typed, field, says):
    page = client_for(personas["client_admin"])
    post = {"form": "dated", "text": "Urgences", "starts_at": "2099-08-12T09:00",
            "ends_at": "2099-08-20T19:00", **typed}
    response = page.post("/a/alpha/instructions/", post)
    assert response.status_code == 422
    body = response.content.decode()
    assert f'data-testid="error-{field}"' in body and says in body
    assert f'value="{post["starts_at"]}"' in body  # what was typed is kept
    assert not Instruction.objects.exists() and not audit_rows(alpha)


def test_a_client_user_reads_the_instructions_but_has_no_form(alpha, personas):
    body = client_for(personas["client_user"]).get("/a/alpha/instructions/").content.decode()
    assert "Consigne Alpha" in body and 'name="standing"' not in body and 'data-testid="add"' not in body


def test_the_api_writes_through_the_actions(alpha, personas):
    api = client_for(personas["client_admin"])

    def post(path, body):
        return api.post(f"/api/v1/accounts/alpha/instructions{path}", json.dumps(body),
                        content_type="application/json")

    created = post("", {"text": "Urgences au Dr Martin", "starts_at": "2099-08-12T09:00:00+02:00",
                        "ends_at": "2099-08-20T19:00:00+02:00"})
    assert created.status_code == 201 and created.json()["phase"] == "coming"
    pk = created.json()["id"]
    changed = post(f"/{pk}", {"text": "Urgences au Dr Durand", "starts_at": "2099-08-12T09:00:00+02:00",
                              "ends_at": "2099-08-21T19:00:00+02:00"})
    assert changed.status_code == 200 and changed.json()["text"] == "Urgences au Dr Durand"
    assert post(f"/{pk}/withdraw", {}).json()["phase"] == "past"
    assert post("/standing", {"text": "Jamais le portable."}).json()["instructions"] == "Jamais le portable."
    assert [r.action for r in audit_rows(alpha)] == ["create", "update", "update"]
    assert len(audit_rows(alpha, "accounts.account")) == 1
    listed = api.get("/api/v1/accounts/alpha/instructions?history=true").json()
    assert [i["id"] for i in listed] == [pk] and api.get("/api/v1/accounts/alpha/instructions").json() == []


def test_the_api_refuses_bad_input_with_field_errors(alpha, personas):
    api = client_for(personas["client_admin"])
    naive = api.post("/api/v1/accounts/alpha/instructions", json.dumps(
        {"text": "x", "starts_at": "2099-08-12T09:00:00", "ends_at": "2099-08-20T19:00:00"}),
        content_type="application/json")
    assert naive.status_code == 422 and "UTC offset" in naive.json()["detail"]
    reversed_ = api.post("/api/v1/accounts/alpha/instructions", json.dumps(
        {"text": "x", "starts_at": "2099-08-12T09:00:00Z", "ends_at": "2099-08-11T09:00:00Z"}),
        content_type="application/json")
    assert reversed_.status_code == 422 and "ends_at" in reversed_.json()["errors"]
    assert not Instruction.objects.exists() and not audit_rows(alpha)


def test_the_back_office_writes_through_the_actions(alpha, personas):
    admin = client_for(personas["admin"])
    form = form_data(admin.get("/admin/accounts/instruction/add/").content.decode(), "instruction_form")
    form.update({"account": alpha.pk, "text": "Urgences au Dr Martin", "starts_at_0": "2099-08-12",
                 "starts_at_1": "09:00:00", "ends_at_0": "2099-08-11", "ends_at_1": "09:00:00"})
    refused = admin.post("/admin/accounts/instruction/add/", form)
    assert refused.status_code == 200 and "La fin doit venir après" in refused.content.decode()
    form["ends_at_0"] = "2099-08-20"
    assert admin.post("/admin/accounts/instruction/add/", form).status_code == 302
    instruction = Instruction.objects.get()
    assert instruction.created_by == personas["admin"]
    change = f"/admin/accounts/instruction/{instruction.pk}/change/"
    form = form_data(admin.get(change).content.decode(), "instruction_form")
    form["text"] = "Urgences au Dr Durand"
    assert admin.post(change, form).status_code == 302
    assert [(r.action, r.detail.get("after", {}).get("text")) for r in audit_rows(alpha)] == [
        ("create", "Urgences au Dr Martin"), ("update", "Urgences au Dr Durand")]
    # the account's own page: the standing text, and any other field, audited with before and after
    change = f"/admin/accounts/account/{alpha.pk}/change/"
    form = form_data(admin.get(change).content.decode(), "account_form")
    form["instructions"] = "Jamais le portable du Dr Martin."
    response = admin.post(change, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    [row] = audit_rows(alpha, "accounts.account")
    assert row.detail["via"] == "admin"
    assert row.detail["changes"] == {"instructions": {"before": "Consigne Alpha",
                                                      "after": "Jamais le portable du Dr Martin."}}
    assert Account.objects.get(pk=alpha.pk).instructions_changed_at is not None
