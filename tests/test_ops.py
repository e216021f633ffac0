"""The monitoring endpoints (permanence/ops.py, docs/monitoring.md): /healthz and /metrics."""

from __future__ import annotations

import socket
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from factories import make_account, make_user
from permanence import ops

ELSEWHERE = "192.0.2.10"  # TEST-NET-1 (RFC 5737), only ever written into REMOTE_ADDR


def _samples(response: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    families = text_string_to_metric_families(response.content.decode())
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families
        for sample in family.samples
    }


# --- /healthz ---------------------------------------------------------------------------------------


def test_healthz_answers_ok_without_signing_in(db: Any):
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "absent"}}
    assert "no-cache" in response["Cache-Control"]
    assert "max-age=0" in response["Cache-Control"]


def test_healthz_answers_503_when_the_database_fails(db: Any, monkeypatch: pytest.MonkeyPatch):
    def broken() -> None:
        raise ConnectionRefusedError("secret detail: password=hunter2")

    monkeypatch.setattr(ops, "check_database", broken)
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "fail",
        "checks": {"database": "error: ConnectionRefusedError", "redis": "absent"},
    }
    assert b"secret detail" not in response.content


def test_healthz_pings_redis_when_the_channel_layer_uses_it(db: Any, settings: Any,
                                                            monkeypatch: pytest.MonkeyPatch):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": ["redis://127.0.0.1:6379/0"]}}}
    pinged: list[Any] = []
    monkeypatch.setattr(ops, "check_redis", lambda hosts: pinged.extend(hosts))
    response = Client().get("/healthz")
    assert (response.status_code, response.json()["checks"]["redis"]) == (200, "ok")
    assert pinged == ["redis://127.0.0.1:6379/0"]

    def down(hosts: Any) -> None:
        raise TimeoutError

    monkeypatch.setattr(ops, "check_redis", down)
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "fail", "checks": {"database": "ok", "redis": "error: TimeoutError"}}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_answers() -> bool:
    try:
        ops.check_redis(["redis://127.0.0.1:6379/0"])
    except Exception:
        return False
    return True


def test_the_redis_check_itself(db: Any, settings: Any):
    closed = f"redis://127.0.0.1:{_closed_port()}/0"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [closed]}}}
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "redis": "error: ConnectionError"}
    if _redis_answers():  # a Redis on this machine: the same check passes
        settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [("127.0.0.1", 6379)]
        assert Client().get("/healthz").json()["checks"]["redis"] == "ok"


def test_healthz_is_not_sent_to_the_sign_in_page_of_a_signed_in_browser(personas: Any):
    client = Client()
    client.force_login(personas["secretary"])
    response = client.get("/healthz", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_healthz_takes_no_post(db: Any):
    assert Client().post("/healthz").status_code == 405


# --- /metrics: who may read them -------------------------------------------------------------------


def test_metrics_refused_from_another_machine_without_a_token(db: Any, settings: Any):
    settings.METRICS_TOKEN = ""
    response = Client().get("/metrics", REMOTE_ADDR=ELSEWHERE)
    assert response.status_code == 403
    assert b"permanence_" not in response.content


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1"])
def test_metrics_allowed_from_this_machine_without_a_token(db: Any, settings: Any, address: str):
    settings.METRICS_TOKEN = ""
    response = Client().get("/metrics", REMOTE_ADDR=address)
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    assert "no-cache" in response["Cache-Control"]


def test_metrics_refused_through_a_proxy_on_this_machine(db: Any, settings: Any):
    """A reverse proxy on the same machine connects from 127.0.0.1 for anyone: not "this machine"."""
    settings.METRICS_TOKEN = ""
    response = Client().get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=ELSEWHERE)
    assert response.status_code == 403


def test_metrics_behind_proxies_need_the_token_even_without_a_forwarding_header(db: Any, settings: Any):
    """A proxy that adds no header (TCP mode) still carries anyone's request from 127.0.0.1."""
    settings.METRICS_TOKEN, settings.PROXY_COUNT = "", 1
    assert Client().get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_metrics_with_a_token(db: Any, settings: Any):
    settings.METRICS_TOKEN = "s3cret-token"
    client = Client()
    missing = client.get("/metrics", REMOTE_ADDR="127.0.0.1")  # the token is required, even locally
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/metrics", REMOTE_ADDR=ELSEWHERE, HTTP_AUTHORIZATION="Bearer s3cret-tokem")
    assert wrong.status_code == 403
    basic = client.get("/metrics", REMOTE_ADDR=ELSEWHERE, HTTP_AUTHORIZATION="Basic s3cret-token")
    assert basic.status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer é").status_code == 403  # not ASCII: refused
    right = client.get("/metrics", REMOTE_ADDR=ELSEWHERE, HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert right.status_code == 200
    assert ("permanence_calls_waiting", ()) in _samples(right)


# --- /metrics: the values --------------------------------------------------------------------------


def _call(account: Any, state: str, waited: int = 0, training: bool = False) -> Any:
    from permanence.calls.models import Call

    now = timezone.now()
    return Call.objects.create(account=account, called="+33145000001", caller="+33611111111", state=state,
                               arrived_at=now - timedelta(seconds=waited), training=training)


def _delivery(message: Any, status: str) -> Any:
    from permanence.messaging.models import Delivery

    return Delivery.objects.create(message=message, channel="email", address="accueil@alpha.example",
                                   status=status)


def test_metrics_values(db: Any, settings: Any):
    from django_tasks_db.models import DBTaskResult

    from permanence.calls.lifecycle import State
    from permanence.calls.models import Desk
    from permanence.messaging.models import Message
    from permanence.messaging.tasks import deliver
    from permanence.users.models import Role

    settings.METRICS_TOKEN = ""
    alpha, beta = make_account("alpha"), make_account("beta")
    # calls: 3 waiting (the oldest for 5 minutes), 1 offered, 4 in progress, the others not counted
    _call(alpha, State.QUEUED, waited=300)
    _call(alpha, State.QUEUED, waited=20)
    _call(beta, State.QUEUED, waited=60)
    _call(alpha, State.OFFERED, waited=10)
    for state in (State.TALKING, State.ON_HOLD, State.TRANSFERRING, State.WRAP_UP):
        _call(beta, state, waited=400)
    for state in (State.DONE, State.ABANDONED, State.DIVERTED, State.NOT_SERVED, State.ARRIVED):
        _call(alpha, state, waited=3600)
    _call(alpha, State.TALKING, waited=900, training=True)  # a training call: no caller
    # desks: 2 ready, 1 on a call, 1 paused
    for index, status in enumerate(["ready", "ready", "on_call", "paused"]):
        Desk.objects.create(secretary=make_user(f"sec{index}", Role.SECRETARY), status=status)
    # deliveries: 2 queued, 1 failed (to retry), 3 dead; the sent and delivered ones are not counted
    message = Message.objects.create(account=alpha, subject="Rappel", body="Rappeler Mme Martin")
    for status in ["queued", "queued", "failed", "dead", "dead", "dead", "sent", "delivered"]:
        _delivery(message, status)
    # tasks: 2 due, 1 held for an hour (not due yet)
    DBTaskResult.objects.all().delete()
    deliver.enqueue(1)
    deliver.enqueue(2)
    deliver.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(3)

    response = Client().get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    samples = _samples(response)
    oldest = samples.pop(("permanence_oldest_wait_seconds", ()))
    assert 300 <= oldest < 360
    assert samples == {
        ("permanence_calls_waiting", ()): 3,
        ("permanence_calls_offered", ()): 1,
        ("permanence_calls_in_progress", ()): 4,
        ("permanence_desks", (("status", "offline"),)): 0,
        ("permanence_desks", (("status", "on_call"),)): 1,
        ("permanence_desks", (("status", "paused"),)): 1,
        ("permanence_desks", (("status", "ready"),)): 2,
        ("permanence_desks", (("status", "wrap_up"),)): 0,
        ("permanence_deliveries", (("status", "dead"),)): 3,
        ("permanence_deliveries", (("status", "failed"),)): 1,
        ("permanence_deliveries", (("status", "queued"),)): 2,
        ("permanence_deliveries", (("status", "sending"),)): 0,
        ("permanence_tasks_queued", ()): 2,
    }
    assert b"alpha" not in response.content and b"beta" not in response.content  # no per-account label


def test_metrics_tasks_on_rq(db: Any, settings: Any):
    """With the tasks on Redis (RQ), the length of the queue; Redis down: the metric is left out."""
    settings.METRICS_TOKEN = ""
    queue = f"ops-test-{uuid.uuid4().hex}"  # an empty queue of our own: read, never written
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [queue]}}
    settings.RQ_QUEUES = {queue: {"URL": f"redis://127.0.0.1:{_closed_port()}/0"}}
    samples = _samples(Client().get("/metrics", REMOTE_ADDR="127.0.0.1"))
    assert ("permanence_tasks_queued", ()) not in samples
    assert samples[("permanence_calls_waiting", ())] == 0
    if _redis_answers():
        settings.RQ_QUEUES = {queue: {"URL": "redis://127.0.0.1:6379/0"}}
        samples = _samples(Client().get("/metrics", REMOTE_ADDR="127.0.0.1"))
        assert samples[("permanence_tasks_queued", ())] == 0


def test_metrics_when_nothing_happens(db: Any, settings: Any):
    settings.METRICS_TOKEN = ""
    samples = _samples(Client().get("/metrics", REMOTE_ADDR="::1"))
    assert samples[("permanence_calls_waiting", ())] == 0
    assert samples[("permanence_oldest_wait_seconds", ())] == 0
    assert samples[("permanence_deliveries", (("status", "dead"),))] == 0


def test_metrics_answer_503_when_the_database_fails(db: Any, settings: Any, monkeypatch: pytest.MonkeyPatch):
    from django.db import OperationalError

    def broken() -> Any:
        raise OperationalError("could not connect: password=hunter2")

    settings.METRICS_TOKEN = ""
    monkeypatch.setattr(ops, "_call_metrics", broken)
    response = Client().get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 503
    assert b"hunter2" not in response.content
