"""permanence staffing: agents needed for a volume of calls (Erlang C, or Erlang A with --patience);
with --input, for every row of a CSV file of volumes at once (the grid path, planning/grid.py)."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from permanence.planning import erlang, grid

COLUMNS = ("account", "start", "calls", "aht")


@dataclass(frozen=True)
class Volumes:
    rows: list[dict[str, str]]  # the input's four columns, as written
    calls: list[float]  # calls in the interval
    aht: list[float]  # seconds


class Command(BaseCommand):
    help = (
        "Agents needed to answer a volume of calls: Erlang C, or Erlang A when callers hang up "
        "(--patience); prints the predicted service level, ASA, abandonment and occupancy."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--calls-per-hour", type=float, help="calls offered in an hour")
        parser.add_argument("--aht", type=float, help="average handle time, seconds")
        parser.add_argument(
            "--input",
            metavar="FILE.csv",
            help="volumes per interval: a CSV with the header account,start,calls,aht (calls in the "
            "interval, AHT in seconds); writes the plan as CSV, a row per input row",
        )
        parser.add_argument(
            "--output", metavar="FILE.csv", help="with --input: write the plan there (stdout)"
        )
        parser.add_argument(
            "--interval-minutes", type=float, default=15.0, help="with --input: length of an interval (15)"
        )
        parser.add_argument("--target-sl", type=float, default=0.8, help="share answered in time (0.8)")
        parser.add_argument("--target-seconds", type=float, default=20.0, help="answered within (20 s)")
        parser.add_argument("--target-asa", type=float, help="mean wait of answered calls at most, seconds")
        parser.add_argument("--patience", type=float, help="mean seconds before a caller hangs up (Erlang A)")
        parser.add_argument("--max-abandonment", type=float, help="share of callers hanging up at most")
        parser.add_argument("--max-occupancy", type=float, default=1.0, help="share of time talking at most")
        parser.add_argument("--shrinkage", type=float, default=0.0, help="share of paid time off the phones")
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["input"] is not None:
            self.plan_file(options)
            return
        if options["output"] is not None:
            raise CommandError("--output goes with --input (the plan of a CSV file of volumes).")
        if options["calls_per_hour"] is None or options["aht"] is None:
            raise CommandError("Give --calls-per-hour and --aht, or --input FILE.csv.")
        try:
            found = erlang.required_agents(
                options["calls_per_hour"],
                options["aht"],
                target_sl=options["target_sl"],
                target_seconds=options["target_seconds"],
                target_asa=options["target_asa"],
                patience=options["patience"],
                max_abandonment=options["max_abandonment"],
                max_occupancy=options["max_occupancy"],
                shrinkage=options["shrinkage"],
            )
        except erlang.StaffingError as exc:
            raise CommandError(str(exc)) from None
        perf = found.performance
        result = {
            "model": "erlang_a" if options["patience"] is not None else "erlang_c",
            "traffic_erlangs": round(perf.traffic, 6),
            "agents": found.agents,
            "scheduled_agents": found.scheduled,
            "service_level": round(perf.service_level, 6),
            "asa_seconds": round(perf.asa_seconds, 3) if math.isfinite(perf.asa_seconds) else None,
            "waiting_probability": round(perf.waiting_probability, 6),
            "abandonment": round(perf.abandonment, 6),
            "occupancy": round(perf.occupancy, 6),
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(
            f"{result['traffic_erlangs']:.2f} Erlangs: {found.agents} agents on the phones"
            f" ({found.scheduled} scheduled with {options['shrinkage']:.0%} shrinkage)\n"
            f"  service level {perf.service_level:.1%} in {options['target_seconds']:g} s,"
            f" ASA {perf.asa_seconds:.1f} s, waiting {perf.waiting_probability:.1%},"
            f" abandonment {perf.abandonment:.1%}, occupancy {perf.occupancy:.1%}"
        )

    def plan_file(self, options: dict[str, Any]) -> None:
        for single in ("calls_per_hour", "aht"):
            if options[single] is not None:
                flag = "--" + single.replace("_", "-")
                raise CommandError(f"{flag} is for one volume; --input reads the volumes from the file.")
        if options["json"]:
            raise CommandError("--json is for one volume; --input writes CSV.")
        minutes = options["interval_minutes"]
        if not (math.isfinite(minutes) and minutes > 0):
            raise CommandError("--interval-minutes must be positive.")
        targets = grid.Targets(
            target_sl=options["target_sl"],
            target_seconds=options["target_seconds"],
            target_asa=options["target_asa"],
            patience=options["patience"],
            max_abandonment=options["max_abandonment"],
            max_occupancy=options["max_occupancy"],
            shrinkage=options["shrinkage"],
        )
        try:
            targets.check()
        except erlang.StaffingError as exc:
            raise CommandError(str(exc)) from None
        volumes = read_volumes(options["input"])
        try:
            plan = grid.required_agents(
                [calls_per_hour(c, minutes) for c in volumes.calls], volumes.aht, targets
            )
        except erlang.StaffingError as exc:  # checked row by row before: not expected
            raise CommandError(str(exc)) from None
        text = plan_csv(volumes, plan, abandonment=targets.patience is not None)
        if options["output"] is None:
            self.stdout.write(text, ending="")
            return
        try:
            with open(options["output"], "w", encoding="utf-8", newline="") as out:
                out.write(text)
        except OSError as exc:
            raise CommandError(f"Cannot write {options['output']}: {exc.strerror or exc}.") from None


def calls_per_hour(calls: float, interval_minutes: float) -> float:
    """Calls in an interval of that many minutes, as calls per hour (the scalar core's unit)."""
    return calls * 60.0 / interval_minutes


def read_volumes(path: str) -> Volumes:
    """The input CSV, checked: one clear line (``CommandError``) for what is wrong, with its line."""
    try:
        if path == "-":
            return parse_volumes(sys.stdin, "standard input")
        with open(path, encoding="utf-8-sig", newline="") as source:
            return parse_volumes(source, path)
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not UTF-8 text.") from None
    except csv.Error as exc:
        raise CommandError(f"{path} is not a readable CSV file: {exc}.") from None


def parse_volumes(source: IO[str], name: str) -> Volumes:
    reader = csv.reader(source)
    header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        raise CommandError(f"{name} is empty: expected the header {','.join(COLUMNS)}.")
    names = [cell.strip().lower() for cell in header]
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise CommandError(
            f"{name}: missing column{plural} {', '.join(missing)} (the header must have {','.join(COLUMNS)}"
            + (", separated by commas)." if len(names) == 1 else ").")
        )
    where = {column: names.index(column) for column in COLUMNS}
    rows: list[dict[str, str]] = []
    calls: list[float] = []
    aht: list[float] = []
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # blank line
        if len(cells) < len(names):
            raise CommandError(
                f"{name}, line {line}: {len(cells)} columns where the header has {len(names)}."
            )
        row = {column: cells[where[column]].strip() for column in COLUMNS}
        if not row["account"]:
            raise CommandError(f"{name}, line {line}: the account is empty.")
        try:
            datetime.fromisoformat(row["start"])
        except ValueError:
            raise CommandError(
                f"{name}, line {line}: start {row['start']!r} is not a date and time "
                "(ISO 8601, e.g. 2026-03-02T08:15)."
            ) from None
        volume = _number(row["calls"], "calls", name, line)
        if volume < 0:
            raise CommandError(f"{name}, line {line}: calls cannot be negative ({row['calls']}).")
        handle = _number(row["aht"], "aht", name, line)
        if handle <= 0:
            raise CommandError(
                f"{name}, line {line}: the average handle time must be positive ({row['aht']})."
            )
        rows.append(row)
        calls.append(volume)
        aht.append(handle)
    return Volumes(rows, calls, aht)


def _number(text: str, column: str, name: str, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CommandError(f"{name}, line {line}: {column} {text!r} is not a number.") from None
    if not math.isfinite(value):
        raise CommandError(f"{name}, line {line}: {column} {text!r} is not a number.")
    return value


def plan_csv(volumes: Volumes, plan: grid.Plan, *, abandonment: bool) -> str:
    """A row per input row: its four columns as written, then the agents and the predicted measures."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    measures = ["service_level", "asa_seconds", "waiting_probability", "occupancy"]
    if abandonment:
        measures.insert(3, "abandonment")
    writer.writerow([*COLUMNS, "traffic_erlangs", "agents", "scheduled_agents", *measures])
    columns = {
        "service_level": plan.service_level.tolist(),
        "asa_seconds": plan.asa_seconds.tolist(),
        "waiting_probability": plan.waiting_probability.tolist(),
        "abandonment": plan.abandonment.tolist(),
        "occupancy": plan.occupancy.tolist(),
    }
    traffic, agents, scheduled = plan.traffic.tolist(), plan.agents.tolist(), plan.scheduled.tolist()
    for i, row in enumerate(volumes.rows):
        values = [_figure(column, columns[column][i]) for column in measures]
        writer.writerow([*(row[c] for c in COLUMNS), f"{traffic[i]:.6f}", agents[i], scheduled[i], *values])
    return out.getvalue()


def _figure(column: str, value: float) -> str:
    if not math.isfinite(value):
        return ""
    return f"{value:.3f}" if column == "asa_seconds" else f"{value:.6f}"
