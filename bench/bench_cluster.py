"""The cluster under load: calls per second through web processes, workers and the dispatcher, with kills.

A fresh PostgreSQL database and Redis on 127.0.0.1, an SMTP sink, two web processes, two workers (tasks on
RQ) and the dispatcher; a trunk rings the demo accounts at a Poisson rate (by default ten times the
average of seed 003's operator: 10 million calls a year is 0.317 calls/s, so 3.2 calls/s) and bot
secretaries (200 by default, one asyncio loop) answer through the desk's pages and WebSocket; a web
process, a worker and the dispatcher are SIGKILLed in the middle and started again. The harness is
tests/cluster/harness.py, which tests/cluster/test_cluster.py runs to assert the invariants; here the
figures are printed, then the invariants broken if any. Skipped when PostgreSQL or Redis does not
answer. Run: make bench, or PYTHONPATH=src .venv/bin/python bench/bench_cluster.py --duration 30.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "tests" / part) for part in ("cluster", "")]

import harness  # noqa: E402

MILLION = 1_000_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of calls (default 60)")
    parser.add_argument(
        "--rate",
        type=float,
        default=harness.DEFAULT_RATE,
        help=f"calls per second, Poisson (default {harness.DEFAULT_RATE:g})",
    )
    parser.add_argument("--bots", type=int, default=200, help="bot secretaries (default 200)")
    parser.add_argument("--tasks", choices=("rq", "db"), default="rq", help="the workers' task backend")
    parser.add_argument("--no-kills", action="store_true", help="no process killed during the load")
    parser.add_argument("--keep", action="store_true", help="leave the database afterwards (to look at it)")
    args = parser.parse_args()
    why = harness.unavailable()
    if why:
        print(f"skipped: {why}")
        return 0
    config = harness.Config(
        duration=args.duration,
        rate=args.rate,
        bots=args.bots,
        tasks_backend=args.tasks,
        kills=not args.no_kills,
        keep_database=args.keep,
    )
    outcome, numbers, broken = harness.run(config, all_handled=False)
    print(harness.report(outcome, numbers))
    sustained = numbers["sustained throughput"]
    per_year = sustained * harness.YEAR_SECONDS
    kept_up = numbers["throughput during the calls"] >= 0.9 * numbers["offered rate"]
    print(
        f"a year at {sustained:.2f} calls/s sustained: {per_year / MILLION:.0f} million calls = "
        f"{per_year / (10 * MILLION):.1f} × seed 003's 10 million, "
        f"{per_year / (100 * MILLION):.2f} × 100 million "
        f"(offered: {args.rate:g} calls/s, {args.rate * harness.YEAR_SECONDS / MILLION:.0f} million a year); "
        + (
            "the cluster kept up with the calls: its ceiling is higher"
            if kept_up
            else f"the calls piled up: {sustained:.2f} calls/s is the ceiling here ({os.cpu_count()} CPUs)"
        )
    )
    cpu = sum(numbers["cpu per call"].values())
    if cpu:
        print(
            f"CPU: {cpu:.2f} s per call, so at most {(os.cpu_count() or 1) / cpu:.1f} calls/s on "
            f"{os.cpu_count()} CPUs; {harness.DEFAULT_RATE:g} calls/s (10 × seed 003) needs "
            f"{harness.DEFAULT_RATE * cpu:.1f} CPUs, 100 million calls a year "
            f"{100 * MILLION / harness.YEAR_SECONDS * cpu:.1f} CPUs (with the database on them)"
        )
    print(
        f"setup {outcome.setup_seconds:.0f} s, whole run {outcome.total_seconds:.0f} s; "
        f"logs in {outcome.logs}"
    )
    if broken:
        print(f"INVARIANTS BROKEN ({len(broken)}):")
        for line in broken:
            print("  " + line)
        return 1
    print("invariants: all hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
