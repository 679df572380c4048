"""When a state's variable assignments take effect: after its output, as AWS does it.

AWS ("Passing data between states with variables", and AWS-recorded executions): every expression of a state's
``Assign`` and its ``Output`` / ``OutputPath`` read the variable values from before the state; the new values
are seen from the next state on (a state that assigns ``answer`` and outputs ``$answer`` outputs the old value).
moto set the variables as soon as ``Assign`` was evaluated, so the same state's output saw the new ones.

Here ``Assign`` (of the state, of a Choice rule, of a Catch) evaluates all its expressions as before and keeps the
values pending on the variable store; they are set once the state's output is computed (or when the state ends
without one), before the ``...StateExited`` event that lists them.
"""

from __future__ import annotations

import functools
from typing import Any

from local_aws.patches import patch

_PENDING = "_local_aws_pending_assignments"


def _flush(env) -> None:
    store = env.variable_store
    pending: dict[str, Any] | None = store.__dict__.pop(_PENDING, None)
    for identifier, value in (pending or {}).items():
        store.set(variable_identifier=identifier, variable_value=value)


@patch("moto.stepfunctions.parser.asl.component.common.assign.assign_decl.AssignDecl._eval_body",
       why="a state's Assign takes effect after its Output/OutputPath (AWS); moto set variables at once, so the "
           "same state's output saw the new values")
def _eval_body(self, env) -> None:
    """Evaluate every binding against the values before the state; keep the results pending."""
    declarations: dict[str, Any] = {}
    for binding in self.declaration_bindings:
        binding.eval(env=env)
        declarations.update(env.stack.pop())
    env.variable_store.__dict__.setdefault(_PENDING, {}).update(declarations)


def _output_then_assign(original):
    @functools.wraps(original)
    def _eval_state_output(self, env) -> None:
        original(self, env)
        _flush(env)

    return _eval_state_output


# Every class with its own _eval_state_output: Choice and Task/Map/Parallel (a caught error's output) do not all
# reach the base class's.
for _target in ("state.CommonStateField", "exec.execute_state.ExecutionState", "choice.state_choice.StateChoice"):
    patch(f"moto.stepfunctions.parser.asl.component.state.{_target}._eval_state_output", wrap=True,
          why="pending assignments take effect once the state's output is computed (AWS evaluation order)")(
        _output_then_assign)


@patch("moto.stepfunctions.parser.asl.component.state.state.CommonStateField._eval_body", wrap=True,
       why="pending assignments of a state that ends without computing an output still take effect")
def _assign_at_the_end(original):
    @functools.wraps(original)
    def _eval_body(self, env) -> None:
        try:
            original(self, env)
        finally:
            _flush(env)

    return _eval_body
