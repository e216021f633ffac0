"""Guesses at the identity check are limited per caller, not only per call: each failed check is an audit
row about the contact (no value), a contact with five failed checks within 24 hours is not checked any
more (the step answers "not verified" at once, without comparing, and the secretary is told why), and an
attempt is applied under the run's row lock (two posts at once never both count)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db.models.query import QuerySet
from django.test import Client
from django.utils import timezone

from factories import make_contact
from permanence.audit.models import AuditEvent
from permanence.calls import identity_limits
from permanence.calls import services as call_services
from permanence.calls.lifecycle import Kind
from permanence.calls.models import Call
from permanence.desk import views as desk_views
from permanence.scenarios.engine.identity import Verifier
from permanence.scenarios.models import Run
from scenario_helpers import put_in_service

SCENARIO = """
language: permanence/1
title: Cabinet médical Alpha
start: welcome
fields:
  name: {type: text, label: Nom, prefill: caller.name}
steps:
  welcome:
    say: "Cabinet Alpha, bonjour."
    next:
      - {if: caller.known, goto: check}
      - else: take
  check:
    verify: identity
    say: "Pour vérifier votre identité : votre nom et l'adresse e-mail de votre dossier ?"
    next: take
  take:
    ask: [name]
    next: message
  message:
    message: [account]
"""
STORED_EMAIL = "claire.garnier@garnier-conseil.fr"
WRONG = {"identity_last_name": "Dupontel", "identity_email": "c.dupontel@exemple.org"}
RIGHT = {"identity_last_name": "Garnier", "identity_email": STORED_EMAIL}


@pytest.fixture
def claire(personas, alpha):
    alpha.identity_fields = "last_name, email"
    alpha.save()
    contact = make_contact(alpha, ("+33622334455",), first_name="Claire", last_name="Garnier",
                           email=STORED_EMAIL)
    put_in_service(alpha, "Médical", SCENARIO, personas["admin"])
    return contact


def at_the_check(personas, alpha):
    """A call of Claire answered by the secretary, its run at the identity check."""
    secretary = personas["secretary"]
    call = call_services.call_arrived("01 45 00 00 01", "06 22 33 44 55", account=alpha)
    call_services.record(call, Kind.OFFERED, secretary=secretary)
    call_services.record(call, Kind.ANSWERED, secretary=secretary)
    desk = Client()
    desk.force_login(secretary)
    url = f"/desk/calls/{call.pk}/"
    desk.post(url, {})  # the greeting
    return call, desk, url


def state(call):
    return Run.objects.get(pk=Call.objects.get(pk=call.pk).run_id).state


def failed_rows(contact):
    return AuditEvent.objects.filter(object_type="contacts.contact", object_id=str(contact.pk),
                                     detail__what="identity check failed")


@pytest.fixture
def never_compared(monkeypatch):
    def refuse(self, answers):
        raise AssertionError("the answers were compared")

    monkeypatch.setattr(Verifier, "matches", refuse)


def test_each_failed_check_is_an_audit_row_about_the_contact_without_values(personas, alpha, claire):
    call, desk, url = at_the_check(personas, alpha)
    assert state(call)["step"] == "check"
    desk.post(url, WRONG)
    desk.post(url, WRONG)
    rows = list(failed_rows(claire))
    assert len(rows) == 2
    assert all(r.action == "identify" and r.account_id == alpha.pk and r.actor_name == "secretary"
               and r.detail["call"] == call.pk for r in rows)
    text = json.dumps([[r.detail, r.object_repr] for r in rows], ensure_ascii=False)
    assert all(value not in text for value in (*WRONG.values(), STORED_EMAIL))
    desk.post(url, RIGHT)  # a check that passes is no failure
    assert state(call)["identity"] == {"checked": True, "verified": True, "attempts": 3}
    assert failed_rows(claire).count() == 2


def test_a_caller_calling_back_gets_no_fresh_attempts_after_five_failures(personas, alpha, claire,
                                                                          monkeypatch):
    first, desk, url = at_the_check(personas, alpha)
    for _ in range(3):
        desk.post(url, WRONG)
    assert state(first)["identity"] == {"checked": True, "verified": False, "attempts": 3}
    second, desk, url = at_the_check(personas, alpha)
    desk.post(url, WRONG)
    assert state(second)["step"] == "check"
    response = desk.post(url, WRONG, follow=True)  # the fifth failure: not checked any more, at once
    assert state(second)["step"] == "take"
    assert state(second)["identity"] == {"checked": True, "verified": False, "attempts": 2}
    said = [str(m) for m in response.context["messages"]]
    assert said == [identity_limits.refusal(claire)] and "5" in said[0]
    assert failed_rows(claire).count() == 5

    def refuse(self, answers):
        raise AssertionError("the answers were compared")

    monkeypatch.setattr(Verifier, "matches", refuse)
    third, desk, url = at_the_check(personas, alpha)  # the check is passed, not verified, at once
    assert state(third)["step"] == "take"
    assert state(third)["identity"] == {"checked": True, "verified": False, "attempts": 0}
    assert failed_rows(claire).count() == 5
    page = desk.get(url).content.decode()
    assert "Identité : non vérifiée" in page
    # a day later, the caller may be checked again
    later = timezone.now() + identity_limits.WINDOW + timedelta(minutes=1)
    assert identity_limits.failures(claire, later) == 0 and identity_limits.refusal(claire, later) == ""


def test_at_the_check_the_page_says_why_and_nothing_is_compared(personas, alpha, claire, never_compared):
    call, desk, url = at_the_check(personas, alpha)
    assert state(call)["step"] == "check"
    for _ in range(identity_limits.LIMIT):  # failed meanwhile, on other calls
        identity_limits.record_failure(personas["secretary"], claire, call)
    page = desk.get(url).content.decode()
    assert 'data-testid="identity-refused"' in page
    assert 'name="identity_last_name"' not in page and 'data-testid="identity-give-up"' in page
    response = desk.post(url, RIGHT, follow=True)  # right answers, but the check is not made: not verified
    assert [str(m) for m in response.context["messages"]] == [identity_limits.refusal(claire)]
    assert state(call)["step"] == "take"
    assert state(call)["identity"] == {"checked": True, "verified": False, "attempts": 0}
    assert failed_rows(claire).count() == identity_limits.LIMIT


def test_an_attempt_is_applied_under_the_runs_row_lock(personas, alpha, claire, monkeypatch):
    locked = []
    real = QuerySet.select_for_update

    def spy(self, *args, **kwargs):
        locked.append(self.model)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "select_for_update", spy)
    call, desk, url = at_the_check(personas, alpha)
    locked.clear()
    desk.post(url, WRONG)
    assert Run in locked
    assert state(call)["identity"]["attempts"] == 1


def test_a_post_whose_run_changed_meanwhile_makes_no_attempt(personas, alpha, claire, monkeypatch):
    """Two posts at once: the second read the run before the first stored its attempt. Under the lock it
    sees the run changed and applies nothing (it would have compared again on the stale attempts)."""
    call, desk, url = at_the_check(personas, alpha)
    real = desk_views._run

    def racing(call, user):
        engine, stored, env = real(call, user)
        if stored is not None:  # the other post stores its failed attempt meanwhile
            other = Run.objects.get(pk=stored.pk)
            other.state = {**other.state, "inputs": [*other.state["inputs"], ["check", {"result": "failed"}]]}
            other.save()
        return engine, stored, env

    monkeypatch.setattr(desk_views, "_run", racing)
    assert desk.post(url, RIGHT).status_code == 302
    monkeypatch.undo()
    after = state(call)
    assert after["inputs"][-1] == ["check", {"result": "failed"}]  # the other's attempt, not overwritten
    assert [i for i in after["inputs"] if i[0] == "check"] == [["check", {"result": "failed"}]]
    page = desk.get(url).content.decode()
    assert 'data-testid="identity-failed"' in page and 'name="identity_last_name"' in page  # two left
