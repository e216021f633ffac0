"""Running a scenario: a pure state machine over the secretary's answers.

Pure core: no Django import. A run is the scenario (by hash), the inputs given
so far and the facts looked up (opening hours, availability...), recorded the
first time they are asked so that a replay is deterministic. Everything else
(current step, answers, path, notes, outcome, draft report) is derived by
folding the inputs, so a run serialised to JSON can be resumed, audited, undone
(``back``) and replayed against another version to see where it diverges.

What a run wants done outside it is said, never done: ``Run.submit`` answers the
current step and returns the host's *requests* (frozen dataclasses below: put
the call through, book an appointment, an identity checked, the report ready),
which the host (the desk's actions) applies. An appointment is the one request
that comes before the step moves on: the host books, then ``confirm``s.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Protocol, TypeAlias

from email_validator import EmailNotValidError, validate_email

from permanence.accounts import phones
from permanence.scenarios.engine import expressions as ex
from permanence.scenarios.engine import identity as idcheck
from permanence.scenarios.engine.identity import IdentityCheck
from permanence.scenarios.engine.model import (
    ACCOUNT_RECIPIENT,
    APPOINTMENT_RECORD,
    IDENTITY_RECORD,
    IDENTITY_WORDS,
    IN_PROGRESS_LABEL,
    OUTCOME_LABELS,
    RESULTS,
    SENSITIVE_MASK,
    Condition,
    Field,
    Scenario,
    Step,
)
from permanence.scenarios.engine.problems import MESSAGES

MAX_AUTO_STEPS = 10_000
#: the identity check before any verify step: not checked, so not verified
UNCHECKED: dict[str, Any] = {"checked": False, "verified": False, "attempts": 0, "done": False}
ACCEPTED = {"transfer": "accepted", "appointment": "booked"}
#: the slot of a booking made without its words (booked by hand, nothing typed)
SLOT_NOT_GIVEN = "créneau non précisé"
MAX_SLOT = 200
_DATE_FR = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_POSTCODE_FR = re.compile(r"^\d{5}$")
_YES = {"true", "yes", "oui", "o", "y", "1"}
_NO = {"false", "no", "non", "n", "0"}


@dataclass(frozen=True)
class Person:
    """A collaborator as the runtime sees it (plain data built by the Django layer)."""

    ref: str
    name: str
    title: str = ""
    email: str = ""
    service: str = ""
    direct_line: str = ""
    mobile: str = ""
    available: bool = True
    transfer: str = "always"
    absence: str | None = None
    until: str | None = None
    replacement: str | None = None

    def as_value(self, env: Environment | None = None) -> dict[str, Any]:
        value: dict[str, Any] = {
            k: getattr(self, k)
            for k in (
                "ref",
                "name",
                "title",
                "email",
                "service",
                "direct_line",
                "mobile",
                "available",
                "transfer",
                "absence",
                "until",
            )
        }
        replacement = env.person(self.replacement) if env and self.replacement else None
        value["replacement"] = replacement.as_value() if replacement else None
        return value


class Environment(Protocol):
    """What a run may look up; every answer is recorded as a fact. ``identity``: how the caller's identity
    is checked (a verifier prepared from the caller's contact, a simulation, or nothing for an unknown
    caller); ``sensitive``: field names whose answers the account says are sensitive."""

    identity: IdentityCheck | None
    sensitive: frozenset[str]

    def values(self) -> dict[str, dict[str, Any]]:
        """The records: call, caller, account, agent."""

    def person(self, ref: str) -> Person | None: ...

    def call(self, name: str, args: tuple[Any, ...]) -> Any:
        """Run a scenario function (is_open, available, can_transfer...)."""


@dataclass
class StaticEnvironment:
    """An environment given as plain data: for the command line, tests and replays."""

    people: dict[str, Person] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    functions: dict[str, Any] = field(default_factory=dict)  # name -> value or callable(*args)
    identity: IdentityCheck | None = None
    sensitive: frozenset[str] = frozenset()

    def values(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {name: {} for name in ex.RECORDS}
        for name, record in self.records.items():
            out.setdefault(name, {}).update(record)
        return out

    def person(self, ref: str) -> Person | None:
        return self.people.get(ref)

    def call(self, name: str, args: tuple[Any, ...]) -> Any:
        if name in ("available", "can_transfer"):
            person = args[0] if args else None
            ref = person.get("ref") if isinstance(person, dict) else None
            found = self.people.get(ref) if ref else None
            if found is None:
                return False
            if name == "available":
                return found.available
            if name in self.functions:
                return bool(self.functions[name](found, *args[1:]))
            return found.available and found.transfer != "never"
        if name == "has_tag":
            tags = self.values().get("caller", {}).get("tags") or []
            return str(args[0]).casefold() in {str(t).casefold() for t in tags}
        value = self.functions.get(name)
        if callable(value):
            return value(*args)
        if value is None:
            if name == "on_call":
                return None  # no rota known: nobody on call
            return {"is_open": True, "is_holiday": False, "weekday": "monday"}.get(name, False)
        return value


class AnswerError(Exception):
    """Invalid input: ``errors`` maps a field name (or "" for the step) to (code, params)."""

    def __init__(self, errors: dict[str, tuple[str, dict[str, Any]]]) -> None:
        super().__init__(", ".join(f"{k}: {c}" for k, (c, _) in errors.items()))
        self.errors = errors

    def messages(self, translate: Any = None) -> dict[str, str]:
        out = {}
        for name, (code, params) in self.errors.items():
            template = MESSAGES.get(code, code)
            if translate is not None:
                template = translate(template)
            try:
                out[name] = template % params
            except (KeyError, TypeError, ValueError):
                out[name] = template
        return out


@dataclass(frozen=True)
class Unapplied:
    """An input of a stored run that does not apply to the scenario any more (its text changed):
    kept with what the secretary typed, so that nothing is lost and the desk can show it."""

    step: str
    given: Any
    reason: str  # "unknown_step", "other_step", "invalid", "finished", "after", "unreadable"
    at: str | None = None  # the step the call had reached instead
    errors: dict[str, str] = field(default_factory=dict)
    values: tuple[tuple[str, str], ...] = ()  # (label, value) of what was typed

    def as_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "given": self.given,
            "reason": self.reason,
            "at": self.at,
            "errors": dict(self.errors),
            "values": [list(v) for v in self.values],
        }

    @classmethod
    def from_json(cls, data: Any) -> Unapplied | None:
        if not isinstance(data, Mapping) or not isinstance(data.get("step"), str):
            return None
        values = data.get("values")
        values = values if isinstance(values, list) else []
        errors = data.get("errors")
        errors = errors if isinstance(errors, Mapping) else {}
        return cls(
            data["step"],
            data.get("given"),
            str(data.get("reason", "")),
            data.get("at") if isinstance(data.get("at"), str) else None,
            {str(k): str(v) for k, v in errors.items()},
            tuple((str(v[0]), str(v[1])) for v in values if isinstance(v, list) and len(v) == 2),
        )


@dataclass(frozen=True)
class TransferRequested:
    """Put the call through to the collaborator ``person_ref`` ("" when the step names nobody), ``mode``
    "announced" (talk first) or "blind", on the ``line`` the step names, whose ``number`` is this one.

    ``result`` is "" when the transfer is asked for before its step is answered (``Run.transfer_request``:
    the desk's transfer button); once the step is answered (``Run.submit``), how it went as the secretary
    says it (``accepted``, ``no_answer``...): the host starts the transfer if it was not started, then
    records that result."""

    step: str
    person_ref: str
    mode: str
    line: str = ""
    number: str = ""
    result: str = ""


@dataclass(frozen=True)
class AppointmentRequested:
    """Book an appointment of ``appointment_type`` (its code; "" lets the host choose) with
    ``person_ref`` ("" for anyone): the secretary answered the appointment step "booked".

    The run has not moved on: the host books, then calls ``Run.confirm(request, slot)`` with the slot
    in words, which applies the answer. A booking that fails (the slot was just taken) leaves the run
    at its step, as if nothing had been answered. ``slot``: the slot as the secretary typed it (a
    booking made by hand), kept when the host confirms without a slot of its own. ``answers``: what the
    booking may keep of the call's answers: the sensitive ones are left out (never in a calendar)."""

    step: str
    appointment_type: str
    person_ref: str
    slot: str = ""
    answers: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class IdentityChecked:
    """An attempt at an identity check: its ``result`` (``verified``, ``failed``, ``not_verified``), the
    ``attempts`` counted so far, and whether the check is ``done`` (verified, given up, or no attempt
    left). Never what was typed. The host counts a failure against the caller."""

    step: str
    result: str
    attempts: int
    done: bool


@dataclass(frozen=True)
class Recipient:
    """Someone a message outcome names: the account's usual recipients (``default``), a collaborator
    (``ref``, ``name``, ``email``) or an address."""

    default: bool = False
    ref: str = ""
    name: str = ""
    email: str = ""


@dataclass(frozen=True)
class ReportReady:
    """The run reached its ``outcome`` (``message``, ``transfer``, ``appointment``, ``information``...) at
    ``step``: the call report is complete and the call can be finished. ``recipients`` and ``urgent``:
    what a message outcome says; ``person_ref``: a transfer's or appointment's collaborator."""

    step: str
    outcome: str
    recipients: tuple[Recipient, ...] = ()
    urgent: bool = False
    person_ref: str = ""


#: what a run asks of its host
Request: TypeAlias = TransferRequested | AppointmentRequested | IdentityChecked | ReportReady


@dataclass
class Resumed:
    """A stored run resumed: the run up to the last input that still applies, and the rest."""

    run: Run
    unapplied: list[Unapplied]  # the inputs of this resumption that could not be applied
    changed: bool  # the run was pinned to another text than the scenario given

    @property
    def complete(self) -> bool:
        return not self.unapplied


def scenario_hash(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:16]


@dataclass
class Run:
    scenario: Scenario
    env: Environment
    version: str = ""  # the scenario hash (or a version label) the run is pinned to
    inputs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    # derived by folding the inputs
    step: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outcome: dict[str, Any] | None = None
    results: dict[str, str] = field(default_factory=dict)
    # values known before the call asks them (``prefill``), and the fields an ask step has shown since:
    # a known field not yet shown is shown filled in, marked as known, until the secretary confirms it
    known: dict[str, Any] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)
    # inputs of an earlier resumption that did not apply any more: kept with the run, never dropped
    unapplied: list[Unapplied] = field(default_factory=list)
    # the identity check (verify steps): its outcome and the attempts made, never what was typed
    verification: dict[str, Any] = field(default_factory=lambda: dict(UNCHECKED))

    # ---------------------------------------------------------------- API
    @classmethod
    def start(cls, scenario: Scenario, env: Environment, version: str = "") -> Run:
        run = cls(scenario, env, version)
        run._refold()
        return run

    def answer(self, given: Mapping[str, Any] | str | None = None) -> Run:
        """Apply the secretary's input at the current step; on AnswerError nothing changes.

        At an identity check the answers typed are compared by the environment's ``identity`` and only
        the outcome is kept (``verified`` or ``failed``); ``"not_verified"`` goes on without checking."""
        return self._answer(given, stored=False)

    def submit(self, given: Mapping[str, Any] | str | None = None) -> tuple[Request, ...]:
        """Answer the current step as ``answer`` does, and return what the host must do (in order).

        - a transfer step answered: ``TransferRequested`` with its result;
        - an identity check's attempt: ``IdentityChecked``;
        - the run reaching its outcome: ``ReportReady`` (last);
        - an appointment step answered "booked": ``AppointmentRequested`` only, and the run does **not**
          move: the input is validated (an AnswerError is raised before anything is booked) but applied
          only by ``confirm``, once the host has booked. So a slot taken meanwhile leaves the run where it
          was, and nothing is booked for an answer the run would refuse.

        On AnswerError nothing changes."""
        step, clean = self._checked(given)
        if step.kind == "appointment" and clean.get("result") == ACCEPTED["appointment"]:
            person = self._person(step.target)
            hidden = self.sensitive_names()
            return (
                AppointmentRequested(
                    step.id,
                    step.appointment_type,
                    str(person["ref"]) if person else "",
                    str(clean.get("slot") or ""),
                    MappingProxyType({k: v for k, v in self.answers.items() if k not in hidden}),
                ),
            )
        return self._taken(step, clean)

    def confirm(self, request: AppointmentRequested, slot: str | None = None) -> tuple[Request, ...]:
        """The appointment ``request`` booked by the host: the step is answered "booked" with ``slot`` (the
        slot in words; None: what the secretary typed, ``request.slot``) and the run moves on. Returns the
        requests that follow (``ReportReady``). Refused (AnswerError, nothing changes) when the run is
        not at the request's step any more."""
        if self.step != request.step:
            raise AnswerError({"": ("wrong_step", {"step": request.step, "current": self.step})})
        text = request.slot if slot is None else slot
        given: dict[str, Any] = {"result": ACCEPTED["appointment"]}
        if text:
            given["slot"] = text
        step, clean = self._checked(given)
        return self._taken(step, clean)

    def transfer_request(self) -> TransferRequested | None:
        """The transfer the current step asks for, before it is answered (``result`` ""); None at any
        other step."""
        if self.step is None:
            return None
        step = self.scenario.steps[self.step]
        if step.kind != "transfer":
            return None
        target = self._person(step.target)
        number = ""
        if target:
            number = str(target.get("mobile" if step.line == "mobile" else "direct_line") or "")
        return TransferRequested(step.id, str(target["ref"]) if target else "", step.mode, step.line, number)

    def ready_report(self) -> ReportReady | None:
        """The run's outcome as a request to the host (None while the call has not reached one)."""
        if self.step is not None or not self.outcome:
            return None
        outcome = self.outcome
        recipients = tuple(
            Recipient(
                default=bool(r.get("default")),
                ref=str(r.get("ref") or ""),
                name=str(r.get("name") or ""),
                email=str(r.get("email") or ""),
            )
            for r in outcome.get("recipients") or []
        )
        return ReportReady(
            str(outcome.get("step") or ""),
            str(outcome.get("kind") or ""),
            recipients,
            bool(outcome.get("urgent")),
            str(outcome.get("person") or ""),
        )

    @property
    def checks_identity(self) -> bool:
        """The current step is an identity check: each attempt counts, so a host applies an input there
        under a lock (two at once must not both be compared on the same attempts)."""
        return self.step is not None and self.scenario.steps[self.step].kind == "verify"

    def _answer(self, given: Mapping[str, Any] | str | None, *, stored: bool) -> Run:
        """``stored``: an input of a stored run re-applied (its identity check's outcome, as it was)."""
        step, clean = self._checked(given, stored=stored)
        self._take(step, clean)
        return self

    def _checked(
        self, given: Mapping[str, Any] | str | None, *, stored: bool = False
    ) -> tuple[Step, dict[str, Any]]:
        """The current step and the input validated for it (AnswerError: refused)."""
        if self.step is None:
            raise AnswerError({"": ("finished", {})})
        if given is not None and not isinstance(given, (Mapping, str)):
            raise AnswerError({"": ("bad_input", {})})
        step = self.scenario.steps[self.step]
        return step, self._validate(step, given if given is not None else {}, stored=stored)

    def _take(self, step: Step, clean: dict[str, Any]) -> None:
        self.inputs.append((step.id, clean))
        self._apply(step, clean)
        self._advance_from(step, clean)

    def _taken(self, step: Step, clean: dict[str, Any]) -> tuple[Request, ...]:
        """Apply a validated input and say what the host must do about it."""
        transfer = self.transfer_request() if step.kind == "transfer" else None  # its person, before moving
        self._take(step, clean)
        out: list[Request] = []
        if transfer is not None:
            out.append(replace(transfer, result=str(clean.get("result") or "")))
        if step.kind == "verify":
            state = self.verification
            out.append(IdentityChecked(step.id, str(clean.get("result") or ""), int(state["attempts"]),
                                       bool(state["done"])))
        report = self.ready_report()
        if report is not None:
            out.append(report)
        return tuple(out)

    def back(self) -> Run:
        if not self.inputs:
            raise AnswerError({"": ("nothing_to_undo", {})})
        last = self.scenario.steps.get(self.inputs[-1][0])
        if last is not None and last.kind == "verify":  # undone, its attempts could be made again
            raise AnswerError({"": ("identity_no_undo", {})})
        self.inputs.pop()
        self._refold()
        return self

    def screen(self) -> dict[str, Any]:
        """What the secretary sees now: the step, its words, the fields, the draft."""
        out: dict[str, Any] = {
            "step": self.step,
            "path": list(self.path),
            "outcome": self.outcome,
            "draft": self.report(),
        }
        if self.step is None:
            return out
        step = self.scenario.steps[self.step]
        context = self._context(step)
        out.update(
            kind=step.kind,
            title=step.title,
            phase=step.phase,
            help=step.help,
            say=step.say.text.render(context) if step.say else "",
        )
        if step.kind == "ask":
            out["fields"] = [
                self._field_view(self.scenario.fields[name], optional, context)
                for name, optional, _ in step.fields
                if name in self.scenario.fields and (self.answers.get(name) is None or self.is_known(name))
            ]
            # where to start when some values are known already: the first field still to ask
            asked = [f["name"] for f in out["fields"] if not f["known"]]
            out["focus"] = asked[0] if asked and len(asked) < len(out["fields"]) else None
        elif step.kind == "lookup":
            out["field"] = step.target
            out["by"] = step.by
            out["service"] = step.service
            if step.on_call:  # whoever is on call now is proposed (recorded as a fact)
                out["on_call"] = {"service": step.on_call, "person": self._fact("on_call", (step.on_call,))}
        elif step.kind in ("transfer", "appointment"):
            out["results"] = [ACCEPTED[step.kind], *[r for r in _results(step) if r != "other"]]
            target = self._person(step.target)
            out["person"] = target
            if step.kind == "transfer":
                out["line"] = step.line
                out["mode"] = step.mode
                if target:
                    out["number"] = target.get("mobile" if step.line == "mobile" else "direct_line") or ""
            else:
                out["appointment_type"] = step.appointment_type
        elif step.kind == "verify":
            check = self.env.identity
            state = self.verification
            out["identity"] = {
                "fields": [{"name": k, "kind": idcheck.KINDS.get(k, "name")}
                           for k in self.identity_keys(step)],
                "attempts": state["attempts"],
                "max_attempts": step.attempts,
                "remaining": max(step.attempts - state["attempts"], 0),
                "contact": check is not None,
                "simulated": bool(check is not None and check.simulated),
            }
        return out

    def identity_keys(self, step: Step) -> tuple[str, ...]:
        """What a verify step asks: the fields it lists, else the account's identity questions."""
        if step.identity:
            return tuple(dict.fromkeys(k for k, _ in step.identity))
        return self.env.identity.keys if self.env.identity is not None else ()

    def sensitive_names(self) -> frozenset[str]:
        """The fields whose answers are sensitive: marked so in the scenario, or named by the account."""
        fields = self.scenario.fields
        return frozenset(n for n, f in fields.items() if f.sensitive) | (self.env.sensitive & set(fields))

    def sensitive_answers(self) -> list[dict[str, Any]]:
        """The sensitive answers given, for the secretary's screen and the message's stored fields (never
        for what is sent): name, label and the value as written."""
        out = []
        for name in sorted(self.sensitive_names(), key=list(self.scenario.fields).index):
            f = self.scenario.fields[name]
            value = self.answers.get(name)
            if value is None or value == "":
                continue
            text = f.options.get(value, str(value)) if f.type == "choice" else _field_text(f, value)
            out.append({"name": name, "label": f.label, "value": value, "text": text})
        return out

    def report(self) -> dict[str, Any]:
        """The call report as it stands: it exists from the first step and grows."""
        kind = self.outcome["kind"] if self.outcome else None
        reports = self.scenario.reports
        spec = reports.get(kind or "") or reports.get("default")
        context = self._context(None, masked=True)  # what is sent: a sensitive answer is read online
        if spec is None:
            return self._default_report(context)
        return {
            "to": [t.text.render(context).strip() for t in spec.to],
            "subject": spec.subject.text.render(context).strip() if spec.subject else "",
            "body": spec.body.text.render(context) if spec.body else self._default_report(context)["body"],
        }

    def is_known(self, name: str) -> bool:
        """Is this field's value known before the call (prefilled) and not yet shown at an ask step?"""
        return name in self.known and name not in self.confirmed and self.answers.get(name) is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "inputs": [[s, i] for s, i in self.inputs],
            "facts": dict(self.facts),
            "step": self.step,
            "path": list(self.path),
            "answers": dict(self.answers),
            "notes": list(self.notes),
            "outcome": self.outcome,
            "unapplied": [u.as_json() for u in self.unapplied],
            "identity": {k: self.verification[k] for k in ("checked", "verified", "attempts")},
        }

    @classmethod
    def from_json(cls, scenario: Scenario, env: Environment, data: Mapping[str, Any]) -> Run:
        """Resume a stored run: its inputs are re-applied with its recorded facts."""
        run = cls(scenario, env, str(data.get("version", "")))
        run.facts = dict(data.get("facts") or {})
        run._refold()
        for item in data.get("inputs") or []:
            step_id, given = item[0], item[1]
            run._confirm_known_before(step_id)
            if run.step != step_id:
                raise AnswerError({"": ("wrong_step", {"step": step_id, "current": run.step})})
            run._answer(given, stored=True)
        return run

    @classmethod
    def resume(cls, scenario: Scenario, env: Environment, data: Any, version: str = "") -> Resumed:
        """Resume a stored run without ever starting it again from nothing.

        The inputs are re-applied with the recorded facts, in order, as long as they apply. The
        first that does not (its step is gone, the path now reaches another step, the answer is no
        longer valid) and every input after it are returned, with what was typed, and kept in the
        run's ``unapplied`` list so that saving the run does not lose them. ``version``: the text
        the run is resumed on (``changed`` tells whether the run was pinned to another one)."""
        data = data if isinstance(data, Mapping) else {}
        stored_version = str(data.get("version", ""))
        run = cls(scenario, env, version or stored_version)
        facts = data.get("facts")
        run.facts = dict(facts) if isinstance(facts, Mapping) else {}
        earlier = data.get("unapplied")
        kept = (Unapplied.from_json(u) for u in (earlier if isinstance(earlier, list) else []))
        run.unapplied = [u for u in kept if u is not None]
        run._refold()
        inputs = data.get("inputs")
        inputs = inputs if isinstance(inputs, list) else []
        lost: list[Unapplied] = []
        for index, item in enumerate(inputs):
            readable = isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)
            if not readable:
                lost.append(Unapplied(str(item)[:60], item, "unreadable", run.step))
            else:
                step_id, given = item
                run._confirm_known_before(step_id)
                if run.step is None:
                    lost.append(Unapplied(step_id, given, "finished", None, values=run._typed(given)))
                elif step_id not in scenario.steps:
                    lost.append(Unapplied(step_id, given, "unknown_step", run.step, values=run._typed(given)))
                elif step_id != run.step:
                    lost.append(Unapplied(step_id, given, "other_step", run.step, values=run._typed(given)))
                else:
                    try:
                        run._answer(given, stored=True)
                        continue
                    except AnswerError as exc:
                        lost.append(
                            Unapplied(step_id, given, "invalid", run.step, exc.messages(), run._typed(given))
                        )
            for rest in inputs[index + 1:]:
                ok = isinstance(rest, (list, tuple)) and len(rest) == 2 and isinstance(rest[0], str)
                step_id, given = (rest[0], rest[1]) if ok else (str(rest)[:60], rest)
                lost.append(Unapplied(step_id, given, "after", None, values=run._typed(given) if ok else ()))
            break
        run.unapplied.extend(lost)
        changed = bool(version) and bool(stored_version) and version != stored_version
        return Resumed(run, lost, changed)

    def _confirm_known_before(self, step_id: str) -> None:
        """A run stored before known values were shown went past an ask step whose fields were all
        known (prefilled) without an input: when its next input is for another step, the values are
        kept as that run kept them, as the secretary pressing Enter would."""
        step = self.scenario.steps.get(self.step) if self.step is not None else None
        if step is None or step.kind != "ask" or step_id == step.id:
            return
        names = [n for n, _, _ in step.fields]
        if names and all(self.answers.get(n) is not None for n in names) and any(map(self.is_known, names)):
            with contextlib.suppress(AnswerError):
                self.answer({})

    def _typed(self, given: Any) -> tuple[tuple[str, str], ...]:
        """What the secretary typed, as (label, value) pairs for her screen."""
        if isinstance(given, str):
            return (("", given),)
        if not isinstance(given, Mapping):
            return ()
        out: list[tuple[str, str]] = []
        for name, value in given.items():
            if value in (None, ""):
                continue
            if name == "person" and isinstance(value, str):
                person = self.env.person(value)
                out.append(("", person.name if person else value))
            elif name == "result":
                continue
            else:
                f = self.scenario.fields.get(str(name))
                out.append((f.label if f else str(name), str(value)))
        return tuple(out)

    def replay(self, other: Scenario) -> dict[str, Any]:
        """Re-apply this run's inputs to another version: where would it diverge?"""
        new = Run(other, self.env, facts=dict(self.facts))
        new._refold()
        old_path = list(self.path)
        for index, (step_id, given) in enumerate(self.inputs):

            def diverged(
                reason: str, index: int = index, step_id: str = step_id, **extra: Any
            ) -> dict[str, Any]:
                return {
                    "diverges": True,
                    "at_input": index,
                    "expected_step": step_id,
                    "reached_step": new.step,
                    "path": new.path,
                    "reason": reason,
                    **extra,
                }

            new._confirm_known_before(step_id)
            if new.step != step_id:
                return diverged("path")
            try:
                new._answer(given, stored=True)
            except AnswerError as exc:
                return diverged("answer", errors=exc.messages())
        same = new.path == old_path and new.outcome == self.outcome
        return {
            "diverges": not same,
            "at_input": None if same else len(self.inputs),
            "path": new.path,
            "outcome": new.outcome,
            "reason": None if same else "end",
        }

    # ---------------------------------------------------------------- folding
    def _refold(self) -> None:
        inputs = list(self.inputs)
        self.inputs = []
        self.step, self.answers, self.path, self.notes, self.outcome, self.results = (
            None,
            {},
            [],
            [],
            None,
            {},
        )
        self.known, self.confirmed = {}, set()
        self.verification = dict(UNCHECKED)
        self._prefill()
        self._enter(self.scenario.start)
        for step_id, given in inputs:
            step = self.scenario.steps[step_id]
            self.inputs.append((step_id, given))
            self._apply(step, given)
            self._advance_from(step, given)

    def _prefill(self) -> None:
        for name, f in self.scenario.fields.items():
            if f.prefill is not None:
                value = self._eval(f.prefill, None)
                if value not in (None, ""):
                    with contextlib.suppress(AnswerError):  # a prefill that does not fit is left out
                        self.answers[name] = self.known[name] = self._clean_value(f, value)

    def _enter(self, target: str | None) -> None:
        """Go to ``target`` and move on through the steps that need no input."""
        guard = 0
        while target is not None:
            guard += 1
            step = self.scenario.steps.get(target)
            if guard > MAX_AUTO_STEPS or step is None:  # the checker refuses both; a run never hangs
                self.step = None
                self.outcome = {"kind": "error", "step": target}
                return
            self.path.append(step.id)
            if step.kind in ("decide", "use", "return"):
                target = self._next(step)
                continue
            if step.kind == "ask" and all(
                self.answers.get(n) is not None and not self.is_known(n) for n, _, _ in step.fields
            ):  # everything it asks is answered: nothing to ask (a known value is shown once)
                self._note(step)
                target = self._next(step)
                continue
            if step.kind == "verify" and self.verification["done"]:  # an identity is checked once a call
                self._note(step)
                target = self._next(step)
                continue
            if step.kind in ("message", "end"):
                self._note(step)
                self.step = None
                self.outcome = self._outcome(step)
                return
            self.step = step.id
            return
        self.step = None

    def _advance_from(self, step: Step, given: Mapping[str, Any]) -> None:
        if step.kind in ("transfer", "appointment") and given.get("result") == ACCEPTED[step.kind]:
            self._note(step)
            self.step = None
            self.outcome = self._outcome(step, given)
            return
        if step.kind == "verify" and not self.verification["done"]:
            self.step = step.id  # a wrong answer: asked again, while attempts remain
            return
        self._note(step)
        self._enter(self._next(step, given))

    def _next(self, step: Step, given: Mapping[str, Any] | None = None) -> str | None:
        if step.kind == "use":
            return step.enter
        if step.kind == "return":
            return step.return_to
        if step.kind in ("lookup", "transfer", "appointment"):
            result = (given or {}).get("result") or ""
            target = step.on.get(result) or step.on.get("other")
            return target[0] if target else None
        if step.next:
            return step.next
        for branch in step.branches:
            if branch.condition is None or self._eval(branch.condition.expr, step):
                return branch.target
        return None

    def _apply(self, step: Step, given: Mapping[str, Any]) -> None:
        if step.kind == "ask":
            for name, value in given.items():
                self.answers[name] = value
            self.confirmed.update(name for name, _, _ in step.fields)  # shown: known values kept or changed
        elif step.kind == "lookup":
            if given.get("result") == "found":
                self.answers[step.target] = given.get("person")
            self.results[step.id] = str(given.get("result"))
        elif step.kind in ("transfer", "appointment"):
            self.results[step.id] = str(given.get("result"))
        elif step.kind == "verify":
            state, result = self.verification, given.get("result")
            state["checked"] = True
            if result in (idcheck.VERIFIED, idcheck.FAILED):
                state["attempts"] += 1
            state["verified"] = state["verified"] or result == idcheck.VERIFIED
            state["done"] = (state["verified"] or result == idcheck.NOT_VERIFIED
                             or state["attempts"] >= step.attempts)
            done = idcheck.VERIFIED if state["verified"] else idcheck.NOT_VERIFIED
            self.results[step.id] = done if state["done"] else idcheck.FAILED

    def _note(self, step: Step) -> None:
        if step.note:  # notes go into the report: a sensitive answer is masked there
            text = step.note.text.render(self._context(step, masked=True)).strip()
            if text:
                self.notes.append(text)

    def _outcome(self, step: Step, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if step.kind == "end":
            return {"kind": step.end, "step": step.id}
        if step.kind == "message":
            recipients: list[dict[str, Any]] = []
            for recipient, _ in step.recipients:
                if recipient == ACCOUNT_RECIPIENT and recipient not in self.scenario.fields:
                    recipients.append({"default": True})  # the account's usual recipients (its settings)
                    continue
                person = self._person(recipient)
                if person is not None:
                    recipients.append(
                        {"ref": person["ref"], "name": person["name"], "email": person["email"]}
                    )
                elif "@" in recipient:
                    recipients.append({"email": recipient})
            urgent = step.urgent
            is_urgent = bool(self._eval(urgent.expr, step)) if isinstance(urgent, Condition) else bool(urgent)
            return {"kind": "message", "step": step.id, "recipients": recipients, "urgent": is_urgent}
        person = self._person(step.target)
        out = {"kind": step.kind, "step": step.id, "person": person["ref"] if person else None}
        if step.kind == "transfer":
            out.update(line=step.line, mode=step.mode)
        else:
            out.update(appointment_type=step.appointment_type, slot=(given or {}).get("slot"))
        return out

    # ---------------------------------------------------------------- values
    def _person(self, name: str) -> dict[str, Any] | None:
        if not name:
            return None
        ref = self.answers.get(name) if name in self.scenario.fields else name
        person = self.env.person(ref) if isinstance(ref, str) else None
        return person.as_value(self.env) if person else None

    def _values(self, step: Step | None) -> Mapping[str, Any]:
        """What conditions read: the records, the fields, ``params`` and ``identity``."""
        return _Values(self, step, context=False, masked=False)

    def _context(self, step: Step | None, *, masked: bool = False) -> Mapping[str, Any]:
        """What texts read; ``masked``: for what is sent (reports, notes), a sensitive answer is replaced
        by a mark saying it is read online."""
        return _Values(self, step, context=True, masked=masked)

    def _labels(self, masked: bool) -> dict[str, Any]:
        """``{{ label.x }}``: each field's value in words (a choice's label, a person's name, oui/non)."""
        labels = {}
        hidden = self.sensitive_names() if masked else frozenset()
        for name, f in self.scenario.fields.items():
            value = self.answers.get(name)
            if f.type == "person":  # read as the person (None: not found, its answer written as it is)
                person = self._person(name)
                labels[name] = person["name"] if person else value
                value = person
            elif f.type == "choice" and value is not None:
                labels[name] = f.options.get(value, value)
            elif f.type == "yes_no" and value is not None:
                labels[name] = "oui" if value else "non"
            else:
                labels[name] = value
            if name in hidden and value not in (None, ""):
                labels[name] = SENSITIVE_MASK
        kind = self.outcome["kind"] if self.outcome else None
        labels["outcome"] = OUTCOME_LABELS.get(kind, kind) if kind else None
        return labels

    def booking(self) -> dict[str, Any]:
        """The appointment the call ended with (``{{ appointment.slot }}``): the slot in words, as the
        agenda wrote it or the secretary typed it; empty unless the call ended with a booking."""
        if not self.outcome or self.outcome.get("kind") != "appointment":
            return {}
        return {"slot": self.outcome.get("slot") or SLOT_NOT_GIVEN}

    def _eval(self, expr: ex.Expression, step: Step | None) -> Any:
        return ex.evaluate(expr, self._values(step), self._fact)

    def _fact(self, name: str, args: tuple[Any, ...]) -> Any:
        key = name + "(" + ", ".join(_fact_arg(a) for a in args) + ")"
        if key not in self.facts:
            self.facts[key] = self.env.call(name, args)
        if name == "on_call":  # the fact is the person's ref: read as the person
            person = self.env.person(self.facts[key]) if isinstance(self.facts[key], str) else None
            return person.as_value(self.env) if person else None
        return self.facts[key]

    def _field_view(self, f: Field, optional: bool, context: Mapping[str, Any]) -> dict[str, Any]:
        """A field of an ask step: ``known`` when its value was known before the call asked it (shown
        filled in, not to be asked of the caller again, and still editable)."""
        known = self.is_known(f.name)
        value = self.answers.get(f.name)
        return {
            "name": f.name,
            "type": f.type,
            "label": f.label,
            "help": f.help,
            "say": f.say.render(context) if f.say and not known else "",
            "required": f.required and not optional,
            "options": dict(f.options),
            "value": value,
            "known": known,
            "text": _field_text(f, value),
        }

    def _default_report(self, context: Mapping[str, Any]) -> dict[str, Any]:
        labels = context["label"]
        lines = []
        slot = self.booking().get("slot")
        if slot:
            lines.append(f"{OUTCOME_LABELS['appointment']} : {slot}")
        if self.verification["checked"] and self.verification["done"]:
            lines.append(f"Identité : {IDENTITY_WORDS[bool(self.verification['verified'])]}")
        for name, f in self.scenario.fields.items():
            if labels.get(name) not in (None, ""):
                value = labels[name]
                if f.type == "phone" and value != SENSITIVE_MASK:
                    value = _display_phone(value)
                lines.append(f"{f.label} : {value}")
        lines.extend(f"• {n}" for n in self.notes)
        caller = context.get("call", {}).get("caller")
        who = labels.get("name") or (_display_phone(caller) if caller else "")
        kind = self.outcome["kind"] if self.outcome else None
        word = OUTCOME_LABELS.get(kind, "") if kind else IN_PROGRESS_LABEL
        if self.outcome and self.outcome.get("urgent"):
            word += " URGENT"
        if slot:
            word += " " + slot  # "Rendez-vous mardi 30 mars à 10:00 avec Dr Bernard"
        account = context.get("account", {}).get("name") or self.scenario.title
        return {
            "to": [],
            "subject": " — ".join(part for part in (word, account, who) if part),
            "body": "\n".join(lines),
        }

    # ---------------------------------------------------------------- validation
    def _validate(
        self, step: Step, given: Mapping[str, Any] | str, *, stored: bool = False
    ) -> dict[str, Any]:
        if step.kind == "say":
            return {}
        if isinstance(given, str):
            given = {"result": given}
        if step.kind == "verify":
            return self._verify(step, given, stored)
        if step.kind in ("transfer", "appointment"):
            allowed = [ACCEPTED[step.kind], *[r for r in _results(step) if r != "other"]]
            result = given.get("result")
            if result not in allowed:
                raise AnswerError(
                    {"result": ("bad_result", {"value": result, "expected": ", ".join(allowed)})}
                )
            clean = {"result": result}
            if step.kind == "appointment" and given.get("slot"):
                slot = " ".join(str(given["slot"]).split())
                if any(ord(c) < 32 for c in slot):
                    raise AnswerError({"slot": ("bad_characters", {})})
                if slot:
                    clean["slot"] = slot[:MAX_SLOT]
            return clean
        if step.kind == "lookup":
            person = given.get("person")
            if person in (None, ""):
                return {"result": "not_found"}
            if not isinstance(person, str) or self.env.person(person) is None:
                raise AnswerError({"person": ("unknown_person", {"value": person})})
            return {"result": "found", "person": person}
        errors: dict[str, tuple[str, dict[str, Any]]] = {}
        clean = {}
        for name, optional, _ in step.fields:
            f = self.scenario.fields[name]
            current = self.answers.get(name)
            if current is not None and name not in given:
                continue  # answered already, or known and kept as it is
            raw = given.get(name)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                if f.required and not optional:
                    errors[name] = ("required", {})
                elif current is not None:
                    clean[name] = None  # a value emptied on purpose (a known company that is wrong)
                continue
            try:
                clean[name] = self._clean_value(f, raw)
            except AnswerError as exc:
                errors[name] = next(iter(exc.errors.values()))
        if errors:
            raise AnswerError(errors)
        return clean

    def _verify(self, step: Step, given: Mapping[str, Any], stored: bool) -> dict[str, Any]:
        """An attempt at the identity check: its outcome only. The answers typed are read, compared by the
        environment's check and forgotten; a stored run gives back the outcome it kept."""
        result = given.get("result")
        expected = ", ".join(idcheck.RESULTS)
        if stored:
            if result not in idcheck.RESULTS:
                raise AnswerError({"result": ("bad_result", {"value": result, "expected": expected})})
            return {"result": result}
        if result == idcheck.NOT_VERIFIED:  # the caller cannot answer: go on, not verified
            return {"result": result}
        check = self.env.identity
        if check is None:
            raise AnswerError({"": ("identity_no_contact", {})})
        if check.simulated:  # the secretary says the outcome (test mode, the command line)
            if result in (idcheck.VERIFIED, idcheck.FAILED):
                return {"result": result}
            raise AnswerError({"result": ("bad_result", {"value": result, "expected": expected})})
        if result not in (None, ""):  # a real check is never told its outcome
            raise AnswerError({"result": ("bad_result", {"value": result, "expected": idcheck.NOT_VERIFIED})})
        errors: dict[str, tuple[str, dict[str, Any]]] = {}
        answers: dict[str, str] = {}
        for key in self.identity_keys(step):
            raw = given.get(key)
            if not isinstance(raw, str) or not raw.strip():
                errors[key] = ("required", {})
            elif len(raw) > idcheck.MAX_ANSWER:
                errors[key] = ("too_long", {"max": idcheck.MAX_ANSWER})
            else:
                try:
                    answers[key] = check.normalise(key, raw)
                except idcheck.IdentityInputError as exc:
                    errors[key] = (exc.code, {})
        if errors:
            raise AnswerError(errors)
        return {"result": idcheck.VERIFIED if answers and check.matches(answers) else idcheck.FAILED}

    def _clean_value(self, f: Field, raw: Any) -> Any:
        def fail(code: str, **params: Any) -> AnswerError:
            return AnswerError({f.name: (code, params)})

        if f.type == "yes_no":
            if isinstance(raw, bool):
                return raw
            word = str(raw).strip().casefold()
            if word in _YES:
                return True
            if word in _NO:
                return False
            raise fail("bad_yes_no")
        if f.type == "number":
            try:
                number = (
                    float(str(raw).replace(",", ".").replace(" ", "")) if not isinstance(raw, bool) else None
                )
            except ValueError:
                number = None
            if number is None or number != number or number in (float("inf"), float("-inf")):
                raise fail("bad_number", value=str(raw)[:40])
            if f.minimum is not None and number < f.minimum:
                raise fail("below_min", min=_num(f.minimum))
            if f.maximum is not None and number > f.maximum:
                raise fail("above_max", max=_num(f.maximum))
            return int(number) if number.is_integer() else number
        if f.type == "person":
            if not isinstance(raw, str) or self.env.person(raw) is None:
                raise fail("unknown_person", value=str(raw)[:40])
            return raw
        text = " ".join(str(raw).split()) if f.type != "long_text" else str(raw).strip()
        if any(ord(c) < 32 and c not in "\n\t" for c in text):
            raise fail("bad_characters")
        if f.type == "phone":
            try:
                return phones.normalize(text, self.scenario.region)
            except (ValueError, phones.PhoneNumberError):
                raise fail("bad_phone", value=text[:40]) from None
        if f.type == "email":
            try:
                return str(validate_email(text, check_deliverability=False).normalized)
            except EmailNotValidError:
                raise fail("bad_email", value=text[:80]) from None
        if f.type == "date":
            return _clean_date(text, fail)
        if f.type == "postcode" and self.scenario.region == "FR" and not _POSTCODE_FR.match(text):
            raise fail("bad_postcode", value=text[:20])
        if f.type == "choice":
            if text in f.options:
                return text
            for key, label in f.options.items():
                if text.casefold() == label.casefold():
                    return key
            raise fail("bad_choice", value=text[:40], expected=", ".join(f.options.values()))
        if f.min_length is not None and len(text) < f.min_length:
            raise fail("too_short", min=f.min_length)
        if f.max_length is not None and len(text) > f.max_length:
            raise fail("too_long", max=f.max_length)
        if len(text) > 10_000:
            raise fail("too_long", max=10_000)
        if f.pattern is not None and not f.pattern.fullmatch(text):
            raise fail("bad_pattern", value=text[:40])
        return text


_CONTEXT_NAMES = ("notes", "outcome", "label", APPOINTMENT_RECORD)


class _Values(Mapping[str, Any]):
    """What a condition or a text reads at a step, each name computed when it is first read.

    A condition reads a few names: building every field's value (a person looked up for each person
    field), the records and the labels for each evaluation was most of an answer's time. The names and
    values are those of a plain dict built at once (``dict(values)`` gives it, as Jinja takes it): the
    records, the fields (a person field as the person), ``params``, ``identity``; for texts
    (``context``) also ``notes``, ``outcome``, ``label`` and ``appointment``; ``masked``: a sensitive
    answer given is replaced by a mark."""

    __slots__ = ("_context", "_hidden", "_masked", "_read", "_records", "_run", "_step")

    def __init__(self, run: Run, step: Step | None, *, context: bool, masked: bool) -> None:
        self._run, self._step, self._context, self._masked = run, step, context, masked
        self._records: dict[str, Any] | None = None
        self._hidden: frozenset[str] | None = None  # the sensitive fields, when masked
        self._read: dict[str, Any] = {}

    def records(self) -> dict[str, Any]:
        if self._records is None:
            self._records = self._run.env.values()
        return self._records

    def __getitem__(self, name: str) -> Any:
        read = self._read
        if name in read:
            return read[name]
        value = read[name] = self._compute(name)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (
            name in self._run.scenario.fields
            or name in ("params", IDENTITY_RECORD)
            or (self._context and name in _CONTEXT_NAMES)
            or name in self.records()
        )

    def _names(self) -> list[str]:
        names = dict.fromkeys(self.records())
        names.update(dict.fromkeys(self._run.scenario.fields))
        names.update(dict.fromkeys(("params", IDENTITY_RECORD)))
        if self._context:
            names.update(dict.fromkeys(_CONTEXT_NAMES))
        return list(names)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def _compute(self, name: str) -> Any:
        run = self._run
        f = run.scenario.fields.get(name)
        if f is not None:
            value = run._person(name) if f.type == "person" else run.answers.get(name)
            if self._masked and value not in (None, ""):
                if self._hidden is None:
                    self._hidden = run.sensitive_names()
                if name in self._hidden:
                    return SENSITIVE_MASK
            return value
        if name == "params":
            return dict(self._step.params) if self._step else {}
        if name == IDENTITY_RECORD:
            return {"verified": run.verification["verified"], "attempts": run.verification["attempts"]}
        if self._context and name in _CONTEXT_NAMES:
            if name == "notes":
                return list(run.notes)
            if name == "outcome":
                return run.outcome["kind"] if run.outcome else None
            if name == "label":
                return run._labels(self._masked)
            return run.booking()
        return self.records()[name]


def _field_text(f: Field, value: Any) -> str:
    """A value as a form shows it: a yes/no as "oui"/"non", a date as 24/12/2026, a phone the French
    way (the answer reads each of them back)."""
    if value is None:
        return ""
    if f.type == "yes_no":
        return "oui" if value else "non"
    if f.type == "phone":
        return _display_phone(value)
    if f.type == "date":
        with contextlib.suppress(ValueError):
            return date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    if f.type == "number" and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _results(step: Step) -> list[str]:
    expected = RESULTS.get(step.kind, ())
    return [r for r in expected if r in step.on or "other" in step.on]


def _fact_arg(value: Any) -> str:
    if isinstance(value, dict) and "ref" in value:
        return "@" + str(value["ref"])
    return repr(value)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _display_phone(value: Any) -> str:
    try:
        return phones.display(str(value))
    except (ValueError, phones.PhoneNumberError):
        return str(value)


def _clean_date(text: str, fail: Any) -> str:
    match = _DATE_FR.match(text)
    try:
        if match:
            day, month, year = (int(g) for g in match.groups())
            return date(year, month, day).isoformat()
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise fail("bad_date", value=text[:40]) from None


__all__ = [
    "AnswerError",
    "AppointmentRequested",
    "Environment",
    "IdentityChecked",
    "Person",
    "Recipient",
    "ReportReady",
    "Request",
    "Resumed",
    "Run",
    "StaticEnvironment",
    "TransferRequested",
    "Unapplied",
    "datetime",
    "scenario_hash",
]
