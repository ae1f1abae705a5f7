"""
A map is checked whole before salt-cloud makes anything of it
(_utils/saltlab_map.py): each case is one line naming what is wrong; a
good map, and runs that make nothing (-d, -a, -f, -Q, -p), pass.
"""

import copy
import os
import shutil
import textwrap

import pytest
import salt.config
import saltlab_map

import saltlab_cloud
from conftest import REPO
from extensions import cloud_utils

PROFILES = {
    "local-network": {"provider": "local:nspawn"},
    "local-controller": {"provider": "local:nspawn"},
    "local-compute": {"provider": "local:nspawn"},
    "local-storage": {"provider": "local:nspawn"},
    "local-bare": {"provider": "local:nspawn", "nics": ["public"], "host_number": 40},
    "baremetal-labhost": {"provider": "baremetal:saltify"},
}


@pytest.fixture
def cloud(tmp_path):
    (tmp_path / "pillar").mkdir()
    shutil.copy(REPO / "pillar/model.yaml", tmp_path / "pillar/model.yaml")
    opts = {"conf_file": str(tmp_path / "cloud"), "profiles": PROFILES, "providers": {}}
    return saltlab_cloud.cloud("nspawn", "local:nspawn", opts, cloud_utils())


def lab(*computes, **more):
    rendered = {
        "local-network": [("network", {})],
        "local-controller": [("controller", {})],
        "local-compute": [(name, {}) for name in computes],
        "local-storage": [("storage", {})],
    }
    rendered.update(more)
    return rendered


def test_a_good_map_passes(cloud):
    saltlab_map.check(cloud, lab("compute1", "compute2"), "maps/local.yaml")
    saltlab_map.check(cloud, lab(*(f"compute{n}" for n in range(1, 10))), "maps/local.yaml")
    saltlab_map.check(cloud, {"baremetal-labhost": [("labhost", {"ssh_host": "203.0.113.10"})]}, "maps/baremetal.yaml")


@pytest.mark.parametrize(
    "rendered, message",
    [
        (
            lab("compute1", **{"local-compte": [("compute2", {}), ("compute3", {})]}),
            r"map m.yaml: profile local-compte \(for compute2, compute3\) is not in cloud.profiles.d; nothing was made",
        ),
        (lab("compute1", "compute1"), "map m.yaml: node compute1 is in the map twice"),
        (lab("compute1", **{"local-storage": [("compute1", {})]}), "node compute1 is in the map twice"),
        (lab("compute1\n"), "map m.yaml: nspawn: node name 'compute1\\\\n' is not a valid hostname"),
        (lab("Compute1"), "node name 'Compute1' is not a valid hostname"),
        (lab(*(f"compute{n}" for n in range(1, 12))), "node compute10: the model allows compute1 to compute9"),
        (lab("compute1", "web1"), "node 'web1' is not a node of the lab model"),
        (
            lab(**{"local-compute": [("compute1", {"host_number": 31})]}),
            "compute1 sets host_number; the lab model .* gives every node its NICs, host number and roles",
        ),
        (
            lab("compute1", **{"local-bare": [("labtarget", {})], "local-storage": []}),
            None,
        ),
    ],
)
def test_a_bad_map_is_one_line(cloud, rendered, message):
    if message is None:
        saltlab_map.check(cloud, rendered, "m.yaml")
        return
    with pytest.raises(saltlab_map.MapError, match=message) as info:
        saltlab_map.check(cloud, rendered, "m.yaml")
    assert "\n" not in str(info.value).replace("'compute1\\n'", "")


def test_a_node_outside_the_model_takes_no_model_nodes_host_number(cloud):
    PROFILES["local-bare31"] = {"provider": "local:nspawn", "nics": ["public"], "host_number": 31}
    try:
        with pytest.raises(saltlab_map.MapError, match="labtarget's host number 31 is storage's"):
            saltlab_map.check(cloud, lab("compute1", **{"local-bare31": [("labtarget", {})]}), "m.yaml")
    finally:
        del PROFILES["local-bare31"]


@pytest.mark.parametrize(
    "options, creating",
    [
        ({"map": "m.yaml"}, True),
        ({"map": "m.yaml", "destroy": True}, False),
        ({"map": "m.yaml", "action": "start"}, False),
        ({"map": "m.yaml", "selected_query_option": "list_nodes"}, False),
        ({"map": "m.yaml", "function": ["list_nodes_full"]}, False),
        ({"profile": "local-compute"}, False),
        ({}, False),
    ],
)
def test_only_a_map_being_made_is_checked(options, creating):
    assert saltlab_map.creating_map(options) is creating


def test_the_map_is_rendered_as_salt_cloud_renders_it(cloud, tmp_path, monkeypatch):
    monkeypatch.delenv(saltlab_map.CHECKED, raising=False)
    path = tmp_path / "m.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            {%- set computes = 3 %}
            local-network:
              - network
            local-compute:
            {%- for n in range(1, computes + 1) %}
              - compute{{ n }}
            {%- endfor %}
            local-storage: storage
            """
        )
    )
    # salt-cloud's options: the master's and the cloud's defaults
    cloud.opts.update(copy.deepcopy(salt.config.DEFAULT_MASTER_OPTS), **copy.deepcopy(salt.config.DEFAULT_CLOUD_OPTS))
    cloud.opts.update(map=str(path), profiles=PROFILES, conf_file=str(tmp_path / "cloud"), cachedir=str(tmp_path))
    cloud.opts["providers"] = {"local": {"nspawn": {"driver": "nspawn"}}}
    rendered = saltlab_map.read(cloud.opts)
    assert rendered == {
        "local-network": [("network", {})],
        "local-compute": [("compute1", {}), ("compute2", {}), ("compute3", {})],
        "local-storage": [("storage", {})],
    }
    cloud.configured()
    # checked once: salt-cloud's workers inherit the note; a changed map is checked again
    assert os.environ[saltlab_map.CHECKED].startswith(f"{path}:")
    path.write_text("local-compute: [compute1, compute1]\n")
    with pytest.raises(saltlab_map.MapError, match="node compute1 is in the map twice"):
        cloud.configured()
