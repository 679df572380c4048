"""Run in a subprocess by test_cfn_resources.py: deploy the project's template into an in-process local AWS and
print, as JSON, each resource's type, its physical id and the value (or the failure) of each documented GetAtt.

In-process because GetAtt is read from the stack's resource models, attribute by attribute: an output naming an
attribute moto lacks would fail the whole stack instead of telling which attribute is missing."""

from __future__ import annotations

import json
import sys
import tempfile

from moto.cloudformation.models import cloudformation_backends

from local_aws import ACCOUNT_ID, REGION
from local_aws.server import LocalAWS
from pipeline_tools.deploy import deploy_local


def probe(documented: dict[str, list[str]]) -> dict:
    with tempfile.TemporaryDirectory() as state, LocalAWS(port=0, state_dir=state) as server:
        deploy_local(server.endpoint_url, stack_name="probe",
                     parameters={"ProjectName": "probe", "GlueDatabaseName": "probe_sales"})
        stack = next(s for s in cloudformation_backends[ACCOUNT_ID][REGION].stacks.values()
                     if s.name == "probe")
        found = {}
        resource_map = stack.resource_map
        for logical_id in resource_map.resources:
            model = resource_map[logical_id]
            kind = resource_map._resource_json_map[logical_id]["Type"]
            if model is None:  # its Condition is false: not created
                found[logical_id] = {"type": kind, "created": False}
                continue
            physical = getattr(model, "physical_resource_id", None)
            attributes = {}
            for attribute in documented.get(kind, []):
                try:
                    value = model.get_cfn_attribute(attribute)
                    attributes[attribute] = {"value": value if isinstance(value, str | int | float | list) else
                                             repr(value)}
                except Exception as error:  # noqa: BLE001 - the report names every failure
                    attributes[attribute] = {"error": f"{type(error).__name__}: {error}"}
            shown = physical if isinstance(physical, str) else repr(physical)
            found[logical_id] = {"type": kind, "created": True, "physical_id": shown, "attributes": attributes}
        return found


if __name__ == "__main__":
    print(json.dumps(probe(json.loads(sys.argv[1]))))
