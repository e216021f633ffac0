"""API keys of a client account: created and revoked by the client admin, stored hashed, scoped read
or write, last use shown, every use audited under the key's name; idempotent creating POSTs."""

import json

from django.test import Client

from permanence.accounts.models import Instruction
from permanence.api import keys
from permanence.api.models import ApiKey
from permanence.audit.models import AuditEvent

INSTRUCTION = {"text": "Urgences au Dr Martin", "starts_at": "2099-08-12T09:00:00+02:00",
               "ends_at": "2099-08-20T19:00:00+02:00"}


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def api_requests_kept(key):
    from permanence.api.models import IdempotentRequest

    return IdempotentRequest.objects.filter(key=key).exists()


def post(client, path, body, **headers):
    return client.post(path, json.dumps(body), content_type="application/json", headers=headers)


def test_the_client_admin_creates_a_key_shown_once_and_stored_hashed(personas, alpha):
    page = signed_in(personas["client_admin"])
    response = page.post("/a/alpha/api-keys/", {"name": "Logiciel du cabinet", "scope": "read"})
    body = response.content.decode()
    key = ApiKey.objects.get(account=alpha)
    token = body.split('data-testid="token">')[1].split("<")[0]
    assert token.startswith(f"pk_{key.prefix}_") and len(token) > 40
    assert token not in json.dumps(list(ApiKey.objects.values()), default=str) and key.digest != token
    assert token not in page.get("/a/alpha/api-keys/").content.decode()  # shown once
    assert AuditEvent.objects.filter(object_type="api.apikey", action="create",
                                     actor_name="client_admin").exists()
    refused = page.post("/a/alpha/api-keys/", {"name": " ", "scope": "read"})
    assert refused.status_code == 422 and ApiKey.objects.count() == 1


def test_a_read_key_reads_its_account_only_and_may_not_write(alpha, beta):
    key, token = keys.create(alpha, "Logiciel", "read")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/accounts/alpha").json()["name"] == "Cabinet Alpha"
    assert api.get("/api/v1/accounts/beta").status_code == 404
    assert [a["slug"] for a in api.get("/api/v1/accounts").json()] == ["alpha"]
    refused = post(api, "/api/v1/accounts/alpha/instructions", INSTRUCTION)
    assert refused.status_code == 403 and "only read" in refused.json()["detail"]
    assert not Instruction.objects.exists()
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_a_write_key_writes_and_the_audit_trail_names_it(alpha):
    key, token = keys.create(alpha, "Logiciel", "write")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert post(api, "/api/v1/accounts/alpha/instructions", INSTRUCTION).status_code == 201
    [row] = AuditEvent.objects.filter(object_type="accounts.instruction")
    assert row.actor_name == f"api-{key.prefix}"


def test_a_revoked_or_wrong_key_is_refused(personas, alpha):
    key, token = keys.create(alpha, "Logiciel", "read")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}x").get("/api/v1/accounts/alpha").status_code == 401
    assert Client(HTTP_AUTHORIZATION="Bearer pk_nothing").get("/api/v1/accounts/alpha").status_code == 401
    signed_in(personas["client_admin"]).post(f"/a/alpha/api-keys/{key.pk}/revoke")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/accounts/alpha").status_code == 401
    assert AuditEvent.objects.filter(object_type="api.apikey", action="update").count() == 1
    # the key's user cannot sign in with a password either
    assert not key.user.has_usable_password()


def test_an_idempotent_post_repeated_gives_one_object(alpha):
    _key, token = keys.create(alpha, "Logiciel", "write")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    first = post(api, "/api/v1/accounts/alpha/instructions", INSTRUCTION, **{"Idempotency-Key": "abc-1"})
    again = post(api, "/api/v1/accounts/alpha/instructions", INSTRUCTION, **{"Idempotency-Key": "abc-1"})
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert Instruction.objects.count() == 1
    assert AuditEvent.objects.filter(object_type="accounts.instruction").count() == 1
    other = post(api, "/api/v1/accounts/alpha/instructions", {**INSTRUCTION, "text": "Autre"},
                 **{"Idempotency-Key": "abc-1"})
    assert other.status_code == 422 and Instruction.objects.count() == 1
    # a refused request keeps no answer: the same key, corrected, then works
    wrong = {**INSTRUCTION, "ends_at": "2099-08-01T09:00:00Z"}
    retry = {"Idempotency-Key": "abc-2"}
    assert post(api, "/api/v1/accounts/alpha/instructions", wrong, **retry).status_code == 422
    assert not api_requests_kept("abc-2")
    assert post(api, "/api/v1/accounts/alpha/instructions", wrong, **retry).status_code == 422
    assert post(api, "/api/v1/accounts/alpha/instructions", INSTRUCTION).status_code == 201  # no key: twice
    assert Instruction.objects.count() == 2


def test_lists_are_paginated_with_their_total(alpha):
    from tests.factories import make_contact

    for i in range(5):
        make_contact(alpha, (f"+3361234560{i}",), first_name="Zoé", last_name=f"Client{i}")
    _key, token = keys.create(alpha, "Logiciel", "read")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    first = api.get("/api/v1/accounts/alpha/contacts?limit=2")
    assert first["X-Total-Count"] == "6" and len(first.json()) == 2
    assert first["Link"].endswith('>; rel="next"') and "offset=2" in first["Link"]
    seen = [c["id"] for c in first.json()]
    following = first["Link"][1:].split(">")[0].replace("http://testserver", "")
    while following:
        page = api.get(following)
        seen += [c["id"] for c in page.json()]
        following = page.get("Link", "")[1:].split(">")[0].replace("http://testserver", "")
    assert len(seen) == len(set(seen)) == 6  # every contact once
