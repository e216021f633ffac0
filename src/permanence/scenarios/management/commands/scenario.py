"""permanence scenario check|run|render FILE: the scenario language on the command line."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone
from django.utils.translation import gettext

from permanence.accounts.models import Account
from permanence.scenarios import environment, live
from permanence.scenarios.engine import checker, drawing, model
from permanence.scenarios.engine.runtime import AnswerError, Run

EXIT_ERRORS = 1
EXIT_UNREADABLE = 2


class Command(BaseCommand):
    help = "Check, run or draw a call scenario."
    library: dict[str, model.Block] = {}  # noqa: RUF012 - replaced per run by the database's blocks

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check", help="check a scenario: errors and warnings with line and column")
        check.add_argument("file")
        check.add_argument("--account", help="check references against this account (its short name)")
        check.add_argument("--json", action="store_true", help="print the problems as JSON")
        run = sub.add_parser("run", help="run a scenario on given answers; print path, outcome and message")
        run.add_argument("file")
        run.add_argument(
            "--answers",
            required=True,
            help="JSON file: a list of [step, answer] pairs, or a mapping step -> answer",
        )
        run.add_argument(
            "--account", help="run against this account (its short name): hours, directory, transfer rules"
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

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            text = path.read_bytes()
        except OSError as exc:
            self.stderr.write(
                gettext("Cannot read %(file)s: %(error)s") % {"file": path, "error": exc.strerror}
            )
            sys.exit(EXIT_UNREADABLE)
        account = None
        if options.get("account"):
            account = Account.objects.filter(slug=options["account"]).first()
            if account is None:
                raise CommandError(gettext("No account “%(slug)s”.") % {"slug": options["account"]})
        info = environment.account_info(account) if account else None
        self.library = shared_blocks()
        result = checker.check(text, info, self.library)
        action = options["action"]
        if action == "check":
            self.report(path, result, options["json"])
        if not result.ok:
            if action != "check":
                self.report(path, result, False)
            unreadable = any(p.code in UNREADABLE for p in result.problems.errors)
            sys.exit(EXIT_UNREADABLE if unreadable else EXIT_ERRORS)
        if action == "render":
            out = (
                drawing.mermaid(result.scenario)
                if options["format"] == "mermaid"
                else drawing.dot(result.scenario)
            )
            self.stdout.write(out, ending="")
        elif action == "run":
            self.run(result, account, options)

    def report(self, path: Path, result: checker.Result, as_json: bool) -> None:
        problems = result.problems.sorted()
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "file": str(path),
                        "ok": result.ok,
                        "errors": sum(p.severity == "error" for p in problems),
                        "warnings": sum(p.severity == "warning" for p in problems),
                        "problems": [p.as_dict(gettext) for p in problems],
                    },
                    ensure_ascii=False,
                    indent=2,
                )
            )
            return
        words = {"error": gettext("error"), "warning": gettext("warning")}
        for p in problems:
            stream = self.stderr if p.severity == "error" else self.stdout
            stream.write(f"{path}:{p.line}:{p.column}: {words[p.severity]}: {p.message(gettext)}")
        if not problems:
            self.stdout.write(gettext("%(file)s: no problem found.") % {"file": path})

    def run(self, result: checker.Result, account: Account | None, options: dict[str, Any]) -> None:
        try:
            answers = json.loads(Path(options["answers"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self.stderr.write(gettext("Cannot read the answers: %(error)s") % {"error": exc})
            sys.exit(EXIT_UNREADABLE)
        at = timezone.now()
        if options.get("at"):
            try:
                at = datetime.fromisoformat(options["at"])
            except ValueError:
                message = gettext("“%(value)s” is not an ISO 8601 instant.") % {"value": options["at"]}
                raise CommandError(message) from None
            if timezone.is_naive(at):
                at = at.replace(tzinfo=account.tz if account else timezone.get_current_timezone())
        # an identity check is simulated: its answer says the outcome ("verified", "failed", "not_verified")
        env = environment.environment(account, at, caller=options.get("caller"), simulated_identity=True)
        run = Run.start(result.scenario, env)
        error = None
        try:
            for step_id, given in _pairs(answers, run):
                if run.step is None:
                    break
                if step_id != run.step:
                    error = {
                        "step": run.step,
                        "message": gettext(
                            "The answers are for the step “%(step)s” but the call is at “%(current)s”."
                        )
                        % {"step": step_id, "current": run.step},
                    }
                    break
                run.answer(given)
        except AnswerError as exc:
            error = {"step": run.step, "errors": exc.messages(gettext)}
        self.stdout.write(
            json.dumps(
                {
                    "path": run.path,
                    "step": run.step,
                    "outcome": run.outcome,
                    "answers": run.answers,
                    "message": run.report(),
                    "facts": run.facts,
                    "error": error,
                    **self.compare(run, account, options),
                },
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
        if error:
            sys.exit(EXIT_ERRORS)

    def compare(self, run: Run, account: Account | None, options: dict[str, Any]) -> dict[str, Any]:
        if not options.get("compare"):
            return {}
        try:
            other = Path(options["compare"]).read_bytes()
        except OSError as exc:
            return {"replay": {"error": exc.strerror}}
        info = environment.account_info(account) if account else None
        result = checker.check(other, info, self.library)
        if not result.ok:
            return {"replay": {"errors": [p.as_dict(gettext) for p in result.problems.errors]}}
        return {"replay": run.replay(result.scenario)}


def shared_blocks() -> dict[str, model.Block]:
    """The shared blocks of the database, as the editor and the desk use them (none without one)."""
    try:
        return dict(live.library().blocks)
    except DatabaseError:  # no database here, or not migrated: the file is checked on its own
        return {}


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


def _pairs(answers: Any, run: Run) -> Any:
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
