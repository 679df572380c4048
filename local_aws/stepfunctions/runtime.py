"""Runtime errors of the interpreter with AWS's names and cause texts.

- A Choice rule whose ``Variable`` path selects nothing in the input fails the execution with ``States.Runtime``
  and the cause "Invalid path '<path>': The choice state's condition path references an invalid value." (AWS-
  recorded behaviour; the ASL spec: only ``IsPresent`` may test a path that is absent). moto fell through to the
  next rule or the Default, so a typo in a Choice path silently took the Default branch.

The execution's cause gets AWS's prefix "An error occurred while executing the state '<name>' (entered at the
event id #<n>). " from moto's own failure handling.
"""

from __future__ import annotations

import functools

from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_operator_type import (
    ComparisonOperatorType,
)
from moto.stepfunctions.parser.asl.component.state.choice.comparison.variable import NoSuchVariable
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

from local_aws.patches import patch


def states_runtime(env, cause: str) -> FailureEventException:
    """A ``States.Runtime`` failure of the current state (not catchable by Catch, as on AWS)."""
    name = StatesErrorNameType.StatesRuntime.to_name()
    return FailureEventException(FailureEvent(
        env=env, error_name=StatesErrorName(typ=StatesErrorNameType.StatesRuntime),
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(error=name, cause=cause))))


@patch("moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_variable.ComparisonVariable"
       "._eval_body", wrap=True,
       why="a Choice rule on an absent Variable path fails with States.Runtime (invalid path) as on AWS; moto fell "
           "through to the Default")
def _absent_choice_variable(original):
    @functools.wraps(original)
    def _eval_body(self, env) -> None:
        if self.comparison_function.operator_type != ComparisonOperatorType.IsPresent:
            self.variable.eval(env)
            value = env.stack.pop()
            if isinstance(value, NoSuchVariable):
                path = self.variable.string_sampler.literal_value
                raise states_runtime(
                    env, f"Invalid path '{path}': The choice state's condition path references an invalid value.")
        original(self, env)

    return _eval_body
