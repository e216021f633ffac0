"""What a scenario sees of an account: caller from the contacts, directory, hours, transfer rules."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from factories import office_hours
from permanence.directory.models import Absence, Collaborator
from permanence.scenarios import environment
from permanence.scenarios.engine import checker
from permanence.scenarios.engine.runtime import Run


@pytest.fixture
def alpha(alpha):
    """Office hours (Monday to Friday 9:00-18:00, closed on public holidays): these tests are about them."""
    return office_hours(alpha)


PARIS = ZoneInfo("Europe/Paris")
MONDAY_10 = datetime(2026, 11, 23, 10, tzinfo=PARIS)
SUNDAY = datetime(2026, 11, 22, 10, tzinfo=PARIS)


def test_known_caller_and_tags(alpha):
    env = environment.environment(alpha, MONDAY_10, caller="06 11 11 11 11")
    caller = env.values()["caller"]
    assert caller["known"] and caller["name"] == "Albert Client" and caller["tags"] == ["vip"]
    assert env.call("has_tag", ("VIP",)) is True
    assert environment.environment(alpha, MONDAY_10, caller=None).values()["caller"]["known"] is False


def test_hours_opening_and_directory(alpha):
    env = environment.environment(alpha, SUNDAY)
    account = env.values()["account"]
    assert account["hours"].startswith("lundi : 09:00–18:00")
    assert account["next_opening"] == "lundi 23 novembre à 09:00"
    assert env.call("is_open", ()) is False
    assert env.call("weekday", ()) == "sunday"
    assert set(env.people) == {"anne-alphonse"}
    assert environment.account_info(alpha).collaborators == {"anne-alphonse": "Maître Anne Alphonse"}


def test_transfer_rule_and_absence_drive_the_functions(alpha):
    anne = Collaborator.objects.get(account=alpha)
    anne.transfer_mode = "never"
    anne.save()
    env = environment.environment(alpha, MONDAY_10)
    person = env.people["anne-alphonse"].as_value()
    assert env.call("can_transfer", (person,)) is False and env.call("available", (person,)) is True
    Absence.objects.create(collaborator=anne, kind="leave", starts_at=MONDAY_10.replace(hour=8), ends_at=None)
    env = environment.environment(alpha, MONDAY_10)
    assert env.call("available", (env.people["anne-alphonse"].as_value(),)) is False
    assert env.people["anne-alphonse"].absence == "leave"


def test_vip_condition_in_a_scenario(alpha):
    text = """title: T
start: a
steps:
  a: {decide: [{if: 'has_tag("vip") and caller.known', goto: vip}, {else: other}]}
  vip: {end: information}
  other: {end: refusal}
"""
    scenario = checker.check(text).scenario
    run = Run.start(scenario, environment.environment(alpha, MONDAY_10, caller="+33611111111"))
    assert run.outcome["step"] == "vip"
    run = Run.start(scenario, environment.environment(alpha, MONDAY_10, caller="+33699999999"))
    assert run.outcome["step"] == "other"


def test_test_mode_searches_the_directory_tolerantly(personas, alpha):
    from permanence.scenarios.models import Scenario

    scenario = Scenario.objects.get(account=alpha)  # the new account's switchboard draft
    client = Client()
    client.force_login(personas["assistant"])
    url = f"/a/alpha/scenarios/{scenario.pk}/v/1/test"
    client.get(url)
    client.post(url, {})
    client.post(url, {"caller_type": "client"})
    client.post(url, {"name": "Jean Dupont", "phone": "0612345678"})
    page = client.post(url, {"search": "1", "q": "alfonse"}).content.decode()
    assert 'value="anne-alphonse" checked' in page
    page = client.post(url, {"search": "1", "q": "pour un problème de droit de la famille"}).content.decode()
    assert 'value="anne-alphonse" checked' in page
    page = client.post(url, {"person": "anne-alphonse", "q": "alfonse"}).content.decode()
    assert "Personne demandée : Maître Anne Alphonse" in page  # chosen: in the draft, past the lookup
    assert 'name="q"' not in page


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["vip", "client"], "client"),  # the first tag that is a caller type
        (["CLIENT"], "client"),
        (["confrère"], "colleague"),
        (["Consœur"], "colleague"),
        (["Confrère / collègue"], "colleague"),  # the label of the vocabulary, read part by part
        (["démarchage", "client"], "cold_caller"),
        (["cold caller", "blocked"], "cold_caller"),
        (["Appel personnel"], "personal"),
        (["fournisseurs"], "supplier"),
        (["Job seeker"], "job_seeker"),  # an English label
        (["vip", "blocked", "patient"], None),  # no caller type among them
        ([], None),
    ],
)
def test_a_contacts_tags_give_its_caller_type(tags, expected):
    assert environment.caller_type_from_tags(tags) == expected


def test_a_known_caller_has_the_caller_type_of_its_tags(alpha):
    from factories import make_contact

    make_contact(alpha, ("+33622334455",), first_name="Claire", last_name="Garnier",
                 company="Cabinet Garnier", tags="vip, Confrère")
    caller = environment.caller_record(alpha, "06 22 33 44 55")
    assert caller == {"known": True, "name": "Claire Garnier", "company": "Cabinet Garnier",
                      "tags": ["vip", "confrère"], "email": "", "type": "colleague"}
    assert environment.caller_record(alpha, "06 11 11 11 11")["type"] is None  # Albert: "vip" only
    assert environment.caller_record(alpha, None) == {"known": False, "tags": []}


def test_a_known_callers_type_name_and_company_prefill_the_switchboard(alpha):
    from factories import make_contact
    from permanence.scenarios import services

    make_contact(alpha, ("+33622334455",), first_name="Claire", last_name="Garnier",
                 company="Cabinet Garnier", tags="confrère")
    text = services.template_source("switchboard").replace(
        "options: {client: Client,", "options: {colleague: Confrère, client: Client,"
    )
    scenario = checker.check(text, environment.account_info(alpha)).scenario
    run = Run.start(scenario, environment.environment(alpha, MONDAY_10, caller="+33622334455"))
    run.answer({})
    assert {f["name"]: (f["known"], f["value"]) for f in run.screen()["fields"]} == {
        "caller_type": (True, "colleague")
    }
    run.answer({})
    assert {f["name"]: (f["known"], f["text"]) for f in run.screen()["fields"]} == {
        "name": (True, "Claire Garnier"),
        "company": (True, "Cabinet Garnier"),
        "phone": (True, "06 22 33 44 55"),
    }
    unknown = Run.start(scenario, environment.environment(alpha, MONDAY_10, caller="+33699999999"))
    unknown.answer({})
    assert [(f["name"], f["known"], f["value"]) for f in unknown.screen()["fields"]] == [
        ("caller_type", False, None)
    ]
