"""
Open vSwitch bridges and ports, through the ``ovs`` execution module.

A value left out (None) is left as it is; a value given is made so.
``options`` are compared as strings and set whole (a key no longer listed is
removed); YAML booleans become ``true``/``false`` as OVS spells them.

.. code-block:: yaml

    br-ext:
      ovs.bridge_present:
        - datapath_type: {{ pillar['ovs']['datapath_type'] }}   # system or netdev

    br-phys:
      ovs.bridge_present:
        - datapath_type: {{ pillar['ovs']['datapath_type'] }}

    vxlan-compute1:
      ovs.port_present:
        - bridge: br-ext
        - type: vxlan
        - options:
            remote_ip: 192.168.2.21
            key: 100
        - require:
          - ovs: br-ext

    patch-ext-phys:
      ovs.port_present:
        - bridge: br-ext
        - type: patch
        - options: {peer: patch-phys-ext}

    patch-phys-ext:
      ovs.port_present:
        - bridge: br-phys
        - type: patch
        - options: {peer: patch-ext-phys}

    ext0:
      ovs.port_present:
        - bridge: br-ext
        - type: internal

    vxlan-old:
      ovs.port_absent

    br-ext-vxlan-ports:
      ovs.ports_pruned:
        - bridge: br-ext
        - prefix: vxlan-
        - keep: [vxlan-compute1]

    br-old:
      ovs.bridge_absent
"""

from salt.exceptions import CommandExecutionError

__virtualname__ = "ovs"


def __virtual__():
    if "ovs.bridge_get" in __salt__:
        return __virtualname__
    return (False, "the ovs execution module is not loaded (no ovs-vsctl)")


def _text(value):
    """An option value as OVS stores it."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _differences(current, wanted):
    """(old, new): the wanted keys whose current value differs."""
    changed = [key for key, value in wanted.items() if current[key] != value]
    return {key: current[key] for key in changed}, {key: wanted[key] for key in changed}


def _converge(ret, what, old, new, apply):
    """
    Record ``old`` → ``new`` as the state's changes and run ``apply`` for
    them, or under test=True only say what would change.
    """
    action = "created" if old is None else "deleted" if new is None else "updated"
    ret["changes"] = {"old": old, "new": new}
    if __opts__["test"]:
        ret["result"] = None
        ret["comment"] = f"{what} would be {action}"
        return ret
    try:
        apply()
    except CommandExecutionError as exc:
        ret.update(result=False, changes={}, comment=f"{what} could not be {action}: {exc}")
        return ret
    ret["comment"] = f"{what} {action}"
    return ret


def _state(name, check):
    """Run ``check(ret)``; a failing ovs-vsctl read makes the state fail."""
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    try:
        return check(ret)
    except CommandExecutionError as exc:
        ret.update(result=False, comment=str(exc))
        return ret


def switch_configured(name, other_config):
    """
    The switch's ``other_config`` holds these keys and values (``name`` is
    only a label; other keys are left alone). Keys that ovs-vswitchd reads
    when it starts need a restart: ``watch`` this state from the service.
    """
    wanted = {str(key): _text(value) for key, value in other_config.items()}

    def check(ret):
        current = __salt__["ovs.switch_get"]()["other_config"]
        old, new = _differences({key: current.get(key) for key in wanted}, wanted)
        if not new:
            ret["comment"] = "The switch's other_config is as wanted"
            return ret
        return _converge(ret, "The switch's other_config", old, new, lambda: __salt__["ovs.switch_set"](new))

    return _state(name, check)


def bridge_present(name, datapath_type=None, fail_mode=None):
    """
    The bridge ``name`` exists, with ``datapath_type`` (``system`` or
    ``netdev``) and ``fail_mode`` (``standalone`` or ``secure``) when given.
    """
    wanted = {
        key: value for key, value in (("datapath_type", datapath_type), ("fail_mode", fail_mode)) if value is not None
    }

    def check(ret):
        current = __salt__["ovs.bridge_get"](name)
        if current is None:
            return _converge(
                ret, f"Bridge {name}", None, dict(wanted, name=name), lambda: __salt__["ovs.bridge_add"](name, **wanted)
            )
        old, new = _differences(current, wanted)
        if not new:
            ret["comment"] = f"Bridge {name} is as wanted"
            return ret
        return _converge(ret, f"Bridge {name}", old, new, lambda: __salt__["ovs.bridge_set"](name, **new))

    return _state(name, check)


def bridge_absent(name):
    """
    The bridge ``name`` does not exist (deleting it deletes its ports).
    """

    def check(ret):
        current = __salt__["ovs.bridge_get"](name)
        if current is None:
            ret["comment"] = f"Bridge {name} is absent"
            return ret
        return _converge(ret, f"Bridge {name}", current, None, lambda: __salt__["ovs.bridge_delete"](name))

    return _state(name, check)


# the interface's columns that port_present sets only when given, besides type and options
EXTRA_COLUMNS = ("external_ids", "mac")


def port_present(name, bridge, type=None, options=None, external_ids=None, mac=None):  # pylint: disable=redefined-builtin
    """
    The port ``name`` is on ``bridge``, with interface ``type`` (``internal``,
    ``patch``, ``vxlan``, …), exactly ``options`` and ``external_ids`` and
    the ``mac`` of an internal interface, each when given. A port on
    another bridge is moved (deleted there, then added here, keeping what
    is not given); the rest is changed in place.
    """
    wanted = {"bridge": bridge}
    if type is not None:
        wanted["type"] = type
    if options is not None:
        wanted["options"] = {str(key): _text(value) for key, value in options.items()}
    if external_ids is not None:
        wanted["external_ids"] = {str(key): _text(value) for key, value in external_ids.items()}
    if mac is not None:
        wanted["mac"] = str(mac).lower()

    def extra(*sources):
        """external_ids and mac from the first source that has them set."""
        found = {}
        for column in EXTRA_COLUMNS:
            value = next((source[column] for source in sources if source.get(column)), None)
            if value:
                found[column] = value
        return found

    def check(ret):
        current = __salt__["ovs.port_get"](name)
        if current is None:
            return _converge(
                ret,
                f"Port {name}",
                None,
                wanted,
                lambda: __salt__["ovs.port_add"](
                    bridge, name, type=type, options=wanted.get("options"), **extra(wanted)
                ),
            )
        old, new = _differences(current, wanted)
        if not new:
            ret["comment"] = f"Port {name} is as wanted"
            return ret
        if "bridge" in new:

            def apply():
                # Two transactions: ovs-vswitchd 3.1 fails to re-add (or
                # asserts on) a port moved between bridges in one.
                __salt__["ovs.port_delete"](name, bridge=current["bridge"])
                __salt__["ovs.port_add"](
                    bridge,
                    name,
                    type=wanted.get("type", current["type"]),
                    options=wanted.get("options", current["options"]),
                    **extra(wanted, current),
                )

        else:

            def apply():
                __salt__["ovs.port_set"](name, type=new.get("type"), options=new.get("options"), **extra(new))

        return _converge(ret, f"Port {name}", old, new, apply)

    return _state(name, check)


def port_absent(name):
    """
    The port ``name`` is on no bridge.
    """

    def check(ret):
        current = __salt__["ovs.port_get"](name)
        if current is None:
            ret["comment"] = f"Port {name} is absent"
            return ret
        return _converge(
            ret, f"Port {name}", current, None, lambda: __salt__["ovs.port_delete"](name, bridge=current["bridge"])
        )

    return _state(name, check)


def ports_pruned(name, bridge, prefix, keep):
    """
    The ports of ``bridge`` whose names start with ``prefix`` are only those
    in ``keep``: the others are deleted (``name`` is only a label). Read
    when the state runs, so that a port to a peer that is gone goes once
    Open vSwitch runs; a bridge not there yet has nothing to prune.
    """

    def check(ret):
        if __salt__["ovs.bridge_get"](bridge) is None:
            ret["comment"] = f"Bridge {bridge} is absent: no port to prune"
            return ret
        stale = sorted(
            port for port in __salt__["ovs.port_list"](bridge) if port.startswith(prefix) and port not in keep
        )
        if not stale:
            ret["comment"] = f"Bridge {bridge} has no {prefix}* port but {', '.join(keep) or 'none'}"
            return ret

        def apply():
            for port in stale:
                __salt__["ovs.port_delete"](port, bridge=bridge)

        return _converge(ret, f"Ports {', '.join(stale)} of {bridge}", stale, None, apply)

    return _state(name, check)
