"""
What the gce salt-cloud driver's unit tests (tests/unit/test_gce_*.py)
share: the project, zone, operator address and nodes of the lab, the
repository's gce profiles and lab model (``profiles``, ``node``,
``model``, ``write_model``, ``nets``), a local fake of the Compute REST API
(tests/fakes/compute_api.py) per test (``compute``), the provider on it,
salt-cloud's configuration directory with a tools/push that records what
it was asked, Salt's loader mocks for the driver, and what the driver
asked the fake (``posts``) or made (``build_lab``).

A test module imports the fixtures it uses by name, with those they
depend on, and lists them in ``__all__``: ``compute``, ``provider``,
``config_dir``, ``configure_loader_modules`` (which, found in the module,
turns on the loader mocks), and ``OPERATOR_KEY``, the name of the key
conftest's ``keyfile`` makes (it reads it from the test module).
"""

import copy
import pathlib
import shutil
from unittest.mock import MagicMock

import gce
import gce_network
import pytest
import salt.utils.cloud
import salt.utils.yaml
import saltlab_model

from extensions import cloud_utils, serving
from fakes.compute_api import ComputeAPI

REPO = pathlib.Path(__file__).resolve().parents[2]
PROJECT = "saltlab-test"
ZONE = "europe-west1-b"
OPERATOR = "198.51.100.7"
LAB = ["network", "controller", "compute1", "compute2", "storage"]
OPERATOR_KEY = "gcp-default-key"


def profiles():
    """
    The repository's gce profiles, ``extends`` resolved.
    """
    raw = salt.utils.yaml.safe_load((REPO / "cloud.profiles.d/gce.conf").read_text())
    resolved = {}
    for name, body in raw.items():
        merged = {}
        if body.get("extends"):
            merged.update(copy.deepcopy(raw[body["extends"]]))
        merged.update(copy.deepcopy(body))
        merged.pop("extends", None)
        resolved[name] = merged
    return resolved


def node(node_name, **extra):
    """
    The vm_ salt-cloud hands create() for a node of maps/gce.yaml (with the
    minion key salt-cloud made for it).
    """
    role = "compute" if node_name.startswith("compute") else node_name
    vm_ = dict(profiles()[f"gce-{role}"], name=node_name, profile=f"gce-{role}", provider="gce:gce", driver="gce:gce")
    vm_["pub_key"] = f"PUBLIC KEY OF {node_name}"
    vm_.update(extra)
    return vm_


def model(change=None):
    """The repository's lab model, checked; ``change(raw)`` edits it first."""
    raw = salt.utils.yaml.safe_load((REPO / "pillar/model.yaml").read_text())
    if change:
        change(raw)
    return saltlab_model.check(raw)


def write_model(config_dir, change):
    """The configuration directory's lab model, edited by ``change(raw)``."""
    raw = salt.utils.yaml.safe_load((REPO / "pillar/model.yaml").read_text())
    change(raw)
    (config_dir / "pillar/model.yaml").write_text(salt.utils.yaml.safe_dump(raw, sort_keys=False))


def nets():
    return gce_network.lab_networks(model())


compute = serving("compute", ComputeAPI, project=PROJECT, page_size=2)


@pytest.fixture
def provider(compute, keyfile):
    return {
        "driver": "gce",
        "api_endpoint": compute.url,
        "anonymous": True,
        "project": PROJECT,
        "zone": ZONE,
        "ssh_keyfile": str(keyfile),
        "operator_address": OPERATOR,
        "poll_interval": 0.01,
        "operation_timeout": 5,
    }


@pytest.fixture
def config_dir(tmp_path):
    """
    salt-cloud's configuration directory: the lab model, a tools/push that
    records its arguments (in pushed) and what var/bastion said when it ran.
    """
    conf = tmp_path / "conf"
    (conf / "tools").mkdir(parents=True)
    (conf / "pillar").mkdir()
    shutil.copy(REPO / "pillar/model.yaml", conf / "pillar/model.yaml")
    push = conf / "tools/push"
    push.write_text(
        '#!/bin/sh\ncd "$(dirname "$0")/.."\n. var/bastion\n'
        'echo "$* $bastion_user $bastion_host" >> pushed\nexit "${PUSH_EXIT:-0}"\n'
    )
    push.chmod(0o755)
    return conf


@pytest.fixture
def configure_loader_modules(tmp_path, provider, bootstrap, config_dir, ssh_calls):
    opts = {
        "conf_file": str(config_dir / "cloud"),
        "providers": {"gce": {"gce": provider}},
        "profiles": profiles(),
        "sock_dir": str(tmp_path / "sock"),
        "transport": "zeromq",
    }
    utils = cloud_utils(
        {
            "cloud.list_nodes_select": salt.utils.cloud.list_nodes_select,
            "cloud.bootstrap": bootstrap,
            "cloud.fire_event": MagicMock(),
            "cloud.filter_event": MagicMock(return_value={}),
        }
    )
    return {gce: {"__opts__": opts, "__active_provider_name__": "gce:gce", "__utils__": utils}}


def posts(compute):
    return [
        path.split(f"/projects/{PROJECT}/", 1)[-1]
        for method, path in compute.requests
        if method == "POST" and not path.endswith("/wait")
    ]


def build_lab():
    return {name: gce.create(node(name)) for name in LAB}
