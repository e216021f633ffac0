"""Schemathesis over the whole HTTP API, in process, with a client admin's write key: requests generated
from the OpenAPI description (valid and invalid ones) get no 5xx, only statuses the description
declares, and bodies and content types that match it. Bounded and deterministic (a few examples per
operation, derandomised); each operation is its own test, its writes in the test database."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from factories import office_hours
from permanence.accounts.models import Instruction
from permanence.agenda.models import Appointment, AppointmentType
from permanence.api import keys
from permanence.directory.models import (
    Absence,
    Collaborator,
    DirectoryChange,
    Rota,
    RotaMember,
    RotaSwap,
    Service,
)

pytestmark = pytest.mark.slow  # minutes: CI runs it once, on PostgreSQL

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# One row of each kind in Alpha has this key, so that the ids drawn from the dictionary below reach real
# objects (the others get 404); far above what the sequences reach in a test.
ROW = 900_001
MONDAYS = ["2099-03-02T10:00:00+01:00", "2099-03-09T10:00:00+01:00"]  # valid instants, drawn now and then
CONFIG = schemathesis.Config.from_dict({
    "parameters": {"slug": "alpha"},
    "dictionaries": {"rows": {"values": [ROW]}, "mondays": {"values": MONDAYS}},
    "generation": {"dictionaries": {"integer": {"dictionary": "rows", "probability": 0.5},
                                    "string": {"dictionary": "mondays", "probability": 0.3}}},
})
# Loaded once, at collection: serving the description needs no database.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler(), config=CONFIG)


@pytest.fixture(autouse=True)
def _one_connection():
    """Requests go through Django's WSGI handler, which closes the database connection after each (and
    with it the test's transaction, on PostgreSQL); Django's test client disconnects that as here."""
    hooks = (signals.request_started, signals.request_finished)
    for signal in hooks:
        signal.disconnect(close_old_connections)
    yield
    for signal in hooks:
        signal.connect(close_old_connections)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.get_default_timezone())


@pytest.fixture
def token(alpha, beta):
    """Alpha with a row of each kind the paths name; its client admin's write key."""
    office_hours(alpha)
    start, later = at(MONDAYS[0]), at(MONDAYS[1])
    person = Collaborator.objects.create(pk=ROW, account=alpha, last_name="Bernard", first_name="Berthe")
    service = Service.objects.create(pk=ROW, account=alpha, name="Urgences")
    rota = Rota.objects.create(account=alpha, service=service, first_day=date(2026, 1, 5))
    RotaMember.objects.create(rota=rota, collaborator=person, position=1)
    kind = AppointmentType.objects.create(pk=ROW, account=alpha, name="Consultation", min_notice_minutes=0)
    kind.collaborators.add(person)
    end = start + timedelta(minutes=kind.duration_minutes)
    Appointment.objects.create(pk=ROW, account=alpha, collaborator=person, appointment_type=kind, start=start,
                               end=end, blocked_from=start, blocked_until=end)
    Instruction.objects.create(pk=ROW, account=alpha, text="Urgences au Dr Martin", starts_at=start,
                               ends_at=later)
    Absence.objects.create(pk=ROW, collaborator=person, kind="leave", starts_at=start, ends_at=later)
    RotaSwap.objects.create(pk=ROW, rota=rota, collaborator=person, starts_at=start, ends_at=later)
    DirectoryChange.objects.create(pk=ROW, account=alpha, collaborator=person, kind="change",
                                   data={"job_title": "Associée"}, effective_at=later)
    return keys.create(alpha, "Fuzz", "write")[1]


@schema.parametrize()
# No health checks: the fixture is per test on purpose (one transaction per operation), and the timing
# ones fail at random on a loaded machine.
@settings(max_examples=15, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_the_api_holds_to_its_description(case, token):
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
