"""
OpenStack resources as states, on the ``openstack`` execution module. Each
state compares what exists with what it is given, changes only the
difference, reports it in ``changes`` (old and new, passwords hidden) and
writes nothing under ``test=True`` (result None, with the changes it would
make); an API failure fails it with the API's message, not a traceback.

``<kind>_present`` and ``<kind>_absent`` are generated from the table the
execution module is made of (``_utils/openstack_kinds.py``): project,
service, flavor, keypair, server_group, network, subnet, port,
security_group, volume_type, volume, volume_snapshot, load_balancer,
listener, pool, member, health_monitor (``_absent`` also of user, image,
router, server). A field given as None is left alone; one the service
cannot change fails the state, or (flavors, keypairs) the resource is made
again. Below them, the states that do not fit the table. Each takes
``cloud`` (a name in ``clouds.yaml``), as the execution module does.

.. code-block:: yaml

    data1:
      openstack.volume_present:
        - size: 10
        - image: cirros
"""

import functools
import hashlib
import importlib.util
import ipaddress
import os
import sys

from salt.exceptions import CommandExecutionError

__virtualname__ = "openstack"

# Shown in changes instead of a password.
HIDDEN = "********"


def _load(name):
    """
    ``<name>.py`` of the repository's _utils/ or the minion's extension
    utils/, by path (as the execution module loads its machinery: what
    loads the shared code cannot itself be shared).
    """
    base = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = next(p for p in (os.path.join(base, d, f"{name}.py") for d in ("_utils", "utils")) if os.path.isfile(p))
    spec = importlib.util.spec_from_file_location(f"{__name__}.{name}", path)
    sys.modules[spec.name] = module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The table the generated states are made of.
kinds = _load("openstack_kinds")


def __virtual__():
    if "openstack.project_get" in __salt__:
        return __virtualname__
    return (False, "the openstack execution module is not loaded (openstacksdk missing?)")


def _fail(name, comment):
    """A failed state that changed nothing."""
    return {"name": name, "result": False, "comment": comment, "changes": {}}


def _api_errors_fail(state):
    """An API failure makes the state fail with its message, not a traceback."""

    @functools.wraps(state)
    def wrapper(name, *args, **kwargs):
        try:
            return state(name, *args, **kwargs)
        except CommandExecutionError as exc:
            return _fail(name, str(exc))

    return wrapper


def _present(name, what, current, wanted, create, update, updated="updated"):
    """
    Make ``what`` (e.g. "project demo") exist with the ``wanted`` fields:
    ``create()`` when ``current`` is None, else ``update(diff)`` with the
    fields that differ (the comment says ``what`` was ``updated``).
    """
    ret = {"name": name, "result": True, "comment": "", "changes": {}}
    if current is None:
        ret["changes"] = {"old": None, "new": wanted}
        if __opts__["test"]:
            ret.update(result=None, comment=f"{what} would be created")
            return ret
        create()
        ret["comment"] = f"{what} created"
        return ret
    diff = {field: value for field, value in wanted.items() if current.get(field) != value}
    if not diff:
        ret["comment"] = f"{what} is already as wanted"
        return ret
    ret["changes"] = {"old": {field: current.get(field) for field in diff}, "new": diff}
    if __opts__["test"]:
        ret.update(result=None, comment=f"{what} would be {updated}")
        return ret
    update(diff)
    ret["comment"] = f"{what} {updated}"
    return ret


def _absent(name, what, current, delete):
    """Make ``what`` not exist: ``delete()`` unless ``current`` is None."""
    ret = {"name": name, "result": True, "comment": f"{what} is already absent", "changes": {}}
    if current is None:
        return ret
    ret["changes"] = {"old": current, "new": None}
    if __opts__["test"]:
        ret.update(result=None, comment=f"{what} would be deleted")
        return ret
    delete()
    ret["comment"] = f"{what} deleted"
    return ret


# -- generated from the table --------------------------------------------------


def _what(kind, args):
    """How comments name it: ``subnet demo-subnet``."""
    return " ".join([kind.label] + [str(args[field]) for field in kind.key])


def _compared(field, current, wanted):
    """What of the current value is compared with the wanted one: of a dict, the wanted keys."""
    if isinstance(current, dict) and isinstance(wanted, dict):
        current = {key: current.get(key) for key in wanted}
    return kinds.normalise(field, current)


def _kind_present(kind, args):
    name, cloud, what = args[next(iter(kind.key))], args["cloud"], _what(kind, args)
    place = {field: args[field] for field in list(kind.key) + list(kind.scope)}
    fields = {field: args[field] for field, spec in kind.fields.items() if not spec.readonly}
    given = {field: value for field, value in fields.items() if value is not None}
    try:
        wanted = {field: kinds.normalise(field, value) for field, value in given.items()}
    except ValueError as exc:
        return _fail(name, f"{what}: {exc}")
    current = __salt__[f"openstack.{kind.name}_get"](**place, cloud=cloud)
    if current is not None and kind.status and current.get(kind.status[0]) in kind.status[2]:
        return _fail(name, f"{what} is in {current[kind.status[0]]}: delete it to make it again")
    if current is not None:
        # what matters only when it is made (the image a volume is made of) is not compared after
        wanted = {field: value for field, value in wanted.items() if not kind.fields[field].create}
        current = {field: _compared(field, current.get(field), value) for field, value in wanted.items()}
    fixed = [f for f in wanted if current is not None and current[f] != wanted[f] and kind.fields[f].fixed]
    if fixed and not kind.replace:
        shown = ", ".join(f"{field}={current[field]}" for field in fixed)
        return _fail(name, f"{what} exists with {shown}, which cannot be changed: delete it to make it again")
    wait = {kind.wait_param: args[kind.wait_param]} if kind.status else {}

    def create():
        __salt__[f"openstack.{kind.name}_create"](**place, **given, **wait, cloud=cloud)

    def update(diff):
        if fixed:
            __salt__[f"openstack.{kind.name}_delete"](**place, cloud=cloud)
            return create()
        return __salt__[f"openstack.{kind.name}_update"](**place, **{f: given[f] for f in diff}, cloud=cloud)

    return _present(name, what, current, wanted, create, update, updated="replaced" if fixed else "updated")


def _kind_absent(kind, args):
    place = {field: args[field] for field in list(kind.key) + list(kind.scope)}
    wait = {kind.wait_param: args[kind.wait_param]} if kind.wait_gone else {}
    return _absent(
        args[next(iter(kind.key))],
        _what(kind, args),
        __salt__[f"openstack.{kind.name}_get"](**place, cloud=args["cloud"]),
        lambda: __salt__[f"openstack.{kind.name}_delete"](**place, **wait, cloud=args["cloud"]),
    )


def _state(kind, verb, params):
    """The state ``<kind>_<verb>`` with the arguments ``params`` (Salt reads its signature)."""
    signature = kinds.signature(params)

    def state(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return (_kind_present if verb == "present" else _kind_absent)(kind, bound.arguments)

    state.__name__ = state.__qualname__ = f"{kind.name}_{verb}"
    state.__signature__ = signature
    fixed = ", ".join(f for f, spec in kind.fields.items() if spec.fixed) or "none"
    state.__doc__ = (
        f"{kind.doc}: it exists with the fields given (cannot change: {fixed})."
        if verb == "present"
        else f"No {kind.label} of that name."
    ) + f"\n\n.. code-block:: yaml\n\n    {kind.example.split()[0]}:\n      openstack.{kind.name}_{verb}: []\n"
    return _api_errors_fail(state)


ABSENT_ONLY = ("user", "image", "router", "server")
for _kind in kinds.KINDS.values():
    _arguments = _kind.arguments()
    if _kind.state:
        globals()[f"{_kind.name}_present"] = _state(_kind, "present", _arguments["create"])
    if _kind.state or _kind.name in ABSENT_ONLY:
        globals()[f"{_kind.name}_absent"] = _state(_kind, "absent", _arguments["delete"])


# -- what does not fit the table -------------------------------------------------


@_api_errors_fail
def user_present(name, password, default_project=None, domain="default", cloud=None):
    """
    The user ``name`` exists with ``default_project`` and a password that
    Keystone accepts as ``password`` (tried by logging in; set when it fails).
    """
    where = {"domain": domain, "cloud": cloud}
    current = __salt__["openstack.user_get"](name, **where)
    wanted = {"default_project": default_project, "password": HIDDEN}
    if current is not None:
        # Same password: the comparison passes. Else it shows as a change.
        valid = __salt__["openstack.user_password_valid"](name, password, **where)
        current = dict(current, password=HIDDEN if valid else "(another)")

    def update(diff):
        changed = {"password": password, "default_project": default_project}
        __salt__["openstack.user_update"](name, **{key: changed[key] for key in diff}, **where)

    return _present(
        name,
        f"user {name}",
        current,
        wanted,
        lambda: __salt__["openstack.user_create"](name, password, default_project=default_project, **where),
        update,
    )


def _role(name, user, project, domain, cloud, granted):
    """``user`` has (``granted``) or has not the role ``name`` on ``project``."""
    args, where = (name, user, project), {"domain": domain, "cloud": cloud}
    what = f"role {name} of {user} on {project}"
    current = {"granted": True} if __salt__["openstack.role_granted"](*args, **where) else None
    if granted:
        grant = lambda: __salt__["openstack.role_grant"](*args, **where)  # noqa: E731
        return _present(name, what, current, {"granted": True}, grant, None)
    return _absent(name, what, current, lambda: __salt__["openstack.role_revoke"](*args, **where))


@_api_errors_fail
def role_granted(name, user, project, domain="default", cloud=None):
    """``user`` has the role ``name`` on ``project``."""
    return _role(name, user, project, domain, cloud, granted=True)


@_api_errors_fail
def role_revoked(name, user, project, domain="default", cloud=None):
    """``user`` does not have the role ``name`` on ``project``."""
    return _role(name, user, project, domain, cloud, granted=False)


@_api_errors_fail
def endpoint_present(name, service, interface, url, region="RegionOne", cloud=None):
    """``service`` has one ``interface`` endpoint in ``region``, at ``url``."""
    where = {"region": region, "cloud": cloud}
    return _present(
        name,
        f"the {interface} endpoint of {service}",
        __salt__["openstack.endpoint_get"](service, interface, **where),
        {"url": url},
        lambda: __salt__["openstack.endpoint_create"](service, interface, url, **where),
        lambda _diff: __salt__["openstack.endpoint_update"](service, interface, url=url, **where),
    )


@_api_errors_fail
def endpoint_absent(name, service, interface, region="RegionOne", cloud=None):
    where = {"region": region, "cloud": cloud}
    return _absent(
        name,
        f"the {interface} endpoint of {service}",
        __salt__["openstack.endpoint_get"](service, interface, **where),
        lambda: __salt__["openstack.endpoint_delete"](service, interface, **where),
    )


@_api_errors_fail
def router_present(name, external_network=None, interfaces=None, cloud=None):
    """
    The router ``name`` exists, with its gateway on ``external_network``
    when given, attached once to each subnet of ``interfaces`` (names).
    Interfaces it has besides those are left alone.

    .. code-block:: yaml

        demo-router:
          openstack.router_present:
            - external_network: public
            - interfaces: [demo-subnet]
    """
    current = __salt__["openstack.router_get"](name, cloud=cloud)
    attached = current["interfaces"] if current is not None else []
    missing = [subnet for subnet in dict.fromkeys(interfaces or []) if subnet not in attached]
    wanted = {}
    if external_network is not None:
        wanted["external_network"] = external_network
    if missing:
        wanted["interfaces"] = sorted(attached + missing)

    def attach():
        for subnet in missing:
            __salt__["openstack.router_add_interface"](name, subnet, cloud=cloud)

    def create():
        __salt__["openstack.router_create"](name, external_network=external_network, cloud=cloud)
        attach()

    def update(diff):
        if "external_network" in diff:
            __salt__["openstack.router_update"](name, external_network=external_network, cloud=cloud)
        attach()

    return _present(name, f"router {name}", current, wanted, create, update)


@_api_errors_fail
def security_group_rule_present(
    name,
    security_group="default",
    protocol=None,
    port_range_min=None,
    port_range_max=None,
    remote_ip_prefix=None,
    direction="ingress",
    ethertype="IPv4",
    cloud=None,
):
    """
    ``security_group`` of the cloud's current project has a rule with these
    fields (``name`` is only the state's label). A rule that allows more is
    not this rule.

    .. code-block:: yaml

        demo-allow-ssh:
          openstack.security_group_rule_present:
            - protocol: tcp
            - port_range_min: 22
            - port_range_max: 22
    """
    rule = {
        "protocol": protocol,
        "port_range_min": port_range_min,
        "port_range_max": port_range_max,
        "remote_ip_prefix": remote_ip_prefix,
        "direction": direction,
        "ethertype": ethertype,
    }
    where = {"security_group": security_group, "cloud": cloud}
    found = __salt__["openstack.security_group_rule_get"](**where, **rule)
    return _present(
        name,
        f"rule {name} of security group {security_group}",
        rule if found is not None else None,
        rule,
        lambda: __salt__["openstack.security_group_rule_create"](**where, **rule),
        None,
    )


def _md5(filename):
    """The md5 hex digest of the file, read in chunks (Glance's image checksum)."""
    digest = hashlib.md5()
    try:
        with open(filename, "rb") as data:
            for chunk in iter(lambda: data.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise CommandExecutionError(f"cannot read {filename}: {exc.strerror}") from exc
    return digest.hexdigest()


@_api_errors_fail
def image_present(
    name,
    filename,
    disk_format="raw",
    container_format="bare",
    visibility="public",
    tags=None,
    properties=None,
    cloud=None,
):
    """
    The image ``name`` is active and holds the local file ``filename`` (it
    is uploaded once), with ``visibility``, ``tags`` and ``properties`` (of
    them, those given) updated. An image of that name with other data, or
    one that is not active, is an error: images are not deleted silently.

    .. code-block:: yaml

        amphora:
          openstack.image_present:
            - filename: /var/cache/saltlab/amphora.qcow2
            - disk_format: qcow2
            - tags: [amphora]
    """
    checksum = _md5(filename)
    current = __salt__["openstack.image_get"](name, cloud=cloud)
    if current is not None and current["status"] != "active":
        return _fail(name, f"image {name} is {current['status']}, not active: delete it to upload {filename} again")
    if current is not None and current["checksum"] != checksum:
        return _fail(
            name,
            f"image {name} has checksum {current['checksum']} but {filename} has {checksum}:"
            " delete the image to upload the file again",
        )
    given = {
        k: v for k, v in {"visibility": visibility, "tags": tags, "properties": properties}.items() if v is not None
    }
    formats = {"disk_format": disk_format, "container_format": container_format}
    if current is not None:
        current = {field: _compared(field, current.get(field), value) for field, value in given.items()}
    return _present(
        name,
        f"image {name}",
        current,
        dict(formats, filename=filename, checksum=checksum, **given) if current is None else given,
        lambda: __salt__["openstack.image_create"](name, filename, cloud=cloud, **formats, **given),
        lambda diff: __salt__["openstack.image_update"](name, cloud=cloud, **{field: given[field] for field in diff}),
    )


def _server_unusable(name, current):
    """Why an existing server cannot be taken as it is (ERROR, or not settled), or None."""
    if current is not None and current["status"] == "ERROR":
        return f"server {name} is in ERROR: {current['fault']}"
    if current is not None and current["status"] not in ("ACTIVE", "SHUTOFF"):
        return f"server {name} is {current['status']}, neither ACTIVE nor SHUTOFF"
    return None


@_api_errors_fail
def server_present(
    name,
    flavor,
    network,
    image=None,
    key_name=None,
    availability_zone=None,
    security_groups=None,
    server_group=None,
    boot_volume=None,
    timeout=600,
    cloud=None,
):
    """
    The server ``name`` exists: it is booted from ``image`` (or from the
    bootable volume ``boot_volume``) with ``flavor`` on ``network`` (in
    ``server_group`` when given) and awaited until ACTIVE (up to
    ``timeout`` seconds). An existing ACTIVE or SHUTOFF server is left as
    it is (a SHUTOFF one is not started); one in ERROR fails with Nova's
    fault.

    .. code-block:: yaml

        demo1:
          openstack.server_present:
            - image: cirros
            - flavor: m1.nano
            - network: demo-net
            - key_name: demo-key
    """
    if (image is None) == (boot_volume is None):
        return _fail(name, f"server {name}: give an image or a boot volume, not both or neither")
    current = __salt__["openstack.server_get"](name, cloud=cloud)
    unusable = _server_unusable(name, current)
    if unusable:
        return _fail(name, unusable)
    options = {
        "key_name": key_name,
        "availability_zone": availability_zone,
        "security_groups": security_groups,
        "server_group": server_group,
        "boot_volume": boot_volume,
    }
    wanted = dict({key: value for key, value in options.items() if value is not None}, flavor=flavor, network=network)
    if image is not None:
        wanted["image"] = image
    ret = _present(
        name,
        f"server {name}",
        current,
        wanted if current is None else {},
        lambda: __salt__["openstack.server_create"](name, timeout=timeout, cloud=cloud, **dict(wanted, image=image)),
        None,
    )
    if current is not None and current["status"] == "SHUTOFF":
        ret["comment"] = f"server {name} exists and is SHUTOFF (not started)"
    return ret


@_api_errors_fail
def floating_ip_present(name, network, cloud=None):
    """
    The server ``name`` has a floating IP: when none of its ports has one,
    one is allocated from the external ``network`` on its first port.

    .. code-block:: yaml

        demo1-floating-ip:
          openstack.floating_ip_present:
            - name: demo1
            - network: public
    """
    server = __salt__["openstack.server_get"](name, cloud=cloud)
    address = __salt__["openstack.floating_ip_of"](name, cloud=cloud) if server is not None else None
    made = {}

    def create():
        made["address"] = __salt__["openstack.floating_ip_create"](name, network, cloud=cloud)

    ret = _present(
        name,
        f"floating IP of server {name}",
        {"address": address} if address else None,
        {"network": network} if address is None else {},
        create,
        None,
    )
    if address:
        ret["comment"] = f"server {name} has the floating IP {address}"
    if made:
        ret["changes"]["new"] = dict(ret["changes"]["new"], address=made["address"])
        ret["comment"] = f"floating IP {made['address']} of server {name} created"
    return ret


@_api_errors_fail
def volume_attached(name, server, timeout=600, cloud=None):
    """
    The volume ``name`` is attached to the server ``server`` (names): when
    it is not, it is attached and awaited (up to ``timeout`` seconds) until
    it is in-use.

    .. code-block:: yaml

        data1:
          openstack.volume_attached:
            - server: demo1
    """
    attached = __salt__["openstack.volume_attachments"](server, cloud=cloud)
    return _present(
        name,
        f"attachment of volume {name} to server {server}",
        {"device": attached[name]} if name in attached else None,
        {} if name in attached else {"server": server},
        lambda: __salt__["openstack.volume_attach"](server, name, timeout=timeout, cloud=cloud),
        None,
    )


@_api_errors_fail
def port_plugged(name, port, network, bridge="br-int", cloud=None):
    """
    The Neutron port ``port`` of ``network`` is plugged into this node's
    Open vSwitch as the internal interface ``name`` on ``bridge``, as Nova
    plugs a server's: with the port's MAC and the ``external_ids`` by which
    this node's Open vSwitch agent finds and wires it (``iface-id``,
    ``attached-mac``, ``iface-status``). The port is looked up when the
    state runs, after the state that makes it; under test=True one that
    does not exist yet would be plugged.

    .. code-block:: yaml

        o-hm0:
          openstack.port_plugged:
            - port: octavia-health-manager
            - network: lb-mgmt-net
    """
    found = __salt__["openstack.port_get"](port, network=network, cloud=cloud)
    if found is None:
        if __opts__["test"]:
            return {
                "name": name,
                "result": None,
                "changes": {},
                "comment": f"interface {name} would be plugged into port {port} once it exists",
            }
        return _fail(name, f"port {port} of network {network} does not exist: nothing to plug {name} into")
    mac = found["mac_address"]
    return __states__["ovs.port_present"](
        name=name,
        bridge=bridge,
        type="internal",
        external_ids={"iface-id": found["id"], "attached-mac": mac, "iface-status": "active"},
        mac=mac,
    )


@_api_errors_fail
def server_member_present(name, pool, server, subnet, protocol_port, cloud=None):
    """
    The server ``server`` is the member ``name`` of the Octavia ``pool``,
    at its fixed address on ``subnet`` and ``protocol_port``. The address
    is looked up when the state runs, after the state that makes the
    server; under test=True a server that does not exist yet would be
    added.

    .. code-block:: yaml

        web1-member:
          openstack.server_member_present:
            - name: web1
            - pool: web-pool
            - server: web1
            - subnet: web-subnet
            - protocol_port: 80
    """
    found = __salt__["openstack.server_get"](server, cloud=cloud)
    where = __salt__["openstack.subnet_get"](subnet, cloud=cloud)
    missing = f"server {server}" if found is None else f"subnet {subnet}" if where is None else None
    if missing and __opts__["test"]:
        return {
            "name": name,
            "result": None,
            "changes": {},
            "comment": f"member {name} of pool {pool} would be added once {missing} exists",
        }
    if missing:
        return _fail(name, f"{missing} does not exist: no address for member {name} of pool {pool}")
    cidr = ipaddress.ip_network(where["cidr"])
    addresses = [
        address["addr"]
        for network in (found.get("addresses") or {}).values()
        for address in network
        if address.get("OS-EXT-IPS:type", "fixed") == "fixed" and ipaddress.ip_address(address["addr"]) in cidr
    ]
    if not addresses:
        return _fail(name, f"server {server} has no fixed address on subnet {subnet} ({cidr})")
    return __states__["openstack.member_present"](
        name=name, pool=pool, address=addresses[0], protocol_port=protocol_port, subnet=subnet, cloud=cloud
    )
