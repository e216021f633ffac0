import io

from django.core.management import call_command

from permanence.accounts.models import Account, PhoneNumber, WeeklyHours
from permanence.contacts.identify import identify
from permanence.contacts.models import Contact, ContactNumber
from permanence.directory.models import Absence, Collaborator, TransferWindow
from permanence.scenarios.models import Scenario, ScenarioVersion
from permanence.users.models import Training, User

MODELS = [Account, PhoneNumber, WeeklyHours, Contact, ContactNumber, Collaborator,
          TransferWindow, Absence, User, Training, Scenario, ScenarioVersion]


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
