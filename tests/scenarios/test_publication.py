"""A version approved for later is put in service at its time by the worker; meanwhile, and after,
each secretary trained on the account sees what changes on her next call of it, once."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from tests.scenario_helpers import put_in_service

from permanence.scenarios import changes, services
from permanence.scenarios.models import Scenario, ScenarioVersion, Status

V1 = """\
language: permanence/1
title: Accueil
start: s
steps:
  s: {say: "Bonjour.", next: e}
  e: {end: information}
"""
V2 = V1.replace("Bonjour.", "Bonjour, le cabinet déménage le 1er mars.")


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def v2_sent(alpha, personas):
    ScenarioVersion.objects.filter(scenario__account=alpha).update(status=Status.RETIRED)
    v1 = put_in_service(alpha, "Accueil", V1, personas["client_admin"])
    v2 = services.new_version(v1.scenario, personas["assistant"])
    services.save_draft(v2, V2, personas["assistant"])
    services.submit_for_review(v2, personas["assistant"])
    return services.send_to_client(v2, personas["assistant"])


def desk_call(personas):
    from permanence.calls import services as calls

    secretary = personas["secretary"]
    calls.set_status(secretary, "ready")
    call = calls.call_arrived("01 45 00 00 01", "06 12 34 56 78")
    calls.dispatch()
    calls.accept(call, secretary)
    return call


def test_approved_for_later_is_announced_then_published_at_its_time(alpha, personas, v2_sent):
    client_admin = signed_in(personas["client_admin"])
    later = timezone.localtime(timezone.now() + timedelta(days=2), alpha.tz)
    client_admin.post(f"/a/alpha/scenarios/{v2_sent.scenario_id}/v/2/approve",
                      {"publish_at": later.strftime("%Y-%m-%dT%H:%M")})
    v2 = ScenarioVersion.objects.get(pk=v2_sent.pk)
    assert v2.status == Status.APPROVED and v2.publish_at == later.replace(second=0, microsecond=0)
    assert ScenarioVersion.objects.get(scenario=v2.scenario, number=1).status == Status.PUBLISHED
    assert services.publish_due() == 0  # not yet

    desk = signed_in(personas["secretary"])
    call = desk_call(personas)
    page = desk.get(f"/desk/calls/{call.pk}/").content.decode()
    assert 'data-testid="scenario-change"' in page and "version 2" in page
    diff = desk.get(f"/a/alpha/scenarios/{v2.scenario_id}/diff/?a=1&b=2")
    assert diff.status_code == 200 and "déménage" in diff.content.decode()
    again = desk.get(f"/desk/calls/{call.pk}/").content.decode()
    assert 'data-testid="scenario-change"' in again  # the same call: still shown
    assert changes.seen_by(v2) == (1, 1)
    page = client_admin.get(f"/a/alpha/scenarios/{v2.scenario_id}/v/2/").content.decode()
    assert "1 des 1 secrétaires" in page

    assert services.publish_due(v2.publish_at + timedelta(seconds=1)) == 1
    assert services.publish_due(v2.publish_at + timedelta(seconds=2)) == 0  # once
    v2.refresh_from_db()
    assert v2.status == Status.PUBLISHED
    assert ScenarioVersion.objects.get(scenario=v2.scenario, number=1).status == Status.RETIRED
    from permanence.calls.models import Call

    Call.objects.filter(pk=call.pk).update(state="done")
    second = desk_call(personas)
    assert 'data-testid="scenario-change"' not in desk.get(f"/desk/calls/{second.pk}/").content.decode()


def test_approved_without_a_time_serves_at_once_and_a_bad_time_is_refused(alpha, personas, v2_sent):
    client_admin = signed_in(personas["client_admin"])
    client_admin.post(f"/a/alpha/scenarios/{v2_sent.scenario_id}/v/2/approve", {"publish_at": "demain"})
    assert ScenarioVersion.objects.get(pk=v2_sent.pk).status == Status.SENT
    client_admin.post(f"/a/alpha/scenarios/{v2_sent.scenario_id}/v/2/approve", {"publish_at": ""})
    assert ScenarioVersion.objects.get(pk=v2_sent.pk).status == Status.PUBLISHED
    assert Scenario.objects.get(pk=v2_sent.scenario_id).versions.filter(status=Status.PUBLISHED).count() == 1


def test_recent_real_calls_are_replayed_on_a_new_version(alpha, personas):
    from permanence.calls.models import Call

    ScenarioVersion.objects.filter(scenario__account=alpha).update(status=Status.RETIRED)
    v1 = put_in_service(alpha, "Accueil", V1, personas["client_admin"])
    desk = signed_in(personas["secretary"])
    call = desk_call(personas)
    desk.get(f"/desk/calls/{call.pk}/")
    desk.post(f"/desk/calls/{call.pk}/", {})  # "Bonjour." said: the call ends in information
    assert Call.objects.get(pk=call.pk).run.outcome == "information"
    draft = services.new_version(v1.scenario, personas["assistant"])
    services.save_draft(draft, V1.replace("Bonjour.", "Bonjour à vous."), personas["assistant"])
    assistant = signed_in(personas["assistant"])
    replay = f"/a/alpha/scenarios/{v1.scenario_id}/v/{draft.number}/replay"
    page = assistant.get(replay).content.decode()
    assert "0 sur 1" in page and f'data-testid="replay-{call.pk}"' in page
    services.save_draft(draft, V1.replace("next: e}", "next: q}\n  q: {ask: [nom], next: e}").replace(
        "steps:", "fields:\n  nom: {type: text, label: Nom}\nsteps:"), personas["assistant"])
    assert "1 sur 1" in assistant.get(replay).content.decode()
    assert signed_in(personas["client_admin"]).get(replay).status_code == 403  # the assistants' tool
