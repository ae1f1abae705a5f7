"""
A libvirt secret (``virsh secret-*``): what QEMU authenticates with, e.g.
to a Ceph cluster for RBD volumes, as Nova's ``[libvirt] rbd_secret_uuid``
names it. Salt 3008 has no libvirt module.

The secret is persistent (it survives libvirtd's restarts and the node's
reboots) and not private (root can read its value back, which is how this
state compares it). The value never shows in changes or logs: it goes to
``virsh`` through a file only root can read, removed at once.

.. code-block:: yaml

    nova-compute-rbd-secret:
      libvirt_secret.present:
        - name: 457eb676-33da-42ec-9a8c-9293d545c337
        - usage: client.cinder secret
        - value: AQ...==
"""

import os
import tempfile
import xml.etree.ElementTree as ET

import salt.utils.path
from salt.exceptions import CommandExecutionError

__virtualname__ = "libvirt_secret"

HIDDEN = "********"


def __virtual__():
    return __virtualname__


def _virsh(*args):
    """virsh ARGS: (retcode, stdout, stderr)."""
    if not salt.utils.path.which("virsh"):
        raise CommandExecutionError("virsh is not on PATH (install libvirt-clients)")
    ret = __salt__["cmd.run_all"](["virsh", *args], python_shell=False, ignore_retcode=True, output_loglevel="quiet")
    return ret["retcode"], ret["stdout"].strip(), ret["stderr"].strip()


def _with_file(text, use):
    """``use(path)`` of a file holding ``text``, readable by root only, removed after."""
    fd, path = tempfile.mkstemp(prefix="saltlab-secret.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        return use(path)
    finally:
        os.unlink(path)


def _current(uuid):
    """{"type", "usage", "value"} of the secret, or None when libvirt has none of that UUID."""
    retcode, xml, stderr = _virsh("secret-dumpxml", uuid)
    if retcode != 0:
        if "no secret with matching uuid" in stderr:
            return None
        raise CommandExecutionError(f"reading libvirt secret {uuid}: {stderr}")
    usage = ET.fromstring(xml).find("usage")
    retcode, value, _stderr = _virsh("secret-get-value", uuid)
    return {
        "type": usage.get("type") if usage is not None else None,
        "usage": usage.findtext("name") if usage is not None else None,
        # a secret defined without a value has none yet
        "value": value if retcode == 0 else None,
    }


def _definition(uuid, usage, secret_type):
    secret = ET.Element("secret", ephemeral="no", private="no")
    ET.SubElement(secret, "uuid").text = uuid
    ET.SubElement(ET.SubElement(secret, "usage", type=secret_type), "name").text = usage
    return ET.tostring(secret, encoding="unicode")


def _check(retcode, stderr, what):
    if retcode != 0:
        raise CommandExecutionError(f"{what}: {stderr}")


def present(name, usage, value, secret_type="ceph"):
    """
    libvirt has the persistent secret ``name`` (a UUID) of ``secret_type``
    for ``usage`` (a ceph secret's usage names the user, e.g. ``client.cinder
    secret``), holding ``value`` (base64, as a cephx key is written).
    """
    ret = {"name": name, "result": True, "comment": f"libvirt secret {name} is as wanted", "changes": {}}
    try:
        current = _current(name)
    except CommandExecutionError as exc:
        return dict(ret, result=False, comment=str(exc))
    wanted = {"type": secret_type, "usage": usage, "value": value}
    diff = wanted if current is None else {k: v for k, v in wanted.items() if current[k] != v}
    if not diff:
        return ret

    def shown(values):
        return {k: HIDDEN if k == "value" and v is not None else v for k, v in values.items()}

    verb = "defined" if current is None else "updated"
    ret["changes"] = {"old": None if current is None else shown({k: current[k] for k in diff}), "new": shown(diff)}
    if __opts__["test"]:
        return dict(ret, result=None, comment=f"libvirt secret {name} would be {verb}")
    try:
        if current is None or {"type", "usage"} & set(diff):
            definition = _definition(name, usage, secret_type)
            _check(*_with_file(definition, lambda path: _virsh("secret-define", path))[::2], f"defining secret {name}")
        _check(
            *_with_file(value, lambda path: _virsh("secret-set-value", "--secret", name, "--file", path))[::2],
            f"setting the value of secret {name}",
        )
    except CommandExecutionError as exc:
        return dict(ret, result=False, changes={}, comment=str(exc))
    ret["comment"] = f"libvirt secret {name} {verb}"
    return ret
