"""Create-time validation of a state machine definition, as CreateStateMachine and UpdateStateMachine do it.

AWS refuses a definition with ``InvalidDefinition`` (HTTP 400) and the message
``Invalid State Machine Definition: '<CODE>: <what> at <where>, <CODE>: ...'`` listing every problem found. moto's
interpreter parses the definition with its ASL grammar only: it accepted missing and unreachable states, illegal
escapes in intrinsic functions and impossible timestamps (or refused them with an exception the server answered
with an empty error code and a Python message). Checked here, before moto's parse, in the order AWS reports them:

- the definition is JSON (``INVALID_JSON_DESCRIPTION``);
- every scope (the machine, each Parallel branch, each Map's ItemProcessor/Iterator) has StartAt and States, and
  StartAt names one of its states;
- each state has a valid Type; Task, Pass, Wait, Parallel and Map states have Next or End;
- every transition (Next, Default, Choices[].Next, Catch[].Next) names a state of its scope
  (``MISSING_TRANSITION_TARGET: Missing 'Next' target: X at /States/S/Next``);
- every state is reachable from StartAt (``MISSING_TRANSITION_TARGET: State "X" is not reachable.``);
- a Wait state's Timestamp is an ISO-8601 extended offset date-time (RFC 3339) that exists on the calendar, and its
  Seconds an integer from 0 to 99999999;
- an intrinsic function (``"x.$": "States.Format('...')"``) uses only the escapes the ASL allows in its string
  literals (``\\'``, ``\\{``, ``\\}``, ``\\\\``) and closes its quotes and parentheses.

Anything moto's grammar refuses beyond these is answered with the same code, ``SCHEMA_VALIDATION_FAILED``: a state
field no state type has as AWS words it ("Field 'X' is not supported at /States/S"), anything else (a field on the
wrong state type, a misspelt keyword) with the grammar's own description of the problem.

AWS sources: "Amazon States Language" specification (states-language.net: StartAt, transitions, "Intrinsic
Functions" escapes, "Wait State" timestamps in RFC 3339); CreateStateMachine API reference (InvalidDefinition);
error texts as AWS answers them, from AWS-recorded responses (a public AWS-validated snapshot suite: "String does
not match RFC3339 timestamp", "The value for the field 'x.$' must be a valid JSONPath or a valid intrinsic function
call", "These fields are required: [States] at /", "The field 'Type' should have one of these values: [...]") and
deploy errors users have recorded ("MISSING_TRANSITION_TARGET: State \\"RunTask\\" is not reachable.",
"Field '...' is not supported at /States/S").
"""

from __future__ import annotations

import datetime
import functools
import json
import re
from collections.abc import Iterator
from typing import Any

from moto.core.exceptions import AWSError

from local_aws.patches import patch

STATE_TYPES = ("Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map")
_NEED_TRANSITION = {"Task", "Wait", "Pass", "Parallel", "Map"}
# RFC 3339 date-time: the form AWS accepts in a Wait state's Timestamp.
_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_INTRINSIC_ESCAPES = {"'", "{", "}", "\\"}
_PAYLOAD_FIELDS = ("Parameters", "ResultSelector", "ItemSelector")
# Every field some state type has (ASL spec, JSONPath and JSONata): a key outside this set is named by AWS as
# "Field 'X' is not supported"; a known field on the wrong type is left to moto's grammar.
_STATE_FIELDS = frozenset({
    "Type", "Comment", "QueryLanguage", "Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters",
    "ResultSelector", "Result", "Arguments", "Output", "Assign", "Retry", "Catch", "Resource", "Credentials",
    "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Choices", "Default",
    "Seconds", "SecondsPath", "Timestamp", "TimestampPath", "Error", "ErrorPath", "Cause", "CausePath", "Branches",
    "Iterator", "ItemProcessor", "ItemsPath", "Items", "ItemSelector", "ItemReader", "ItemBatcher", "ResultWriter",
    "MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailurePercentage", "ToleratedFailurePercentagePath",
    "ToleratedFailureCount", "ToleratedFailureCountPath", "Label",
})


class InvalidDefinition(AWSError):
    """CreateStateMachine / UpdateStateMachine: the definition is not valid ASL (HTTP 400)."""

    TYPE = "InvalidDefinition"
    STATUS = 400


def invalid(problems: list[str]) -> InvalidDefinition:
    return InvalidDefinition(f"Invalid State Machine Definition: '{', '.join(problems)}'")


def problems_of(definition: Any) -> list[str]:
    """Every problem AWS reports for a parsed definition, in AWS's words; an empty list for a valid one."""
    found: list[str] = []
    if not isinstance(definition, dict):
        return ["SCHEMA_VALIDATION_FAILED: The definition must be a JSON object at /"]
    _check_scope(definition, "", found)
    return found


def _transitions(state: dict, where: str) -> Iterator[tuple[str, str]]:
    """(target, where) of each transition a state makes."""
    for field in ("Next", "Default"):
        if isinstance(state.get(field), str):
            yield state[field], f"{where}/{field}"
    for kind in ("Choices", "Catch"):
        for index, rule in enumerate(state.get(kind) or []):
            if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
                yield rule["Next"], f"{where}/{kind}[{index}]/Next"


def _check_scope(scope: dict, where: str, found: list[str], language: str = "JSONPath") -> None:
    at = where or "/"
    language = scope.get("QueryLanguage", language)
    states = scope.get("States")
    start = scope.get("StartAt")
    missing = [field for field in ("StartAt", "States") if field not in scope]
    if missing:
        found.append(f"SCHEMA_VALIDATION_FAILED: These fields are required: [{', '.join(missing)}] at {at}")
    if not isinstance(states, dict):
        return
    if isinstance(start, str) and start not in states:
        found.append(f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {start} at {where}/StartAt")
    for name, state in states.items():
        state_at = f"{where}/States/{name}"
        if not isinstance(state, dict):
            found.append(f"SCHEMA_VALIDATION_FAILED: The state must be a JSON object at {state_at}")
            continue
        kind = state.get("Type")
        if kind is None:
            found.append(f"SCHEMA_VALIDATION_FAILED: These fields are required: [Type] at {state_at}")
        elif kind not in STATE_TYPES:
            found.append(f"SCHEMA_VALIDATION_FAILED: The field 'Type' should have one of these values: "
                         f"[{', '.join(STATE_TYPES)}] at {state_at}/Type")
        if kind in _NEED_TRANSITION and "Next" not in state and state.get("End") is not True:
            found.append(f"SCHEMA_VALIDATION_FAILED: These fields are required: [Next | End] at {state_at}")
        for target, target_at in _transitions(state, state_at):
            if target not in states:
                found.append(f"MISSING_TRANSITION_TARGET: Missing 'Next' target: {target} at {target_at}")
        if kind == "Wait":
            jsonata = state.get("QueryLanguage", language) == "JSONata"
            _check_timestamp(state.get("Timestamp"), f"{state_at}/Timestamp", found, jsonata)
            _check_seconds(state.get("Seconds"), f"{state_at}/Seconds", found, jsonata)
        for field in _PAYLOAD_FIELDS:
            _check_intrinsics(state.get(field), f"{state_at}/{field}", found)
        for index, branch in enumerate(state.get("Branches") or []):
            if isinstance(branch, dict):
                _check_scope(branch, f"{state_at}/Branches[{index}]", found, language)
        for field in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(field), dict):
                _check_scope(state[field], f"{state_at}/{field}", found, language)
    if isinstance(start, str) and start in states:
        reached = _reachable(states, start)
        found.extend(f'MISSING_TRANSITION_TARGET: State "{name}" is not reachable. at {where}/States/{name}'
                     for name in states if name not in reached)


def unsupported_fields(scope: dict, where: str = "") -> list[str]:
    """AWS's "Field 'X' is not supported at /States/S" for each state key no state type has, in every scope."""
    found = []
    states = scope.get("States")
    for name, state in (states.items() if isinstance(states, dict) else ()):
        if not isinstance(state, dict):
            continue
        state_at = f"{where}/States/{name}"
        found.extend(f"SCHEMA_VALIDATION_FAILED: Field '{key}' is not supported at {state_at}"
                     for key in state if key not in _STATE_FIELDS)
        for index, branch in enumerate(state.get("Branches") or []):
            if isinstance(branch, dict):
                found.extend(unsupported_fields(branch, f"{state_at}/Branches[{index}]"))
        for field in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(field), dict):
                found.extend(unsupported_fields(state[field], f"{state_at}/{field}"))
    return found


def _reachable(states: dict, start: str) -> set[str]:
    reached, pending = {start}, [start]
    while pending:
        state = states.get(pending.pop())
        if not isinstance(state, dict):
            continue
        for target, _ in _transitions(state, ""):
            if target in states and target not in reached:
                reached.add(target)
                pending.append(target)
    return reached


def valid_timestamp(text: str) -> bool:
    """RFC 3339 date-time (ISO-8601 extended offset form) naming a real instant."""
    match = _TIMESTAMP.match(text)
    if not match:
        return False
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    try:
        datetime.datetime(year, month, day, hour, minute, min(second, 59))  # RFC 3339 allows a leap second 60
    except ValueError:
        return False
    offset = match.group(8)
    return offset == "Z" or (int(offset[1:3]) <= 23 and int(offset[4:6]) <= 59)


def _check_timestamp(value: Any, where: str, found: list[str], jsonata: bool) -> None:
    if value is None or (jsonata and isinstance(value, str) and value.startswith("{%") and value.endswith("%}")):
        return  # absent, or a JSONata expression evaluated at run time (in a JSONPath state it is just a string)
    if not isinstance(value, str) or not valid_timestamp(value):
        found.append(f"SCHEMA_VALIDATION_FAILED: String does not match RFC3339 timestamp at {where}")


# ASL "Wait State": Seconds is "a positive, integer value from 0 up to 99999999" (SecondsPath is checked at run time).
MAX_WAIT_SECONDS = 99_999_999


def _check_seconds(value: Any, where: str, found: list[str], jsonata: bool) -> None:
    if value is None or (jsonata and isinstance(value, str) and value.startswith("{%") and value.endswith("%}")):
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WAIT_SECONDS:
        # AWS's code and location; its wording for this one is not recorded anywhere we could read
        found.append(f"SCHEMA_VALIDATION_FAILED: The value for the field 'Seconds' must be an integer from 0 to "
                     f"{MAX_WAIT_SECONDS} at {where}")


def intrinsic_is_well_formed(text: str) -> bool:
    """Quotes and parentheses balance and every escape in a string literal is one the ASL allows."""
    depth, index, quoted = 0, 0, False
    while index < len(text):
        char = text[index]
        if quoted:
            if char == "\\":
                if index + 1 >= len(text) or text[index + 1] not in _INTRINSIC_ESCAPES:
                    return False
                index += 1
            elif char == "'":
                quoted = False
        elif char == "'":
            quoted = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return False
        index += 1
    return not quoted and depth == 0


def _check_intrinsics(payload: Any, where: str, found: list[str]) -> None:
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key.endswith(".$") and isinstance(value, str) and value.startswith("States."):
                if not intrinsic_is_well_formed(value):
                    found.append(f"SCHEMA_VALIDATION_FAILED: The value for the field '{key}' must be a valid "
                                 f"JSONPath or a valid intrinsic function call at {where}")
            else:
                _check_intrinsics(value, where, found)
    elif isinstance(payload, list):
        for value in payload:
            _check_intrinsics(value, where, found)


@patch("moto.stepfunctions.parser.models.StepFunctionsParserBackend._validate_definition", wrap=True,
       why="definitions AWS refuses at CreateStateMachine/UpdateStateMachine are refused with InvalidDefinition "
           "and AWS's codes (moto accepted missing/unreachable states and bad escapes, and answered a bad "
           "Timestamp with an empty error code)")
def _validate_as_aws(original):
    def _validate_definition(definition: str):
        try:
            parsed = json.loads(definition)
        except ValueError as error:
            raise invalid([f"INVALID_JSON_DESCRIPTION: {error}"]) from None
        problems = problems_of(parsed)
        if problems:
            raise invalid(problems)
        try:
            original(definition)
        except Exception as error:  # moto's grammar refused it: AWS's words where known, else the grammar's
            unknown = unsupported_fields(parsed)
            message = getattr(error, "message", None) or str(error)
            raise invalid(unknown or [f"SCHEMA_VALIDATION_FAILED: {message}"]) from None

    return staticmethod(functools.wraps(original)(_validate_definition))
