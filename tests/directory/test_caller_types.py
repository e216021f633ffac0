"""One caller-type vocabulary: the back-office picks codes from it, old words become codes, none is lost."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from factories import make_account
from permanence.directory.models import Collaborator
from permanence.scenarios import environment

MONDAY_10 = datetime(2026, 11, 23, 10, tzinfo=ZoneInfo("Europe/Paris"))


def admin_client(personas):
    client = Client()
    client.force_login(personas["admin"])
    return client


def form_data(collaborator, **extra):
    data = {
        "account": collaborator.account_id,
        "last_name": collaborator.last_name,
        "first_name": collaborator.first_name,
        "transfer_mode": "conditional",
        "is_active": "on",
        "transfer_windows-TOTAL_FORMS": "0",
        "transfer_windows-INITIAL_FORMS": "0",
        "absences-TOTAL_FORMS": "0",
        "absences-INITIAL_FORMS": "0",
    }
    data.update(extra)
    return data


def test_the_admin_picks_caller_types_from_the_list_and_stores_codes(personas, alpha):
    anne = Collaborator.objects.get(account=alpha)
    client = admin_client(personas)
    url = f"/admin/directory/collaborator/{anne.pk}/change/"
    page = client.get(url).content.decode()
    assert 'value="colleague"' in page and 'type="checkbox"' in page
    assert "unknown_caller_types" not in page  # nothing to correct: the field is not shown
    response = client.post(url, form_data(anne, caller_types=["colleague", "client"]))
    assert response.status_code == 302, response.content.decode()[:2000]
    anne.refresh_from_db()
    assert anne.transfer_caller_types == "client, colleague"
    assert anne.transfer_rule().caller_types == {"client", "colleague"}


def test_words_that_are_no_caller_type_are_shown_and_refused_until_replaced(personas, alpha):
    anne = Collaborator.objects.get(account=alpha)
    Collaborator.objects.filter(pk=anne.pk).update(transfer_caller_types="client, huissier")
    client = admin_client(personas)
    url = f"/admin/directory/collaborator/{anne.pk}/change/"
    page = client.get(url).content.decode()
    assert 'value="huissier"' in page  # kept and shown, apart from the ticked types
    response = client.post(
        url, form_data(anne, caller_types=["client"], unknown_caller_types="huissier")
    )
    assert response.status_code == 200
    assert "n’est pas un type d’appelant" in response.content.decode()
    anne.refresh_from_db()
    assert anne.transfer_caller_types == "client, huissier"  # nothing changed, nothing lost
    # a word of the list typed in that field: tick it instead
    response = client.post(url, form_data(anne, caller_types=["client"], unknown_caller_types="confrère"))
    assert response.status_code == 200 and "Cochez" in response.content.decode()
    # the assistant emptied the field after ticking the types: saved
    response = client.post(
        url, form_data(anne, caller_types=["client", "colleague"], unknown_caller_types="")
    )
    assert response.status_code == 302
    anne.refresh_from_db()
    assert anne.transfer_caller_types == "client, colleague"


def test_model_validation_refuses_unknown_words_and_stores_codes(alpha):
    anne = Collaborator.objects.get(account=alpha)
    anne.transfer_caller_types = "Confrère, fournisseurs"
    anne.full_clean()
    assert anne.transfer_caller_types == "colleague, supplier"
    assert anne.caller_type_labels == "Confrère / collègue, Fournisseur"  # in the interface's language
    anne.transfer_caller_types = "client, notaire"
    with pytest.raises(ValidationError) as info:
        anne.full_clean()
    assert "notaire" in str(info.value.message_dict["transfer_caller_types"])


def test_a_colleague_is_put_through_by_the_scenario_function(alpha):
    """The legal template's option `colleague` now meets a rule written « client, confrère »."""
    anne = Collaborator.objects.get(account=alpha)
    anne.transfer_mode = "conditional"
    anne.transfer_caller_types = "client, confrère"
    anne.full_clean()
    anne.save()
    env = environment.environment(alpha, MONDAY_10)
    person = env.people["anne-alphonse"].as_value()
    assert env.call("can_transfer", (person, "colleague")) is True
    assert env.call("can_transfer", (person, "supplier")) is False


@pytest.mark.django_db(transaction=True)
def test_the_data_migration_maps_french_words_and_keeps_unknown_ones(capsys):
    account = make_account("old", name="Cabinet Ancien")  # made at the latest state (its signals read rotas)
    executor = MigrationExecutor(connection)
    executor.migrate([("directory", "0001_initial")])
    apps = executor.loader.project_state([("directory", "0001_initial")]).apps
    OldCollaborator = apps.get_model("directory", "Collaborator")
    written = {
        "Durand": "client, confrère",
        "Martin": "Fournisseurs; démarchage",
        "Petit": "client, huissier",
        "Roux": "",
    }
    for name, words in written.items():
        OldCollaborator.objects.create(account_id=account.pk, last_name=name, transfer_caller_types=words)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    stored = dict(Collaborator.objects.values_list("last_name", "transfer_caller_types"))
    assert stored == {
        "Durand": "client, colleague",
        "Martin": "supplier, cold_caller",
        "Petit": "client, huissier",
        "Roux": "",
    }
    assert "huissier" in capsys.readouterr().out
    petit = Collaborator.objects.get(last_name="Petit")
    assert petit.unknown_caller_types == ("huissier",)
