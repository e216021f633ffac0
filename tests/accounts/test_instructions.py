"""Instructions (*consignes*): standing and dated, written by the client, shown at the desk
only in their period, highlighted when new, every change audited."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation

from permanence.accounts import actions, instructions
from permanence.accounts.models import Instruction
from permanence.audit.models import AuditEvent
from permanence.calls.models import Call
from permanence.scenarios.models import ScenarioVersion

NOW = datetime(2026, 8, 5, 8, 0, tzinfo=UTC)  # Wednesday 5 August 2026, 10:00 in Paris


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def desk_page(secretary_client, account="alpha"):
    """A training call of the account, as the secretary sees it: (its id, the page)."""
    response = secretary_client.post("/desk/training", {"account": account})
    assert response.status_code == 302, response.content[:300]
    call_id = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    return call_id, secretary_client.get(response["Location"]).content.decode()


def end_call(secretary_client, call_id):
    Call.objects.filter(pk=call_id).update(state="done")


@pytest.fixture
def published(alpha):
    ScenarioVersion.objects.filter(scenario__account=alpha).update(status="published")
    return alpha


def test_a_dated_instruction_is_validated(alpha, personas):
    admin = personas["client_admin"]
    with pytest.raises(ValidationError) as error:
        actions.add_instruction(alpha, "  ", NOW, NOW + timedelta(days=1), actor=admin, now=NOW)
    assert "text" in error.value.error_dict
    with pytest.raises(ValidationError) as error:
        actions.add_instruction(alpha, "Dr Martin", NOW, NOW - timedelta(hours=1), actor=admin, now=NOW)
    assert "ends_at" in error.value.error_dict
    with translation.override("fr"), pytest.raises(ValidationError) as error:
        actions.add_instruction(alpha, "Dr Martin", NOW - timedelta(days=3), NOW - timedelta(days=1),
                                actor=admin, now=NOW)
    assert "déjà passée" in str(error.value)
    with pytest.raises(ValidationError):
        actions.add_instruction(alpha, "x" * 2001, NOW, NOW + timedelta(days=1), actor=admin, now=NOW)
    assert not Instruction.objects.exists()
    assert not AuditEvent.objects.filter(object_type="accounts.instruction").exists()


def test_every_change_is_audited_with_before_and_after(alpha, personas):
    admin = personas["client_admin"]
    start, end = NOW + timedelta(days=7), NOW + timedelta(days=15)
    instruction = actions.add_instruction(alpha, "Urgences au Dr Martin", start, end, actor=admin, now=NOW)
    actions.change_instruction(instruction, text="Urgences au Dr Martin (06 12 34 56 78)",
                               starts_at=start, ends_at=end + timedelta(days=1), actor=admin, now=NOW)
    actions.change_instruction(instruction, text="Urgences au Dr Martin (06 12 34 56 78)",
                               starts_at=start, ends_at=end + timedelta(days=1), actor=admin, now=NOW)
    actions.withdraw_instruction(instruction, actor=admin, now=NOW + timedelta(days=8))
    actions.set_standing_instructions(alpha, "Ne jamais donner le portable du Dr Martin.", actor=admin)
    rows = list(AuditEvent.objects.filter(account=alpha).order_by("pk"))
    assert [(r.action, r.object_type, r.actor_name) for r in rows] == [
        ("create", "accounts.instruction", "client_admin"),
        ("update", "accounts.instruction", "client_admin"),  # the repeated change changed nothing
        ("update", "accounts.instruction", "client_admin"),
        ("update", "accounts.account", "client_admin"),
    ]
    assert rows[0].detail["after"]["text"] == "Urgences au Dr Martin"
    assert rows[1].detail["before"]["ends_at"] == end.isoformat()
    assert rows[1].detail["after"]["ends_at"] == (end + timedelta(days=1)).isoformat()
    assert rows[2].detail["withdrawn"] is True
    assert rows[3].detail == {"field": "instructions", "before": "Consigne Alpha",
                              "after": "Ne jamais donner le portable du Dr Martin."}


def test_an_instruction_over_is_history_and_cannot_be_changed(alpha, personas):
    instruction = actions.add_instruction(alpha, "Pont de l'Ascension", NOW, NOW + timedelta(days=1), now=NOW)
    later = NOW + timedelta(days=2)
    with pytest.raises(ValidationError):
        actions.change_instruction(instruction, text="Autre", starts_at=later,
                                   ends_at=later + timedelta(days=1), now=later)
    with pytest.raises(ValidationError):
        actions.withdraw_instruction(instruction, now=later)
    instruction.refresh_from_db()
    assert instruction.text == "Pont de l'Ascension" and instruction.withdrawn_at is None


def test_the_desk_shows_a_dated_instruction_only_in_its_period_and_new_once(published, personas):
    secretary = client_for(personas["secretary"])
    start = NOW + timedelta(days=7)
    instruction = actions.add_instruction(
        published, "Du 12 au 20 août, urgences au Dr Martin", start, start + timedelta(days=8),
        actor=personas["client_admin"], now=NOW)
    marker = f'data-testid="instruction-{instruction.pk}"'
    with time_machine.travel(NOW, tick=False):
        _, page = desk_page(secretary)
        assert "Consigne Alpha" in page and marker not in page
    with time_machine.travel(start - timedelta(minutes=1), tick=False):
        assert marker not in desk_page(secretary)[1]
    with time_machine.travel(start, tick=False):
        call_id, page = desk_page(secretary)
        assert marker in page and "urgences au Dr Martin" in page
        assert page.count('data-testid="new-instruction"') == 1  # the dated one: the standing text is old
        # the same call, reloaded: still highlighted
        again = secretary.get(f"/desk/calls/{call_id}/").content.decode()
        assert again.count('data-testid="new-instruction"') == 1
        end_call(secretary, call_id)
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        _, page = desk_page(secretary)
        assert marker in page and 'data-testid="new-instruction"' not in page  # seen on the last call
        actions.change_instruction(instruction, text="Urgences au Dr Durand", starts_at=start,
                                   ends_at=start + timedelta(days=8), actor=personas["client_admin"])
        _, page = desk_page(secretary)
        assert "Urgences au Dr Durand" in page
        assert 'data-testid="new-instruction"' in page  # changed: new again
    with time_machine.travel(start + timedelta(days=8), tick=False):
        assert marker not in desk_page(secretary)[1]  # over


def test_a_withdrawn_instruction_leaves_the_desk_at_once(published, personas):
    instruction = actions.add_instruction(published, "Cabinet fermé cet après-midi",
                                          NOW - timedelta(hours=1), NOW + timedelta(hours=5),
                                          now=NOW - timedelta(hours=1))
    with time_machine.travel(NOW, tick=False):
        assert [s.instruction for s in instructions.at_desk(published)][1:] == [instruction]
        actions.withdraw_instruction(instruction, actor=personas["client_admin"])
        assert [s.instruction for s in instructions.at_desk(published)] == [None]


def test_a_changed_standing_text_is_new_to_each_secretary_once(published, personas):
    secretary = client_for(personas["secretary"])
    actions.set_standing_instructions(published, "Nouvelle règle : ne jamais transférer le vendredi.",
                                      actor=personas["client_admin"])
    call_id, page = desk_page(secretary)
    assert 'data-testid="standing-instructions"' in page and 'data-testid="new-instruction"' in page
    end_call(secretary, call_id)
    assert 'data-testid="new-instruction"' not in desk_page(secretary)[1]
