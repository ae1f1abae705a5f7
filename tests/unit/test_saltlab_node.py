"""
The life cycle every driver shares (_utils/saltlab_node.py), with a fake
driver: the events salt-cloud's own drivers fire (creating and created with
salt-cloud's filtered profile keys, destroying and destroyed with the
name), salt-cloud's minion cache cleaned on destroy, a failed create
removing what it made, a failed destroy step not stopping the others, the
model's roles and master set on the node, the node's key on the lab's
master (accepted before deploy, deleted on destroy, skipped for the master
and when no master is recorded), host keys recorded and forgotten.
"""

import shutil
from unittest.mock import MagicMock, call

import pytest
import saltlab_model
import saltlab_node
from salt.exceptions import SaltCloudConfigError, SaltCloudSystemExit

import saltlab_cloud
from conftest import REPO
from extensions import cloud_utils


@pytest.fixture
def cloud(tmp_path, ssh_calls):
    (tmp_path / "pillar").mkdir()
    shutil.copy(REPO / "pillar/model.yaml", tmp_path / "pillar/model.yaml")
    opts = {
        "conf_file": str(tmp_path / "cloud"),
        "providers": {"fake": {"fake": {"driver": "fake"}}},
        "profiles": {"fake-node": {"provider": "fake:fake"}},
        "sock_dir": str(tmp_path / "sock"),
        "transport": "zeromq",
        "update_cachedir": True,
    }
    utils = cloud_utils(
        {
            "cloud.fire_event": MagicMock(),
            "cloud.filter_event": MagicMock(side_effect=lambda tag, vm_, keys: {k: vm_.get(k) for k in keys}),
            "cloud.delete_minion_cachedir": MagicMock(),
            "cloud.bootstrap": MagicMock(return_value={"deployed": True, "deploy_kwargs": {"host": "h", "key": "x"}}),
        }
    )
    return saltlab_cloud.cloud("fake", "fake:fake", opts, utils)


class Driver:
    """A driver's operations, recorded; ``fail`` names the one that raises."""

    def __init__(self, cloud, fail=None, keys=("ssh-ed25519 AAAAkey",)):
        self.cloud, self.fail, self.keys, self.calls = cloud, fail, keys, []
        self.made = {}

    def _step(self, name):
        self.calls.append(name)
        if self.fail == name:
            raise SaltCloudSystemExit(f"fake: {name} failed")

    def check(self, vm_, deploy):
        self._step("check")
        model = self.cloud.model()
        node = self.cloud.lab_node(vm_["name"], model)
        public = bool(set(node["nics"]) & {model["purposes"]["public"]})
        return {
            "model": model,
            "node": node,
            "keyfile": "/k",
            "user": "root",
            "public": public,
            "gateway": None if public else "10.99.0.12",
            "addresses": node["addresses"],
        }

    def make(self, plan):
        self._step("make")
        self.made[plan["name"]] = dict(plan["addresses"])
        plan["public_address"] = plan["addresses"].get("public")

    def remove(self, plan):
        self.calls.append("remove")
        self.made.pop(plan["name"], None)

    def lookup(self, name):
        if name not in self.made:
            raise SaltCloudSystemExit(f"fake: no node named {name}")
        return name

    def delete(self, name):
        self._step("delete")
        self.made.pop(name)

    def ops(self):
        return {
            "check": self.check,
            "make": self.make,
            "host_keys": lambda plan: list(self.keys) if self.keys else None,
            "remove": self.remove,
            "describe": lambda plan: {"id": plan["name"]},
            "lookup": self.lookup,
            "addresses": lambda name: list(self.made[name].values()),
            "delete": self.delete,
        }


def vm(name, **extra):
    """The vm_ salt-cloud hands a driver's create (with the minion key it made)."""
    vm_ = {"name": name, "profile": "fake-node", "provider": "fake:fake", "driver": "fake", "pub_key": f"KEY {name}"}
    return dict(vm_, **extra)


def push(tmp_path):
    """A tools/push that records where it pushed."""
    (tmp_path / "tools").mkdir(exist_ok=True)
    (tmp_path / "tools/push").write_text('#!/bin/sh\necho "$@" > "$(dirname "$0")/pushed"\n')
    (tmp_path / "tools/push").chmod(0o755)


def tags(cloud):
    return [(c.args[2], c.kwargs["args"]) for c in cloud.utils["cloud.fire_event"].call_args_list]


def test_create_fires_the_events_and_sets_the_models_roles_and_master(cloud, tmp_path):
    driver = Driver(cloud)
    vm_ = vm("compute2", grains={"roles": ["wrong"]}, minion={"master": "10.99.0.12", "id": "compute2"})
    ret = cloud.create(vm_, driver.ops())
    assert ret == {"deployed": True, "deploy_kwargs": {"host": "h"}, "id": "compute2"}
    profile = {"name": "compute2", "profile": "fake-node", "provider": "fake:fake", "driver": "fake"}
    assert tags(cloud) == [("salt/cloud/compute2/creating", profile), ("salt/cloud/compute2/created", profile)]
    deployed = cloud.utils["cloud.bootstrap"].call_args.args[0]
    assert deployed["grains"]["roles"] == ["compute"]
    assert deployed["minion"] == {"master": "192.168.1.12", "id": "compute2"}
    # behind the master: its management address, through the master's public one
    assert deployed["ssh_host"] == "192.168.1.22"
    assert deployed["gateway"]["ssh_gateway"] == "10.99.0.12"
    assert deployed["known_hosts_file"] == str(tmp_path / "var/ssh/known_hosts")
    assert (tmp_path / "var/ssh/known_hosts").read_text() == (
        "192.168.1.22,192.168.2.22 ssh-ed25519 AAAAkey saltlab:compute2\n"
    )


def test_a_failed_create_removes_what_it_made_and_fires_no_created_event(cloud, tmp_path):
    cloud.utils["cloud.bootstrap"].side_effect = SaltCloudSystemExit("ssh: refused")
    driver = Driver(cloud)
    with pytest.raises(SaltCloudSystemExit, match="refused"):
        cloud.create(vm("controller"), driver.ops())
    assert driver.calls == ["check", "make", "remove"] and driver.made == {}
    assert [t for t, _ in tags(cloud)] == ["salt/cloud/controller/creating"]
    assert "controller" not in (tmp_path / "var/ssh/known_hosts").read_text()


def test_a_failed_create_takes_the_nodes_key_off_the_master(cloud, tmp_path, ssh_calls):
    driver = Driver(cloud)
    push(tmp_path)
    cloud.create(vm("network", make_master=True), driver.ops())
    cloud.utils["cloud.bootstrap"].side_effect = SaltCloudSystemExit("nspawn: compute1 did not start sshd in 120 s")
    with pytest.raises(SaltCloudSystemExit, match="did not start sshd"):
        cloud.create(vm("compute1"), driver.ops())
    assert ssh_calls()[-1][0][-1] == "salt-key -y -d compute1"
    assert "compute1" not in driver.made


def test_a_connection_ssh_lost_is_tried_again_other_failures_are_not(cloud, monkeypatch):
    monkeypatch.setattr(saltlab_node.time, "sleep", lambda seconds: None)
    lost = SaltCloudSystemExit("Command 'ssh root@h mkdir' failed. Exit code: 255")
    cloud.utils["cloud.bootstrap"].side_effect = [lost, {"deployed": True, "deploy_kwargs": {}}]
    assert cloud.create(vm("controller"), Driver(cloud).ops())["deployed"] is True
    assert cloud.utils["cloud.bootstrap"].call_count == 2
    cloud.utils["cloud.bootstrap"].reset_mock()
    cloud.utils["cloud.bootstrap"].side_effect = [lost, lost, lost]
    with pytest.raises(SaltCloudSystemExit, match="Exit code: 255"):
        cloud.create(vm("storage"), Driver(cloud).ops())
    assert cloud.utils["cloud.bootstrap"].call_count == 3
    cloud.utils["cloud.bootstrap"].reset_mock()
    cloud.utils["cloud.bootstrap"].side_effect = SaltCloudSystemExit("Command 'sh deploy.sh' failed. Exit code: 1")
    with pytest.raises(SaltCloudSystemExit, match="Exit code: 1$"):
        cloud.create(vm("compute1"), Driver(cloud).ops())
    assert cloud.utils["cloud.bootstrap"].call_count == 1


def test_a_bad_node_is_refused_before_any_event(cloud):
    driver = Driver(cloud)
    with pytest.raises(SaltCloudConfigError, match="compute10: the model allows compute1 to compute9"):
        cloud.create(vm("compute10"), driver.ops())
    assert tags(cloud) == [] and driver.calls == ["check"]


def test_destroy_fires_the_events_and_cleans_salt_clouds_minion_cache(cloud, tmp_path):
    driver = Driver(cloud)
    cloud.create(vm("storage"), driver.ops())
    cloud.utils["cloud.fire_event"].reset_mock()
    assert cloud.destroy("storage", "action", driver.ops()) == {"destroyed": "storage"}
    assert tags(cloud) == [
        ("salt/cloud/storage/destroying", {"name": "storage"}),
        ("salt/cloud/storage/destroyed", {"name": "storage"}),
    ]
    assert cloud.utils["cloud.delete_minion_cachedir"].call_args == call("storage", "fake", cloud.opts)
    assert "storage" not in (tmp_path / "var/ssh/known_hosts").read_text()
    with pytest.raises(SaltCloudSystemExit, match="-d, --destroy, -a or --action"):
        cloud.destroy("storage", "function", driver.ops())


def test_a_failed_destroy_step_does_not_stop_the_others(cloud, tmp_path, ssh_calls):
    driver = Driver(cloud)
    push(tmp_path)
    cloud.create(vm("network", make_master=True), driver.ops())
    cloud.create(vm("compute1"), driver.ops())
    driver.fail = "delete"
    cloud.utils["cloud.fire_event"].reset_mock()
    with pytest.raises(SaltCloudSystemExit, match="^fake: delete failed$"):
        cloud.destroy("compute1", "action", driver.ops())
    # its host keys and its key on the master went all the same; no destroyed event, cache kept
    assert "compute1" not in (tmp_path / "var/ssh/known_hosts").read_text()
    assert ssh_calls()[-1][0][-1] == "salt-key -y -d compute1"
    assert [t for t, _ in tags(cloud)] == ["salt/cloud/compute1/destroying"]
    assert not cloud.utils["cloud.delete_minion_cachedir"].called


def test_minion_keys_follow_the_nodes_on_the_labs_master(cloud, tmp_path, ssh_calls, monkeypatch):
    driver = Driver(cloud)
    # no master yet: nothing to ask
    cloud.create(vm("controller"), driver.ops())
    assert ssh_calls() == []
    # the master: recorded and pushed to, its own key pre-seeded by salt-cloud
    push(tmp_path)
    cloud.create(vm("network", make_master=True), driver.ops())
    assert (tmp_path / "var/bastion").read_text() == "bastion_host=10.99.0.12\nbastion_key=/k\nbastion_user=root\n"
    assert (tmp_path / "tools/pushed").read_text() == "10.99.0.12\n" and ssh_calls() == []
    # it listens on its management address only, from its first start
    assert cloud.utils["cloud.bootstrap"].call_args.args[0]["master"]["interface"] == "192.168.1.12"
    # a node added to the running lab: its key accepted before it is deployed
    cloud.create(vm("compute3"), driver.ops())
    [(argv, stdin)] = ssh_calls()
    assert stdin == "KEY compute3" and argv[-2] == "root@10.99.0.12"
    assert argv[-1].startswith("install -d -m 0700 /etc/salt/pki/master/minions && cat > ")
    assert "/etc/salt/pki/master/minions/compute3 && rm -f /etc/salt/pki/master/minions_pre/compute3" in argv[-1]
    assert "StrictHostKeyChecking=yes" in argv
    # destroyed: its key (and mine data) leaves the master
    cloud.destroy("compute3", "action", driver.ops())
    assert ssh_calls()[-1][0][-1] == "salt-key -y -d compute3"
    # a master that does not answer: nothing to delete there, said, not an error
    cloud.create(vm("compute4"), driver.ops())
    count = len(ssh_calls())
    monkeypatch.setenv("FAKE_SSH_EXIT", "255")
    assert cloud.destroy("compute4", "action", driver.ops()) == {"destroyed": "compute4"}
    monkeypatch.delenv("FAKE_SSH_EXIT")
    assert len(ssh_calls()) == count + 1
    # the master destroyed takes its record: the next destroys ask nothing
    cloud.destroy("network", "action", driver.ops())
    assert not (tmp_path / "var/bastion").exists()
    cloud.destroy("controller", "action", driver.ops())
    assert len(ssh_calls()) == count + 1


def test_a_node_without_published_host_keys_is_trusted_on_first_use(cloud, ssh_calls):
    driver = Driver(cloud, keys=())
    cloud.create(vm("controller"), driver.ops())
    [(argv, _)] = ssh_calls()
    assert "StrictHostKeyChecking=accept-new" in argv and argv[-2:] == ["root@10.99.0.11", "true"]


def test_the_model_and_its_checks():
    model = saltlab_model.load(str(REPO / "pillar/model.yaml"))
    assert saltlab_model.host_numbers(model)[31] == "storage" and saltlab_model.host_numbers(model)[29] == "compute9"


def test_a_node_without_salt_has_its_host_keys_recorded_too(cloud, tmp_path, ssh_calls):
    # (tools/lab.py ssh checks them on every node, e.g. the lab host's test target)
    driver = Driver(cloud)
    cloud.create(vm("controller", deploy=False), driver.ops())
    assert "saltlab:controller" in (tmp_path / "var/ssh/known_hosts").read_text()
    assert not cloud.utils["cloud.bootstrap"].called and ssh_calls() == []
    # without keys from the driver, nothing is tried on a node that is not deployed
    cloud.create(vm("storage", deploy=False), Driver(cloud, keys=()).ops())
    assert ssh_calls() == []
