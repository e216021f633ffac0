"""The desk runs the version in service at the main entry point, shared blocks expanded; a run whose
text changed keeps what was typed."""

from django.test import Client

from permanence.calls.models import Call
from permanence.scenarios import live
from permanence.scenarios.models import Block
from scenario_helpers import put_in_service

SHARED = """start: refuse
steps:
  refuse: {say: "Nous ne donnons pas suite au démarchage.", next: done}
  done: {end: refusal}
"""
TEXT = """title: Accueil
start: welcome
fields:
  caller_type: {type: choice, options: {client: Client, cold_caller: Démarchage}}
  name: {type: text, label: Nom}
steps:
  welcome: {say: "Cabinet Alpha, bonjour.", next: qualify}
  qualify:
    ask: [caller_type]
    next:
      - {if: caller_type == "cold_caller", goto: refusal}
      - else: identify
  refusal: {use: shared_refusal}
  identify: {ask: [name], next: bye}
  bye: {end: information}
"""


def test_the_desk_runs_the_approved_version_with_its_shared_block(personas, alpha):
    live.clear_cache()
    Block.objects.create(name="shared_refusal", source=SHARED)
    put_in_service(alpha, "Accueil", TEXT, personas["client_admin"])
    secretary = Client()
    secretary.force_login(personas["secretary"])
    url = secretary.post("/desk/training", {"account": "alpha"})["Location"]
    secretary.post(url, {})
    page = secretary.post(url, {"caller_type": "cold_caller"}, follow=True).content.decode()
    assert "Nous ne donnons pas suite au démarchage." in page
    secretary.post(url, {})
    assert Call.objects.get().run.outcome == "refusal"


ASKING = """fields:
  company: {type: text, label: Société}
start: ask_company
steps:
  ask_company: {ask: [company], next: note}
  note: {say: "Je transmets.", next: done}
  done: {end: refusal}
"""


def test_a_call_whose_scenario_changed_keeps_what_was_typed(personas, alpha):
    live.clear_cache()
    block = Block.objects.create(name="shared_refusal", source=ASKING)
    put_in_service(alpha, "Accueil", TEXT, personas["client_admin"])
    secretary = Client()
    secretary.force_login(personas["secretary"])
    url = secretary.post("/desk/training", {"account": "alpha"})["Location"]
    secretary.post(url, {})
    secretary.post(url, {"caller_type": "cold_caller"})
    secretary.post(url, {"company": "ACME Énergie"})  # typed inside the shared block
    block.source = ASKING.replace("ask_company", "which_company")  # the block changes during the call
    block.save()
    page = secretary.get(url).content.decode()
    assert 'data-testid="unapplied"' in page and "Société : ACME Énergie" in page
    assert "Société" in page  # asked again at the block's new step
    run = Call.objects.get().run
    secretary.post(url, {"company": "ACME Énergie"})
    run.refresh_from_db()
    assert run.state["unapplied"][0]["given"] == {"company": "ACME Énergie"}  # kept after saving
