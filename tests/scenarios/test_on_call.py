"""``on_call(service)`` in the scenario language: the checker knows the account's rotas, the run reads
whoever is on call once (a fact kept for the replay), and a lookup can propose them."""

import json

from permanence.scenarios.engine import checker
from permanence.scenarios.engine.checker import AccountInfo
from permanence.scenarios.engine.runtime import Person, Run, StaticEnvironment

SCENARIO = """\
language: permanence/1
title: Astreinte
start: start
fields:
  wanted: {type: person, label: Personne demandée}
steps:
  start:
    decide:
      - {if: 'is_set(on_call("urgences")) and available(on_call("urgences"))', goto: astreinte}
      - {else: personne}
  astreinte:
    say: "{{ account.name }} : je vous passe la personne d'astreinte."
    lookup: wanted
    on_call: urgences
    on: {found: passer, not_found: personne}
  passer:
    transfer: wanted
    on: {other: personne}
  personne:
    message: [account]
"""

ACCOUNT = AccountInfo(slug="clinique", name="Clinique du Parc", collaborators={"dr-martin": "Dr Martin"},
                      services=frozenset({"urgences", "accueil"}), rotas=frozenset({"urgences"}))


def env(on_duty):
    people = {"dr-martin": Person("dr-martin", "Dr Martin", mobile="+33612345678", service="Urgences"),
              "dr-durand": Person("dr-durand", "Dr Durand", mobile="+33698765432", service="Urgences")}
    return StaticEnvironment(people=people, records={"account": {"name": "Clinique du Parc"}},
                             functions={"on_call": lambda s: on_duty if s == "urgences" else None})


def test_the_checker_knows_the_services_with_a_rota():
    assert checker.check(SCENARIO, ACCOUNT).ok
    wrong = SCENARIO.replace('on_call("urgences")) and', 'on_call("accueil")) and')
    problems = [p for p in checker.check(wrong, ACCOUNT).problems.errors if p.code == "no_rota"]
    assert [(p.line, p.params["name"]) for p in problems] == [(9, "accueil")]
    assert "urgences" in problems[0].params["expected"]
    lookup = SCENARIO.replace("on_call: urgences", "on_call: accueil")
    [problem] = [p for p in checker.check(lookup, ACCOUNT).problems.errors if p.code == "no_rota"]
    assert problem.line == 14
    typed = SCENARIO.replace('is_set(on_call("urgences"))', "is_set(on_call(42))")
    assert any(p.code == "arg_type" for p in checker.check(typed, ACCOUNT).problems.errors)


def test_the_run_proposes_whoever_is_on_call_and_keeps_it_as_a_fact():
    scenario = checker.check(SCENARIO, ACCOUNT).scenario
    run = Run.start(scenario, env("dr-martin"))
    screen = run.screen()
    assert screen["step"] == "astreinte"
    assert screen["on_call"]["person"]["name"] == "Dr Martin"
    assert run.facts['on_call(\'urgences\')'] == "dr-martin"
    run.answer({"person": "dr-martin"})
    assert run.screen()["person"]["mobile"] == "+33612345678"
    # resumed later, when the rota has moved on: the call keeps who was on call then
    stored = json.loads(json.dumps(run.to_json()))
    resumed = Run.from_json(scenario, env("dr-durand"), stored)
    assert resumed.step == "passer" and resumed.to_json() == run.to_json()


def test_nobody_on_call_goes_the_other_way():
    scenario = checker.check(SCENARIO, ACCOUNT).scenario
    run = Run.start(scenario, env(None))
    assert run.outcome["kind"] == "message" and run.outcome["step"] == "personne"
    assert run.facts == {"on_call('urgences')": None}
