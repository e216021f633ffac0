"""The client writes its directory: people (details, service, transfer rules) added, changed or leaving,
now or at a chosen time; services made, renamed, removed. Every write is validated, audited, and
refused with the list of uses when it would break a scenario, a rota or an escalation."""

from datetime import date, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from permanence.audit.models import AuditEvent
from permanence.directory import actions, people, rules
from permanence.directory.models import ChangeStatus, Collaborator, DirectoryChange, Service
from permanence.messaging.models import EscalationPolicy
from permanence.scenarios.models import Scenario, ScenarioVersion

PARIS = timezone.get_default_timezone()
NAMING_ANNE = """\
language: permanence/1
title: Accueil
start: pass
steps:
  pass:
    transfer: anne-alphonse
    on: {other: end}
  end: {end: done}
"""


def errors_of(excinfo):
    """The refusal's messages by field, each field's as one text."""
    if hasattr(excinfo.value, "error_dict"):
        return {field: " ".join(texts) for field, texts in excinfo.value.message_dict.items()}
    return {"general": " ".join(excinfo.value.messages)}


@pytest.fixture
def anne(alpha):
    return Collaborator.objects.get(account=alpha)


def test_a_new_person_with_transfer_rules_is_checked_saved_and_audited(alpha):
    compta = people.save_service(alpha, "Comptabilité")
    person = people.save_collaborator(alpha, {
        "first_name": "Chloé", "last_name": "Martin", "title": "Dr", "service": compta.pk,
        "direct_line": "01 45 00 00 13", "transfer_mode": "conditional",
        "caller_types": ["client", "colleague"],
        "transfer_urgent_bypass": True, "windows": {"0": "9h-12h, 14h-18h", "4": "09:00-12:00"},
    })
    assert person.direct_line == "+33145000013" and person.service == compta
    rule = person.transfer_rule()
    assert rule.caller_types == frozenset({"client", "colleague"}) and rule.urgent_bypass
    assert [(w.weekday, w.start, w.end) for w in rule.windows] == [
        (0, time(9), time(12)), (0, time(14), time(18)), (4, time(9), time(12))]
    monday_10 = datetime(2026, 12, 7, 10, 0, tzinfo=PARIS)
    decision = person.decide_transfer(at=monday_10, caller_type="client")
    assert decision.verdict is rules.Verdict.PUT_THROUGH
    assert person.decide_transfer(at=monday_10 + timedelta(hours=3), caller_type="client").verdict \
        is not rules.Verdict.PUT_THROUGH
    [created] = AuditEvent.objects.filter(object_type="directory.collaborator", object_id=str(person.pk))
    assert created.action == "create"
    assert created.detail["after"]["windows"]["0"] == "09:00-12:00, 14:00-18:00"


@pytest.mark.parametrize(("data", "field"), [
    ({"last_name": ""}, "last_name"),
    ({"direct_line": "not a number"}, "direct_line"),
    ({"email": "nobody@"}, "email"),
    ({"caller_types": ["client", "martians"]}, "caller_types"),
    ({"windows": {"2": "18h-9h"}}, "windows_2"),
    ({"windows": {"9": "9h-12h"}}, "windows"),
    ({"transfer_mode": "sometimes"}, "transfer_mode"),
    ({"service": 999999}, "service"),
])
def test_bad_details_are_refused_by_field_and_nothing_is_written(alpha, anne, data, field):
    before = people.snapshot(anne)
    with pytest.raises(ValidationError) as refused:
        people.save_collaborator(alpha, data, anne)
    assert field in errors_of(refused)
    anne.refresh_from_db()
    assert people.snapshot(anne) == before
    assert not AuditEvent.objects.filter(object_type="directory.collaborator").exists()


def test_a_service_of_another_account_is_refused(alpha, beta, anne):
    theirs = Service.objects.create(account=beta, name="Dépannage")
    with pytest.raises(ValidationError) as refused:
        people.save_collaborator(alpha, {"service": theirs.pk}, anne)
    assert "service" in errors_of(refused)


def test_a_change_audits_only_what_changed(alpha, anne):
    people.save_collaborator(alpha, {"mobile": "06 12 34 56 78", "job_title": "Associée"}, anne)
    [row] = AuditEvent.objects.filter(object_type="directory.collaborator", action="update")
    assert row.detail["before"] == {"job_title": "", "mobile": ""}
    assert row.detail["after"] == {"job_title": "Associée", "mobile": "+33612345678"}
    people.save_collaborator(alpha, {"job_title": "Associée"}, anne)  # nothing changes: no row
    assert AuditEvent.objects.filter(object_type="directory.collaborator").count() == 1


def test_renaming_a_person_a_scenario_names_is_refused_with_the_scenario(alpha, anne):
    scenario = Scenario.objects.create(account=alpha, name="Accueil", entry="accueil")
    ScenarioVersion.objects.create(scenario=scenario, number=1, source=NAMING_ANNE, status="published")
    with pytest.raises(ValidationError) as refused:
        people.save_collaborator(alpha, {"last_name": "Alphonse-Martin"}, anne)
    assert "Accueil" in errors_of(refused)["last_name"]
    people.save_collaborator(alpha, {"title": "Dr", "last_name": "ALPHONSE"}, anne)  # same name in scenarios
    anne.refresh_from_db()
    assert anne.last_name == "ALPHONSE"


def test_leaving_is_refused_while_in_use_then_allowed(alpha, anne):
    urgences = people.save_service(alpha, "Urgences")
    rota = actions.save_rota(urgences, members=[anne], covers=["always"], first_day=date(2026, 10, 19))
    with pytest.raises(ValidationError) as refused:
        people.leave(anne)
    assert "Urgences" in " ".join(refused.value.messages)
    assert Collaborator.objects.get(pk=anne.pk).is_active
    rota.delete()
    people.leave(anne)
    assert not Collaborator.objects.get(pk=anne.pk).is_active
    with pytest.raises(ValidationError):
        people.leave(anne)
    people.rejoin(anne)
    assert Collaborator.objects.get(pk=anne.pk).is_active
    assert [e.detail["after"] for e in AuditEvent.objects.filter(
        object_type="directory.collaborator").order_by("pk")] == [{"is_active": False}, {"is_active": True}]


def test_a_planned_change_keeps_only_the_differences_and_applies_when_due(alpha, anne):
    now = timezone.now()
    later = now + timedelta(days=3)
    change = people.plan_change(alpha, "change", later, {
        **people.snapshot(anne), "mobile": "0612345678", "transfer_mode": "never"}, anne, now=now)
    assert change.data == {"mobile": "+33612345678", "transfer_mode": "never"}
    # another planned change of other fields composes with it
    people.plan_change(alpha, "change", later + timedelta(hours=1), {"job_title": "Associée"}, anne, now=now)
    assert people.apply_due(now + timedelta(days=1)) == 0
    assert Collaborator.objects.get(pk=anne.pk).transfer_mode == "always"
    assert people.apply_due(later + timedelta(hours=2)) == 2
    anne.refresh_from_db()
    assert (anne.mobile, anne.transfer_mode, anne.job_title) == ("+33612345678", "never", "Associée")
    assert set(DirectoryChange.objects.values_list("status", flat=True)) == {ChangeStatus.APPLIED}
    applied = AuditEvent.objects.filter(object_type="directory.collaborator", action="update")
    assert {e.actor_name for e in applied} == {"system"}
    assert change.pk in {e.detail["planned_change"] for e in applied}
    assert people.apply_due(later + timedelta(hours=3)) == 0  # once only


def test_a_planned_arrival_makes_the_person_when_due(alpha):
    now = timezone.now()
    change = people.plan_change(alpha, "add", now + timedelta(hours=2),
                                {"first_name": "Denis", "last_name": "Nouveau"}, now=now)
    assert not Collaborator.objects.filter(last_name="Nouveau").exists()
    assert people.apply_due(now + timedelta(hours=3)) == 1
    change.refresh_from_db()
    assert change.collaborator.last_name == "Nouveau" and change.collaborator.account == alpha


def test_a_planned_change_that_no_longer_holds_is_refused_with_its_reason(alpha, anne):
    now = timezone.now()
    compta = people.save_service(alpha, "Comptabilité")
    change = people.plan_change(alpha, "change", now + timedelta(hours=1), {"service": compta.pk}, anne,
                                now=now)
    departure = people.plan_change(alpha, "leave", now + timedelta(hours=1), person=anne, now=now)
    compta.delete()  # removed meanwhile (bypassing the action, as a concurrent admin could)
    urgences = people.save_service(alpha, "Urgences")
    actions.save_rota(urgences, members=[anne], covers=["always"], first_day=date(2026, 10, 19))
    assert people.apply_due(now + timedelta(hours=2)) == 0
    change.refresh_from_db()
    departure.refresh_from_db()
    assert change.status == ChangeStatus.REFUSED and change.outcome
    assert departure.status == ChangeStatus.REFUSED and "Urgences" in departure.outcome
    assert Collaborator.objects.get(pk=anne.pk).is_active


@pytest.mark.parametrize("offset", [timedelta(minutes=-1), timedelta(0), timedelta(days=400)])
def test_a_change_is_planned_in_the_future_within_a_year(alpha, anne, offset):
    now = timezone.now()
    with pytest.raises(ValidationError) as refused:
        people.plan_change(alpha, "change", now + offset, {"job_title": "X"}, anne, now=now)
    assert "effective_at" in errors_of(refused)
    assert not DirectoryChange.objects.exists()


def test_a_planned_change_that_changes_nothing_or_is_wrong_is_refused_at_once(alpha, anne):
    now = timezone.now()
    with pytest.raises(ValidationError):
        people.plan_change(alpha, "change", now + timedelta(hours=1), {"job_title": ""}, anne, now=now)
    with pytest.raises(ValidationError) as refused:
        people.plan_change(alpha, "change", now + timedelta(hours=1), {"mobile": "nope"}, anne, now=now)
    assert "mobile" in errors_of(refused)
    assert not DirectoryChange.objects.exists()


def test_a_cancelled_change_is_never_applied_and_a_departure_cancels_what_was_planned(alpha, anne):
    now = timezone.now()
    change = people.plan_change(alpha, "change", now + timedelta(hours=1), {"job_title": "X"}, anne, now=now)
    people.cancel_change(change)
    with pytest.raises(ValidationError):
        people.cancel_change(change)
    other = people.plan_change(alpha, "change", now + timedelta(hours=1), {"job_title": "Y"}, anne, now=now)
    people.leave(anne)
    other.refresh_from_db()
    assert other.status == ChangeStatus.CANCELLED
    assert people.apply_due(now + timedelta(hours=2)) == 0
    assert Collaborator.objects.get(pk=anne.pk).job_title == ""


def test_services_are_named_once_and_a_name_in_use_is_kept(alpha, anne):
    urgences = people.save_service(alpha, "Urgences")
    with pytest.raises(ValidationError) as refused:
        people.save_service(alpha, "  urgences ")
    assert "name" in errors_of(refused)
    EscalationPolicy.objects.create(account=alpha, steps=["on_call:Urgences"])
    with pytest.raises(ValidationError) as refused:
        people.save_service(alpha, "Urgences médicales", service=urgences)
    assert "escala" in errors_of(refused)["name"]  # escalade, escalation
    EscalationPolicy.objects.filter(account=alpha).delete()
    people.save_service(alpha, "Urgences médicales", "La nuit", service=urgences)
    row = AuditEvent.objects.filter(object_type="directory.service", action="update").get()
    assert row.detail["before"]["name"] == "Urgences" and row.detail["after"]["name"] == "Urgences médicales"


def test_a_service_in_use_is_not_removed(alpha, anne):
    compta = people.save_service(alpha, "Comptabilité")
    people.save_collaborator(alpha, {"service": compta.pk}, anne)
    with pytest.raises(ValidationError) as refused:
        people.remove_service(compta)
    assert "Alphonse" in " ".join(refused.value.messages)
    people.save_collaborator(alpha, {"service": None}, anne)
    people.remove_service(compta)
    assert not Service.objects.filter(pk=compta.pk).exists()
    assert AuditEvent.objects.filter(object_type="directory.service", action="delete").count() == 1


def test_the_worker_applies_the_directory_changes_in_its_escalation_loop():
    from tests.calls.test_dispatch_loop import OPTIONS

    from permanence.messaging.management.commands import worker

    [escalation] = [loop for loop in worker.worker_loops(OPTIONS | {"dispatch_every": 1.0})
                    if loop.name == "escalation"]
    assert ("directory", people.apply_due) in escalation.steps


def test_a_planned_change_is_compared_with_the_details_after_the_earlier_planned_ones(alpha, anne):
    now = timezone.now()
    people.save_collaborator(alpha, {"mobile": "0611111111"}, anne)
    people.plan_change(alpha, "change", now + timedelta(days=1), {"mobile": "0622222222"}, anne, now=now)
    back = people.plan_change(alpha, "change", now + timedelta(days=10),
                              {"mobile": "0611111111", "job_title": "Associée"}, anne, now=now)
    assert back.data == {"mobile": "+33611111111", "job_title": "Associée"}  # the old number, planned back
    assert people.apply_due(now + timedelta(days=2)) == 1
    assert Collaborator.objects.get(pk=anne.pk).mobile == "+33622222222"
    assert people.apply_due(now + timedelta(days=11)) == 1
    assert Collaborator.objects.get(pk=anne.pk).mobile == "+33611111111"


def test_transfer_hours_given_for_some_days_leave_the_other_days(alpha, anne):
    people.save_collaborator(alpha, {"transfer_mode": "conditional",
                                     "windows": {"0": "9h-12h", "1": "14h-18h"}}, anne)
    people.save_collaborator(alpha, {"windows": {"0": "10h-12h"}}, anne)
    windows = people.snapshot(Collaborator.objects.get(pk=anne.pk))["windows"]
    assert (windows["0"], windows["1"]) == ("10:00-12:00", "14:00-18:00")


def test_old_words_that_are_no_caller_type_are_kept_until_the_caller_types_are_written(alpha, anne):
    Collaborator.objects.filter(pk=anne.pk).update(transfer_caller_types="client, confrères du barreau")
    people.save_collaborator(alpha, {"mobile": "0612345678"}, anne)  # another field: the old word stays
    anne.refresh_from_db()
    assert anne.unknown_caller_types == ("confrères du barreau",) and anne.mobile == "+33612345678"
    with pytest.raises(ValidationError) as refused:  # written again with the old word: said, not dropped
        people.save_collaborator(alpha, {"caller_types": ["client", "confrères du barreau"]}, anne)
    assert "caller_types" in errors_of(refused)
    people.save_collaborator(alpha, {"caller_types": ["client", "colleague"]}, anne)
    anne.refresh_from_db()
    assert anne.caller_type_codes == ("client", "colleague") and anne.unknown_caller_types == ()
