"""Inline policies are JSON text, as IAM stores them: moto keeps a CloudFormation-created role's (user's, group's)
inline policy as a Python dict, which GetRolePolicy then returns as a Python repr rather than URL-encoded JSON
(IAM API Reference, "GetRolePolicy": PolicyDocument is a URL-encoded JSON document)."""

from __future__ import annotations

import json

from local_aws.patches import patch


def as_json(document) -> str:
    """A policy document as JSON text (dicts from CloudFormation templates are serialised)."""
    return document if isinstance(document, str) else json.dumps(document)


def _storing_json(original):
    def put_policy(self, policy_name: str, policy_json: str) -> None:
        return original(self, policy_name, as_json(policy_json))

    return put_policy


for _owner in ("Role", "User", "Group"):
    patch(f"moto.iam.models.{_owner}.put_policy", wrap=True,
          why="inline policies from CloudFormation are stored as JSON text (moto keeps the dict)")(_storing_json)
