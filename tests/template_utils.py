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


def plausible_value(name: str) -> str:
    """A value of the right shape for a DefinitionSubstitutions key, judged by its name."""
    lowered = name.lower()
    if "seconds" in lowered:
        return "10"
    if "statemachine" in lowered:
        return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:salespipe-{name}"
    if "function" in lowered or "lambda" in lowered or "loader" in lowered:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:salespipe-loader"
    if "secret" in lowered:
        return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:salespipe/redshift-AbCdEf"
    if lowered.endswith("arn"):
        return f"arn:aws:iam::{ACCOUNT}:role/salespipe-{name}"
    return f"salespipe-{name}"


def rendered_definition(definition: dict, substitutions: dict) -> dict:
    """The Definition as Step Functions would receive it, each `${Var}` replaced by a plausible value.

    Substitutions are replaced inside JSON strings, as CloudFormation does; a number-like value stays a string
    unless the whole JSON string was the placeholder and the key is numeric (the ASL must convert it itself).
    """
    text = json.dumps(definition)
    for name in substitutions:
        text = text.replace("${" + name + "}", plausible_value(name))
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
