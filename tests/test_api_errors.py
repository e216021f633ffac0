"""The API's refusals, as tests/test_api_fuzz.py found them wanting: dates it cannot compute with are a
400 (a 500 on PostgreSQL once), a role without the permission gets JSON, invalid input names its fields,
and every status an operation answers is in the OpenAPI description."""

import json
from urllib.parse import quote

import pytest
from django.test import Client

from permanence.accounts.models import Instruction
from permanence.api import keys


@pytest.fixture
def api(alpha):
    return Client(HTTP_AUTHORIZATION=f"Bearer {keys.create(alpha, 'Logiciel', 'write')[1]}")


@pytest.mark.parametrize("when", [
    "9999-12-31T23:59:59-23:59",  # UTC is in year 10000
    "0001-01-01T00:00:00+14:00",  # UTC is before year 1
    "2048-03-06T13:56:08-22:00",  # a UTC offset PostgreSQL refuses
    "1899-12-31T23:00:00+01:00",
])
def test_a_date_out_of_range_in_a_query_is_a_400(api, when):
    response = api.get(f"/api/v1/accounts/alpha/appointments?start={quote(when)}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert "1900" in body["detail"] and "+14:00" in body["detail"] and set(body["errors"]) == {"start"}


def test_a_date_out_of_range_in_a_body_is_a_400(api):
    body = {"text": "Fermé", "starts_at": "2099-08-12T09:00:00+02:00", "ends_at": "9999-12-31T23:59:59-23:59"}
    response = api.post("/api/v1/accounts/alpha/instructions", json.dumps(body),
                        content_type="application/json")
    assert response.status_code == 400 and set(response.json()["errors"]) == {"ends_at"}
    assert not Instruction.objects.exists()


def test_dates_at_the_edges_of_the_range_are_taken(api):
    for when in ("1900-01-01T00:00:00-12:00", "2999-12-31T23:59:59+14:00"):
        assert api.get(f"/api/v1/accounts/alpha/appointments?start={quote(when)}").status_code == 200


def test_a_role_without_the_permission_gets_a_json_403(api):
    response = api.post("/api/v1/accounts/alpha/identify", json.dumps({"called": "+33145000001"}),
                        content_type="application/json")  # a client admin identifies no caller
    assert response.status_code == 403 and response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


def test_invalid_input_names_its_fields(api):
    response = api.get("/api/v1/accounts/alpha/contacts?limit=many")
    assert response.status_code == 422 and set(response.json()["errors"]) == {"limit"}
    response = api.post("/api/v1/accounts/alpha/instructions", json.dumps({"text": "Fermé"}),
                        content_type="application/json")
    assert response.status_code == 422 and set(response.json()["errors"]) == {"starts_at", "ends_at"}


CREATING = ["appointments", "instructions", "directory/people", "directory/services", "absences",
            "rotas/{service_id}/swaps"]  # the POSTs taking an Idempotency-Key


def test_every_operation_describes_its_refusals(db):
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert {"400", "401", "403", "404", "422"} <= set(operation["responses"]), (method, path)
    for path in CREATING:
        assert "409" in paths[f"/api/v1/accounts/{{slug}}/{path}"]["post"]["responses"], path


def test_a_nul_character_in_any_text_is_refused_with_422(personas, alpha):
    """PostgreSQL stores no NUL character: the API refuses it as bad input, never a 500 (the fuzzing found
    one on a service's name)."""
    import json

    from django.test import Client

    from permanence.directory.models import Service

    client = Client()
    client.force_login(personas["admin"])
    service = Service.objects.create(account=alpha, name="Accueil")
    for url, body in (
        (f"/api/v1/accounts/alpha/directory/services/{service.pk}", {"name": "Acc\x00ueil"}),
        ("/api/v1/accounts/alpha/directory/services", {"name": "Standard", "description": "\x00"}),
        ("/api/v1/accounts/alpha/directory/people", {"last_name": "Nou\x00veau"}),
    ):
        response = client.post(url, json.dumps(body), content_type="application/json")
        assert response.status_code == 422, (url, response.status_code)
    assert list(Service.objects.filter(account=alpha).values_list("name", flat=True)) == ["Accueil"]
