"""``permanence scenario check|run|render FILE``, without Django. Pure core.

``permanence.cli`` runs a scenario file here before any Django import (no site, no system checks);
the management command (``call_command``, ``python -m django``) runs the same ``handle`` with what only
the database knows: the account (``--account``: its hours, directory, transfer rules) and the shared
blocks of the library. Without ``--account``, the database is needed only when the scenario uses a
block it does not define itself (``NeedsDatabase``, raised before anything is written): the command
line then hands the same words to Django's command.

Messages are in the site's language (``LANGUAGE_CODE``), from the site's catalogues.
"""

from __future__ import annotations

import argparse
import gettext as gettext_module
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol, TextIO

from permanence.scenarios.engine import checker, drawing, model
from permanence.scenarios.engine.identity import Simulated
from permanence.scenarios.engine.runtime import AnswerError, Environment, Run, StaticEnvironment

EXIT_ERRORS = 1
EXIT_UNREADABLE = 2

LANGUAGE_CODE = "fr"  # settings.LANGUAGE_CODE (tests/scenarios/test_cli.py checks it)
OPERATOR_ZONE = "Europe/Paris"  # settings.TIME_ZONE
LOCALE = Path(__file__).resolve().parents[1] / "locale"  # settings.LOCALE_PATHS

HELP = (
    "Check, run or draw a call scenario. Reads the database only with --account, or for a scenario "
    "that uses a shared block of the library (one it does not define under blocks:)."
)

UNREADABLE = {
    "file_too_large",
    "not_text",
    "not_utf8",
    "yaml_syntax",
    "too_deep",
    "too_many_nodes",
    "several_documents",
    "empty",
    "tag",
    "complex_key",
    "merge_key",
}


class Failure(Exception):
    """Bad input: one clear line, exit status 1 (``CommandError`` under Django)."""


class NeedsDatabase(Exception):
    """The scenario uses a shared block: only the database has the library."""


class Output(Protocol):
    """Django's ``OutputWrapper``: a line ends with ``ending`` ("\\n") unless it already does."""

    def write(self, msg: str = "", style_func: Any = None, ending: str | None = None) -> None: ...


class Stream:
    """A text stream written as Django's commands write theirs."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, msg: str = "", style_func: Any = None, ending: str | None = None) -> None:
        ending = "\n" if ending is None else ending
        self.stream.write(msg if not ending or msg.endswith(ending) else msg + ending)


@dataclass(frozen=True)
class Context:
    """What a scenario is checked and run against: without Django, no account and no shared block."""

    check: Callable[[bytes], checker.Result]  # a text checked against the account and the library
    environment: Callable[[datetime, str | None], Environment]  # the call's instant, the caller
    zone: tzinfo  # of an instant given without one
    gettext: Callable[[str], str]
    account: Any = None  # the database's account (Django); None here


def arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    check = sub.add_parser("check", help="check a scenario: errors and warnings with line and column")
    check.add_argument("file")
    check.add_argument(
        "--account", help="check references against this account (its short name); reads the database"
    )
    check.add_argument("--json", action="store_true", help="print the problems as JSON")
    run = sub.add_parser("run", help="run a scenario on given answers; print path, outcome and message")
    run.add_argument("file")
    run.add_argument(
        "--answers",
        required=True,
        help="JSON file: a list of [step, answer] pairs, or a mapping step -> answer",
    )
    run.add_argument(
        "--account",
        help="run against this account (its short name): hours, directory, transfer rules (the database)",
    )
    run.add_argument("--at", help="the call's instant, ISO 8601 (default: now)")
    run.add_argument(
        "--caller", help="the caller's number: call.caller, the known caller (caller.*) and the prefills"
    )
    run.add_argument(
        "--compare",
        metavar="NEW_FILE",
        help="replay the same answers on another version: where would the call diverge?",
    )
    render = sub.add_parser("render", help="draw the flowchart")
    render.add_argument("file")
    render.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    render.add_argument(
        "--page",
        type=int,
        metavar="N",
        help="Mermaid: a scenario too large for one diagram is drawn on pages; print page N alone",
    )


def handle(options: Mapping[str, Any], stdout: Output, stderr: Output, context: Context) -> None:
    """The command; exits (``SystemExit``) with 1 for errors in the scenario or the answers, 2 for an
    unreadable file."""
    _ = context.gettext
    path = Path(options["file"])
    try:
        text = path.read_bytes()
    except OSError as exc:
        stderr.write(_("Cannot read %(file)s: %(error)s") % {"file": path, "error": exc.strerror})
        sys.exit(EXIT_UNREADABLE)
    result = context.check(text)
    action = options["action"]
    if action == "check":
        report(path, result, options["json"], stdout, stderr, _)
    if not result.ok:
        if action != "check":
            report(path, result, False, stdout, stderr, _)
        unreadable = any(p.code in UNREADABLE for p in result.problems.errors)
        sys.exit(EXIT_UNREADABLE if unreadable else EXIT_ERRORS)
    if action == "render":
        render(result.scenario, options, stdout, stderr, _)
    elif action == "run":
        run(result, options, stdout, stderr, context)


def render(
    scenario: Any, options: Mapping[str, Any], stdout: Output, stderr: Output, _: Callable[[str], str]
) -> None:
    """Graphviz takes the whole graph; Mermaid refuses large ones (500 arrows, 50,000 characters): the
    pages of ``drawing.paged``, all (each after its ``%% page n/total`` line) or ``--page N`` alone."""
    page = options.get("page")
    if options["format"] == "dot":
        if page is not None:
            raise Failure(_("--page is for the Mermaid drawing: Graphviz draws the whole graph."))
        stdout.write(drawing.dot(scenario), ending="")
        return
    drawn = drawing.paged(scenario)
    total = len(drawn.pages)
    if page is None:
        stdout.write(drawn.text, ending="")
        if total > 1:
            stderr.write(
                _("The drawing has %(total)s pages, each a diagram of its own: --page N prints one alone.")
                % {"total": total}
            )
    elif not 1 <= page <= total:
        raise Failure(_("No page %(page)s: the drawing has %(total)s.") % {"page": page, "total": total})
    else:
        stdout.write(drawn.pages[page - 1].text, ending="")


def report(
    path: Path, result: checker.Result, as_json: bool, stdout: Output, stderr: Output, _: Callable[[str], str]
) -> None:
    problems = result.problems.sorted()
    if as_json:
        stdout.write(
            json.dumps(
                {
                    "file": str(path),
                    "ok": result.ok,
                    "errors": sum(p.severity == "error" for p in problems),
                    "warnings": sum(p.severity == "warning" for p in problems),
                    "problems": [p.as_dict(_) for p in problems],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    words = {"error": _("error"), "warning": _("warning")}
    for p in problems:
        stream = stderr if p.severity == "error" else stdout
        stream.write(f"{path}:{p.line}:{p.column}: {words[p.severity]}: {p.message(_)}")
    if not problems:
        stdout.write(_("%(file)s: no problem found.") % {"file": path})


def run(
    result: checker.Result, options: Mapping[str, Any], stdout: Output, stderr: Output, context: Context
) -> None:
    _ = context.gettext
    try:
        answers = json.loads(Path(options["answers"]).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        stderr.write(_("Cannot read the answers: %(error)s") % {"error": exc})
        sys.exit(EXIT_UNREADABLE)
    at = datetime.now(UTC)
    if options.get("at"):
        try:
            at = datetime.fromisoformat(options["at"])
        except ValueError:
            raise Failure(_("“%(value)s” is not an ISO 8601 instant.") % {"value": options["at"]}) from None
        if at.tzinfo is None or at.utcoffset() is None:
            at = at.replace(tzinfo=context.zone)
    # an identity check is simulated: its answer says the outcome ("verified", "failed", "not_verified")
    env = context.environment(at, options.get("caller"))
    call = Run.start(result.scenario, env)
    error: dict[str, Any] | None = None
    try:
        for step_id, given in _pairs(answers, call):
            if call.step is None:
                break
            if step_id != call.step:
                error = {
                    "step": call.step,
                    "message": _("The answers are for the step “%(step)s” but the call is at “%(current)s”.")
                    % {"step": step_id, "current": call.step},
                }
                break
            call.answer(given)
    except AnswerError as exc:
        error = {"step": call.step, "errors": exc.messages(_)}
    replay = compare(call, options, context)
    stdout.write(
        json.dumps(
            {
                "path": call.path,
                "step": call.step,
                "outcome": call.outcome,
                "answers": call.answers,
                "message": call.report(),
                "facts": call.facts,
                "error": error,
                **replay,
            },
            ensure_ascii=False,
            indent=2,
            default=str,
        )
    )
    if error:
        sys.exit(EXIT_ERRORS)


def compare(call: Run, options: Mapping[str, Any], context: Context) -> dict[str, Any]:
    if not options.get("compare"):
        return {}
    try:
        other = Path(options["compare"]).read_bytes()
    except OSError as exc:
        return {"replay": {"error": exc.strerror}}
    result = context.check(other)
    if not result.ok:
        return {"replay": {"errors": [p.as_dict(context.gettext) for p in result.problems.errors]}}
    return {"replay": call.replay(result.scenario)}


def _pairs(answers: Any, run: Run) -> Iterator[tuple[str, Any]]:
    """Answers as [step, answer] pairs, or a mapping step -> answer (a list for a step visited twice)."""
    if isinstance(answers, list):
        for item in answers:
            if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str):
                yield item[0], item[1]
            else:
                raise AnswerError({"": ("bad_input", {})})
        return
    if not isinstance(answers, dict):
        raise AnswerError({"": ("bad_input", {})})
    queues = {k: list(v) if isinstance(v, list) else [v] for k, v in answers.items()}
    while run.step is not None and queues.get(run.step):
        yield run.step, queues[run.step].pop(0)


# without Django -------------------------------------------------------------------------------


def environment_without_account(at: datetime, caller: str | None) -> StaticEnvironment:
    """``environment.environment(None, at, caller=caller, simulated_identity=True)``: the call's
    records only, the identity check simulated."""
    records: dict[str, dict[str, Any]] = {
        "call": {"caller": caller, "called": None, "date": at.isoformat(), "motive": None},
        "agent": {"first_name": "", "name": ""},
        "caller": {"known": False, "tags": []},
    }
    return StaticEnvironment(records=records, identity=Simulated())


def check_without_library(text: bytes) -> checker.Result:
    """The text checked on its own; ``NeedsDatabase`` when it uses a block it does not define."""
    library: dict[str, model.Block] = {}
    result = checker.check(text, None, library)
    if any(p.code == "unknown_block" for p in result.problems.errors):
        raise NeedsDatabase
    return result


def translator(language: str = LANGUAGE_CODE) -> Callable[[str], str]:
    """The site's catalogue for ``language`` (the message itself when a text is not translated)."""
    return gettext_module.translation("django", localedir=LOCALE, languages=[language], fallback=True).gettext


def main(argv: list[str]) -> int | None:
    """``permanence scenario ARGS`` without Django; None when the form needs the database
    (``--account``, or a shared block): Django's command runs it then."""
    parser = argparse.ArgumentParser(prog="permanence scenario", description=HELP)
    arguments(parser)
    options = vars(parser.parse_args(argv))
    if options.get("account"):
        return None
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(OPERATOR_ZONE)
    context = Context(check_without_library, environment_without_account, zone, translator())
    try:
        handle(options, Stream(sys.stdout), Stream(sys.stderr), context)
    except NeedsDatabase:
        return None
    except Failure as exc:
        print(f"CommandError: {exc}", file=sys.stderr)  # the words Django's commands end with
        return 1
    return 0
