"""Helpers for the static tests of infra/cloudformation.json: load it, walk its ASL and IAM policies."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = REPO_ROOT / "infra" / "cloudformation.json"
ARCHITECTURE_DOC = REPO_ROOT / "docs" / "architecture.md"

# `${Name}` in a Definition; `${!Literal}` is CloudFormation's escape and not a substitution.
SUBSTITUTION = re.compile(r"\$\{(?!!)([A-Za-z0-9_.:-]+)\}")

# Plausible values for statelint, which needs concrete ARNs and numbers where the template has `${Var}`.
ACCOUNT = "123456789012"
REGION = "us-east-1"


@cache
def load_template() -> dict:
    return json.loads(TEMPLATE_PATH.read_text())


def resources_of_type(resource_type: str) -> dict[str, dict]:
    return {
        name: resource
        for name, resource in load_template()["Resources"].items()
        if resource["Type"] == resource_type
    }


def state_machines() -> dict[str, dict]:
    return resources_of_type("AWS::StepFunctions::StateMachine")


def substitutions_used(definition: dict) -> set[str]:
    return set(SUBSTITUTION.findall(json.dumps(definition)))


# The ARN of a resource of these types, for a logical id.
ARN_SHAPES = {
    "AWS::StepFunctions::StateMachine": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:salespipe-{{}}",
    "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:salespipe-{{}}",
    "AWS::SecretsManager::Secret": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:salespipe/{{}}-AbCdEf",
    "AWS::SecretsManager::SecretTargetAttachment":
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:salespipe/{{}}-AbCdEf",
    "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/salespipe-{{}}",
}
# What Ref returns: an ARN for these types, a plain name for the others listed.
REF_IS_ARN = {"AWS::StepFunctions::StateMachine", "AWS::SecretsManager::Secret",
              "AWS::SecretsManager::SecretTargetAttachment"}
REF_IS_NAME = {"AWS::Glue::Crawler", "AWS::Glue::Job", "AWS::Glue::Database", "AWS::Redshift::Cluster",
               "AWS::Athena::WorkGroup", "AWS::S3::Bucket", "AWS::Lambda::Function", "AWS::IAM::Role"}


def plausible_value(expression) -> str:
    """A value of the shape CloudFormation would substitute for one DefinitionSubstitutions entry.

    Judged from what the entry points at (a parameter's default, a resource's Ref or Arn), so a substitution
    the tests cannot model fails loudly instead of being linted as an arbitrary string.
    """
    template = load_template()
    if isinstance(expression, (str, int, float)):
        return str(expression)
    if "Ref" in expression:
        target, attribute = expression["Ref"], None
    elif "Fn::GetAtt" in expression:
        target, attribute = expression["Fn::GetAtt"]
    else:
        raise AssertionError(f"cannot model the substitution {expression}: use Ref or Fn::GetAtt")
    if target in template["Parameters"]:
        parameter = template["Parameters"][target]
        return str(parameter.get("Default", "1" if parameter["Type"] == "Number" else f"salespipe-{target}"))
    resource_type = template["Resources"][target]["Type"]
    if (attribute == "Arn" and resource_type in ARN_SHAPES) or (attribute is None and resource_type in REF_IS_ARN):
        return ARN_SHAPES[resource_type].format(target)
    if attribute is None and resource_type in REF_IS_NAME:
        return f"salespipe-{target}"
    raise AssertionError(f"cannot model the substitution {expression} ({resource_type})")


def rendered_definition(definition: dict, substitutions: dict) -> dict:
    """The Definition as Step Functions would receive it, each `${Var}` replaced by a plausible value.

    CloudFormation replaces substitutions inside JSON strings, so every value lands in a string; the ASL must
    convert number-like values itself (e.g. States.StringToJson for PollSeconds).
    """
    text = json.dumps(definition)
    for name, expression in substitutions.items():
        text = text.replace("${" + name + "}", json.dumps(plausible_value(expression))[1:-1])
    return json.loads(text)


def iter_states(states: dict, path: str = "") -> Iterator[tuple[str, dict]]:
    """Every state, including those nested in Parallel branches and Map iterators."""
    for name, state in states.items():
        yield f"{path}{name}", state
        for index, branch in enumerate(state.get("Branches", [])):
            yield from iter_states(branch["States"], f"{path}{name}[{index}].")
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from iter_states(processor["States"], f"{path}{name}.")


def iter_policy_statements() -> Iterator[tuple[str, dict]]:
    """(resource name, statement) for every IAM statement in roles, policies and managed policies."""
    for name, resource in load_template()["Resources"].items():
        properties = resource.get("Properties", {})
        documents = []
        if resource["Type"] == "AWS::IAM::Role":
            documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [properties["PolicyDocument"]]
        for document in documents:
            statements = document["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                yield name, statement


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def backticked_names(section_heading: str) -> list[str]:
    """The `names` listed in one `## section` of docs/architecture.md."""
    text = ARCHITECTURE_DOC.read_text()
    match = re.search(rf"^## {re.escape(section_heading)}.*?$(.*?)(?=^## |\Z)", text, re.S | re.M)
    if match is None:
        raise AssertionError(f"docs/architecture.md has no section {section_heading!r}")
    return re.findall(r"`([^`]+)`", match.group(1))


# ---------------------------------------------------------------- a walker for the template's ASL
# Follows one path through a machine with scripted task results, to check the wiring of Choice rules, ResultPath,
# Catch and Fail states without AWS. It models only the ASL the template uses and fails loudly on anything else;
# Retry is not modelled (a scripted error stands for retries already exhausted).


class TaskError(Exception):
    """A scripted task failure: `error` is the ASL error name a Catch matches."""

    def __init__(self, error: str, cause: str = ""):
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


class PathMissing(Exception):
    pass


def read_path(data, path: str):
    if path == "$":
        return data
    if not path.startswith("$."):
        raise AssertionError(f"the walker does not model the path {path!r}")
    for step in path[2:].split("."):
        key, *indexes = re.fullmatch(r"([^\[\]]+)((?:\[\d+\])*)", step).group(1, 2)
        if not isinstance(data, dict) or key not in data:
            raise PathMissing(path)
        data = data[key]
        for index in (int(i) for i in re.findall(r"\[(\d+)\]", indexes[0])):
            if not isinstance(data, list) or index >= len(data):
                raise PathMissing(path)
            data = data[index]
    return data


def write_path(data, path: str | None, value):
    if path is None:
        return data
    if path == "$":
        return value
    result = json.loads(json.dumps(data))
    node = result
    *parents, last = path[2:].split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return result


def _split_arguments(text: str) -> list[str]:
    arguments, depth, quoted, current = [], 0, False, ""
    for char in text:
        if char == "'" and not current.endswith("\\"):
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            arguments.append(current.strip())
            current = ""
        else:
            current += char
    return arguments + ([current.strip()] if current.strip() else [])


def evaluate_expression(expression: str, data, context: dict):
    """A JSONPath ($..., $$...) or one of the intrinsic functions the template uses."""
    if expression.startswith("$$."):
        return read_path(context, "$" + expression[2:])
    if expression.startswith("$"):
        return read_path(data, expression)
    if expression.startswith("'") and expression.endswith("'"):
        return expression[1:-1]
    match = re.fullmatch(r"States\.(\w+)\((.*)\)", expression, re.S)
    if match is None:
        raise AssertionError(f"the walker does not model {expression!r}")
    function, arguments = match.group(1), [evaluate_expression(a, data, context)
                                           for a in _split_arguments(match.group(2))]
    if function == "Format":
        template, *values = arguments
        for value in values:
            template = template.replace("{}", value if isinstance(value, str) else json.dumps(value), 1)
        return template
    if function == "StringToJson":
        return json.loads(arguments[0])
    if function == "JsonToString":
        return json.dumps(arguments[0])
    if function == "Hash":
        return f"hash-of-{arguments[0]}"
    raise AssertionError(f"the walker does not model States.{function}")


def resolve_parameters(template, data, context: dict):
    if isinstance(template, dict):
        return {key.removesuffix(".$"): evaluate_expression(value, data, context) if key.endswith(".$")
                else resolve_parameters(value, data, context) for key, value in template.items()}
    if isinstance(template, list):
        return [resolve_parameters(item, data, context) for item in template]
    return template


def choice_matches(rule: dict, data) -> bool:
    if "And" in rule:
        return all(choice_matches(r, data) for r in rule["And"])
    if "Or" in rule:
        return any(choice_matches(r, data) for r in rule["Or"])
    if "Not" in rule:
        return not choice_matches(rule["Not"], data)
    try:
        value, present = read_path(data, rule["Variable"]), True
    except PathMissing:
        value, present = None, False
    if "IsPresent" in rule:
        return present == rule["IsPresent"]
    if "StringEquals" in rule:
        return present and value == rule["StringEquals"]
    if "BooleanEquals" in rule:
        return present and value is rule["BooleanEquals"]
    if "NumericEqualsPath" in rule:
        # Both paths must select numbers; a path that selects nothing is a States.Runtime error.
        other = read_path(data, rule["NumericEqualsPath"])
        if not present:
            raise PathMissing(rule["Variable"])
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (value, other))
        return numbers and value == other
    raise AssertionError(f"the walker does not model the Choice rule {rule}")


def walk(definition: dict, payload, respond, max_steps: int = 200) -> dict:
    """Run `definition` on `payload`; `respond(resource, parameters)` returns a task's result or raises TaskError.

    Returns {"status", "output" | "error"/"cause", "trace": [state names], "calls": [(resource, parameters)]}.
    """
    context = {"Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:m:run-1", "Name": "run-1"}}
    states, name, data = definition["States"], definition["StartAt"], payload
    trace, calls = [], []
    for _ in range(max_steps):
        state = states[name]
        trace.append(name)
        try:
            outcome = _step(state, data, context, respond, calls)
        except PathMissing as missing:
            # A path that selects nothing is a States.Runtime error, which no Catch (not even States.ALL) handles.
            return {"status": "FAILED", "error": "States.Runtime", "cause": f"{name}: no {missing}", "trace": trace,
                    "calls": calls}
        if "status" in outcome:
            return {**outcome, "trace": trace, "calls": calls}
        name, data = outcome["next"], outcome["data"]
    raise AssertionError(f"no end after {max_steps} states: {trace[-10:]}")


def _step(state: dict, data, context: dict, respond, calls: list) -> dict:
    """One state: {"next", "data"} to go on, or the execution's end {"status", ...}."""
    kind = state["Type"]
    if kind == "Succeed":
        return {"status": "SUCCEEDED", "output": data}
    if kind == "Fail":
        cause = (evaluate_expression(state["CausePath"], data, context) if "CausePath" in state
                 else state.get("Cause", ""))
        return {"status": "FAILED", "error": state.get("Error"), "cause": cause}
    if kind == "Wait":
        seconds = read_path(data, state["SecondsPath"]) if "SecondsPath" in state else state.get("Seconds")
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
            # Step Functions rejects a SecondsPath that is not a non-negative integer at run time.
            return {"status": "FAILED", "error": "States.Runtime", "cause": f"Wait seconds {seconds!r}"}
        return {"next": state["Next"], "data": data}
    if kind == "Choice":
        target = next((c["Next"] for c in state["Choices"] if choice_matches(c, data)), state.get("Default"))
        if target is None:
            return {"status": "FAILED", "error": "States.NoChoiceMatched", "cause": ""}
        return {"next": target, "data": data}
    if kind == "Pass":
        result = (resolve_parameters(state["Parameters"], data, context) if "Parameters" in state
                  else state.get("Result", data))
    elif kind == "Task":
        parameters = resolve_parameters(state.get("Parameters", {}), data, context)
        calls.append((state["Resource"], parameters))
        try:
            result = respond(state["Resource"], parameters)
        except TaskError as failure:
            handler = next((c for c in state.get("Catch", [])
                            if failure.error in c["ErrorEquals"] or "States.ALL" in c["ErrorEquals"]), None)
            if handler is None:
                return {"status": "FAILED", "error": failure.error, "cause": failure.cause}
            data = write_path(data, handler.get("ResultPath", "$"),
                              {"Error": failure.error, "Cause": failure.cause})
            return {"next": handler["Next"], "data": data}
        if "ResultSelector" in state:
            result = resolve_parameters(state["ResultSelector"], result, context)
    else:
        raise AssertionError(f"the walker does not model {kind} states")
    data = write_path(data, state.get("ResultPath", "$"), result)
    if "OutputPath" in state:
        data = read_path(data, state["OutputPath"])
    if state.get("End"):
        return {"status": "SUCCEEDED", "output": data}
    return {"next": state["Next"], "data": data}
