"""permanence staffing on the command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command


def run(*args: str) -> dict:
    from io import StringIO

    out = StringIO()
    call_command("staffing", *args, stdout=out)
    return json.loads(out.getvalue())


def test_erlang_c_worked_example_as_json():
    got = run(
        "--calls-per-hour",
        "200",
        "--aht",
        "180",
        "--target-sl",
        "0.8",
        "--target-seconds",
        "20",
        "--shrinkage",
        "0.3",
        "--json",
    )
    assert got["model"] == "erlang_c" and got["agents"] == 14 and got["scheduled_agents"] == 20
    assert got["service_level"] == pytest.approx(0.8884, abs=1e-4) and got["abandonment"] == 0
    assert got["asa_seconds"] == pytest.approx(7.84, abs=0.01) and got["occupancy"] == pytest.approx(
        0.7143, abs=1e-4
    )


def test_erlang_a_with_patience():
    got = run("--calls-per-hour", "1200", "--aht", "300", "--patience", "120", "--json")
    assert got["model"] == "erlang_a" and got["agents"] == 98
    assert got["service_level"] == pytest.approx(0.8138, abs=1e-4) and 0 < got["abandonment"] < 0.1


def test_bad_input_is_one_clear_line():
    with pytest.raises(CommandError, match="handle time must be positive"):
        call_command("staffing", "--calls-per-hour", "10", "--aht", "0")
    done = subprocess.run(
        [sys.executable, "-m", "permanence.cli", "staffing", "--calls-per-hour", "10", "--aht", "-5"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "handle time must be positive" in done.stderr
    text = subprocess.run(
        [sys.executable, "-m", "permanence.cli", "staffing", "--calls-per-hour", "200", "--aht", "180"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "14 agents on the phones" in text


# --input: a plan for every row of a CSV file of volumes ----------------------------------------

VOLUMES = """account,start,calls,aht
acme,2026-03-02T08:00,50,180
acme,2026-03-02T08:15,0,180
beta,2026-03-02T08:00,300,300
beta,2026-03-02T08:15,62.5,330
tiny,2026-03-02 08:00:00+01:00,0.05,240
"""


def plan_rows(tmp_path, *args: str, text: str = VOLUMES) -> list[dict]:
    import csv

    source = tmp_path / "volumes.csv"
    source.write_text(text, encoding="utf-8")
    target = tmp_path / "plan.csv"
    call_command("staffing", "--input", str(source), "--output", str(target), *args)
    with open(target, encoding="utf-8", newline="") as out:
        return list(csv.DictReader(out))


def test_input_file_erlang_c_plan(tmp_path):
    from permanence.planning import erlang

    rows = plan_rows(tmp_path, "--shrinkage", "0.3")
    assert [r["account"] for r in rows] == ["acme", "acme", "beta", "beta", "tiny"]
    assert [r["start"] for r in rows][4] == "2026-03-02 08:00:00+01:00" and rows[3]["calls"] == "62.5"
    # 50 calls a quarter-hour at 180 s = 10 Erlangs: the worked example's 14 agents, 20 scheduled
    assert [int(r["agents"]) for r in rows] == [14, 0, 108, 28, 1]
    assert [int(r["scheduled_agents"]) for r in rows] == [20, 0, 155, 40, 2]
    for row in rows:  # each row is the scalar core's answer for calls x 4 an hour
        core = erlang.required_agents(float(row["calls"]) * 4, float(row["aht"]), shrinkage=0.3)
        assert (int(row["agents"]), int(row["scheduled_agents"])) == (core.agents, core.scheduled)
        assert float(row["service_level"]) == pytest.approx(core.performance.service_level, abs=1e-6)
        assert float(row["asa_seconds"]) == pytest.approx(core.performance.asa_seconds, abs=1e-3)
        assert float(row["occupancy"]) == pytest.approx(core.performance.occupancy, abs=1e-6)
    assert rows[0]["service_level"] == "0.888350" and rows[0]["asa_seconds"] == "7.836"
    assert rows[1]["traffic_erlangs"] == "0.000000" and "abandonment" not in rows[0]


def test_input_file_erlang_a_plan_with_targets(tmp_path):
    from permanence.planning import erlang

    rows = plan_rows(tmp_path, "--patience", "120")
    assert [int(r["agents"]) for r in rows] == [12, 0, 98, 25, 1]
    assert float(rows[2]["service_level"]) == pytest.approx(0.8138, abs=1e-4)
    capped = plan_rows(tmp_path, "--patience", "120", "--max-abandonment", "0.02", "--target-asa", "10")
    for row in rows + capped:
        assert 0 <= float(row["abandonment"]) < 0.1
    for row in capped:
        core = erlang.required_agents(
            float(row["calls"]) * 4, float(row["aht"]), patience=120, max_abandonment=0.02, target_asa=10
        )
        assert int(row["agents"]) == core.agents
        assert float(row["abandonment"]) == pytest.approx(core.performance.abandonment, abs=1e-6)
        assert float(row["asa_seconds"]) == pytest.approx(core.performance.asa_seconds, abs=1e-3)
    assert [int(r["agents"]) for r in capped][:3] == [15, 0, 108]


def test_input_to_standard_output_with_half_hours(tmp_path):
    from io import StringIO

    source = tmp_path / "volumes.csv"
    source.write_text(VOLUMES, encoding="utf-8")
    out = StringIO()
    call_command("staffing", "--input", str(source), "--interval-minutes", "30", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("account,start,calls,aht,traffic_erlangs,agents,scheduled_agents,")
    assert lines[1].startswith("acme,2026-03-02T08:00,50,180,5.000000,8,8,")  # 100 calls an hour
    assert len(lines) == 6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty: expected the header account,start,calls,aht"),
        ("account,start,calls\nacme,2026-03-02T08:00,50\n", "missing column aht"),
        (
            "account;start;calls;aht\n",
            "missing columns account, start, calls, aht (the header must have account,start,calls,aht, "
            "separated by commas)",
        ),
        (
            "account,start,calls,aht\nacme,2026-03-02T08:00,fifty,180\n",
            "line 2: calls 'fifty' is not a number",
        ),
        ("account,start,calls,aht\nacme,2026-03-02T08:00,5,nan\n", "line 2: aht 'nan' is not a number"),
        (
            "account,start,calls,aht\n\nacme,2026-02-30T08:00,5,180\n",
            "line 3: start '2026-02-30T08:00' is not a date",
        ),
        ("account,start,calls,aht\nacme,2026-03-02T08:00,-5,180\n", "line 2: calls cannot be negative"),
        (
            "account,start,calls,aht\nacme,2026-03-02T08:00,5,0\n",
            "line 2: the average handle time must be positive",
        ),
        ("account,start,calls,aht\nacme,2026-03-02T08:00,5\n", "line 2: 3 columns where the header has 4"),
        ("account,start,calls,aht\n,2026-03-02T08:00,5,180\n", "line 2: the account is empty"),
    ],
)
def test_bad_input_file_is_one_clear_line(tmp_path, text, message):
    source = tmp_path / "volumes.csv"
    source.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("staffing", "--input", str(source))


def test_bad_input_file_options_and_no_traceback(tmp_path):
    with pytest.raises(CommandError, match="Cannot read .*missing.csv: No such file"):
        call_command("staffing", "--input", str(tmp_path / "missing.csv"))
    source = tmp_path / "volumes.csv"
    source.write_text(VOLUMES, encoding="utf-8")
    with pytest.raises(CommandError, match="--calls-per-hour is for one volume"):
        call_command("staffing", "--input", str(source), "--calls-per-hour", "10")
    with pytest.raises(CommandError, match="--interval-minutes must be positive"):
        call_command("staffing", "--input", str(source), "--interval-minutes", "0")
    with pytest.raises(CommandError, match="Shrinkage is a share"):
        call_command("staffing", "--input", str(source), "--shrinkage", "1")
    with pytest.raises(CommandError, match="Give --calls-per-hour and --aht, or --input"):
        call_command("staffing", "--aht", "180")
    bad = tmp_path / "bad.csv"
    bad.write_text("account,start,calls,aht\nacme,yesterday,5,180\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "permanence.cli", "staffing", "--input", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "line 2: start 'yesterday' is not a date" in done.stderr


def test_input_file_read_at_once_or_line_by_line_gives_the_same_plan(tmp_path):
    """A clean file is read column by column; one with blank lines or quoted cells is read line by
    line or quoted on the way out: the same plan, a row per input row, cells as the csv module writes."""
    import csv
    import io

    from permanence.planning import commands

    clean = commands.read_volumes(str(_write(tmp_path, "clean.csv", VOLUMES)))
    blanks = VOLUMES.replace("\nbeta", "\n\n,,,\nbeta") + "\n"
    spaced = commands.read_volumes(str(_write(tmp_path, "blanks.csv", blanks)))
    assert commands._volumes_at_once(commands._read_table(str(tmp_path / "blanks.csv")), [0, 1, 2, 3]) is None
    assert spaced == clean and clean.calls == [50.0, 0.0, 300.0, 62.5, 0.05]
    quoted = 'account,start,calls,aht,note\n"Durand, fils",2026-03-02T08:00, 50 ,180,"a ""b"""\n'
    quoted += 'acme,2026-03-02T08:00,0,180,x\n'
    volumes = commands.read_volumes(str(_write(tmp_path, "quoted.csv", quoted)))
    assert volumes.cells["account"] == ["Durand, fils", "acme"] and volumes.cells["calls"] == ["50", "0"]
    out: list[str] = []
    commands.staffing(
        vars(_parser().parse_args(["--input", str(tmp_path / "quoted.csv")])), out.append
    )
    rows = list(csv.reader(io.StringIO("".join(out))))
    assert rows[1][:6] == ["Durand, fils", "2026-03-02T08:00", "50", "180", "10.000000", "14"]
    assert rows[2][:6] == ["acme", "2026-03-02T08:00", "0", "180", "0.000000", "0"]


def test_a_measure_that_is_not_a_number_is_left_empty():
    import numpy as np

    from permanence.planning import commands, grid

    volumes = commands.Volumes({c: ["a", "b"] for c in commands.COLUMNS}, [1.0, 2.0], [180.0, 180.0])
    plan = grid.required_agents([4.0, 8.0], [180.0, 180.0])
    broken = grid.Plan(**{**plan.__dict__, "asa_seconds": np.array([1.5, np.inf])})
    lines = commands.plan_csv(volumes, broken, abandonment=False).splitlines()
    assert lines[1].split(",")[8] == "1.500" and lines[2].split(",")[8] == ""
    assert len(lines[2].split(",")) == len(lines[0].split(","))


def test_input_from_standard_input_without_django(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "permanence.cli", "staffing", "--input", "-", "--shrinkage", "0.3"],
        input=VOLUMES,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},  # no SECRET_KEY, no settings: nothing of Django is needed
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].startswith("acme,2026-03-02T08:00,50,180,10.000000,14,20,")


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _parser():
    import argparse

    from permanence.planning import commands

    parser = argparse.ArgumentParser()
    commands.staffing_arguments(parser)
    return parser
