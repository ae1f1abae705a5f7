"""
Open vSwitch bridges and ports through ``ovs-vsctl`` (Salt 3008 has no
Open vSwitch module).

Every call runs ``ovs-vsctl`` once, as one ovsdb transaction, and waits (up
to the timeout) until ``ovs-vswitchd`` has applied it. Reads use
``--format=json`` so values come back typed: maps as dicts, every value of
``options``, ``other_config`` and ``external_ids`` a string.

Minion configuration (all optional):

.. code-block:: yaml

    ovs:
      db: unix:/run/openvswitch/db.sock   # passed as --db=; default: ovs-vsctl's own
      timeout: 30                          # seconds, passed as --timeout=

The datapath is a bridge's ``datapath_type``: ``system`` (the kernel module)
or ``netdev`` (userspace, where the kernel module does not exist).
"""

import json
import logging

import salt.utils.path
from salt.exceptions import CommandExecutionError, SaltInvocationError

log = logging.getLogger(__name__)

__virtualname__ = "ovs"

BRIDGE_COLUMNS = ("name", "datapath_type", "fail_mode", "other_config", "external_ids")
INTERFACE_COLUMNS = ("name", "type", "options", "external_ids", "mac")


def __virtual__():
    if salt.utils.path.which("ovs-vsctl"):
        return __virtualname__
    return (False, "ovs-vsctl is not on PATH (install openvswitch-switch)")


def _vsctl(*args):
    """
    Run ovs-vsctl with the configured database and timeout; its stdout, or
    CommandExecutionError carrying its stderr.
    """
    argv = ["ovs-vsctl", f"--timeout={__salt__['config.get']('ovs:timeout', 30)}"]
    db = __salt__["config.get"]("ovs:db")
    if db:
        argv.append(f"--db={db}")
    argv.extend(args)
    ret = __salt__["cmd.run_all"](argv, python_shell=False, ignore_retcode=True)
    if ret["retcode"] != 0:
        raise CommandExecutionError(ret["stderr"].strip() or f"{' '.join(argv)} exited {ret['retcode']}")
    if ret["stderr"]:
        # e.g. "Error detected while setting up 'vx1'": the transaction
        # committed, but ovs-vswitchd could not apply part of it.
        log.warning("ovs-vsctl: %s", ret["stderr"].strip())
    return ret["stdout"]


def _quote(value):
    """An ovsdb string atom, quoted so that any characters survive ovs-vsctl's parser."""
    return json.dumps(str(value))


def _datum(value):
    """ovs-vsctl's text form of a value: a map for a dict, else a string."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_quote(k)}={_quote(v)}" for k, v in value.items()) + "}"
    return _quote(value)


def _set(table, record, **columns):
    """The ``-- set`` command for the columns given a value (None: left alone)."""
    pairs = [f"{column}={_datum(value)}" for column, value in columns.items() if value is not None]
    return ["--", "set", table, record, *pairs] if pairs else []


def _decode(value):
    """An ovsdb JSON value as Python: ["map", pairs] → dict, ["set", items] → list, ["uuid", id] → id."""
    if not isinstance(value, list):
        return value
    kind, data = value
    if kind == "map":
        return {key: _decode(item) for key, item in data}
    if kind == "set":
        return [_decode(item) for item in data]
    return data


def _find(table, name, columns):
    """The record of ``table`` named ``name`` as a dict of ``columns``, or None."""
    output = _vsctl("--format=json", f"--columns={','.join(columns)}", "find", table, f"name={_quote(name)}")
    table_data = json.loads(output)
    if not table_data["data"]:
        return None
    row = zip(table_data["headings"], table_data["data"][0], strict=True)
    return {heading: _decode(value) for heading, value in row}


def switch_get():
    """
    The switch's own settings: ``other_config`` of the Open_vSwitch table's
    one record (e.g. ``userspace-tso-enable``), as a dict of strings.

    CLI Example:

    .. code-block:: bash

        salt '*' ovs.switch_get
    """
    output = _vsctl("--format=json", "--columns=other_config", "list", "Open_vSwitch", ".")
    return {"other_config": _decode(json.loads(output)["data"][0][0])}


def switch_set(other_config):
    """
    Set keys of the switch's ``other_config`` (a dict; other keys are left
    as they are). Some keys are read only when ovs-vswitchd starts: restart
    it after changing them.

    CLI Example:

    .. code-block:: bash

        salt '*' ovs.switch_set '{userspace-tso-enable: "true"}'
    """
    if not other_config:
        raise SaltInvocationError("ovs.switch_set needs other_config keys")
    _vsctl(
        "set",
        "Open_vSwitch",
        ".",
        *(f"other_config:{_quote(key)}={_quote(value)}" for key, value in other_config.items()),
    )
    return True


def bridge_list():
    """
    Names of all bridges.

    CLI Example:

    .. code-block:: bash

        salt '*' ovs.bridge_list
    """
    return _vsctl("list-br").splitlines()


def bridge_get(name):
    """
    A bridge's ``name``, ``datapath_type`` ("" means the default, system),
    ``fail_mode`` (None when unset), ``other_config`` and ``external_ids``;
    None when there is no such bridge.

    CLI Example:

    .. code-block:: bash

        salt '*' ovs.bridge_get br-ext
    """
    bridge = _find("bridge", name, BRIDGE_COLUMNS)
    if bridge is not None:
        bridge["fail_mode"] = bridge["fail_mode"] or None
    return bridge


def bridge_add(name, datapath_type=None, fail_mode=None, may_exist=False):
    """
    Create a bridge, with its datapath type and fail mode set in the same
    transaction (a netdev bridge never tries the kernel datapath). With
    ``may_exist``, an existing bridge is no error (and gets the values given).

    CLI Example:

    .. code-block:: bash

        salt '*' ovs.bridge_add br-ext datapath_type=netdev
        salt '*' ovs.bridge_add br-int fail_mode=secure may_exist=True
    """
    argv = ["--may-exist"] if may_exist else []
    argv += ["add-br", name]
    argv += _set("bridge", name, datapath_type=datapath_type, fail_mode=fail_mode)
    _vsctl(*argv)
    return True


def bridge_set(name, datapath_type=None, fail_mode=None):
    """
    Change an existing bridge's datapath type (``system`` or ``netdev``)
    and/or fail mode (``standalone`` or ``secure``).

    CLI Example:

    .. code-block:: bash

        salt '*' ovs.bridge_set br-ext datapath_type=netdev
        salt '*' ovs.bridge_set br-ext fail_mode=secure
    """
    command = _set("bridge", name, datapath_type=datapath_type, fail_mode=fail_mode)
    if not command:
        raise SaltInvocationError("ovs.bridge_set needs datapath_type or fail_mode")
    _vsctl(*command)
    return True


def bridge_delete(name, if_exists=False):
    """
    Delete a bridge and all its ports. With ``if_exists``, a missing bridge
    is no error.

    CLI Example:

    .. code-block:: bash

        salt '*' ovs.bridge_delete br-ext
        salt '*' ovs.bridge_delete br-old if_exists=True
    """
    _vsctl(*(["--if-exists"] if if_exists else []), "del-br", name)
    return True


def port_list(bridge):
    """
    Names of a bridge's ports (its own internal port not included).

    CLI Example:

    .. code-block:: bash

        salt '*' ovs.port_list br-ext
    """
    return _vsctl("list-ports", bridge).splitlines()


def port_get(port):
    """
    A port's ``name``, interface ``type`` ("" for an ordinary network
    device), interface ``options`` and ``external_ids`` (dicts of strings),
    the ``mac`` asked of an internal interface ("" when none) and
    ``bridge``; None when there is no such port.

    CLI Example:

    .. code-block:: bash

        salt '*' ovs.port_get vxlan-compute1
    """
    interface = _find("interface", port, INTERFACE_COLUMNS)
    if interface is not None:
        # an unset MAC is an empty set
        interface["mac"] = interface["mac"] or ""
        interface["bridge"] = _vsctl("port-to-br", port).strip()
    return interface


def port_add(
    bridge,
    port,
    type=None,  # pylint: disable=redefined-builtin
    options=None,
    may_exist=False,
    external_ids=None,
    mac=None,
):
    """
    Add a port to a bridge, with its interface ``type`` (``internal``,
    ``patch``, ``vxlan``, …), ``options`` and ``external_ids`` (dicts, set
    whole) and ``mac`` (an internal interface's address) in the same
    transaction. With ``may_exist``, the port being on that bridge already is
    no error (and it gets the columns given).

    CLI Example:

    .. code-block:: bash

        salt '*' ovs.port_add br-ext vxlan-compute1 type=vxlan options='{remote_ip: 192.168.2.21, key: 100}'
        salt '*' ovs.port_add br-ext patch-ext-phys type=patch options='{peer: patch-phys-ext}'
        salt '*' ovs.port_add br-ext ext0 type=internal may_exist=True
        salt '*' ovs.port_add br-int o-hm0 type=internal external_ids='{iface-id: PORT_ID}' mac=fa:16:3e:00:00:01
    """
    argv = ["--may-exist"] if may_exist else []
    argv += ["add-port", bridge, port]
    argv += _set("interface", port, type=type, options=options, external_ids=external_ids, mac=mac)
    _vsctl(*argv)
    return True


def port_set(port, type=None, options=None, external_ids=None, mac=None):  # pylint: disable=redefined-builtin
    """
    Change a port's interface type, options or external_ids (dicts that
    replace all of them; ``{}`` clears them), or an internal interface's
    mac.

    CLI Example:

    .. code-block:: bash

        salt '*' ovs.port_set vxlan-compute1 options='{remote_ip: 192.168.2.22, key: 100}'
        salt '*' ovs.port_set ext0 type=internal options='{}'
    """
    command = _set("interface", port, type=type, options=options, external_ids=external_ids, mac=mac)
    if not command:
        raise SaltInvocationError("ovs.port_set needs type, options, external_ids or mac")
    _vsctl(*command)
    return True


def port_delete(port, bridge=None, if_exists=False):
    """
    Delete a port (only from ``bridge`` when given). With ``if_exists``, a
    missing port is no error.

    CLI Example:

    .. code-block:: bash

        salt '*' ovs.port_delete vxlan-compute1
        salt '*' ovs.port_delete vxlan-old bridge=br-ext if_exists=True
    """
    argv = ["--if-exists"] if if_exists else []
    argv += ["del-port", *([bridge] if bridge else []), port]
    _vsctl(*argv)
    return True
