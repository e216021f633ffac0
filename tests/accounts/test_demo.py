import io

from django.core.management import call_command

from permanence.accounts.models import Account, PhoneNumber, WeeklyHours
from permanence.calls.models import Call
from permanence.contacts.identify import identify
from permanence.contacts.models import Contact, ContactNumber
from permanence.directory.models import Absence, Collaborator, TransferWindow
from permanence.scenarios.models import Scenario, ScenarioVersion
from permanence.users.models import Training, User

MODELS = [Account, PhoneNumber, WeeklyHours, Contact, ContactNumber, Collaborator,
          TransferWindow, Absence, User, Training, Scenario, ScenarioVersion, Call]


def _counts():
    return {m.__name__: m.objects.count() for m in MODELS}


def test_demo_loads_three_trades_and_is_idempotent(db):
    call_command("load_demo", stdout=io.StringIO())
    first = _counts()
    call_command("load_demo", stdout=io.StringIO())
    assert _counts() == first
    assert set(Account.objects.values_list("trade", flat=True)) >= {"legal", "medical", "trades"}
    assert first["Account"] == 3
    assert set(User.objects.values_list("role", flat=True)) == {
        "operator_admin", "technical_assistant", "secretary", "client_admin", "client_user"}
    law = Account.objects.get(slug="cabinet-durand")
    specialties = " ".join(law.collaborators.values_list("specialties", flat=True))
    assert "droit de la famille" in specialties and "droit des sociétés" in specialties
    plumber = Account.objects.get(slug="plomberie-girard")
    girard = plumber.collaborators.get()
    assert girard.mobile and girard.transfer_urgent_only
    result = identify("04 78 00 03 01", "04 72 00 11 22")
    assert result.account == plumber and result.contacts[0].is_vip
    # each account has its trade's scenario in service; the law firm's v2 awaits its approval
    for account in Account.objects.all():
        scenario = account.scenarios.get()
        assert scenario.published.number == 1 and scenario.published.errors == 0
    assert list(law.scenarios.get().versions.values_list("number", "status")) == [
        (2, "sent"), (1, "published")]


def test_medical_secretary_never_put_through_during_consultations(db):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    call_command("load_demo", "--no-history", stdout=io.StringIO())
    lambert = Collaborator.objects.get(last_name="Lambert")
    paris = ZoneInfo("Europe/Paris")
    consultation = datetime(2026, 11, 24, 10, 30, tzinfo=paris)  # a Tuesday
    lunch = datetime(2026, 11, 24, 12, 30, tzinfo=paris)
    assert not lambert.decide_transfer(at=consultation).allowed
    assert lambert.decide_transfer(at=lunch).allowed


def test_demo_history_and_the_forecast_error_on_it(db):
    """docs/planning.md quotes these figures: the forecast of the demo's last week from the 8 before."""
    import json

    out = io.StringIO()
    call_command("load_demo", stdout=out)
    assert "Call history:" in out.getvalue() and Call.objects.count() > 8000  # ten weeks, three accounts
    result = io.StringIO()
    call_command("forecast", "--interval", "60", "--json", stdout=result)
    everyone = json.loads(result.getvalue())
    assert everyone["history_calls"] > 6000 and everyone["aht_measured"]
    assert everyone["wape_day"] < 0.15 and everyone["wape_interval"] < 0.3
    result = io.StringIO()
    call_command("forecast", "--account", "plomberie-girard", "--json", stdout=result)
    small = json.loads(result.getvalue())  # 140 calls a week: the noise of a few calls an hour
    assert 0.1 < small["wape_day"] < 0.35 and small["wape_interval"] > everyone["wape_interval"]
