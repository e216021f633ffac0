"""The retention purge: each kind past its account's period is emptied of the caller's data (contacts are
deleted), the figures keep their counts, recordings and voicemails keep their own periods, legal holds
suspend it, one audit row per account and kind, idempotent and safe to run twice at once."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from factories import make_contact
from permanence.agenda.models import Appointment
from permanence.audit.models import AuditEvent
from permanence.calls import retention
from permanence.calls.models import Call, CallEvent
from permanence.contacts.models import Contact
from permanence.messaging.models import Delivery, DeliveryEvent, Message
from permanence.privacy import holds, purge
from permanence.privacy.models import RetentionPolicy
from permanence.reporting import rollups
from permanence.reporting.models import Rollup
from privacy_helpers import NOW, OLD, RECENT, answered_call, appointment_for, message_for, voicemail_for

CALLER = "+33612345678"
OTHER = "+33698765432"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def purges(kind: str, account: Any = None) -> list[AuditEvent]:
    rows = AuditEvent.objects.filter(object_type="privacy.purge", detail__kind=kind)
    return list(rows.filter(account=account) if account is not None else rows)


def test_calls_past_the_period_lose_the_callers_number_and_answers_not_their_events(alpha):
    old = answered_call(alpha, CALLER, OLD)
    recent = answered_call(alpha, CALLER, RECENT)
    events = list(CallEvent.objects.filter(call=old).values_list("seq", "kind", "at"))
    assert purge.purge_due(NOW) == 1
    old.refresh_from_db()
    assert old.caller == "" and old.purged_at == NOW
    assert old.state == "done" and old.outcome == recent.outcome and old.answered_at is not None
    assert list(CallEvent.objects.filter(call=old).values_list("seq", "kind", "at")) == events
    old.run.refresh_from_db()
    assert old.run.state == {"version": "x", "step": "end", "path": ["welcome", "name", "end"],
                             "outcome": "message", "purged": True}  # fmt: skip
    recent.refresh_from_db()
    assert recent.caller == CALLER and recent.purged_at is None and recent.run.state["answers"]
    (audit,) = purges("calls", alpha)
    assert audit.action == "delete" and audit.actor is None
    assert audit.detail["count"] == 1 and audit.detail["months"] == 12


def test_a_call_not_yet_counted_in_the_figures_waits_for_the_rollups(alpha):
    call = answered_call(alpha, CALLER, OLD, rolled_up=False)
    assert purge.purge_due(NOW) == 0
    rollups.sweep()
    assert purge.purge_due(NOW) == 1
    assert Call.objects.get(pk=call.pk).caller == ""


def test_messages_past_the_period_lose_subject_text_fields_recipients_and_addresses(alpha):
    call = answered_call(alpha, CALLER, OLD)
    message = message_for(call, OLD)
    sending = message_for(call, OLD, status=Delivery.Status.FAILED)  # still to be retried: left alone
    recent = message_for(answered_call(alpha, OTHER, RECENT), RECENT)
    purge.purge_account(alpha.pk, "messages", NOW)
    message.refresh_from_db()
    assert (message.subject, message.body, message.fields, message.recipients, message.reply_to) == (
        "", "", {}, [], "")
    assert message.purged_at == NOW and message.status == "sent" and message.author is not None
    assert list(Delivery.objects.filter(message=message).values_list("address", "status")) == [("", "sent")]
    events = DeliveryEvent.objects.filter(delivery__message=message)
    assert list(events.values_list("detail", flat=True)) == [""]
    for kept in (sending, recent):
        kept.refresh_from_db()
        assert kept.purged_at is None and kept.body
    assert purges("messages", alpha)[0].detail["count"] == 1


def test_appointments_past_the_period_lose_the_callers_details(alpha):
    old = appointment_for(alpha, OLD, phone=CALLER, email="jean@example.org")
    coming = appointment_for(alpha, NOW + timedelta(days=3), phone=CALLER)
    purge.purge_due(NOW)
    old.refresh_from_db()
    assert (old.caller_name, old.caller_phone, old.caller_email, old.notes) == ("", "", "", "")
    assert old.answers == {}
    assert old.purged_at == NOW and old.status == "booked" and old.sequence == 1  # a synced calendar follows
    coming.refresh_from_db()
    assert coming.caller_name and coming.purged_at is None
    assert purges("appointments", alpha)[0].detail["count"] == 1


def test_contacts_not_seen_for_the_period_are_deleted(alpha):
    RetentionPolicy.objects.create(account=alpha, contacts_months=24)
    forgotten = make_contact(alpha, ("+33611000001",), last_name="Oublié")
    called = make_contact(alpha, ("+33611000002",), last_name="Rappelle")
    edited = make_contact(alpha, ("+33611000003",), last_name="Modifié")
    long_ago = NOW - timedelta(days=800)
    Contact.objects.filter(pk__in=[forgotten.pk, called.pk]).update(updated_at=long_ago)
    Contact.objects.filter(pk=edited.pk).update(updated_at=NOW - timedelta(days=100))
    answered_call(alpha, "+33611000002", NOW - timedelta(days=100))
    Contact.objects.filter(account=alpha).exclude(pk__in=[forgotten.pk, called.pk, edited.pk]).update(
        updated_at=NOW)  # the fixture's own contact: edited now
    purge.purge_due(NOW)
    assert not Contact.objects.filter(pk=forgotten.pk).exists()
    assert Contact.objects.filter(pk__in=[called.pk, edited.pk]).count() == 2
    (audit,) = purges("contacts", alpha)
    assert audit.detail["count"] == 1 and audit.detail["months"] == 24
    assert audit.detail["before"].startswith("2025-12-15")


def test_each_account_has_its_own_periods_and_the_default_comes_from_the_settings(alpha, beta, settings):
    settings.PRIVACY_RETENTION_CALLS_MONTHS = 18
    seven_months = NOW - timedelta(days=215)
    mine, theirs = answered_call(alpha, CALLER, seven_months), answered_call(beta, CALLER, seven_months)
    old_theirs = answered_call(beta, OTHER, NOW - timedelta(days=600))
    RetentionPolicy.objects.create(account=alpha, calls_months=6)
    purge.purge_due(NOW)
    assert Call.objects.get(pk=mine.pk).caller == ""
    assert Call.objects.get(pk=theirs.pk).caller == CALLER  # Beta: 18 months by default
    assert Call.objects.get(pk=old_theirs.pk).caller == ""
    assert [a.detail["months"] for a in purges("calls", beta)] == [18]


def test_recordings_and_voicemails_still_go_by_their_own_setting(alpha):
    alpha.voicemail_retention_days = 3650
    alpha.save()
    call = answered_call(alpha, CALLER, OLD)
    voicemail = voicemail_for(call, OLD)
    name = voicemail.audio.name
    assert purge.purge_due(NOW) >= 1
    voicemail.refresh_from_db()
    assert voicemail.caller == "" and voicemail.audio.name == name and voicemail.purged_at is None
    assert voicemail.audio.storage.exists(name)  # the call's purge leaves the recording to its own period
    assert retention.purge_voicemails(NOW) == 0
    alpha.voicemail_retention_days = 30
    alpha.save()
    assert retention.purge_voicemails(NOW) == 1
    assert not voicemail.audio.storage.exists(name)


def test_a_legal_hold_on_the_account_suspends_every_purge(alpha, beta, personas):
    alpha.voicemail_retention_days = 30
    alpha.save()
    call = answered_call(alpha, CALLER, OLD)
    message_for(call, OLD)
    voicemail = voicemail_for(call, OLD)
    appointment_for(alpha, OLD, phone=CALLER)
    other = answered_call(beta, CALLER, OLD)
    hold = holds.place(alpha, whole_account=True, reason="Contentieux prud'homal", actor=personas["admin"])
    assert purge.purge_due(NOW) == 1  # Beta's call only
    assert retention.purge_voicemails(NOW) == 0
    assert Call.objects.get(pk=call.pk).caller == CALLER and Call.objects.get(pk=other.pk).caller == ""
    assert purges("calls", alpha) == []
    holds.lift(hold, actor=personas["admin"])
    assert purge.purge_due(NOW) == 3 and retention.purge_voicemails(NOW) == 1
    voicemail.refresh_from_db()
    assert voicemail.purged_at is not None
    assert AuditEvent.objects.filter(object_type="privacy.legalhold", object_id=str(hold.pk)).count() == 2


def test_a_legal_hold_on_a_caller_keeps_what_concerns_them_only(alpha, personas):
    contact = make_contact(alpha, (CALLER,), last_name="Plaignant", email="plaignant@example.org")
    Contact.objects.filter(pk=contact.pk).update(updated_at=NOW - timedelta(days=2000))
    held_call, free_call = answered_call(alpha, CALLER, OLD), answered_call(alpha, OTHER, OLD)
    held_message = message_for(held_call, OLD)
    mention = message_for(free_call, OLD, text="A propos de plaignant@example.org, rappeler.")
    held_appointment = appointment_for(alpha, OLD, email="Plaignant@Example.org")
    free_appointment = appointment_for(alpha, OLD + timedelta(hours=2), phone=OTHER)
    hold = holds.place(alpha, whole_account=False, contact=str(contact.pk), reason="Plainte",
                       actor=personas["client_admin"])  # fmt: skip
    purge.purge_due(NOW)
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert Call.objects.get(pk=held_call.pk).caller == CALLER
    assert Call.objects.get(pk=free_call.pk).caller == ""
    assert Message.objects.get(pk=held_message.pk).purged_at is None
    assert Message.objects.get(pk=mention.pk).purged_at is None  # mentions the contact's e-mail
    assert Appointment.objects.get(pk=held_appointment.pk).purged_at is None
    assert Appointment.objects.get(pk=free_appointment.pk).purged_at is not None
    holds.lift(hold, actor=personas["client_admin"])
    purge.purge_due(NOW)
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert Call.objects.get(pk=held_call.pk).caller == ""


def test_the_figures_keep_their_counts(alpha, beta, personas):
    from permanence.reporting import kpis
    from reporting_helpers import make_calls

    calls = make_calls(alpha, beta, personas, count=40)
    for call in calls[:10]:
        message_for(call, call.arrived_at or OLD)
    rollups.sweep()
    rollups.sweep_messages()
    before = {(r.grain, r.scope, r.key, r.start): (r.figures, r.calls) for r in Rollup.objects.all()}
    series = rollups.read("account", alpha.pk, "day", OLD - timedelta(days=400), NOW, alpha.tz)
    total_before = kpis.merge(series.values())
    assert purge.purge_due(NOW + timedelta(days=800)) > 40
    assert not Call.objects.filter(training=False, state__in=rollups.OVER).exclude(caller="").exists()
    assert not Message.objects.filter(purged_at__isnull=True).exists()
    after = {(r.grain, r.scope, r.key, r.start): (r.figures, r.calls) for r in Rollup.objects.all()}
    assert after == before
    series = rollups.read("account", alpha.pk, "day", OLD - timedelta(days=400), NOW, alpha.tz)
    assert kpis.merge(series.values()) == total_before
    # what counts the calls is still there: a new sweep adds nothing, the events are whole
    assert rollups.sweep() == 0 and rollups.sweep_messages() == 0
    assert CallEvent.objects.filter(call__in=[c.pk for c in calls]).count() > 4 * 30


def test_bounded_batches_idempotent_one_audit_row_per_account_and_kind(alpha, beta):
    for day in range(5):
        answered_call(alpha, CALLER, OLD - timedelta(days=day))
    answered_call(beta, OTHER, OLD)
    assert purge.purge_due(NOW, limit=2) == 2  # the oldest of Alpha first; Beta's at the next turn
    assert [a.detail["count"] for a in purges("calls")] == [2]
    assert purge.purge_due(NOW, limit=2) == 2
    assert purge.purge_due(NOW, limit=2) == 2  # Alpha's last, Beta's one
    assert sorted((a.account_id, a.detail["count"]) for a in purges("calls")) == sorted(
        [(alpha.pk, 2), (alpha.pk, 2), (alpha.pk, 1), (beta.pk, 1)])
    assert purge.purge_due(NOW) == 0
    assert len(purges("calls")) == 4  # nothing more to do: no audit row


@pytest.mark.django_db(transaction=True)
def test_two_purges_at_once_empty_each_row_once(alpha):
    if connection.vendor != "postgresql":
        pytest.skip("row locks skipped by the other run: PostgreSQL's; CI runs this test there")
    from django.db import connections

    calls = [answered_call(alpha, f"+336120000{i:02d}", OLD - timedelta(hours=i)) for i in range(30)]
    for call in calls:
        message_for(call, OLD)
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(purge.purge_due(NOW, limit=10))
            results.append(purge.purge_due(NOW, limit=10))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            results.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 60  # 30 calls and 30 messages, each once
    assert not Call.objects.exclude(caller="").exists()
    for kind in ("calls", "messages"):
        assert sum(a.detail["count"] for a in purges(kind)) == 30
