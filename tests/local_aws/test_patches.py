"""The patch registry: every change to moto is declared, applied at start, and refused loudly when moto moved."""

from __future__ import annotations

import sys
import types

import pytest
import requests

from local_aws import patches
from local_aws.patches import PatchError, Registry


@pytest.fixture
def fake_moto(monkeypatch):
    """A stand-in module with a class, as a moto module would have."""
    module = types.ModuleType("fake_moto_models")

    class Backend:
        def start_crawler(self, name):
            return f"moto {name}"

    module.Backend = Backend
    module.TABLE = {"a": 1}
    monkeypatch.setitem(sys.modules, "fake_moto_models", module)
    return module


def test_every_declared_patch_is_applied_and_listed_by_the_server(local_aws):
    declared = patches.declared()
    assert len(declared) > 30, "the services declare their changes to moto here"
    assert all(p.applied for p in declared), [p.target for p in declared if not p.applied]
    assert all(p.why and p.moto_version for p in declared)
    listed = requests.get(local_aws.endpoint_url + "/_local_aws/patches", timeout=10).json()
    assert {entry["target"] for entry in listed} == {p.target for p in declared}
    assert all(entry["why"] and entry["declared_in"].startswith("local_aws.") for entry in listed)


def test_replace_wrap_add_set_and_revert(fake_moto):
    registry = Registry()
    registry.declare("fake_moto_models.Backend.start_crawler", "crawlers crawl", "replace",
                     lambda self, name: f"local {name}", "tests")
    registry.declare("fake_moto_models.Backend.stop_crawler", "moto lacks it", "add",
                     lambda self, name: "stopped", "tests")
    registry.declare("fake_moto_models.TABLE", "one more entry", "set", {"a": 1, "b": 2}, "tests")
    registry.apply_all()
    assert fake_moto.Backend().start_crawler("x") == "local x"
    assert fake_moto.Backend().stop_crawler("x") == "stopped"
    assert fake_moto.TABLE == {"a": 1, "b": 2}
    assert {p["target"] for p in registry.applied()} == {
        "fake_moto_models.Backend.start_crawler", "fake_moto_models.Backend.stop_crawler",
        "fake_moto_models.TABLE"}
    registry.apply_all()  # twice is a no-op
    registry.revert_all()
    assert fake_moto.Backend().start_crawler("x") == "moto x"
    assert not hasattr(fake_moto.Backend, "stop_crawler")
    assert fake_moto.TABLE == {"a": 1}


def test_a_missing_target_stops_the_start(fake_moto):
    registry = Registry()
    registry.declare("fake_moto_models.Backend.start_crawl", "crawlers crawl", "replace",
                     lambda self, name: None, "local_aws.services.glue_crawlers")
    with pytest.raises(PatchError, match=r"Backend\.start_crawl is missing in moto .*crawlers crawl"):
        registry.apply_all()
    assert not registry.applied()


def test_a_target_whose_parameters_changed_stops_the_start(fake_moto):
    registry = Registry()
    registry.declare("fake_moto_models.Backend.start_crawler", "crawlers crawl", "replace",
                     lambda self, crawler_name: None, "tests")
    with pytest.raises(PatchError, match="changed shape"):
        registry.apply_all()


def test_an_added_action_that_moto_now_has_stops_the_start(fake_moto):
    registry = Registry()
    registry.declare("fake_moto_models.Backend.start_crawler", "moto lacks it", "add", lambda self, n: 1, "tests")
    with pytest.raises(PatchError, match="now exists in moto"):
        registry.apply_all()


def test_the_same_target_cannot_be_declared_twice(fake_moto):
    registry = Registry()
    registry.declare("fake_moto_models.TABLE", "one", "set", {}, "module_a")
    with pytest.raises(PatchError, match="patched twice.*module_a"):
        registry.declare("fake_moto_models.TABLE", "two", "set", {}, "module_b")


def test_no_service_module_assigns_onto_moto_directly():
    """Every change goes through the registry: no `moto_thing.attr = ...` left in the service modules."""
    import re
    from pathlib import Path

    offenders = []
    for path in Path("local_aws").rglob("*.py"):
        if path.name == "patches.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"\s*(setattr\((Glue|Athena|RedshiftData|LakeFormation|StateTask|Fake|Step)|"
                        r"(Glue|Athena|Fake|Lambda|StateTask|Step|Wait|Cluster|StateMachine|parsing|cfn_models)"
                        r"\w*\.\w+\s*=[^=])", line):
                offenders.append(f"{path}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
