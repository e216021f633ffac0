"""Query counts of the list pages: bounded whatever the number of rows (no N+1).

Each list page of the site (every back-office changelist, the operator's and the client portal's lists,
the API's list endpoints) is requested once with ``SMALL`` units of data, then with ``3 * SMALL``; the
number of queries of the second request may exceed the first by ``SLACK`` at most. A unit (``_unit``) is
one of nearly everything a list shows, each row tied to other rows the page may name (users, accounts,
collaborators, calls, messages...), so that a page that reads a related row per row listed fails.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from factories import make_account, make_contact, make_user

SMALL = 3
SLACK = 2  # the queries a page may add with more rows (none expected; a page's cache warming up)


def _unit(i: int, alpha: Any, people: dict[str, Any]) -> None:
    """One of each thing a list page shows, about Alpha (and one more account), number ``i``."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.contrib.auth.models import Group
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from django_tasks_db.models import DBTaskResult

    from permanence.accounts.models import Instruction, PhoneNumber
    from permanence.agenda.models import (
        Appointment,
        AppointmentType,
        AvailabilityException,
        CalendarFeed,
        CalendarLink,
        SyncIssue,
        WorkingHours,
    )
    from permanence.api.models import ApiKey
    from permanence.audit.models import AuditEvent
    from permanence.billing.models import BillingProfile, Dispute, Invoice, Plan, ServicePromise
    from permanence.calls.models import (
        Call,
        CallRecording,
        Desk,
        PresenceSpan,
        Supervision,
        Voicemail,
    )
    from permanence.directory.models import (
        Absence,
        Collaborator,
        DirectoryChange,
        Rota,
        RotaMember,
        RotaSwap,
        Service,
    )
    from permanence.messaging.models import (
        Acknowledgement,
        CallbackTask,
        Delivery,
        DeliveryEvent,
        DeliveryPreference,
        Message,
        MessageFlag,
        PushSubscription,
        Survey,
        WebhookEndpoint,
    )
    from permanence.privacy.models import DataRequest, LegalHold
    from permanence.reporting import rollups
    from permanence.reporting.models import CallReview
    from permanence.scenarios.models import Block, Comment, Remark, Scenario, ScenarioVersion, Status
    from permanence.scenarios.services import template_source
    from permanence.users.models import Language, Role, Training

    now = timezone.now()
    admin_user = people["admin"]
    # another account, with its client admin and its billing
    other = make_account(f"compte-{i}", name=f"Compte {i}")
    PhoneNumber.objects.create(account=other, number=f"+3314600{i:04d}", label="Standard")
    make_user(f"client-{i}", Role.CLIENT_ADMIN, other, first_name="Client", last_name=str(i))
    Plan.objects.create(account=other, starts_on=date(2020, 1, 1), name="Forfait", monthly_fee=Decimal("10"))
    BillingProfile.objects.create(account=other, legal_name=f"Compte {i} SARL")
    ServicePromise.objects.create(account=other)
    Training.objects.create(secretary=people["secretary"], account=other)
    # a secretary trained on Alpha, and a client user of Alpha
    secretary = make_user(f"secretaire-{i}", Role.SECRETARY, first_name="Sec", last_name=str(i))
    Training.objects.create(secretary=secretary, account=alpha)
    Desk.objects.create(secretary=secretary)
    PresenceSpan.objects.create(secretary=secretary, start=now - timedelta(hours=1))
    TOTPDevice.objects.create(user=secretary, name="phone")
    StaticDevice.objects.create(user=secretary, name="backup")
    member = make_user(f"membre-{i}", Role.CLIENT_USER, alpha, first_name="Membre", last_name=str(i))
    PushSubscription.objects.create(user=member, endpoint=f"https://push.example/{i}", p256dh="k", auth="a")
    Language.objects.get_or_create(code=f"x{i}", defaults={"name": f"Langue {i}"})
    Group.objects.create(name=f"Groupe {i}")
    DBTaskResult.objects.create(args_kwargs={"args": [i], "kwargs": {}}, backend_name="default",
                                task_path="permanence.reporting.tasks.rollup_call", run_after=now,
                                exception_class_path="", traceback="")
    for model in (AccessAttempt, AccessLog, AccessFailureLog):
        extra = {"get_data": "", "post_data": "", "failures_since_start": 1} if model is AccessAttempt else {}
        model.objects.create(user_agent="ua", http_accept="*/*", path_info="/login/", username=f"u{i}",
                             ip_address="127.0.0.1", **extra)
    # the directory
    service = Service.objects.create(account=alpha, name=f"Service {i}")
    person = Collaborator.objects.create(account=alpha, last_name=f"Personne{i}", first_name="P",
                                         service=service, email=f"p{i}@alpha.example")
    DeliveryPreference.objects.create(collaborator=person)
    WorkingHours.objects.create(collaborator=person, weekday=0, start=time(9), end=time(12))
    AvailabilityException.objects.create(collaborator=person, start_date=date(2027, 3, i % 28 + 1),
                                         end_date=date(2027, 3, i % 28 + 1))
    CalendarFeed.objects.create(collaborator=person)
    link = CalendarLink.objects.create(collaborator=person, url=f"https://dav.example/{i}/")
    Absence.objects.create(collaborator=person, kind="leave", starts_at=now - timedelta(hours=1))
    DirectoryChange.objects.create(account=alpha, collaborator=person, kind="change", created_by=admin_user,
                                   data={"job_title": "Associée"}, effective_at=now + timedelta(days=1))
    rota = Rota.objects.create(account=alpha, service=service, first_day=date(2026, 10, 19))
    RotaMember.objects.create(rota=rota, collaborator=person, position=1)
    RotaSwap.objects.create(rota=rota, collaborator=person, starts_at=now + timedelta(days=1),
                            ends_at=now + timedelta(days=1, hours=12))
    Instruction.objects.create(account=alpha, text=f"Consigne {i}", starts_at=now + timedelta(days=1),
                               ends_at=now + timedelta(days=2), created_by=admin_user)
    contact = make_contact(alpha, (f"+336{i:08d}",), first_name="Contact", last_name=f"N{i}")
    # a call answered by the secretary, with its events, recording, review, survey, supervision
    arrived = now - timedelta(minutes=30 + i)
    call = Call.objects.create(account=alpha, called="+33145000001", caller=f"+336{i:08d}", state="done",
                               arrived_at=arrived, answered_at=arrived + timedelta(seconds=10),
                               ended_at=arrived + timedelta(minutes=3), secretary=secretary,
                               outcome="message")
    _events(call, secretary)
    rollups.add([call.pk])  # the figures of Alpha and of the secretary (reports)
    elsewhere = Call.objects.create(account=other, called="+33145000001", caller=f"+338{i:08d}", state="done",
                                    arrived_at=arrived, answered_at=arrived + timedelta(seconds=5),
                                    ended_at=arrived + timedelta(minutes=2), secretary=secretary)
    _events(elsewhere, secretary)
    rollups.add([elsewhere.pk])
    CallRecording.objects.create(call=call, account=alpha, secretary=secretary, seconds=60.0,
                                 started_at=arrived)
    CallReview.objects.create(call=call, secretary=secretary, reviewer=admin_user)
    Supervision.objects.create(call=call, supervisor=admin_user, secretary=secretary)
    Survey.objects.create(call=call, account=alpha, address=f"+336{i:08d}", status="answered", rating=4)
    left = Call.objects.create(account=alpha, called="+33145000001", caller=f"+337{i:08d}",
                               state="not_served", arrived_at=arrived)
    Voicemail.objects.create(call=left, account=alpha, caller=left.caller, seconds=5.0, ended="silence",
                             shown_from=now - timedelta(hours=1), due_at=now + timedelta(hours=1))
    # a message of the call, delivered, flagged, acknowledged; one that failed; a call-back task
    message = Message.objects.create(account=alpha, call=call, subject=f"Message {i}", body="Texte",
                                     status="sent", author=secretary, recipients=[f"p{i}@alpha.example"])
    delivery = Delivery.objects.create(message=message, channel="email", address=f"p{i}@alpha.example",
                                       status="sent")
    DeliveryEvent.objects.create(delivery=delivery, status="sent")
    MessageFlag.objects.create(message=message, reason="missing", by=member)
    Acknowledgement.objects.create(message=message)
    failed = Message.objects.create(account=alpha, subject=f"Échec {i}", body="Texte", status="failed",
                                    author=secretary, urgent=True)
    Delivery.objects.create(message=failed, channel="sms", address=f"+336{i:08d}", status="failed")
    CallbackTask.objects.create(account=alpha, message=failed, call=left)
    WebhookEndpoint.objects.create(account=alpha, url=f"https://hooks.example/{i}", secret="s")
    # the agenda
    kind = AppointmentType.objects.create(account=alpha, name=f"Type {i}", code=f"type_{i}")
    kind.collaborators.add(person)
    start = now + timedelta(days=3, hours=i)
    appointment = Appointment.objects.create(
        account=alpha, collaborator=person, appointment_type=kind, start=start,
        end=start + timedelta(minutes=30), blocked_from=start, blocked_until=start + timedelta(minutes=30),
        caller_name=f"Appelant {i}",
        call=call, created_by=secretary,
    )
    SyncIssue.objects.create(link=link, kind=SyncIssue.Kind.OVERLAP, appointment=appointment)
    # scenarios
    scenario = Scenario.objects.create(account=alpha, name=f"Scénario {i}", entry=f"ligne{i}")
    version = ScenarioVersion.objects.create(scenario=scenario, number=1, status=Status.PUBLISHED,
                                             source=template_source("legal"), digest="x", author=admin_user,
                                             approved_by=people["client_admin"])
    Comment.objects.create(version=version, text="Vu", author=people["client_admin"])
    Remark.objects.create(version=version, step="welcome", text="Trop long", author=secretary)
    Block.objects.create(name=f"bloc-{i}", source="steps: []")
    # the audit trail
    AuditEvent.objects.create(actor=secretary, actor_name=secretary.username, action="view",
                              object_type="contact", object_id=str(contact.pk), object_repr=str(contact),
                              account=alpha)
    # privacy
    DataRequest.objects.create(account=alpha, kind="access", phone=f"+336{i:08d}", contact=contact,
                               due_at=now + timedelta(days=30))
    LegalHold.objects.create(account=alpha, contact=contact, reason="Litige", set_by=admin_user)
    # billing: an issued invoice of Alpha and a dispute about the call
    invoice = Invoice(account=alpha, month=date(2020 + i // 12, i % 12 + 1, 1), status="issued",
                      number=f"F-{i:05d}", issued_by=admin_user, issued_at=now)
    invoice.save(issuing=True)
    Dispute.objects.create(account=alpha, invoice=invoice, call=call, reason="Faux numéro",
                           created_by=people["client_admin"])
    # an API key of Alpha
    key_user = make_user(f"api-{i}", Role.CLIENT_USER, alpha)
    ApiKey.objects.create(account=alpha, user=key_user, name=f"Clé {i}", prefix=f"k{i:07d}", digest="d",
                          created_by=people["client_admin"])


def _events(call: Any, secretary: Any) -> None:
    """The events of a call answered by ``secretary`` and wrapped up (in a legal order: the rollups read
    them)."""
    from permanence.calls.models import CallEvent

    kinds = ("arrived", "queued", "offered", "answered", "ended", "wrapped_up")
    CallEvent.objects.bulk_create(
        CallEvent(call=call, seq=seq, kind=kind, at=call.arrived_at + timedelta(seconds=seq),
                  secretary=secretary if kind in ("offered", "answered", "wrapped_up") else None)
        for seq, kind in enumerate(kinds, start=1)
    )


@dataclass(frozen=True)
class Page:
    path: str  # {a}: Alpha's slug
    persona: str
    api: bool = False


# The list pages, each as the persona who sees the most of it (the operator admin sees every account).
PAGES = [
    Page("/", "admin"),
    Page("/", "secretary"),
    Page("/a/{a}/", "admin"),
    Page("/a/{a}/", "client_admin"),
    Page("/a/{a}/contacts/", "admin"),
    Page("/a/{a}/audit/", "admin"),
    Page("/a/{a}/scenarios/", "admin"),
    Page("/desk/", "admin"),
    Page("/desk/", "secretary"),
    Page("/desk/poll", "secretary"),
    Page("/desk/phone/", "secretary"),
    Page("/a/{a}/calls/", "admin"),
    Page("/a/{a}/calls/", "client_user"),
    Page("/a/{a}/voicemails/", "admin"),
    Page("/a/{a}/recordings/", "admin"),
    Page("/a/{a}/instructions/", "admin"),
    Page("/a/{a}/directory/", "admin"),
    Page("/a/{a}/directory/", "client_admin"),
    Page("/a/{a}/absences/", "admin"),
    Page("/a/{a}/on-call/", "admin"),
    Page("/a/{a}/hours/", "admin"),
    Page("/a/{a}/api-keys/", "client_admin"),
    Page("/a/{a}/prompts/", "admin"),
    Page("/a/{a}/voice-menu/", "admin"),
    Page("/a/{a}/messages/", "admin"),
    Page("/a/{a}/messages/", "client_user"),
    Page("/a/{a}/messages/settings/", "admin"),
    Page("/a/{a}/agenda/", "admin"),
    Page("/a/{a}/agenda/settings/", "admin"),
    Page("/a/{a}/reports/", "admin"),
    Page("/reports/", "admin"),
    Page("/reports/reviews/", "admin"),
    Page("/supervision/", "admin"),
    Page("/planning/", "admin"),
    Page("/messages/failed/", "admin"),
    Page("/messages/failed/", "client_admin"),
    Page("/a/{a}/privacy/", "admin"),
    Page("/a/{a}/privacy/holds/", "admin"),
    Page("/a/{a}/privacy/requests/", "admin"),
    Page("/privacy/", "admin"),
    Page("/a/{a}/invoices/", "admin"),
    Page("/a/{a}/invoices/", "client_admin"),
    Page("/billing/", "admin"),
    Page("/billing/disputes/", "admin"),
    Page("/app/", "client_user"),
    Page("/a/{a}/export/", "admin"),
    # the API's lists
    Page("/api/v1/accounts", "admin", api=True),
    Page("/api/v1/accounts/{a}/directory", "admin", api=True),
    Page("/api/v1/accounts/{a}/instructions", "admin", api=True),
    Page("/api/v1/accounts/{a}/directory/changes", "admin", api=True),
    Page("/api/v1/accounts/{a}/directory/services", "admin", api=True),
    Page("/api/v1/accounts/{a}/absences", "admin", api=True),
    Page("/api/v1/accounts/{a}/rotas", "admin", api=True),
    Page("/api/v1/accounts/{a}/contacts", "admin", api=True),
    Page("/api/v1/accounts/{a}/appointment-types", "admin", api=True),
    Page("/api/v1/accounts/{a}/appointments", "admin", api=True),
]


def _changelists() -> list[Page]:
    pages = []
    for model in admin.site._registry:
        meta = model._meta
        pages.append(Page(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"), "admin"))
    return pages


ADMIN_PAGES = _changelists()


def _get(client: Client, path: str) -> tuple[Any, list[str]]:
    """The response (read to its end) and the queries it took."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
        if response.streaming:
            b"".join(response.streaming_content)
    return response, [query["sql"] for query in queries.captured_queries]


def _measure(page: Page, alpha: Any, people: dict[str, Any]) -> tuple[int, int, list[str]]:
    """(queries with SMALL units, with 3 * SMALL units, the second request's SQL)."""
    client = Client()
    client.force_login(people[page.persona])
    path = page.path.format(a=alpha.slug)
    for i in range(SMALL):
        _unit(i, alpha, people)
    client.get(path)  # once, so that caches filled on a first visit are not counted
    response, small = _get(client, path)
    assert response.status_code == 200, f"{page.persona} {path}: {response.status_code}"
    for i in range(SMALL, 3 * SMALL):
        _unit(i, alpha, people)
    response, big = _get(client, path)
    assert response.status_code == 200, f"{page.persona} {path}: {response.status_code}"
    return len(small), len(big), big


def _repeated(sql: list[str]) -> str:
    """The queries run more than once (numbers left out), most repeated first: where the N+1 is."""
    shapes = Counter(re.sub(r"\b\d+\b", "?", query) for query in sql)
    return "\n".join(f"{times} x {shape[:300]}" for shape, times in shapes.most_common(5) if times > 1)


def _check(page: Page, alpha: Any, people: dict[str, Any]) -> None:
    small, big, sql = _measure(page, alpha, people)
    detail = _repeated(sql)
    assert big - small <= SLACK, (
        f"{page.path} as {page.persona}: {small} queries with {SMALL} rows of each kind, {big} with "
        f"{3 * SMALL} (N+1)\n{detail}"
    )


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.parametrize("page", PAGES, ids=[f"{p.path}-{p.persona}" for p in PAGES])
def test_list_page_query_count_is_bounded(page: Page, personas: dict[str, Any], alpha: Any):
    _check(page, alpha, personas)


@pytest.mark.parametrize("page", ADMIN_PAGES, ids=[p.path for p in ADMIN_PAGES])
def test_admin_changelist_query_count_is_bounded(page: Page, personas: dict[str, Any], alpha: Any):
    _check(page, alpha, personas)


def test_every_admin_changelist_is_filled(personas: dict[str, Any], alpha: Any):
    """The data set has rows for every model of the back-office, so that each changelist test lists some."""
    for i in range(SMALL):
        _unit(i, alpha, personas)
    empty = [model._meta.label for model in admin.site._registry if model._default_manager.count() < SMALL]
    assert not empty, f"changelists without {SMALL} rows in the data set: {empty}"
    from permanence.reporting.models import Rollup

    for scope in ("account", "secretary"):  # the reports list them
        keys = Rollup.objects.filter(scope=scope, grain="day").values("key").distinct()
        assert keys.count() >= SMALL, scope


# API lists that are not rows of a table, with the reason
NOT_ROWS = {"/api/v1/accounts/{slug}/slots": "free slots computed for one appointment type (tests/agenda)"}


def test_every_api_list_is_counted(db: Any):
    """Each GET of the API that answers a list (per its OpenAPI description) has a row in PAGES."""
    schema = Client().get("/api/v1/openapi.json").json()
    lists = {
        path.replace("{slug}", "{a}")
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if method == "get" and path not in NOT_ROWS
        and operation["responses"]["200"]["content"]["application/json"]["schema"].get("type") == "array"
    }
    counted = {page.path for page in PAGES if page.api}
    assert lists and lists <= counted, f"API lists without a query count test: {sorted(lists - counted)}"
