"""
OpenStack resources through openstacksdk (Salt 3008 has no OpenStack
module): Keystone, Nova, Glance, Neutron, Cinder and Octavia.

The common functions are generated from one table, ``KINDS`` in
``openstack_kinds.py`` (``_utils/``): for each kind (project, user,
service, endpoint, flavor, keypair, server_group, server, image, network,
subnet, router, port, security_group, volume_type, volume,
volume_snapshot, load_balancer, listener, pool, member, health_monitor)
``<kind>_get``, ``<kind>_list``, ``<kind>_find``, ``<kind>_create``,
``<kind>_update`` and ``<kind>_delete``; ``salt controller sys.doc
openstack.volume_create`` shows each one's arguments. What does not fit
the table is below it: password checks, role grants, compute hosts, image
uploads, servers, router interfaces, security group rules, floating IPs,
volume attachments and volume services.

The table and the machinery (``openstack_sdk.py``, which imports
openstacksdk by name) are ``_utils/``'s, loaded by path: the state module
shares the table, and Salt syncs ``_utils`` to the minions.

Each function takes ``cloud``, a name from ``/etc/openstack/clouds.yaml``;
without it the minion's ``openstack:cloud`` config value, else
``saltlab-admin``. Resources are named, references too (a subnet's
network, a user's default project). Lookups return the resource as a dict,
or None when it does not exist. Every SDK call, listings read to their end,
goes through one wrapper: a failure (Keystone down, a 403, a 503 on the
second page of a listing) raises CommandExecutionError("<what was being
done>: <the API's message>"), as do ambiguous names. Making something with
a status (a volume, a load balancer and its parts, a server) waits until it
is ready, at most ``timeout`` seconds, and a failure names the status seen.

.. code-block:: bash

    salt controller openstack.project_get demo
    salt controller openstack.endpoint_get glance public
    salt controller openstack.volume_create data1 10 image=cirros
"""

import importlib.util
import logging
import os
import sys

from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "openstack"

DEFAULT_CLOUD = "saltlab-admin"


def _load(name):
    """``<name>.py`` of the repository's _utils/ or the minion's extension utils/, by path."""
    base = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = next(p for p in (os.path.join(base, d, f"{name}.py") for d in ("_utils", "utils")) if os.path.isfile(p))
    spec = importlib.util.spec_from_file_location(f"{__name__}.{name}", path)
    sys.modules[spec.name] = module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The machinery, and through it the table of kinds.
sdk = _load("openstack_sdk")
KINDS = sdk.KINDS


def __virtual__():
    # Loads without openstacksdk: the keystone formula installs it
    # (python3-openstacksdk) in the same run as the first states that call
    # this module, which imports it on first use.
    return __virtualname__


def _conn(cloud=None):
    """A connection to the cloud, one per cloud name for the whole Salt run."""
    cloud = cloud or __salt__["config.get"]("openstack:cloud", DEFAULT_CLOUD)
    key = f"openstack.conn.{cloud}"
    if key not in __context__:
        conn = sdk.call(f"cloud {cloud}", sdk.sdk().connect, cloud=cloud)
        __context__[key] = sdk.Guarded(conn, cloud, forget=lambda: __context__.pop(key, None))
    return __context__[key]


def _generated(kind, verb, params):
    """``<kind>_<verb>`` with its signature (Salt and autospec read it) and docstring."""
    signature = sdk.kinds.signature(params, "filters" if verb == "find" else None)
    writable = [field for field, spec in kind.fields.items() if not spec.readonly]
    wait = kind.wait_param

    def function(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        passed = dict(bound.arguments)
        bound.apply_defaults()
        values = bound.arguments
        conn = _conn(values["cloud"])
        if verb == "create":
            return sdk.create(conn, kind, values, {f: values[f] for f in writable}, values.get(wait))
        if verb == "update":
            return sdk.update(conn, kind, values, {f: passed[f] for f in writable if f in passed})
        if verb == "delete":
            return sdk.delete(conn, kind, values, values.get(wait))
        if verb == "find":
            return sdk.find(conn, kind, values, values["filters"])
        return {"get": sdk.get, "list": sdk.list_}[verb](conn, kind, values)

    function.__name__ = function.__qualname__ = f"{kind.name}_{verb}"
    function.__signature__ = signature
    function.__doc__ = sdk.kinds.docstring(kind, verb)
    return function


for _kind in KINDS.values():
    for _verb, _params in _kind.arguments().items():
        globals()[f"{_kind.name}_{_verb}"] = _generated(_kind, _verb, _params)


# -- what does not fit the table, on the same machinery ----------------------


def _find(conn, kind, name, **scope):
    """The SDK resource of ``kind`` named ``name``; an error when there is none."""
    return sdk.lookup(conn, KINDS[kind], dict(scope, name=name), need=True)


def user_password_valid(name, password, domain="default", cloud=None):
    """
    Whether Keystone accepts ``password`` for the user: it asks Keystone for
    an unscoped token as that user. Keystone keeps password hashes only, so
    this is the one way to compare.

    .. code-block:: bash

        salt controller openstack.user_password_valid glance s3cret
    """
    conn = _conn(cloud)
    user = {"name": name, "domain": {"id": _find(conn, "domain", domain).id}, "password": password}
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}
    response = sdk.call(
        f"authenticating user {name}",
        conn.identity.post,
        "/auth/tokens",
        json=body,
        authenticated=False,
        raise_exc=False,
    )
    if response.status_code in (201, 401):
        return response.status_code == 201
    raise CommandExecutionError(f"authenticating user {name}: HTTP {response.status_code} {response.text}")


def _grant(conn, role, user, project, domain):
    """(project, user, role) as the SDK's role assignment calls take them."""
    return (
        _find(conn, "project", project, domain=domain),
        _find(conn, "user", user, domain=domain),
        _find(conn, "role", role),
    )


def role_granted(role, user, project, domain="default", cloud=None):
    """
    Whether ``user`` has ``role`` on ``project``.

    .. code-block:: bash

        salt controller openstack.role_granted admin glance service
    """
    conn = _conn(cloud)
    parts = _grant(conn, role, user, project, domain)
    return bool(sdk.call(f"role {role} of {user} on {project}", conn.identity.validate_user_has_project_role, *parts))


def role_grant(role, user, project, domain="default", cloud=None):
    """
    .. code-block:: bash

        salt controller openstack.role_grant admin glance service
    """
    conn = _conn(cloud)
    parts = _grant(conn, role, user, project, domain)
    sdk.call(f"granting {role} to {user} on {project}", conn.identity.assign_project_role_to_user, *parts)
    return True


def role_revoke(role, user, project, domain="default", cloud=None):
    """
    .. code-block:: bash

        salt controller openstack.role_revoke member demo demo
    """
    conn = _conn(cloud)
    parts = _grant(conn, role, user, project, domain)
    sdk.call(f"revoking {role} from {user} on {project}", conn.identity.unassign_project_role_from_user, *parts)
    return True


def compute_hosts(cloud=None):
    """
    The hosts that run nova-compute, and whether each can take a server
    now: ``{host: {"nova_compute": up and enabled, "ovs_agent": its Open
    vSwitch agent alive}}`` (Neutron binds a server's port only on a host
    whose agent is alive). Needs an admin cloud.

    .. code-block:: bash

        salt controller openstack.compute_hosts
    """
    conn = _conn(cloud)
    services = sdk.call("nova-compute services", conn.compute.services, binary="nova-compute")
    agents = sdk.call("Open vSwitch agents", conn.network.agents, agent_type="Open vSwitch agent")
    alive = {agent.host for agent in agents if agent.is_alive}
    return {
        service.host: {
            "nova_compute": service.state == "up" and service.status == "enabled",
            "ovs_agent": service.host in alive,
        }
        for service in services
    }


def network_agents(host, cloud=None):
    """
    The Neutron agents on ``host``: ``{agent type: alive}`` ("DHCP agent",
    "L3 agent", "Metadata agent", "Open vSwitch agent"...). Neutron
    schedules a network on a DHCP agent only while the agents of its host
    are alive, and tries again only on the network's next port. Needs an
    admin cloud.

    .. code-block:: bash

        salt controller openstack.network_agents network
    """
    conn = _conn(cloud)
    agents = sdk.call(f"Neutron agents on {host}", conn.network.agents, host=host)
    return {agent.agent_type: bool(agent.is_alive) for agent in agents}


def _services_up(binary, cloud, proxy):
    """
    ``{host: up and enabled}`` of a service listing's ``binary``. A failure
    drops the connection: its token keeps the roles it was issued with,
    which a first highstate of every node at once may have caught before
    the service user had them.
    """
    conn = _conn(cloud)
    try:
        services = sdk.call(f"{binary} services", getattr(conn, proxy).services, binary=binary)
    except CommandExecutionError:
        conn.forget()
        raise
    return {service.host: service.state == "up" and service.status == "enabled" for service in services}


def compute_services(binary, cloud=None):
    """
    Nova's services of ``binary`` (nova-conductor, nova-scheduler,
    nova-compute): ``{host: up and enabled}``. Needs a cloud whose user
    has the admin role (a service user does).

    .. code-block:: bash

        salt compute1 openstack.compute_services nova-conductor cloud=saltlab-nova
    """
    return _services_up(binary, cloud, "compute")


def volume_services(binary, cloud=None):
    """
    Cinder's services of ``binary`` (cinder-scheduler, cinder-volume):
    ``{host: up and enabled}`` (a volume service's host is
    ``<node>@<backend>``). Needs a cloud whose user has the admin role (a
    service user does).

    .. code-block:: bash

        salt storage openstack.volume_services cinder-scheduler cloud=saltlab-cinder
    """
    return _services_up(binary, cloud, "block_storage")


def image_create(
    name,
    filename,
    disk_format="raw",
    container_format="bare",
    visibility="public",
    tags=None,
    properties=None,
    timeout=600,
    cloud=None,
):
    """
    Upload the local file ``filename`` as the image ``name``, with ``tags``
    (a list) and ``properties`` (a dict), and wait (up to ``timeout``
    seconds) until it is active.

    .. code-block:: bash

        salt controller openstack.image_create cirros /var/cache/saltlab/cirros.img disk_format=qcow2
        salt controller openstack.image_create amphora /srv/amphora.qcow2 disk_format=qcow2 tags='[amphora]'
    """
    conn = _conn(cloud)
    image = sdk.call(
        f"uploading {filename} as image {name}",
        conn.image.create_image,
        name,
        filename=filename,
        disk_format=disk_format,
        container_format=container_format,
        visibility=visibility,
        tags=tags or [],
        wait=True,
        timeout=timeout,
        **(properties or {}),
    )
    status = ("status", "active", ("killed", "deleted"))
    return sdk.read(
        conn, KINDS["image"], sdk.await_status(conn, KINDS["image"], image, f"image {name}", timeout, {}, status)
    )


def server_create(
    name,
    image,
    flavor,
    network,
    key_name=None,
    availability_zone=None,
    security_groups=None,
    server_group=None,
    boot_volume=None,
    timeout=600,
    cloud=None,
):
    """
    Boot the server ``name`` from ``image`` with ``flavor`` on ``network``
    (all names), in ``server_group`` when given (a name: the scheduler
    places it by the group's policy), and wait up to ``timeout`` seconds
    until it is ACTIVE; ERROR fails with Nova's fault. With
    ``boot_volume`` (a bootable volume's name; ``image`` is then None) it
    boots from that volume, which stays when the server is deleted.

    .. code-block:: bash

        salt controller openstack.server_create demo1 cirros m1.nano demo-net key_name=demo-key
        salt controller openstack.server_create demo2 None m1.nano demo-net boot_volume=demo2-boot
    """
    if (image is None) == (boot_volume is None):
        raise CommandExecutionError(f"server {name}: give an image or a boot volume, not both or neither")
    conn = _conn(cloud)
    fields = {
        "name": name,
        "flavor_id": _find(conn, "flavor", flavor).id,
        "networks": [{"uuid": _find(conn, "network", network).id}],
    }
    if boot_volume is None:
        fields["image_id"] = _find(conn, "image", image).id
    else:
        fields["block_device_mapping"] = [
            {
                "uuid": _find(conn, "volume", boot_volume).id,
                "source_type": "volume",
                "destination_type": "volume",
                "boot_index": 0,
                "delete_on_termination": False,
            }
        ]
    optional = {"key_name": key_name, "availability_zone": availability_zone}
    fields.update({key: value for key, value in optional.items() if value is not None})
    if security_groups is not None:
        fields["security_groups"] = [{"name": group} for group in security_groups]
    if server_group is not None:
        fields["scheduler_hints"] = {"group": _find(conn, "server_group", server_group).id}
    server = sdk.call(f"creating server {name}", conn.compute.create_server, **fields)
    return sdk.read(
        conn, KINDS["server"], sdk.await_status(conn, KINDS["server"], server, f"server {name}", timeout, {})
    )


def server_start(name, timeout=600, cloud=None):
    """
    Start the (SHUTOFF) server and wait up to ``timeout`` seconds until it
    is ACTIVE.

    .. code-block:: bash

        salt controller openstack.server_start demo1
    """
    conn = _conn(cloud)
    server = _find(conn, "server", name)
    sdk.call(f"starting server {name}", conn.compute.start_server, server)
    return sdk.read(
        conn, KINDS["server"], sdk.await_status(conn, KINDS["server"], server, f"server {name}", timeout, {})
    )


def _router_interface(name, subnet, cloud, verb):
    conn = _conn(cloud)
    router, subnet_ = _find(conn, "router", name), _find(conn, "subnet", subnet)
    method = conn.network.add_interface_to_router if verb == "attaching" else conn.network.remove_interface_from_router
    sdk.call(
        f"{verb} router {name} {'to' if verb == 'attaching' else 'from'} subnet {subnet}",
        method,
        router,
        subnet_id=subnet_.id,
    )
    return True


def router_add_interface(name, subnet, cloud=None):
    """
    Attach the router to the subnet ``subnet``.

    .. code-block:: bash

        salt controller openstack.router_add_interface demo-router demo-subnet
    """
    return _router_interface(name, subnet, cloud, "attaching")


def router_remove_interface(name, subnet, cloud=None):
    """
    Detach the router from the subnet ``subnet``.

    .. code-block:: bash

        salt controller openstack.router_remove_interface demo-router demo-subnet
    """
    return _router_interface(name, subnet, cloud, "detaching")


# Neutron security group rules: no names; a rule is its fields.
RULE_DEFAULTS = {
    "protocol": None,
    "port_range_min": None,
    "port_range_max": None,
    "remote_ip_prefix": None,
    "direction": "ingress",
    "ethertype": "IPv4",
}
# Any address: Neutron may store these as no prefix at all.
ANY_PREFIX = ("0.0.0.0/0", "::/0")


def _rule(fields):
    """A rule's fields: RULE_DEFAULTS with the caller's; any address as None."""
    fields = {key: value for key, value in fields.items() if not key.startswith("__")}
    unknown = sorted(set(fields) - set(RULE_DEFAULTS))
    if unknown:
        raise CommandExecutionError(f"unknown security group rule fields: {', '.join(unknown)}")
    rule = dict(RULE_DEFAULTS, **fields)
    if rule["remote_ip_prefix"] in ANY_PREFIX:
        rule["remote_ip_prefix"] = None
    return rule


def _rule_of(conn, security_group, rule):
    """(the group, the SDK rule with the fields ``rule`` and no remote group, or None)."""
    wanted = _rule(rule)
    group = _find(conn, "security_group", security_group)
    found = sdk.call(
        f"rules of security group {security_group}", conn.network.security_group_rules, security_group_id=group.id
    )
    attrs = {key: ("ether_type" if key == "ethertype" else key) for key in RULE_DEFAULTS}
    for candidate in found:
        fields = _rule({key: getattr(candidate, attr) for key, attr in attrs.items()})
        if fields == wanted and candidate.remote_group_id is None:
            return group, candidate
    return group, None


def security_group_rule_get(security_group="default", cloud=None, **rule):
    """
    The rule of ``security_group`` (of the cloud's project) with the fields
    ``rule`` (protocol, port_range_min, port_range_max, remote_ip_prefix,
    direction, ethertype; defaults as RULE_DEFAULTS), and no remote group:
    id, security_group and those fields. None when there is none.

    .. code-block:: bash

        salt controller openstack.security_group_rule_get protocol=tcp port_range_min=22 port_range_max=22
    """
    found = _rule_of(_conn(cloud), security_group, rule)[1]
    return dict(id=found.id, security_group=security_group, **_rule(rule)) if found is not None else None


def security_group_rule_create(security_group="default", cloud=None, **rule):
    """
    Add the rule with the fields ``rule`` (as security_group_rule_get takes
    them) to ``security_group`` of the cloud's project.

    .. code-block:: bash

        salt controller openstack.security_group_rule_create protocol=icmp
    """
    conn = _conn(cloud)
    wanted = _rule(rule)
    group = _find(conn, "security_group", security_group)
    attrs = {("ether_type" if key == "ethertype" else key): value for key, value in wanted.items() if value is not None}
    found = sdk.call(
        f"adding a rule to security group {security_group}",
        conn.network.create_security_group_rule,
        security_group_id=group.id,
        **attrs,
    )
    return dict(id=found.id, security_group=security_group, **wanted)


def security_group_rule_delete(security_group="default", cloud=None, **rule):
    """
    Delete the rule with the fields ``rule`` from ``security_group``.

    .. code-block:: bash

        salt controller openstack.security_group_rule_delete protocol=icmp
    """
    conn = _conn(cloud)
    found = _rule_of(conn, security_group, rule)[1]
    if found is None:
        raise CommandExecutionError(f"security group {security_group} has no such rule: {_rule(rule)}")
    sdk.call(f"deleting a rule of security group {security_group}", conn.network.delete_security_group_rule, found)
    return True


def _server_ports(conn, server):
    server_ = _find(conn, "server", server)
    return sdk.call(f"ports of server {server}", conn.network.ports, device_id=server_.id)


def floating_ip_of(server, cloud=None):
    """
    The floating IP address on a port of the server ``server``, or None.

    .. code-block:: bash

        salt controller openstack.floating_ip_of demo1
    """
    conn = _conn(cloud)
    for port in _server_ports(conn, server):
        for found in sdk.call(f"floating IPs of server {server}", conn.network.ips, port_id=port.id):
            return found.floating_ip_address
    return None


def floating_ip_create(server, network, cloud=None):
    """
    Allocate a floating IP from the external network ``network`` on the
    first port of the server ``server``; its address.

    .. code-block:: bash

        salt controller openstack.floating_ip_create demo1 public
    """
    conn = _conn(cloud)
    ports = _server_ports(conn, server)
    if not ports:
        raise CommandExecutionError(f"server {server} has no port")
    found = sdk.call(
        f"allocating a floating IP from {network} for server {server}",
        conn.network.create_ip,
        floating_network_id=_find(conn, "network", network).id,
        port_id=ports[0].id,
    )
    return found.floating_ip_address


def volume_attachments(server, cloud=None):
    """
    The volumes attached to the server ``server``: ``{volume name: device}``.

    .. code-block:: bash

        salt controller openstack.volume_attachments demo1
    """
    conn = _conn(cloud)
    found = sdk.call(f"volumes of server {server}", conn.compute.volume_attachments, _find(conn, "server", server))
    return {sdk.name_of(conn, KINDS["volume"], attachment.volume_id): attachment.device for attachment in found}


def _attachment(server, volume, cloud, timeout, attach):
    conn = _conn(cloud)
    server_, volume_ = _find(conn, "server", server), _find(conn, "volume", volume)
    if attach:
        what = f"attaching volume {volume} to server {server}"
        sdk.call(what, conn.compute.create_volume_attachment, server_, volume=volume_)
    else:
        what = f"detaching volume {volume} from server {server}"
        sdk.call(what, conn.compute.delete_volume_attachment, server_, volume_.id, ignore_missing=False)
    status = ("status", "in-use" if attach else "available", ("error", "error_attaching", "error_detaching"))
    volume_ = sdk.await_status(conn, KINDS["volume"], volume_, f"volume {volume}", timeout, {}, status)
    return sdk.read(conn, KINDS["volume"], volume_)


def volume_attach(server, volume, timeout=600, cloud=None):
    """
    Attach the volume ``volume`` to the server ``server`` (names) and wait
    up to ``timeout`` seconds until it is in-use; the volume as
    ``volume_get`` returns it.

    .. code-block:: bash

        salt controller openstack.volume_attach demo1 data1
    """
    return _attachment(server, volume, cloud, timeout, attach=True)


def volume_detach(server, volume, timeout=600, cloud=None):
    """
    Detach the volume ``volume`` from the server ``server`` and wait until
    it is available again.

    .. code-block:: bash

        salt controller openstack.volume_detach demo1 data1
    """
    return _attachment(server, volume, cloud, timeout, attach=False)
