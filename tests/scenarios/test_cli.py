"""permanence scenario check|run|render: exit statuses, French sentences, JSON."""

import json
from pathlib import Path

import pytest
from django.core.management import CommandError
from django.utils import translation

from scenario_helpers import large_scenario, scenario_cmd

LEGAL = Path(__file__).resolve().parents[2] / "src" / "permanence" / "scenarios" / "library" / "legal.yaml"


def test_clean_file_exits_0(db):
    code, out, _ = scenario_cmd("check", str(LEGAL))
    assert code == 0 and "legal.yaml" in out


def test_errors_exit_1_with_line_column_in_french(db, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: T\nstart: a\nsteps:\n  a: {say: bonjour, next: b}\n", encoding="utf-8")
    with translation.override("fr"):
        code, _, err = scenario_cmd("check", str(bad))
    assert code == 1
    assert f"{bad}:4:27: erreur: Il n’y a pas d’étape « b »." in err


def test_unreadable_input_exits_2(db, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\x00\x01\x02")
    assert scenario_cmd("check", str(bad))[0] == 2
    assert scenario_cmd("check", str(tmp_path / "missing.yaml"))[0] == 2
    bad.write_text("title: [unclosed\n")
    assert scenario_cmd("check", str(bad))[0] == 2


def test_json_output(db, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: T\nstart: a\nsteps:\n  a: {say: bonjour, next: b}\n", encoding="utf-8")
    code, out, _ = scenario_cmd("check", str(bad), "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False and data["errors"] == 1
    assert data["problems"][0] | {"message": None} == {
        "severity": "error",
        "code": "unknown_step",
        "line": 4,
        "column": 27,
        "message": None,
    }


def test_check_against_an_account(alpha, tmp_path):
    text = LEGAL.read_text().replace("transfer: wanted", "transfer: paul-nobody")
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    code, _, err = scenario_cmd("check", str(path), "--account", "alpha")
    assert code == 1 and "paul-nobody" in err
    assert scenario_cmd("check", str(LEGAL), "--account", "alpha")[0] == 0


def test_run_prints_path_outcome_and_message(alpha, tmp_path):
    answers = tmp_path / "answers.json"
    answers.write_text(
        json.dumps(
            {
                "welcome": {},
                "qualify": {"caller_type": "client"},
                "identify_client": {"name": "Jean Dupont", "phone": "06 12 34 56 78"},
                "find": {"person": "anne-alphonse"},
                "put_through": "no_answer",
                "take_message": {"subject": "Rappel", "urgent": "non"},
            }
        )
    )
    code, out, _ = scenario_cmd(
        "run", str(LEGAL), "--answers", str(answers), "--account", "alpha", "--at", "2026-11-23T10:00:00"
    )
    data = json.loads(out)
    assert code == 0, data
    assert data["outcome"]["kind"] == "message"
    assert data["path"][:3] == ["welcome", "qualify", "identify_client"]
    assert data["message"]["subject"] == "Message : Client du cabinet — Jean Dupont"
    assert data["facts"]["is_open()"] is True


def test_run_reports_a_bad_answer(db, tmp_path):
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps([["welcome", {}], ["qualify", {"caller_type": "martian"}]]))
    code, out, _ = scenario_cmd("run", str(LEGAL), "--answers", str(answers))
    data = json.loads(out)
    assert code == 1 and data["error"]["step"] == "qualify" and "caller_type" in data["error"]["errors"]


@pytest.mark.parametrize(("fmt", "marker"), [("mermaid", "flowchart TD"), ("dot", "digraph scenario")])
def test_render(db, fmt, marker):
    code, out, _ = scenario_cmd("render", str(LEGAL), "--format", fmt)
    assert code == 0 and out.startswith(marker)
    assert "Transfert" in out and "pas de réponse" in out


def test_run_compares_with_a_new_version(db, tmp_path):
    answers = tmp_path / "answers.json"
    answers.write_text(
        json.dumps([["welcome", {}], ["qualify", {"caller_type": "job_seeker"}], ["jobs", {}]])
    )
    new = tmp_path / "new.yaml"
    text = LEGAL.read_text().replace(
        '{if: caller_type == "job_seeker", goto: jobs}', '{if: caller_type == "job_seeker", goto: jobs_intro}'
    )
    text = text.replace("  jobs:\n", "  jobs_intro: {say: 'Nous recrutons !', next: jobs}\n  jobs:\n")
    new.write_text(text, encoding="utf-8")
    code, out, _ = scenario_cmd("run", str(LEGAL), "--answers", str(answers), "--compare", str(new))
    data = json.loads(out)
    assert code == 0 and data["outcome"]["kind"] == "information"
    assert data["replay"]["diverges"] is True and data["replay"]["at_input"] == 2
    assert data["replay"]["expected_step"] == "jobs" and data["replay"]["reached_step"] == "jobs_intro"


def test_the_environment_without_django_is_the_one_without_an_account():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from permanence.scenarios import commands, environment

    at = datetime(2026, 11, 23, 10, tzinfo=ZoneInfo("Europe/Paris"))
    for caller in (None, "+33612345678"):
        pure = commands.environment_without_account(at, caller)
        django = environment.environment(None, at, caller=caller, simulated_identity=True)
        assert pure.values() == django.values() and pure.values()["call"]["caller"] == caller
        assert type(pure.identity) is type(django.identity) and pure.identity.simulated
        for part in ("people", "functions", "sensitive"):
            assert getattr(pure, part) == getattr(django, part)


def test_a_shared_block_or_an_account_is_the_database_s(db, tmp_path, capsys):
    """Without Django, a scenario using a block it does not define is handed over before a word is
    written; Django's command then reads the library (here empty: the block is unknown)."""
    from permanence.scenarios import commands

    path = tmp_path / "shared.yaml"
    path.write_text("title: T\nstart: a\nsteps:\n  a: {use: cold_caller, with: {company: X}}\n")
    assert commands.main(["check", str(path)]) is None
    assert commands.main(["render", str(path)]) is None
    assert capsys.readouterr() == ("", "")
    code, _, err = scenario_cmd("check", str(path))
    assert code == 1 and "cold_caller" in err
    assert commands.main(["check", str(LEGAL), "--account", "alpha"]) is None
    assert commands.main(["check", str(LEGAL)]) == 0 and "aucun problème" in capsys.readouterr().out


def test_a_large_scenario_renders_page_by_page(db, tmp_path):
    """Mermaid refuses one diagram of 2,000 steps: every page after its mark, or ``--page N`` alone, the
    same words without Django as through Django's command."""
    from permanence.scenarios import commands

    path = tmp_path / "large.yaml"
    path.write_text(large_scenario(200, lonely=False), encoding="utf-8")
    code, out, err = scenario_cmd("render", str(path))
    total = out.count("%% page ")
    assert code == 0 and total > 10 and f"%% page {total}/{total} : " in out
    assert f"The drawing has {total} pages" in err or f"Le dessin a {total} pages" in err
    code, page, _ = scenario_cmd("render", str(path), "--page", "2")
    assert code == 0 and page.startswith("flowchart TD") and "%% page" not in page
    assert page in out and "page 1" in page  # an arrow back to the first page ends on its link
    with pytest.raises(CommandError, match=f"the drawing has {total}|le dessin en a {total}"):
        scenario_cmd("render", str(path), "--page", str(total + 1))
    assert commands.main(["render", str(path), "--page", str(total + 1)]) == 1
    assert commands.main(["render", str(path), "--page", "1", "--format", "dot"]) == 1
    small = scenario_cmd("render", str(LEGAL), "--page", "1")
    assert small[1] == scenario_cmd("render", str(LEGAL))[1] and small[2] == ""
