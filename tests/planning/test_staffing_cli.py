"""permanence staffing on the command line."""

from __future__ import annotations

import json
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
