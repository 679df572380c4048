"""JSONPath results as Step Functions gives them: a definite path yields its one node as it is.

AWS: "Using JSONPath paths" (Step Functions Developer Guide) has a path such as ``$.bar`` select the node itself
(``["a", "b", "c"]``); Step Functions evaluates paths with Jayway JsonPath, in which a definite path (member
names and literal indexes only, e.g. ``$.Records[0][0].LongValue``) yields exactly one value, and only an
indefinite one (wildcard, slice, union, filter, deep scan) yields the array of its matches.

moto 5.2.5 wraps a definite path's value in a list whenever the step above the last one is an index
(``$.Records[0][0].LongValue`` -> ``[3]``), a rule written for filter results (``$.a[?(@.x)].b``), which stay
lists here as on AWS. The same evaluator serves Parameters, ResultSelector, InputPath/OutputPath, Choice
variables, intrinsic arguments, Wait and timeout paths: each module that imported it by name is patched.
"""

from __future__ import annotations

import functools
import re

from jsonpath_ng.ext import parse

from local_aws.patches import patch

# Member names (dot or quoted bracket notation) and literal indexes, nothing else.
DEFINITE_PATH = re.compile(r"\$(?:\.[^.\[\]*?@:,()'\"]+|\[\d+\]|\['[^']*'\])*")

_ASL = "moto.stepfunctions.parser.asl"
_IMPORTERS = (
    "component.common.string.string_expression", "component.intrinsic.argument.argument",
    "component.state.choice.comparison.operator.implementations.boolean_equals",
    "component.state.choice.comparison.operator.implementations.numeric",
    "component.state.choice.comparison.operator.implementations.string_operators",
    "component.state.choice.comparison.operator.implementations.timestamp_operators", "eval.states",
)


def _definite_paths_yield_their_node(original):
    @functools.wraps(original)
    def extract_json(path: str, data):
        if DEFINITE_PATH.fullmatch(path):
            matches = parse(path).find(data)
            if len(matches) == 1:
                return matches[0].value
        return original(path, data)  # indefinite paths, and "not found" with moto's own error
    return extract_json


for _module in _IMPORTERS:
    patch(f"{_ASL}.{_module}.extract_json", wrap=True,
          why="a definite path such as $.Records[0][0].LongValue yields its node on AWS; moto wrapped it in a list "
              "when the step above the last is an index")(_definite_paths_yield_their_node)
