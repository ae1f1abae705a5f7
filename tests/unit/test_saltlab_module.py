"""
The saltlab execution module (_modules/saltlab.py) with Salt's loader
mocks: the lab pillar checked whole (the model's keys, the lab's, every
formula's overrides against its defaults.yaml and schema.yaml, read from
this repository's state tree), this node as the model makes it, and one
check per pillar (a run's pillar override is checked anew). The real
loader and the real formulas run it in tests/render/.
"""

import copy
from unittest.mock import patch

import pytest
import saltlab_model
import yaml

import extensions
from conftest import REPO

saltlab = extensions.load("_modules", "saltlab")


def lab_pillar(**overrides):
    model = yaml.safe_load((REPO / "pillar" / "model.yaml").read_text())
    model.pop("secrets")
    lab = {**model, **copy.deepcopy(overrides)}
    lab.setdefault("services", ["keystone", "glance"])
    return {"saltlab": lab}


@pytest.fixture
def pillar():
    return lab_pillar()


@pytest.fixture
def grains():
    return {"id": "compute2", "roles": ["compute"]}


@pytest.fixture
def configure_loader_modules(pillar, grains):
    def pillar_get(key, default=None):
        value = pillar
        for part in key.split(":"):
            if not isinstance(value, dict) or part not in value:
                return default
            value = value[part]
        return value

    files = sorted(str(p.relative_to(REPO / "salt")) for p in (REPO / "salt").rglob("*") if p.is_file())
    return {
        saltlab: {
            "__salt__": {
                "pillar.get": pillar_get,
                "cp.list_master": lambda: files,
                "cp.get_file_str": lambda url: (REPO / "salt" / url.removeprefix("salt://")).read_text(),
            },
            "__utils__": {
                f"saltlab_model.{name}": getattr(saltlab_model, name) for name in ("check", "node", "master_address")
            },
            "__grains__": grains,
            "__context__": {},
        }
    }


def test_the_node_and_the_lab_addresses_come_from_the_model():
    facts = saltlab.facts()
    assert "error" not in facts, facts
    assert facts["node"]["addresses"] == {"mgmt": "192.168.1.22", "underlay": "192.168.2.22"}
    assert (facts["controller_address"], facts["master_address"]) == ("192.168.1.11", "192.168.1.12")
    assert facts["mtus"]["physnet"] == 1410
    assert saltlab.node("storage")["addresses"] == {"mgmt": "192.168.1.31"}
    assert "not a node of the lab model" in saltlab.node("storage2")["error"]


@pytest.mark.parametrize(
    "overrides, errors",
    [
        (
            {"apt": {"cache": {"port": "notaport"}}},
            ["saltlab:apt:cache:port must be an integer 1-65535, got 'notaport'"],
        ),
        (
            {"apt": {"cache": {"port": 70000, "wait_for": -1}}},
            [
                "saltlab:apt:cache:port must be an integer 1-65535",
                "saltlab:apt:cache:wait_for must be an integer >= 0",
            ],
        ),
        ({"chrony": {"upstream": "pool.ntp.org"}}, ["saltlab:chrony:upstream must be a list"]),
        (
            {"users": {"nmae": "ops"}},
            ["saltlab:users:nmae is not a setting of this formula (known: home, name, shell, sudo_pkg, sudoers_dir)"],
        ),
        ({"nova": {"virt_type": "xen"}}, ["saltlab:nova:virt_type must be one of auto, kvm, qemu, got 'xen'"]),
        ({"proxy": {"public_address": "10.0.0"}}, ["saltlab:proxy:public_address must be an IPv4 address"]),
        ({"mariadb": {"max_connections": True}}, ["saltlab:mariadb:max_connections must be an integer"]),
        (
            {"ovs": {"netdev_other_config": {"anything": "goes"}}},
            ["saltlab:ovs:netdev_other_config:anything is not a setting"],
        ),
        ({"sysctl": {"all": {"net.core.somaxconn": 1024}}}, []),
        ({"services": ["keystone", "swift"]}, ["saltlab:services names an unknown service swift"]),
        ({"services": "keystone"}, ["saltlab:services must be a list of service names"]),
        (
            {"networks": {**lab_pillar()["saltlab"]["networks"], "underlay": {"cidr": "192.168.3.0/24", "mtu": 1460}}},
            ["saltlab:networks no network is marked `underlay: true`"],
        ),
        (
            {
                "networks": {
                    **lab_pillar()["saltlab"]["networks"],
                    "underlay": {"cidr": "192.168.1.0/24", "mtu": 1460, "underlay": True},
                }
            },
            ["saltlab:networks:underlay:cidr 192.168.1.0/24 overlaps networks:mgmt:cidr"],
        ),
        ({"wibble": 1}, ["saltlab:wibble is neither a setting of the lab nor a formula of the state tree"]),
    ],
)
def test_every_bad_key_is_named_on_one_line(pillar, overrides, errors):
    pillar["saltlab"].update(overrides)
    facts = saltlab.facts()
    if not errors:
        assert "error" not in facts, facts
        return
    assert "\n" not in facts["error"]
    found = facts["error"].split("; ")
    assert len(found) == len(errors), found
    for message, error in zip(errors, found, strict=True):
        assert error.startswith("pillar " + message), error


def test_values_of_other_roles_are_checked_here_too(pillar, grains):
    grains.update(id="storage", roles=["storage"])
    pillar["saltlab"]["nova"] = {"compute": {"pkgs": "nova-compute"}}
    assert saltlab.facts()["error"].startswith("pillar saltlab:nova:compute:pkgs must be a list")


def test_a_node_the_model_does_not_know_is_refused(grains):
    grains.update(id="compute12")
    assert (
        saltlab.facts()["error"]
        == "this node: node compute12: the model allows compute1 to compute9 (nodes:compute:count is 9)"
    )


def test_a_lab_host_is_no_lab_node_but_its_settings_are_checked(pillar, grains):
    grains.update(id="labhost", roles=["labhost"])
    pillar["saltlab"] = {"labhost": {"open_ports": [22]}}
    facts = saltlab.facts()
    assert facts == {"lab": pillar["saltlab"], "model": None, "node": None}
    pillar["saltlab"] = {"labhost": {"open_ports": ["ssh"]}}
    assert saltlab.facts()["error"] == "pillar saltlab:labhost:open_ports:0 must be an integer 1-65535, got 'ssh'"


def test_one_check_per_pillar(pillar):
    first = saltlab.facts()
    assert saltlab.facts() == first
    pillar["saltlab"]["apt"] = {"cache": {"port": "x"}}
    assert "error" in saltlab.facts()
    # what the caller does with its copy changes nothing here
    first["node"]["addresses"].clear()
    pillar["saltlab"].pop("apt")
    assert saltlab.facts()["node"]["addresses"]


class Commands:
    """cmd.run_all of a controller: alembic's heads of a migrations directory, MariaDB's versions."""

    def __init__(self, heads, versions):
        self.heads, self.versions, self.calls = heads, versions, []

    def __call__(self, argv, python_shell=False):
        self.calls.append(argv[0])
        if argv[0] == "/usr/bin/python3":
            return {"retcode": 0, "stdout": " ".join(self.heads), "stderr": ""}
        database = argv[-1].split("`")[1]
        if database not in self.versions:
            return {"retcode": 1, "stdout": "", "stderr": f"ERROR 1146: Table '{database}.alembic_version'"}
        return {"retcode": 0, "stdout": "\n".join(self.versions[database]), "stderr": ""}


@pytest.fixture
def migrations(tmp_path, monkeypatch):
    monkeypatch.setattr(saltlab, "HEADS_CACHE", str(tmp_path / "cache" / "heads.json"))
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "a1_initial.py").write_text("revision = 'a1'\n")
    return versions.parent


def test_the_schema_is_current_when_every_database_is_at_the_heads(migrations):
    commands = Commands(["b2"], {"nova": ["b2"], "nova_cell0": ["b2"]})
    with patch.dict(saltlab.__salt__, {"cmd.run_all": commands}):
        assert saltlab.schema_current(["nova", "nova_cell0"], str(migrations)) is True
        commands.versions["nova_cell0"] = ["a1"]  # a sync killed half-way
        assert saltlab.schema_current(["nova", "nova_cell0"], str(migrations)) is False
        assert saltlab.schema_current("nova_api", str(migrations)) is False  # not made yet
    # alembic was asked once: the heads of unchanged scripts come from the cache
    assert commands.calls.count("/usr/bin/python3") == 1


def test_new_migration_scripts_are_asked_of_alembic_again(migrations):
    commands = Commands(["a1"], {"glance": ["a1"]})
    with patch.dict(saltlab.__salt__, {"cmd.run_all": commands}):
        assert saltlab.schema_current("glance", str(migrations)) is True
        # a package upgrade brings a migration: the database is behind
        (migrations / "versions" / "b2_more.py").write_text("revision = 'b2'\ndown_revision = 'a1'\n")
        commands.heads = ["b2"]
        assert saltlab.schema_current("glance", str(migrations)) is False
    assert commands.calls.count("/usr/bin/python3") == 2


def test_no_heads_is_never_current(migrations):
    commands = Commands([], {"glance": []})
    with patch.dict(saltlab.__salt__, {"cmd.run_all": commands}):
        assert saltlab.schema_current("glance", str(migrations)) is False
        assert saltlab.schema_current("glance", str(migrations)) is False
    # a failed answer is not kept
    assert commands.calls.count("/usr/bin/python3") == 2
