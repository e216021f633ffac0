"""``permanence staffing`` and ``permanence forecast --input``, without Django. Pure core.

``permanence.cli`` runs these before any Django import (no site, no system checks: they start in a
tenth of a second); the management commands (``call_command``, ``python -m django``) add the same
arguments and call the same functions, and turn ``Failure`` into ``CommandError``. Only the forms
that read the database (``forecast`` without ``--input``) go through Django.

Heavy modules are imported where they are used: the grid path (numpy, scipy) only with
``staffing --input``, the holidays only for ``forecast --input``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from permanence.planning import erlang, weekplan

if TYPE_CHECKING:
    from permanence.planning import grid

Write = Callable[[str], None]

COLUMNS = ("account", "start", "calls", "aht")
OPERATOR_ZONE = "Europe/Paris"  # settings.TIME_ZONE (tests/planning/test_staffing_cli.py checks it)

STAFFING_HELP = (
    "Agents needed to answer a volume of calls: Erlang C, or Erlang A when callers hang up "
    "(--patience); prints the predicted service level, ASA, abandonment and occupancy."
)
FORECAST_HELP = (
    "Forecast a week's calls from the last 8 whole weeks (one account, or all), with the error "
    "measured on the last week (WAPE), and the secretaries needed per day. With --input, from a CSV "
    "file of past calls (no database); without it, from the database's rollups (--account)."
)


class Failure(Exception):
    """Bad input: one clear line, no traceback (``CommandError`` under Django)."""


# staffing -------------------------------------------------------------------------------------


def staffing_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls-per-hour", type=float, help="calls offered in an hour")
    parser.add_argument("--aht", type=float, help="average handle time, seconds")
    parser.add_argument(
        "--input",
        metavar="FILE.csv",
        help="volumes per interval: a CSV with the header account,start,calls,aht (calls in the "
        "interval, AHT in seconds); writes the plan as CSV, a row per input row",
    )
    parser.add_argument("--output", metavar="FILE.csv", help="with --input: write the plan there (stdout)")
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


def staffing(options: Mapping[str, Any], write: Write) -> None:
    """``permanence staffing``: one volume, or with ``--input`` every row of a CSV file."""
    if options["input"] is not None:
        plan_file(options, write)
        return
    if options["output"] is not None:
        raise Failure("--output goes with --input (the plan of a CSV file of volumes).")
    if options["calls_per_hour"] is None or options["aht"] is None:
        raise Failure("Give --calls-per-hour and --aht, or --input FILE.csv.")
    try:
        found = erlang.required_agents(options["calls_per_hour"], options["aht"], **staffing_targets(options))
    except erlang.StaffingError as exc:
        raise Failure(str(exc)) from None
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
        write(json.dumps(result) + "\n")
        return
    write(
        f"{result['traffic_erlangs']:.2f} Erlangs: {found.agents} agents on the phones"
        f" ({found.scheduled} scheduled with {options['shrinkage']:.0%} shrinkage)\n"
        f"  service level {perf.service_level:.1%} in {options['target_seconds']:g} s,"
        f" ASA {perf.asa_seconds:.1f} s, waiting {perf.waiting_probability:.1%},"
        f" abandonment {perf.abandonment:.1%}, occupancy {perf.occupancy:.1%}\n"
    )


TARGET_OPTIONS = (
    "target_sl", "target_seconds", "target_asa", "patience", "max_abandonment", "max_occupancy", "shrinkage"
)


def staffing_targets(options: Mapping[str, Any]) -> dict[str, Any]:
    """The targets among the options: ``erlang.required_agents``' keywords, ``grid.Targets``' fields."""
    return {name: options[name] for name in TARGET_OPTIONS}


def plan_file(options: Mapping[str, Any], write: Write) -> None:
    for single in ("calls_per_hour", "aht"):
        if options[single] is not None:
            flag = "--" + single.replace("_", "-")
            raise Failure(f"{flag} is for one volume; --input reads the volumes from the file.")
    if options["json"]:
        raise Failure("--json is for one volume; --input writes CSV.")
    minutes = options["interval_minutes"]
    if not (math.isfinite(minutes) and minutes > 0):
        raise Failure("--interval-minutes must be positive.")
    from permanence.planning import grid  # numpy: only for a file

    wanted = grid.Targets(**staffing_targets(options))
    try:
        wanted.check()
    except erlang.StaffingError as exc:
        raise Failure(str(exc)) from None
    volumes = read_volumes(options["input"])
    try:
        plan = grid.required_agents([calls_per_hour(c, minutes) for c in volumes.calls], volumes.aht, wanted)
    except erlang.StaffingError as exc:  # checked row by row before: not expected
        raise Failure(str(exc)) from None
    text = plan_csv(volumes, plan, abandonment=wanted.patience is not None)
    if options["output"] is None:
        write(text)
        return
    try:
        with open(options["output"], "w", encoding="utf-8", newline="") as out:
            out.write(text)
    except OSError as exc:
        raise Failure(f"Cannot write {options['output']}: {exc.strerror or exc}.") from None


def calls_per_hour(calls: float, interval_minutes: float) -> float:
    """Calls in an interval of that many minutes, as calls per hour (the scalar core's unit)."""
    return calls * 60.0 / interval_minutes


@dataclass(frozen=True)
class Volumes:
    cells: dict[str, list[str]]  # the input's four columns, as written (stripped), a value per row
    calls: list[float]  # calls in the interval
    aht: list[float]  # seconds


def read_volumes(path: str) -> Volumes:
    """The input CSV, checked: one clear line (``Failure``) for what is wrong, with its line."""
    name = "standard input" if path == "-" else path
    table = _read_table(path)
    where = _header(table, name, COLUMNS, COLUMNS)
    return _volumes_at_once(table, where) or _volumes_row_by_row(table, where, name)


def _read_table(path: str) -> list[list[str]]:
    try:
        if path == "-":
            return list(csv.reader(sys.stdin))
        with open(path, encoding="utf-8-sig", newline="") as source:
            return list(csv.reader(source))
    except OSError as exc:
        raise Failure(f"Cannot read {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise Failure(f"{path} is not UTF-8 text.") from None
    except csv.Error as exc:
        raise Failure(f"{path} is not a readable CSV file: {exc}.") from None


def _header(
    table: list[list[str]], name: str, required: tuple[str, ...], expected: tuple[str, ...]
) -> list[int]:
    """The positions of the ``required`` columns in the header (its first row)."""
    header = table[0] if table else None
    if header is None or not any(cell.strip() for cell in header):
        raise Failure(f"{name} is empty: expected the header {','.join(expected)}.")
    names = [cell.strip().lower() for cell in header]
    missing = [column for column in required if column not in names]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise Failure(
            f"{name}: missing column{plural} {', '.join(missing)} (the header must have {','.join(expected)}"
            + (", separated by commas)." if len(names) == 1 else ").")
        )
    return [names.index(column) for column in required]


def _volumes_at_once(table: list[list[str]], where: list[int]) -> Volumes | None:
    """A well-formed file column by column (most files); None for anything to report or skip (blank
    lines, a bad cell), which ``_volumes_row_by_row`` then reads with its line numbers."""
    width = len(table[0])
    body = table[1:]
    if any(len(cells) < width for cells in body):
        return None
    cells = {column: [row[i].strip() for row in body] for column, i in zip(COLUMNS, where, strict=True)}
    if not all(cells["account"]):
        return None
    try:
        for start in set(cells["start"]):
            datetime.fromisoformat(start)
        calls = list(map(float, cells["calls"]))
        aht = list(map(float, cells["aht"]))
    except ValueError:
        return None
    if calls and not (
        all(map(math.isfinite, calls)) and all(map(math.isfinite, aht)) and min(calls) >= 0 and min(aht) > 0
    ):
        return None
    return Volumes(cells, calls, aht)


def _volumes_row_by_row(table: list[list[str]], where: list[int], name: str) -> Volumes:
    width = len(table[0])
    cells: dict[str, list[str]] = {column: [] for column in COLUMNS}
    calls: list[float] = []
    aht: list[float] = []
    for line, row in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) < width:
            raise Failure(f"{name}, line {line}: {len(row)} columns where the header has {width}.")
        values = dict(zip(COLUMNS, (row[i].strip() for i in where), strict=True))
        if not values["account"]:
            raise Failure(f"{name}, line {line}: the account is empty.")
        _moment(values["start"], name, line)
        volume = _number(values["calls"], "calls", name, line)
        if volume < 0:
            raise Failure(f"{name}, line {line}: calls cannot be negative ({values['calls']}).")
        handle = _number(values["aht"], "aht", name, line)
        if handle <= 0:
            raise Failure(f"{name}, line {line}: the average handle time must be positive ({values['aht']}).")
        for column in COLUMNS:
            cells[column].append(values[column])
        calls.append(volume)
        aht.append(handle)
    return Volumes(cells, calls, aht)


def _moment(text: str, name: str, line: int) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise Failure(
            f"{name}, line {line}: start {text!r} is not a date and time (ISO 8601, e.g. 2026-03-02T08:15)."
        ) from None


def _number(text: str, column: str, name: str, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Failure(f"{name}, line {line}: {column} {text!r} is not a number.") from None
    if not math.isfinite(value):
        raise Failure(f"{name}, line {line}: {column} {text!r} is not a number.")
    return value


def plan_csv(volumes: Volumes, plan: grid.Plan, *, abandonment: bool) -> str:
    """A row per input row: its four columns as written, then the agents and the predicted measures.
    Written a row per format operation; a measure that is not finite is left empty."""
    measures = ["service_level", "asa_seconds", "waiting_probability", "occupancy"]
    if abandonment:
        measures.insert(3, "abandonment")
    header = ",".join([*COLUMNS, "traffic_erlangs", "agents", "scheduled_agents", *measures]) + "\n"
    written = [_quoted(volumes.cells[column]) for column in COLUMNS]
    values = [getattr(plan, column).tolist() for column in measures]
    figures = "".join(",%.3f" if column == "asa_seconds" else ",%.6f" for column in measures)
    line = "%s,%s,%s,%s,%.6f,%d,%d" + figures + "\n"
    counts = plan.traffic.tolist(), plan.agents.tolist(), plan.scheduled.tolist()
    out = [line % row for row in zip(*written, *counts, *values, strict=True)]
    if not all(all(map(math.isfinite, numbers)) for numbers in values):
        _blank_not_finite(out, written, plan, measures, values)
    return header + "".join(out)


def _blank_not_finite(
    out: list[str], written: list[list[str]], plan: grid.Plan, measures: list[str], values: list[list[float]]
) -> None:
    traffic, agents, scheduled = plan.traffic.tolist(), plan.agents.tolist(), plan.scheduled.tolist()
    for i in range(len(out)):
        row = [value[i] for value in values]
        if all(map(math.isfinite, row)):
            continue
        shown = [_figure(column, value) for column, value in zip(measures, row, strict=True)]
        counts = [f"{traffic[i]:.6f}", str(agents[i]), str(scheduled[i])]
        out[i] = ",".join([*(w[i] for w in written), *counts, *shown]) + "\n"


def _quoted(cells: list[str]) -> list[str]:
    """The cells as the csv module writes them (quoted when they hold a comma, a quote or a line end)."""
    if not any(mark in cell for cell in cells for mark in ',"\r\n'):
        return cells
    return [f'"{c.replace(chr(34), chr(34) * 2)}"' if any(m in c for m in ',"\r\n') else c for c in cells]


def _figure(column: str, value: float) -> str:
    if not math.isfinite(value):
        return ""
    return f"{value:.3f}" if column == "asa_seconds" else f"{value:.6f}"


# forecast --input -----------------------------------------------------------------------------


def forecast_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        metavar="FILE.csv",
        help="past calls per interval: a CSV with the columns start,calls (aht too when it is there; "
        "other columns ignored, rows of one start added up); no database. The history ends with the "
        "week of its last row",
    )
    parser.add_argument(
        "--account", help="the account's short name (default: all accounts); reads the database"
    )
    parser.add_argument(
        "--week",
        help="a day of the week to plan, 2026-12-07 (default: next week; with --input, the week after "
        "the history)",
    )
    parser.add_argument("--interval", type=int, default=30, choices=weekplan.INTERVALS, help="minutes (30)")
    parser.add_argument("--target-sl", type=float, default=0.8, help="share answered in time (0.8)")
    parser.add_argument("--target-seconds", type=float, default=20.0, help="answered within (20 s)")
    parser.add_argument("--shrinkage", type=float, default=0.3, help="share of paid time off the phones")
    parser.add_argument("--patience", type=float, help="mean seconds before a caller hangs up (Erlang A)")
    parser.add_argument(
        "--aht",
        type=float,
        help="with --input: the handle time, seconds (default: the file's aht column, or 180)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def forecast_targets(options: Mapping[str, Any]) -> weekplan.Targets:
    patience = options["patience"]
    if patience is not None and not weekplan.MIN_PATIENCE <= patience <= 3600:
        raise Failure(f"the patience is {weekplan.MIN_PATIENCE} to 3600 seconds")
    try:  # said before the plan, even for a week without calls
        sl, seconds, shrinkage = options["target_sl"], options["target_seconds"], options["shrinkage"]
        erlang.check_targets(sl, seconds, patience, None, 1.0, shrinkage)
    except erlang.StaffingError as exc:
        raise Failure(str(exc)) from None
    return weekplan.Targets(
        service_level=options["target_sl"],
        seconds=options["target_seconds"],
        shrinkage=options["shrinkage"],
        patience=patience,
        interval_minutes=options["interval"],
    )


def plan_week(options: Mapping[str, Any], today: date, default_week: date) -> date:
    """The week asked for (``--week``), checked against ``today``."""
    try:
        week = date.fromisoformat(options["week"]) if options["week"] else default_week
    except ValueError:
        raise Failure("dates are written 2026-12-31") from None
    if not weekplan.week_allowed(week, today):
        raise Failure("plan a week from this one up to twelve weeks ahead")
    return week


@dataclass(frozen=True)
class History:
    calls: list[tuple[datetime, float]]  # (interval start, calls), as the rollups give them
    aht: float | None  # the calls-weighted mean of the aht column over the weeks fitted
    next_monday: date  # the Monday after the last row's week: the plan's "today"


def forecast_file(options: Mapping[str, Any], write: Write) -> None:
    """``permanence forecast --input FILE.csv``: the plan of a week from a file of past calls."""
    if options.get("account"):
        raise Failure("--account reads the database, --input a file: give one of them.")
    if options["aht"] is not None and not (math.isfinite(options["aht"]) and options["aht"] > 0):
        raise Failure("--aht must be positive.")
    targets = forecast_targets(options)
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(OPERATOR_ZONE)
    past = read_history(options["input"], zone)
    week = plan_week(options, past.next_monday, past.next_monday)
    from permanence.accounts import hours  # the holidays' tables: only here

    first = weekplan.first_day(past.next_monday)
    lookup = hours.public_holidays()
    last = week - timedelta(days=week.weekday()) + timedelta(days=6)
    holidays = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    try:
        plan = weekplan.plan(
            past.calls,
            zone=zone,
            week=week,
            today=past.next_monday,
            targets=targets,
            holidays=[day for day in holidays if lookup(day)],
            measured_aht=options["aht"] or past.aht,
        )
    except erlang.StaffingError as exc:
        raise Failure(str(exc)) from None
    write_plan(plan, None, options["input"], targets, bool(options["json"]), write)


def read_history(path: str, zone: tzinfo) -> History:
    """The past calls of a CSV file (start, calls; aht when there), checked line by line."""
    name = "standard input" if path == "-" else path
    table = _read_table(path)
    where = _header(table, name, ("start", "calls"), ("start", "calls", "aht"))
    names = [cell.strip().lower() for cell in table[0]]
    at_aht = names.index("aht") if "aht" in names else None
    width = len(names)
    calls: list[tuple[datetime, float]] = []
    handled: list[tuple[datetime, float, float]] = []
    moments: dict[str, datetime] = {}
    for line, row in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < width:
            raise Failure(f"{name}, line {line}: {len(row)} columns where the header has {width}.")
        start = row[where[0]].strip()
        at = moments.get(start)
        if at is None:
            at = _moment(start, name, line)
            at = moments[start] = at if at.tzinfo else at.replace(tzinfo=zone)
        volume = _number(row[where[1]].strip(), "calls", name, line)
        if volume < 0:
            raise Failure(f"{name}, line {line}: calls cannot be negative ({row[where[1]].strip()}).")
        if at_aht is not None and volume > 0:
            handle = _number(row[at_aht].strip(), "aht", name, line)
            if handle <= 0:
                raise Failure(f"{name}, line {line}: the average handle time must be positive ({handle:g}).")
            handled.append((at, volume, handle))
        if volume:
            calls.append((at, volume))
    if not calls:
        raise Failure(f"{name}: no call in the history.")
    last = max(at.astimezone(zone).date() for at, _ in calls)
    next_monday = last - timedelta(days=last.weekday()) + timedelta(weeks=1)
    fitted_from = next_monday - timedelta(weeks=weekplan.HISTORY_WEEKS)
    weights = [(c, h) for at, c, h in handled if at.astimezone(zone).date() >= fitted_from]
    total = sum(c for c, _ in weights)
    aht = sum(c * h for c, h in weights) / total if total else None
    return History(calls, aht, next_monday)


def write_plan(
    plan: weekplan.WeekPlan, account: Mapping[str, str] | None, source: str | None, targets: weekplan.Targets,
    as_json: bool, write: Write,
) -> None:  # fmt: skip
    """The plan per day, as text or JSON (``account``: its slug and name; ``source``: the file read)."""
    days = [
        {
            "day": day.isoformat(),
            "calls": round(sum(i.calls for i in intervals), 1),
            "peak_agents": max((i.agents for i in intervals), default=0),
            "scheduled_hours": sum(i.scheduled for i in intervals) * targets.interval_minutes / 60,
        }
        for day, intervals in plan.days()
    ]
    result: dict[str, Any] = {
        "account": account["slug"] if account else None,
        "week": plan.week.isoformat(),
        "history_calls": plan.history_calls,
        "aht_seconds": round(plan.aht_seconds, 1),
        "aht_measured": plan.aht_measured,
        "wape_interval": None if plan.wape is None else round(plan.wape, 4),
        "wape_day": None if plan.wape_day is None else round(plan.wape_day, 4),
        "calls": round(plan.calls, 1),
        "scheduled_hours": plan.agent_hours,
        "days": days,
    }
    if source is not None:
        result["input"] = source
    if as_json:
        write(json.dumps(result) + "\n")
        return
    name = account["name"] if account else source or "all accounts"
    lines = [f"{name}, week of {plan.week}: {plan.calls:.0f} calls forecast"]
    if plan.wape is None or plan.wape_day is None:
        lines.append("  no whole last week in the history: error not measured")
    else:
        lines.append(
            f"  error on the last week (WAPE): {plan.wape:.1%} per {targets.interval_minutes} min, "
            f"{plan.wape_day:.1%} per day; from {plan.history_calls} calls, AHT {plan.aht_seconds:.0f} s"
        )
    for row in days:
        lines.append(
            f"  {row['day']}  {row['calls']:7.1f} calls  peak {row['peak_agents']:3d} on the phones  "
            f"{row['scheduled_hours']:6.1f} h scheduled"
        )
    write("".join(line + "\n" for line in lines))


# the command line, before Django -------------------------------------------------------------


def _parser(
    name: str, help_text: str, arguments: Callable[[argparse.ArgumentParser], None]
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"permanence {name}", description=help_text)
    arguments(parser)
    return parser


def _stdout(text: str) -> None:
    sys.stdout.write(text)


def _run(work: Callable[[Mapping[str, Any], Write], None], options: Mapping[str, Any]) -> int:
    try:
        work(options, _stdout)
    except Failure as exc:
        print(f"CommandError: {exc}", file=sys.stderr)  # the words Django's commands end with
        return 1
    return 0


def staffing_main(argv: list[str]) -> int:
    """``permanence staffing ARGS`` without Django."""
    options = vars(_parser("staffing", STAFFING_HELP, staffing_arguments).parse_args(argv))
    return _run(staffing, options)


def forecast_main(argv: list[str]) -> int | None:
    """``permanence forecast --input FILE ARGS`` without Django; None when the form needs the
    database (no --input, or --account): Django's command runs it."""
    options = vars(_parser("forecast", FORECAST_HELP, forecast_arguments).parse_args(argv))
    if options["input"] is None or options["account"]:
        return None
    return _run(forecast_file, options)
