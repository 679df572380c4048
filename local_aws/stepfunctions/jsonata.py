"""JSONata for Step Functions, evaluated by jsonata-python (a pure-Python port of jsonata-java).

moto's interpreter (a port of LocalStack's) parses `QueryLanguage: JSONata`, `{% %}` expressions, `Assign`,
`$states` and variable scoping, and composes each expression with its bindings into one JSONata program
(``($states:={...};$x:=...;<expression>)``); its evaluator is a stub that needs a JVM. Here:

- the evaluator is jsonata-python; the result is plain JSON (list, dict, str, int/float, bool, None);
- bindings are encoded as JSON literals (moto writes a string as ``"value"`` unescaped, so a value holding a quote,
  backslash or newline broke the program); timestamps of the context object become ISO-8601 strings;
- the functions Step Functions adds to JSONata: $partition, $range and $parse (moto's JSONata definitions), $uuid
  (v4), $hash (MD5, SHA-1, SHA-256, SHA-384, SHA-512, hex) and $random with an optional seed (Python's generator:
  a seed gives a repeatable number, not the number AWS gives);
- an expression that throws, returns nothing (undefined) or returns a function fails the state with
  ``States.QueryEvaluationError`` and AWS's cause naming the field path ("The JSONata expression '<expr>' specified
  for the field 'Output/result' threw an error during evaluation. <code>: <message>" / "returned nothing
  (undefined)." / "returned an unsupported result type."), with the ``EvaluationFailed`` history event and its
  location, catchable by Catch as on AWS.

AWS sources: "Transforming data with JSONata in Step Functions" and "Passing data between states with variables"
(Step Functions Developer Guide); the error name from "Handling errors in Step Functions workflows"; the cause
texts and field paths as AWS-recorded executions show them (a public AWS-validated snapshot suite).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import random
import threading
import uuid
from typing import Any

import jsonata as jsonata_python
from jsonata.utils import Utils
from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.intrinsic import jsonata as intrinsic_jsonata
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.jsonata.jsonata import JSONataException

from local_aws.patches import patch, set_value
from local_aws.stepfunctions.context import iso_time

_MOTO_JSONATA = "moto.stepfunctions.parser.asl.jsonata.jsonata"
UNSUPPORTED_RESULT = "UNSUPPORTED_RESULT"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return iso_time(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _plain(value: Any) -> Any:
    """jsonata-python's result as plain JSON values; raises JSONataException for a function."""
    if value is Utils.NULL_VALUE or value is None:
        return None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    raise JSONataException(UNSUPPORTED_RESULT, type(value).__name__)


@functools.lru_cache(maxsize=256)
def _compiled(expression: str) -> jsonata_python.Jsonata:
    compiled = jsonata_python.Jsonata(expression)
    compiled.set_output_convert_nulls(False)  # keep JSON null apart from undefined
    return compiled


def _hash(value: Any, algorithm: Any) -> str:
    """$hash(value, algorithm): hex digest, as States.Hash; MD5, SHA-1, SHA-256, SHA-384 or SHA-512."""
    name = _HASH_ALGORITHMS.get(algorithm) if isinstance(algorithm, str) else None
    if name is None:
        raise ValueError(f"The hash algorithm {algorithm!r} is not supported: use one of "
                         f"{', '.join(_HASH_ALGORITHMS)}")
    data = value if isinstance(value, str) else json.dumps(_plain(value), separators=(",", ":"))
    return hashlib.new(name, data.encode()).hexdigest()


def _random(*seed: Any) -> float:
    """$random([seed]): a float in [0, 1); with a seed, the same seed gives the same number (not AWS's number)."""
    return random.Random(seed[0]).random() if seed and seed[0] is not None else random.random()


_HASH_ALGORITHMS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
# Functions Step Functions adds to JSONata that moto declares as stubs returning "not supported" text; $partition,
# $range and $parse keep moto's JSONata definitions.
_STEP_FUNCTIONS_FUNCTIONS = {
    "uuid": jsonata_python.Jsonata.JLambda(lambda: str(uuid.uuid4())),
    "hash": jsonata_python.Jsonata.JLambda(_hash),
    "random": jsonata_python.Jsonata.JLambda(_random),
}


_last = threading.local()  # whether this thread's last evaluation was undefined (moto's validation asks next)


def evaluate(expression: str) -> Any:
    """Evaluate a complete JSONata program (bindings included) against no input.

    Returns plain JSON (None for both null and undefined, as moto's callers expect; ``$exists`` tells them apart).
    Raises moto's ``JSONataException(code, message)``: code is JSONata's (T2001, S0201, ...) or
    ``UNSUPPORTED_RESULT`` for a function."""
    try:
        result = _compiled(expression).evaluate(None, _STEP_FUNCTIONS_FUNCTIONS)  # a fresh frame each time
    except jsonata_python.JException as error:
        raise JSONataException(error.error, str(error)) from None
    except RecursionError:
        raise JSONataException("U1001", "Stack overflow error: check for non-terminating recursive function."
                               ) from None
    except (ArithmeticError, LookupError, TypeError, ValueError) as error:
        # jsonata-python lets a few of Python's own errors through where JSONata throws (e.g. $number('x'),
        # JSONata D3030): still an evaluation error of the expression, with Python's message.
        raise JSONataException(type(error).__name__, str(error)) from None
    _last.undefined = result is None  # JSON null is Utils.NULL_VALUE here
    return _plain(result)


set_value(f"{_MOTO_JSONATA}._eval_jsonata", evaluate,
          why="JSONata is evaluated by jsonata-python (moto's evaluator is a stub that needs a JVM)")

_MOTO_DECLARATIONS = "moto.stepfunctions.parser.asl.component.intrinsic.jsonata._DECLARATION_BY_VARIABLE_REFERENCE"
set_value(_MOTO_DECLARATIONS, {name: declaration for name, declaration in
                               intrinsic_jsonata._DECLARATION_BY_VARIABLE_REFERENCE.items()
                               if name in ("$partition", "$range", "$parse")},
          why="$uuid, $hash and $random(seed) are real functions (moto declared stubs answering 'not supported' "
              "text, and $randomSeeded, which AWS does not have)")


def encode_declarations(bindings: dict[str, Any]) -> str:
    """``$name:=<JSON literal>;`` for each binding (a JSON literal is a JSONata literal)."""
    return "".join(f"{name}:={json.dumps(value, default=_json_default, separators=(',', ':'))};"
                   for name, value in bindings.items())


set_value("moto.stepfunctions.parser.asl.eval.states.encode_jsonata_variable_declarations", encode_declarations,
          why="$states bindings are JSON-encoded (moto leaves strings unescaped: a quote broke the expression)")
set_value("moto.stepfunctions.parser.asl.eval.variable_store.encode_jsonata_variable_declarations",
          encode_declarations,
          why="variables are JSON-encoded (moto leaves strings unescaped: a quote broke the expression)")


def _cause(expression: str, field: str | None, error: JSONataException) -> str:
    if error.error == UNSUPPORTED_RESULT:
        return f"The JSONata expression '{expression}' specified for the field '{field}' returned an unsupported " \
               "result type."
    return (f"The JSONata expression '{expression}' specified for the field '{field}' threw an error during "
            f"evaluation. {error.error}: {error.details or ''}")


def _evaluation_failed(env, cause: str) -> FailureEventException:
    """States.QueryEvaluationError of the current state and field, with its EvaluationFailed event."""
    error_name = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
    details = EvaluationFailedEventDetails(error=error_name.error_name, cause=cause)
    if env.next_field_name:
        details["location"] = env.next_field_name
    failure = FailureEventException(FailureEvent(
        env=env, error_name=error_name, event_type=HistoryEventType.EvaluationFailed,
        event_details=EventDetails(evaluationFailedEventDetails=details)))
    env.event_manager.add_event(
        context=env.event_history_context, event_type=HistoryEventType.EvaluationFailed,
        event_details=EventDetails(evaluationFailedEventDetails=failure.get_evaluation_failed_event_details()))
    return failure


def _query_evaluation_error(env, expression: str, error: JSONataException) -> FailureEventException:
    return _evaluation_failed(env, _cause(expression, env.next_field_name, error))


_VALIDATIONS = "moto.stepfunctions.parser.asl.jsonata.validations"


@patch(f"{_VALIDATIONS}._validate_null_output",
       why="an undefined result fails with AWS's cause naming the field (\"... specified for the field 'Output/x' "
           "returned nothing (undefined).\"); known from the evaluation itself, not by evaluating it again")
def _validate_null_output(env, expression: str, rich_jsonata_expression: str) -> None:
    """Raises States.QueryEvaluationError when the expression just evaluated was undefined (JSON null is fine)."""
    if getattr(_last, "undefined", False):
        raise _evaluation_failed(env, f"The JSONata expression '{expression}' specified for the field "
                                      f"'{env.next_field_name}' returned nothing (undefined).")


@patch(f"{_VALIDATIONS}._validate_string_output",
       why="a function result is refused by the evaluator itself; moto evaluated every string result a second time "
           "to ask its $type")
def _validate_string_output(env, expression: str, rich_jsonata_expression: str) -> None:
    """Nothing to check: strings are JSON strings (see ``evaluate``)."""


_STRING = "moto.stepfunctions.parser.asl.component.common.string.string_expression"


def _failing_as_aws(original):
    @functools.wraps(original)
    def _eval_body(self, env) -> None:
        try:
            original(self, env)
        except JSONataException as error:
            raise _query_evaluation_error(env, self.expression, error) from None

    return _eval_body


patch(f"{_STRING}.StringJSONata._eval_body", wrap=True,
      why="a JSONata expression that throws fails the state with States.QueryEvaluationError (AWS), not "
          "States.Runtime")(_failing_as_aws)
patch(f"{_STRING}.StringVariableSample._eval_body", wrap=True,
      why="a variable sample that throws fails the state with States.QueryEvaluationError (AWS)")(_failing_as_aws)


@patch("moto.stepfunctions.parser.asl.eval.variable_store.VariableStore.get_assigned_variables",
       why="the history's assignedVariables hold JSON text; moto wrote a string value unescaped")
def get_assigned_variables(self) -> dict[str, str]:
    """The variables this state assigned, each as JSON text (``PassStateExited.assignedVariables``)."""
    return {name: json.dumps(self.get(name), default=_json_default, separators=(",", ":"))
            for name in self._declaration_tracing}


# moto names the field of an error after the class that evaluates it; for JSONata that is an internal class
# (JSONataTemplateValueTerminalStringJSONata). AWS names the ASL field: Output, Arguments, Assign, Condition.
_FIELD_BY_CLASS_PREFIX = (("Arguments", "Arguments"), ("AssignDecl", "Assign"), ("Condition", "Condition"))
_INTERNAL_CLASS_PREFIXES = ("JSONataTemplateValue", "AssignTemplate", "AssignDeclBinding", "JSONataTemplateBinding")


@patch("moto.stepfunctions.parser.asl.component.eval_component.EvalComponent._field_name", wrap=True,
       why="errors in JSONata fields name the ASL field (Output, Arguments, Assign, Condition) as AWS does, not "
           "moto's internal class")
def _asl_field_name(original):
    by_class: dict[type, tuple[bool, str | None]] = {}  # the answer depends on the class only: computed once

    def _decide(cls: type) -> tuple[bool, str | None]:
        name = cls.__name__
        if name.startswith(_INTERNAL_CLASS_PREFIXES):
            return True, None  # keep the enclosing field
        for prefix, field in _FIELD_BY_CLASS_PREFIX:
            if name.startswith(prefix):
                return True, field
        return False, None

    @functools.wraps(original)
    def _field_name(self) -> str | None:
        cls = type(self)
        decided = by_class.get(cls)
        if decided is None:
            decided = by_class[cls] = _decide(cls)
        return decided[1] if decided[0] else original(self)

    return _field_name


def _nested_field(original):
    """A key of a JSONata object template or of Assign extends the field path, as AWS names it (Output/result)."""

    @functools.wraps(original)
    def _eval_body(self, env) -> None:
        outer = env.next_field_name
        env.next_field_name = f"{outer}/{self.identifier}" if outer else self.identifier
        try:
            original(self, env)
        finally:
            if env.is_running():
                env.next_field_name = outer

    return _eval_body


patch("moto.stepfunctions.parser.asl.component.common.jsonata.jsonata_template_binding.JSONataTemplateBinding"
      "._eval_body", wrap=True, why="errors in a template's key name the path (Output/result) as AWS does")(
    _nested_field)
patch("moto.stepfunctions.parser.asl.component.common.assign.assign_template_binding.AssignTemplateBinding"
      "._eval_body", wrap=True, why="errors in an Assign key name the path (Assign/result) as AWS does")(
    _nested_field)


@patch("moto.stepfunctions.parser.asl.component.common.jsonata.jsonata_template_binding.JSONataTemplateBinding"
       "._field_name", why="a template key is part of the field path (Output/result), set by its evaluation")
def _template_binding_field_name(self) -> str | None:
    """None: the path is extended by ``_nested_field`` instead of replaced by the key."""
    return None
