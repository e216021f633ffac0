"""Start-up of the pure commands: `permanence staffing`, `scenario check|run|render` and
`forecast --input` run before any Django import (src/permanence/cli.py). Each one is timed in a fresh
interpreter (wall and CPU time of the child), beside its peers measured in the same run:

- `python -c pass` (the interpreter alone) and `import django; django.setup()` (the site loaded);
- the same words through Django's `execute_from_command_line`, the route every command took before
  (the site imported, the system checks run).

Goal (issue 21): each pure command starts in under 0.5 s. `staffing --input` is timed on a one-row
file (its start) and on the 800 accounts x 96 quarter-hours grid (76,800 rows, the whole run).
Figures are medians of a few runs after one untimed run, with the bytecode cache written as a normal
installation has it (PYTHONDONTWRITEBYTECODE is dropped for the children: without .pyc files every
start compiles the sources of Django or of the holidays' tables again, seconds for Django). The goal is
judged on CPU time; on a shared machine read the ratios. Run: make bench.
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEGAL = ROOT / "src" / "permanence" / "scenarios" / "library" / "legal.yaml"
RUNS = 3
GOAL = 0.5  # seconds

DJANGO_ROUTE = (
    "import sys; from django.core.management import execute_from_command_line; "
    "execute_from_command_line(['permanence', *sys.argv[1:]])"
)


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Median wall and CPU time (user + system of the child) of ``RUNS`` runs, after an untimed one."""
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    walls, cpus = [], []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        walls.append(time.perf_counter() - began)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-500:]}")
    return statistics.median(walls), statistics.median(cpus)


def files(folder: Path) -> dict[str, Path]:
    rng = random.Random(7)
    grid = ["account,start,calls,aht"]
    for account in range(800):
        for quarter in range(96):
            aht = rng.uniform(120, 420)
            grid.append(f"a{account},2026-03-02T{quarter // 4:02d}:{quarter % 4 * 15:02d},"
                        f"{rng.uniform(0.2, 100.0) * 900 / aht:.3f},{aht:.1f}")  # fmt: skip
    history = ["account,start,calls,aht"]
    for day in range(9 * 7):
        for quarter in range(8 * 4, 19 * 4):
            at = datetime(2026, 9, 7) + timedelta(days=day, minutes=15 * quarter)
            if at.weekday() < 5:
                history.append(f"acme,{at.isoformat()},{rng.randint(0, 6)},{rng.randint(150, 250)}")
    out = {
        "grid": grid,
        "one": grid[:2],
        "history": history,
    }
    paths = {}
    for name, lines in out.items():
        paths[name] = folder / f"{name}.csv"
        paths[name].write_text("\n".join(lines) + "\n", encoding="utf-8")
    paths["answers"] = folder / "answers.json"
    paths["answers"].write_text(json.dumps([["welcome", {}], ["qualify", {"caller_type": "job_seeker"}]]))
    paths["plan"] = folder / "plan.csv"
    return paths


def main() -> None:
    env = dict(os.environ)
    env.setdefault("SECRET_KEY", "bench")
    env["DJANGO_SETTINGS_MODULE"] = "permanence.settings"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    python = sys.executable
    with tempfile.TemporaryDirectory() as folder:
        paths = files(Path(folder))
        plan = ["--shrinkage", "0.3", "--output", str(paths["plan"])]
        commands = {
            "staffing (one volume)": ["staffing", "--calls-per-hour", "200", "--aht", "180"],
            "staffing --input (1 row)": ["staffing", "--input", str(paths["one"]), *plan],
            "staffing --input (800x96 rows)": ["staffing", "--input", str(paths["grid"]), *plan],
            "scenario check": ["scenario", "check", str(LEGAL)],
            "scenario run": ["scenario", "run", str(LEGAL), "--answers", str(paths["answers"]),
                             "--at", "2026-11-23T10:00"],
            "scenario render": ["scenario", "render", str(LEGAL)],
            "forecast --input (9 weeks)": ["forecast", "--input", str(paths["history"])],
        }  # fmt: skip
        bare_wall, bare_cpu = timed([python, "-c", "pass"], env)
        setup_wall, setup_cpu = timed([python, "-c", "import django; django.setup()"], env)
        print(f"peers: python -c pass {bare_wall * 1e3:.0f} ms wall, {bare_cpu * 1e3:.0f} ms CPU; "
              f"django.setup() {setup_wall * 1e3:.0f} ms wall, {setup_cpu * 1e3:.0f} ms CPU")  # fmt: skip
        print(f"{'command':32} {'wall':>8} {'CPU':>8} {'goal':>5} {'x pass':>7} {'/setup':>7} "
              f"{'via Django (CPU)':>17} {'faster':>7}")  # fmt: skip
        for name, words in commands.items():
            wall, cpu = timed([python, "-m", "permanence.cli", *words], env)
            _, django_cpu = timed([python, "-c", DJANGO_ROUTE, *words], env)
            goal = "n/a" if "rows)" in name else "met" if cpu < GOAL else "MISS"  # whole runs: no goal
            print(
                f"{name:32} {wall * 1e3:6.0f}ms {cpu * 1e3:6.0f}ms {goal:>5} {cpu / bare_cpu:6.1f}x "
                f"{cpu / setup_cpu:6.2f}x {django_cpu * 1e3:15.0f}ms {django_cpu / cpu:6.1f}x"
            )
    print("(x pass: CPU over the bare interpreter's; /setup: over django.setup()'s; faster: Django's route "
          "over the pure command's CPU)")  # fmt: skip


if __name__ == "__main__":
    main()
