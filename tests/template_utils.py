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
