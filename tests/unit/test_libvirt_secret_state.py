"""
The libvirt_secret state (_states/libvirt_secret.py) with Salt's loader
mocks: ``cmd.run_all`` answers as virsh 11.3 did on a lab compute node. The
tests check the virsh commands run, that the value goes through a file only
root reads (removed after), never in an argument or the changes, and that a
second run and test=True write nothing.
"""

import os
import stat
from unittest.mock import patch

import pytest

import extensions

secret = extensions.load("_states", "libvirt_secret")

UUID = "2f64a1ab-6c0b-4d4e-9d2c-1a0e6c5b7f31"
KEY = "AQCipw9rN9TvBBAA1C1Wtcr88Vtm21XHyj8QFA=="
XML = f"""<secret ephemeral='no' private='no'>
  <uuid>{UUID}</uuid>
  <usage type='ceph'>
    <name>client.cinder secret</name>
  </usage>
</secret>
"""
NOT_FOUND = f"error: failed to get secret '{UUID}'\nerror: Secret not found: no secret with matching uuid '{UUID}'"


class Virsh:
    """What virsh answers, and what the state ran (with the files it was given, read at the time)."""

    def __init__(self, xml=None, value=None):
        self.xml, self.value, self.calls, self.files = xml, value, [], {}

    def __call__(self, argv, **kwargs):
        assert argv[0] == "virsh" and kwargs["python_shell"] is False
        self.calls.append(argv[1])
        command, args = argv[1], argv[2:]
        if command in ("secret-define", "secret-set-value"):
            path = args[0] if command == "secret-define" else args[args.index("--file") + 1]
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            with open(path, encoding="utf-8") as fh:
                self.files[command] = fh.read()
            if command == "secret-define":
                self.xml = self.files[command]
            else:
                self.value = self.files[command]
            return {"retcode": 0, "stdout": "", "stderr": ""}
        if self.xml is None:
            return {"retcode": 1, "stdout": "", "stderr": NOT_FOUND}
        if command == "secret-dumpxml":
            return {"retcode": 0, "stdout": self.xml, "stderr": ""}
        if self.value is None:
            return {"retcode": 1, "stdout": "", "stderr": "error: secret has no value"}
        return {"retcode": 0, "stdout": self.value + "\n", "stderr": ""}


@pytest.fixture
def virsh():
    return Virsh()


@pytest.fixture
def configure_loader_modules(opts, virsh):
    return {secret: {"__opts__": opts, "__salt__": {"cmd.run_all": virsh}}}


@pytest.fixture(autouse=True)
def on_path():
    with patch("salt.utils.path.which", return_value="/usr/bin/virsh"):
        yield


def test_a_new_secret_is_defined_then_given_its_value(virsh):
    ret = secret.present(UUID, usage="client.cinder secret", value=KEY)
    assert ret["result"] is True and ret["comment"] == f"libvirt secret {UUID} defined"
    assert ret["changes"] == {
        "old": None,
        "new": {"type": "ceph", "usage": "client.cinder secret", "value": "********"},
    }
    assert virsh.calls == ["secret-dumpxml", "secret-define", "secret-set-value"]
    assert 'ephemeral="no"' in virsh.files["secret-define"] and 'private="no"' in virsh.files["secret-define"]
    assert f"<uuid>{UUID}</uuid>" in virsh.files["secret-define"]
    assert virsh.files["secret-set-value"] == KEY
    # the files are gone
    assert not [name for name in os.listdir("/tmp") if name.startswith("saltlab-secret.")]


def test_a_secret_as_wanted_is_left_alone(virsh):
    virsh.xml, virsh.value = XML, KEY
    ret = secret.present(UUID, usage="client.cinder secret", value=KEY)
    assert ret["result"] is True and ret["changes"] == {}
    assert virsh.calls == ["secret-dumpxml", "secret-get-value"]


def test_another_value_is_set_and_shown_hidden(virsh):
    virsh.xml, virsh.value = XML, "AQother=="
    ret = secret.present(UUID, usage="client.cinder secret", value=KEY)
    assert ret["comment"] == f"libvirt secret {UUID} updated"
    assert ret["changes"] == {"old": {"value": "********"}, "new": {"value": "********"}}
    assert virsh.calls[-1] == "secret-set-value" and "secret-define" not in virsh.calls
    assert virsh.value == KEY


def test_a_secret_defined_without_its_value_gets_it(virsh):
    virsh.xml = XML
    ret = secret.present(UUID, usage="client.cinder secret", value=KEY)
    assert ret["changes"] == {"old": {"value": None}, "new": {"value": "********"}}
    assert virsh.value == KEY


def test_test_mode_writes_nothing(opts, virsh):
    opts["test"] = True
    ret = secret.present(UUID, usage="client.cinder secret", value=KEY)
    assert ret["result"] is None and ret["comment"] == f"libvirt secret {UUID} would be defined"
    assert virsh.calls == ["secret-dumpxml"]


def test_a_refused_definition_fails_with_virshs_message(virsh):
    def refusing(argv, **kwargs):
        if argv[1] == "secret-define":
            return {"retcode": 1, "stdout": "", "stderr": "error: a secret with UUID x already defined for use with y"}
        return Virsh()(argv, **kwargs)

    with patch.dict(secret.__salt__, {"cmd.run_all": refusing}):
        ret = secret.present(UUID, usage="client.cinder secret", value=KEY)
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == f"defining secret {UUID}: error: a secret with UUID x already defined for use with y"
