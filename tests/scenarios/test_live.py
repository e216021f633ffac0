"""The scenario in service: shared blocks used alike everywhere, one version per entry point, runs resumed."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from permanence.accounts.models import Account
from permanence.scenarios import environment, live, services
from permanence.scenarios.engine import checker
from permanence.scenarios.models import Block, Run, Scenario, ScenarioVersion, Status
from scenario_helpers import put_in_service, scenario_cmd

MONDAY_10 = datetime(2026, 11, 23, 10, tzinfo=ZoneInfo("Europe/Paris"))

SHARED = """params: {address: contact@cabinet.example}
start: refuse
steps:
  refuse:
    say: "Le cabinet ne donne pas suite ; écrivez à {{ params.address }}."
    next: done
  done: {end: refusal, note: "Démarchage éconduit."}
"""

USES_SHARED = """title: Accueil
start: welcome
fields:
  caller_type: {type: choice, options: {client: Client, cold_caller: Démarchage}}
steps:
  welcome: {say: "Bonjour.", next: qualify}
  qualify:
    ask: [caller_type]
    next:
      - {if: caller_type == "cold_caller", goto: refusal}
      - else: bye
  refusal: {use: polite_refusal, with: {address: ecrire@alpha.example}}
  bye: {end: information}
"""


@pytest.fixture(autouse=True)
def _fresh_cache():
    live.clear_cache()
    yield
    live.clear_cache()


def walk_to_the_refusal(run):
    run.answer({})
    run.answer({"caller_type": "cold_caller"})
    return run


def test_a_shared_block_works_in_the_editor_the_command_and_the_desk(personas, alpha, tmp_path):
    Block.objects.create(name="polite_refusal", source=SHARED)
    # without the shared blocks (what the desk did): the scenario has no step after qualify
    assert not checker.check(USES_SHARED).ok
    # the editor's check
    assert services.check(USES_SHARED, alpha).ok
    # the command line
    path = tmp_path / "accueil.yaml"
    path.write_text(USES_SHARED, encoding="utf-8")
    code, out, err = scenario_cmd("check", str(path), "--account", "alpha")
    assert code == 0, err
    answers = tmp_path / "answers.json"
    given = {"welcome": {}, "qualify": {"caller_type": "cold_caller"}, "refusal.refuse": {}}
    answers.write_text(json.dumps(given))
    code, out, _ = scenario_cmd("run", str(path), "--answers", str(answers))
    data = json.loads(out)
    assert code == 0 and data["path"][-2:] == ["refusal.refuse", "refusal.done"]
    assert data["outcome"] == {"kind": "refusal", "step": "refusal.done"}
    # the desk
    version = put_in_service(alpha, "Accueil", USES_SHARED, personas["client_admin"])
    current = live.in_service(alpha)
    assert current is not None and current.ok and current.version == version
    run = walk_to_the_refusal(current.start(environment.environment(alpha, MONDAY_10)))
    assert run.step == "refusal.refuse"
    assert "ecrire@alpha.example" in run.screen()["say"]
    run.answer({})
    assert run.outcome == {"kind": "refusal", "step": "refusal.done"}


def test_the_desk_reads_the_text_once_and_notices_a_changed_block(personas, alpha):
    block = Block.objects.create(name="polite_refusal", source=SHARED)
    put_in_service(alpha, "Accueil", USES_SHARED, personas["client_admin"])
    first, again = live.in_service(alpha), live.in_service(alpha)
    assert again.scenario is first.scenario  # cached: not checked again on the next page
    assert first.digest != first.version.digest  # the run is pinned to the text and the block it uses
    block.source = SHARED.replace("ne donne pas suite", "ne répond pas aux sollicitations")
    block.save()
    changed = live.in_service(alpha)
    assert changed.scenario is not first.scenario and changed.digest != first.digest
    run = walk_to_the_refusal(changed.start(environment.environment(alpha, MONDAY_10)))
    assert "ne répond pas aux sollicitations" in run.screen()["say"]
    # a block whose text is broken is left out and named; the scenario in service then shows errors
    block.source = "start: [unclosed"
    block.save()
    assert live.library().broken == ("polite_refusal",)
    broken = live.in_service(alpha)
    assert not broken.ok and {p.code for p in broken.errors} == {"unknown_block"}


def test_one_version_in_service_per_entry_point(personas, alpha):
    user = personas["client_admin"]
    legal = services.template_source("legal")
    switchboard = services.template_source("switchboard")
    first = put_in_service(alpha, "Accueil", legal, user)
    assert live.in_service(alpha).version == first
    # another scenario approved for the same entry point replaces it
    second = put_in_service(alpha, "Standard", switchboard, user)
    first.refresh_from_db()
    assert first.status == Status.RETIRED and second.status == Status.PUBLISHED
    assert live.in_service(alpha).version == second
    # a scenario of another entry point does not touch the main one
    night = put_in_service(alpha, "Nuit", legal, user, entry="night")
    assert live.in_service(alpha, "night").version == night
    assert live.in_service(alpha).version == second
    assert live.in_service(alpha, "weekend") is None
    # the database refuses two versions in service at one entry point
    with pytest.raises(IntegrityError), transaction.atomic():
        ScenarioVersion.objects.filter(pk=first.pk).update(status=Status.PUBLISHED)
    # moving a scenario in service onto a used entry point is refused, with a sentence
    scenario = night.scenario
    scenario.entry = "main"
    with pytest.raises(ValidationError) as info:
        scenario.full_clean()
    assert "Standard" in str(info.value.message_dict["entry"])
    scenario.entry = "after_hours"
    scenario.full_clean()
    scenario.save()
    assert live.in_service(alpha, "after_hours").version == night
    assert ScenarioVersion.objects.get(pk=night.pk).entry == "after_hours"


def test_the_entry_point_is_chosen_at_creation_and_checked(personas, alpha):
    saved = services.create_scenario(alpha, "Nuit", "switchboard", personas["assistant"], entry="night")
    assert saved.version.scenario.entry == saved.version.entry == "night"
    assert saved.version.account_id == alpha.pk
    with pytest.raises(services.ScenarioError):
        services.create_scenario(alpha, "Autre", "switchboard", personas["assistant"], entry="Nuit !")


def test_a_stored_run_on_a_changed_text_keeps_what_was_typed(personas, alpha):
    saved = services.create_scenario(alpha, "Essai", "legal", personas["assistant"])
    version = saved.version
    env = environment.environment(alpha, MONDAY_10, caller="+33611111111")
    engine = live.for_version(version).start(env)
    for given in ({}, {"caller_type": "client"}, {"name": "Jean Dupont", "file_number": "2024/0153"}):
        engine.answer(given)
    stored = Run.objects.create(version=version, agent=personas["assistant"], state=engine.to_json())
    # the draft is edited under the run: clients are now told something before being identified
    branch = '{if: caller_type == "client", goto: %s}'
    services.save_draft(
        version,
        version.source.replace(branch % "identify_client", branch % "reassure").replace(
            "  identify_client:\n", "  reassure: {say: 'Je note votre appel.', next: identify_client}\n"
            "  identify_client:\n"
        ),
        personas["assistant"],
    )
    stored.refresh_from_db()
    resumed = live.resume(stored, env)
    assert resumed.changed and resumed.run.step == "reassure"
    [lost] = resumed.unapplied
    assert lost.step == "identify_client" and ("Nom", "Jean Dupont") in lost.values
    stored.state = resumed.run.to_json()  # what the desk saves: the typed values stay with the run
    stored.save()
    stored.refresh_from_db()
    assert stored.state["unapplied"][0]["given"]["name"] == "Jean Dupont"


def test_the_accounts_question_threshold_reaches_the_checker(alpha):
    if not hasattr(Account, "max_questions"):
        pytest.skip("Account.max_questions has not landed yet")
    legal = services.template_source("legal")
    assert "interrogation" not in {p.code for p in services.check(legal, alpha).problems.warnings}
    Account.objects.filter(pk=alpha.pk).update(max_questions=2)
    alpha = Account.objects.get(pk=alpha.pk)
    assert environment.account_info(alpha).max_questions == 2
    [warning] = [p for p in services.check(legal, alpha).problems.warnings if p.code == "interrogation"]
    assert warning.params["max"] == 2


def test_run_takes_the_callers_number(alpha, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        """title: T
start: a
fields:
  name: {type: text, prefill: caller.name}
  phone: {type: phone, prefill: call.caller}
steps:
  a: {say: "Bonjour {{ caller.name or '' }}", next: b}
  b: {ask: [name, phone], next: e}
  e: {end: information}
""",
        encoding="utf-8",
    )
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"a": {}}))
    common = ("run", str(path), "--answers", str(answers), "--account", "alpha")
    code, out, _ = scenario_cmd(*common, "--caller", "06 11 11 11 11")
    data = json.loads(out)
    assert code == 0 and data["step"] == "b"  # known: shown filled in at the step, for the secretary to see
    assert data["answers"] == {"name": "Albert Client", "phone": "+33611111111"}
    answers.write_text(json.dumps({"a": {}, "b": {}}))  # Enter: the known values are kept
    code, out, _ = scenario_cmd(*common, "--caller", "06 11 11 11 11")
    data = json.loads(out)
    assert code == 0 and data["outcome"]["kind"] == "information"
    assert data["answers"] == {"name": "Albert Client", "phone": "+33611111111"}
    code, out, _ = scenario_cmd(*common)
    data = json.loads(out)
    assert data["step"] == "b" and data["answers"] == {}  # withheld: asked
    assert data["error"]["errors"] == {"name": "Cette réponse est obligatoire.",
                                       "phone": "Cette réponse est obligatoire."}


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_every_published_scenario_in_service(capsys):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from factories import make_account

    account = make_account("old", name="Cabinet Ancien")
    Scenario.objects.filter(account=account).delete()  # the draft a new account starts with
    executor = MigrationExecutor(connection)
    executor.migrate([("scenarios", "0001_initial")])
    apps = executor.loader.project_state([("scenarios", "0001_initial")]).apps
    OldScenario = apps.get_model("scenarios", "Scenario")
    OldVersion = apps.get_model("scenarios", "ScenarioVersion")
    for name in ("Standard", "Accueil", "Nuit"):
        scenario = OldScenario.objects.create(account_id=account.pk, name=name)
        OldVersion.objects.create(
            scenario=scenario, number=1, source="title: x", digest="x", status="published"
        )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    entries = dict(Scenario.objects.filter(account=account).values_list("name", "entry"))
    assert entries == {"Accueil": "main", "Nuit": "nuit", "Standard": "standard"}  # the desk used "Accueil"
    statuses = ScenarioVersion.objects.filter(account=account).values_list("status", flat=True)
    assert set(statuses) == {"published"}
    assert "Nuit" in capsys.readouterr().out
    assert live.in_service(Account.objects.get(pk=account.pk)).version.scenario.name == "Accueil"
