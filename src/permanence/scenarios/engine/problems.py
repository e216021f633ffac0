"""Problems found in a scenario: a code, its parameters, a position and a sentence.

Pure core: no Django import. Sentences are written in English and marked with
``gettext_noop`` so that ``make messages`` extracts them; the Django layer and
the command line translate them (French by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def gettext_noop(text: str) -> str:
    """Marks a sentence for translation without translating it here."""
    return text


MESSAGES: dict[str, str] = {
    # reading
    "file_too_large": gettext_noop("The file is larger than %(max)s bytes."),
    "not_text": gettext_noop("The file is not text."),
    "not_utf8": gettext_noop("The file is not UTF-8 text."),
    "yaml_syntax": gettext_noop("YAML syntax error: %(detail)s"),
    "too_deep": gettext_noop("Too deeply nested (more than %(max)s levels)."),
    "too_many_nodes": gettext_noop("Too many values (more than %(max)s, aliases included)."),
    "complex_key": gettext_noop("A key must be a simple word."),
    "merge_key": gettext_noop("YAML merge keys (<<) are not supported: write the values out."),
    "duplicate_key": gettext_noop("“%(key)s” is written twice here."),
    "several_documents": gettext_noop("A scenario is one YAML document: remove the “---” separator."),
    "tag": gettext_noop("The YAML tag %(tag)s is not allowed."),
    "empty": gettext_noop("The scenario is empty."),
    # shape
    "expected_map": gettext_noop("%(what)s must be a mapping (key: value)."),
    "expected_list": gettext_noop("%(what)s must be a list."),
    "expected_text": gettext_noop("%(what)s must be a text."),
    "expected_number": gettext_noop("%(what)s must be a number."),
    "expected_bool": gettext_noop("%(what)s must be true or false."),
    "unknown_key": gettext_noop("Unknown key “%(key)s” in %(what)s; expected one of: %(expected)s."),
    "missing_key": gettext_noop("%(what)s needs “%(key)s”."),
    "bad_name": gettext_noop("“%(name)s” is not a valid name: use lower-case letters, digits and _."),
    "reserved_name": gettext_noop("“%(name)s” is a reserved name (%(reserved)s): choose another."),
    "bad_language": gettext_noop("Unknown language version “%(value)s”; this Permanence reads %(expected)s."),
    "step_kind": gettext_noop("A step needs exactly one of: %(kinds)s."),
    "step_kinds_many": gettext_noop("A step has one kind only; here: %(kinds)s."),
    "bad_value": gettext_noop("“%(value)s” is not allowed for %(what)s; expected one of: %(expected)s."),
    "bad_field_type": gettext_noop("Unknown field type “%(value)s”; expected one of: %(expected)s."),
    "no_options": gettext_noop("The choice field “%(field)s” needs options."),
    "bad_regex": gettext_noop("The pattern of “%(field)s” is not a valid regular expression: %(detail)s"),
    "min_above_max": gettext_noop("For “%(field)s”, the minimum is above the maximum."),
    "branch_shape": gettext_noop("A branch is written {if: condition, goto: step} or, last, {else: step}."),
    "unquoted_comma": gettext_noop(
        "Inside {…} or […] a comma separates the items, so “%(name)s” was read as one of them: "
        "put the text that holds the comma in quotes (\"…\")."
    ),
    "else_not_last": gettext_noop("“else” must be the last branch: the branches after it are never taken."),
    "missing_else": gettext_noop("The branches need a last {else: step}, taken when no condition holds."),
    "duplicate_condition": gettext_noop(
        "The same condition is tested twice; the second branch is never taken."
    ),
    "missing_outcomes": gettext_noop("Say where to go when the result is: %(missing)s (or add “other”)."),
    "unknown_outcome": gettext_noop("“%(key)s” is not a result of this step; expected: %(expected)s."),
    "bad_end": gettext_noop("An end is one of: %(expected)s."),
    # references
    "unknown_step": gettext_noop("There is no step “%(name)s”."),
    # the voice menu (ivr.py)
    "unknown_menu": gettext_noop("There is no menu “%(name)s”."),
    "ivr_out_of_range": gettext_noop("“%(what)s” must be between %(low)s and %(high)s."),
    "ivr_text_too_long": gettext_noop("A text said on the line is at most %(max)s characters."),
    "ivr_bad_key": gettext_noop("“%(key)s” is not a telephone key; the keys are: %(keys)s."),
    "ivr_action": gettext_noop("An option does exactly one of: %(actions)s."),
    "ivr_priority_not_queue": gettext_noop("Only an option that joins the queue has a priority."),
    "ivr_unreachable": gettext_noop("No key leads to the menu “%(name)s”."),
    "ivr_loop": gettext_noop(
        "From the menu “%(name)s” every key leads back to the menus: the caller would never reach the queue, "
        "a voicemail or an end."
    ),
    "unknown_field": gettext_noop("There is no field “%(name)s”; declare it under fields."),
    "not_person_field": gettext_noop("“%(name)s” is not a person field (type: person)."),
    "unknown_block": gettext_noop("There is no block “%(name)s”."),
    "block_cycle": gettext_noop("The block “%(name)s” uses itself (through %(chain)s)."),
    "unknown_param": gettext_noop("The block “%(block)s” has no parameter “%(name)s”."),
    "missing_param": gettext_noop("The block “%(block)s” needs the parameter “%(name)s”."),
    "field_conflict": gettext_noop(
        "The block “%(block)s” declares the field “%(name)s” differently from the scenario."
    ),
    "return_outside_block": gettext_noop("“return” is only for steps of a block."),
    "use_needs_next": gettext_noop("The block “%(block)s” returns: say where to go next."),
    "unknown_collaborator": gettext_noop("No collaborator “%(name)s” in the directory of %(account)s."),
    "unknown_service": gettext_noop("No service “%(name)s” in the directory of %(account)s."),
    "no_rota": gettext_noop(
        "No on-call rota for the service “%(name)s” of %(account)s; the services with one: %(expected)s."
    ),
    "unknown_appointment_type": gettext_noop("No appointment type “%(name)s” for %(account)s."),
    # the identity check (verify)
    "verify_empty": gettext_noop(
        "Say what the identity check asks: “verify: identity” (the account's identity questions) or a list "
        "of identity fields."
    ),
    "out_of_range": gettext_noop("“%(what)s” must be between %(low)s and %(high)s."),
    "unknown_identity_field": gettext_noop("“%(name)s” is not an identity field; known: %(expected)s."),
    "identity_field_not_kept": gettext_noop(
        "%(account)s does not check “%(name)s”; its identity questions (the account's settings): "
        "%(expected)s."
    ),
    "no_identity_fields": gettext_noop(
        "%(account)s has no identity questions: set them in the account's settings (identity check)."
    ),
    "verify_without_contact": gettext_noop(
        "The identity check may be reached with an unknown caller (path: %(path)s): there would be nothing "
        "to compare the answers with. Go there only when caller.known is true."
    ),
    "identity_before_check": gettext_noop(
        "“%(name)s” is read here but no identity check (verify) comes before it: it is always false."
    ),
    # graph
    "unreachable": gettext_noop("No path reaches the step “%(name)s”."),
    "no_outcome": gettext_noop("From the step “%(name)s”, no path ends in an outcome."),
    "endless_loop": gettext_noop(
        "The steps %(steps)s loop without asking anything: the call would never move on."
    ),
    "loop_without_exit": gettext_noop(
        "The steps %(steps)s go round in a loop with no way out: the call would never end."
    ),
    "loop_exit_never_taken": gettext_noop(
        "Once the call goes round the steps %(steps)s it never leaves them: the ways out test %(names)s, "
        "which nothing in the loop changes (an answered question is not asked again, a function's answer "
        "is kept for the whole call)."
    ),
    "used_before_set": gettext_noop("“%(name)s” is used here but no path to this step asks it."),
    "maybe_unset": gettext_noop(
        "“%(name)s” is used here but some paths to this step do not ask it (it is then empty)."
    ),
    "no_recipient": gettext_noop(
        "This message may reach nobody: “%(name)s” is not set on the path %(path)s. Send it there to "
        "someone always known too, e.g. “account” (the account's usual recipients), or find the person first."
    ),
    "no_recipient_listed": gettext_noop(
        "This message names nobody: give a person field, a collaborator, an e-mail address, "
        "or “account” for the account's usual recipients."
    ),
    "transfer_maybe_unset": gettext_noop(
        "“%(name)s” may be empty at this transfer (path: %(path)s): the call would be put through to nobody."
    ),
    "report_no_recipient": gettext_noop(
        "The recipients (to) of this report may be empty when the call ends at “%(step)s” (path: %(path)s)."
    ),
    "text_maybe_unset": gettext_noop(
        "“%(name)s” is written here but may be empty (path: %(path)s). Test it first "
        "({%% if %(field)s %%}…{%% endif %%}) or give a fallback (… or '…', | default('…'))."
    ),
    "appointment_in_call": gettext_noop(
        "“%(name)s” is empty while the call goes on: it is known only in the report of a call that ends "
        "with a booking. Write it in a report (reports: appointment, or default)."
    ),
    "appointment_not_booked": gettext_noop(
        "“%(name)s” is empty when the call ends at “%(step)s” (path: %(path)s), which is not a booking. "
        "Test it first ({%% if appointment %%}…{%% endif %%}) or give a fallback (… or '…')."
    ),
    "unknown_caller_type": gettext_noop(
        "“%(value)s” is not a caller type of the transfer rules; known: %(expected)s."
    ),
    # expressions and templates
    "expr_syntax": gettext_noop("This condition cannot be read: %(detail)s"),
    "expr_not_allowed": gettext_noop("“%(what)s” is not allowed in a condition."),
    "unknown_name": gettext_noop("Unknown name “%(name)s”."),
    "unknown_attribute": gettext_noop("“%(owner)s” has no “%(name)s”; it has: %(expected)s."),
    "unknown_function": gettext_noop("Unknown function “%(name)s”; known: %(expected)s."),
    "arity": gettext_noop("%(name)s() takes %(expected)s."),
    "type_mismatch": gettext_noop("%(left)s and %(right)s cannot be compared (%(op)s)."),
    "arg_type": gettext_noop("Argument %(index)s of %(name)s() must be %(expected)s, not %(got)s."),
    "not_an_option": gettext_noop("“%(value)s” is not an option of “%(field)s”; options: %(expected)s."),
    "not_boolean": gettext_noop("A condition must be true or false; this one is %(got)s."),
    "bad_time_literal": gettext_noop("“%(value)s” is not a time (write “12:30”)."),
    "template_syntax": gettext_noop("This text cannot be read: %(detail)s"),
    "unknown_filter": gettext_noop("Unknown filter “%(name)s”; known: %(expected)s."),
    # warnings
    "interrogation": gettext_noop(
        "Up to %(count)s questions before an outcome (path: %(path)s); "
        "more than %(max)s feels like an interrogation."
    ),
    "duplicate_text": gettext_noop("The same text is also said at the step “%(other)s”."),
    "unused_block": gettext_noop("The block “%(name)s” is not used."),
    "unused_field": gettext_noop("The field “%(name)s” is never asked."),
    # answers given at run time
    "required": gettext_noop("This answer is required."),
    "bad_phone": gettext_noop("“%(value)s” is not a phone number."),
    "bad_email": gettext_noop("“%(value)s” is not an e-mail address."),
    "bad_date": gettext_noop("“%(value)s” is not a date (write 24/12/2026)."),
    "bad_number": gettext_noop("“%(value)s” is not a number."),
    "bad_postcode": gettext_noop("“%(value)s” is not a postcode (five digits)."),
    "bad_yes_no": gettext_noop("Answer yes or no."),
    "bad_choice": gettext_noop("“%(value)s” is not one of the options: %(expected)s."),
    "bad_characters": gettext_noop("This answer contains invisible control characters."),
    "too_short": gettext_noop("At least %(min)s characters."),
    "too_long": gettext_noop("At most %(max)s characters."),
    "bad_pattern": gettext_noop("“%(value)s” does not have the expected form."),
    "below_min": gettext_noop("At least %(min)s."),
    "above_max": gettext_noop("At most %(max)s."),
    "unknown_person": gettext_noop("“%(value)s” is not in the directory."),
    "bad_result": gettext_noop("“%(value)s” is not a possible result here; expected: %(expected)s."),
    "finished": gettext_noop("The call has reached its outcome; go back to change an answer."),
    "nothing_to_undo": gettext_noop("There is no answer to undo."),
    "wrong_step": gettext_noop("This answer is for the step “%(step)s” but the call is at “%(current)s”."),
    "bad_input": gettext_noop("The answer must be a mapping of field names to values."),
    "identity_bad_date": gettext_noop("This is not a date (write 24/12/1980)."),
    "identity_no_contact": gettext_noop(
        "The caller is not known: there is nothing to compare the answers with. Go on as not verified."
    ),
    "identity_no_undo": gettext_noop("An identity check cannot be undone."),
}


@dataclass(frozen=True, slots=True)
class Problem:
    severity: str  # "error" or "warning"
    code: str
    line: int
    column: int
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def message(self, translate: Any = None) -> str:
        """The sentence, translated by ``translate`` (a gettext function) when given."""
        template = MESSAGES.get(self.code, self.code)
        if translate is not None:
            template = translate(template)
        try:
            return template % self.params
        except (KeyError, TypeError, ValueError):
            return template

    def as_dict(self, translate: Any = None) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "line": self.line,
            "column": self.column,
            "message": self.message(translate),
        }

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.severity}: {self.message()}"


class Problems:
    """An ordered collection of problems, errors and warnings."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def error(self, code: str, pos: tuple[int, int], **params: Any) -> None:
        self.items.append(Problem("error", code, pos[0], pos[1], params))

    def warning(self, code: str, pos: tuple[int, int], **params: Any) -> None:
        self.items.append(Problem("warning", code, pos[0], pos[1], params))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "warning"]

    def sorted(self) -> list[Problem]:
        return sorted(self.items, key=lambda p: (p.line, p.column, p.severity != "error", p.code))

    def __bool__(self) -> bool:
        return bool(self.errors)

    def __len__(self) -> int:
        return len(self.items)
