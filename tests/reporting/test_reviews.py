"""Supervisors review a sample of calls with the scorecard: the call as it went, the grid, a comment;
the secretary sees it at her desk and the scores appear per secretary in the figures. The client's
report shows its flagged messages and error rate."""

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from django.utils import timezone

from permanence.audit.models import AuditEvent
from permanence.calls import services
from permanence.calls.lifecycle import Kind
from permanence.calls.models import Call
from permanence.messaging import outbox, quality
from permanence.reporting import reviews, rollups
from permanence.reporting.models import CallReview

GOOD = {"greeting": "2", "identification": "2", "scenario": "1", "message": "2", "courtesy": "2"}


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def answered(account, secretary, minutes_ago, subject=None):
    at = timezone.now() - timedelta(minutes=minutes_ago)
    call = services.call_arrived("01 45 00 00 01", "0611111111", account=account, at=at)
    services.record(call, Kind.OFFERED, at=at, secretary=secretary)
    services.record(call, Kind.ANSWERED, at=at + timedelta(seconds=5), secretary=secretary)
    services.record(call, Kind.ENDED, at=at + timedelta(seconds=95))
    services.record(call, Kind.WRAPPED_UP, at=at + timedelta(seconds=120))
    if subject:
        with transaction.atomic():
            outbox.queue_message(account, subject=subject, body="Rappeler M. Durand au 06 11 11 11 11.",
                                 recipients=["a@alpha.example"], author=secretary, call=call)
    return Call.objects.get(pk=call.pk)


def test_the_sample_takes_a_few_calls_of_each_secretary_not_yet_reviewed(personas, alpha, beta):
    mine = [answered(alpha, personas["secretary"], 10 + i) for i in range(6)]
    theirs = [answered(beta, personas["secretary_beta"], 10 + i) for i in range(2)]
    start, end = timezone.now() - timedelta(days=1), timezone.now()
    picked = reviews.sample(personas["assistant"], start, end, per_secretary=3, seed="2026-W50")
    assert sum(c.secretary == personas["secretary"] for c in picked) == 3
    assert {c.pk for c in picked if c.secretary == personas["secretary_beta"]} == {c.pk for c in theirs}
    assert picked == reviews.sample(personas["admin"], start, end, per_secretary=3, seed="2026-W50")
    reviews.review(picked[0], GOOD, reviewer=personas["assistant"])
    again = reviews.sample(personas["assistant"], start, end, per_secretary=3, seed="2026-W50")
    assert picked[0] not in again and len(again) == 5  # the reviewed call leaves, another takes its place
    assert {c.pk for c in again} <= {c.pk for c in mine + theirs}


def test_a_review_from_the_page_reaches_the_secretary_and_the_figures(personas, alpha):
    call = answered(alpha, personas["secretary"], 30, subject="Appel de M. Durand")
    page = signed_in(personas["assistant"])
    shown = page.get(f"/reports/reviews/{call.pk}/").content.decode()
    assert "Appel de M. Durand" in shown and 'data-testid="criterion-message"' in shown
    response = page.post(f"/reports/reviews/{call.pk}/",
                         {**GOOD, "comment": "Bien, mais suivez le scénario."})
    assert response.status_code == 302
    row = CallReview.objects.get(call=call)
    assert row.secretary == personas["secretary"] and row.score == pytest.approx(100 * 12 / 14)
    audit = AuditEvent.objects.get(object_type="reporting.callreview")
    assert audit.action == "create" and audit.account_id == alpha.pk
    assert audit.detail["after"]["score"] == row.score
    desk = signed_in(personas["secretary"]).get("/desk/").content.decode()
    assert 'data-testid="my-reviews"' in desk and "suivez le scénario" in desk and "86 %" in desk
    rollups.sweep()
    since = timezone.localdate(call.answered_at).isoformat()  # yesterday when run just after midnight
    figures = page.get("/reports/", {"from": since, "to": timezone.localdate().isoformat()}).content.decode()
    row_html = figures.split(f'data-testid="secretary-{personas["secretary"].pk}"')[1].split("</tr>")[0]
    assert "86 %" in row_html and "(1)" in row_html
    listing = page.get("/reports/reviews/").content.decode()
    assert f'data-testid="done-{call.pk}"' in listing


def test_a_missed_message_fails_the_call_and_a_second_review_replaces_the_first(personas, alpha):
    call = answered(alpha, personas["secretary"], 30)
    reviews.review(call, GOOD, reviewer=personas["assistant"])
    reviews.review(call, {**GOOD, "message": "0"}, "Le numéro était faux.", reviewer=personas["admin"])
    row = CallReview.objects.get(call=call)
    assert row.failed and row.score == 0.0 and row.reviewer == personas["admin"]
    rows = AuditEvent.objects.filter(object_type="reporting.callreview").order_by("pk")
    assert [e.action for e in rows] == ["create", "update"]
    start, end = timezone.now() - timedelta(days=1), timezone.now()
    summary = reviews.scores(start, end)[personas["secretary"].pk]
    assert (summary.reviews, summary.mean, summary.failed) == (1, 0.0, 1)


@pytest.mark.parametrize("ratings", [{"greeting": "3"}, {"smile": "2"}, {}, {"greeting": "bien"}])
def test_what_is_not_a_rating_is_refused_on_the_page(personas, alpha, ratings):
    call = answered(alpha, personas["secretary"], 30)
    response = signed_in(personas["assistant"]).post(f"/reports/reviews/{call.pk}/", ratings)
    assert response.status_code == 422
    assert 'data-testid="error"' in response.content.decode() and not CallReview.objects.exists()


def test_only_real_answered_calls_of_others_are_reviewed(personas, alpha):
    training = services.call_arrived("01 45 00 00 01", None, account=alpha, training=True)
    with pytest.raises(ValidationError):
        reviews.review(training, GOOD, reviewer=personas["assistant"])
    call = answered(alpha, personas["secretary"], 30)
    with pytest.raises(ValidationError):
        reviews.review(call, GOOD, reviewer=personas["secretary"])
    assert signed_in(personas["client_admin"]).get(f"/reports/reviews/{call.pk}/").status_code == 403
    assert signed_in(personas["secretary"]).get("/reports/reviews/").status_code == 403


def test_the_clients_report_shows_its_flagged_messages_and_error_rate(personas, alpha):
    call = answered(alpha, personas["secretary"], 30, subject="Appel de M. Durant")
    answered(alpha, personas["secretary"], 20, subject="Appel de Mme Petit")
    quality.flag(call.messages.get(), "misspelt", "C'est Durand", actor=personas["client_user"])
    since, today = timezone.localdate(call.answered_at).isoformat(), timezone.localdate().isoformat()
    page = signed_in(personas["client_user"]).get("/a/alpha/reports/", {"from": since, "to": today})
    text = page.content.decode()
    assert 'data-testid="quality"' in text and "1 sur 2" in text and "(50 %)" in text
    assert "Appel de M. Durant" in text and "C&#x27;est Durand" in text


REVIEWED = """
language: permanence/1
title: Médical
start: take
fields:
  name: {type: text, label: Nom}
  reason: {type: long_text, label: Motif médical, sensitive: true}
  detail: {type: text, label: Précisions}
steps:
  take:
    ask: [name, reason, detail]
    next: bye
  bye:
    end: information
"""
REASON, DETAIL = "Douleurs thoraciques depuis hier soir", "Suivi cardiologique"


def test_sensitive_answers_are_shown_only_to_supervisors_who_may_read_them(personas, alpha):
    """A technical assistant supervises without reading sensitive fields: masked; the operator admin reads
    them, and each time is one audit row (the field names, never the values)."""
    from permanence.scenarios.models import Run, Scenario, ScenarioVersion

    alpha.sensitive_fields = "detail"
    alpha.save()
    call = answered(alpha, personas["secretary"], 30)
    scenario = Scenario.objects.create(account=alpha, name="Médical")
    version = ScenarioVersion.objects.create(scenario=scenario, number=1, status="published", source=REVIEWED,
                                             digest="x")
    run = Run.objects.create(version=version, agent=personas["secretary"], state={
        "path": ["take", "bye"], "answers": {"name": "Jean Dupont", "reason": REASON, "detail": DETAIL}})
    Call.objects.filter(pk=call.pk).update(run=run)

    def reads():
        return AuditEvent.objects.filter(object_type="calls.call", object_id=str(call.pk),
                                         detail__what="sensitive fields")

    shown = signed_in(personas["assistant"]).get(f"/reports/reviews/{call.pk}/").content.decode()
    assert "Jean Dupont" in shown
    assert REASON not in shown and DETAIL not in shown
    assert 'data-testid="masked-reason"' in shown and 'data-testid="masked-detail"' in shown
    assert not reads().exists()
    shown = signed_in(personas["admin"]).get(f"/reports/reviews/{call.pk}/").content.decode()
    assert REASON in shown and DETAIL in shown and 'data-testid="masked-' not in shown
    [row] = reads()
    assert row.action == "view" and row.actor_name == "admin" and row.account_id == alpha.pk
    assert row.detail["fields"] == ["detail", "reason"]
    assert REASON not in json.dumps(row.detail, ensure_ascii=False)
