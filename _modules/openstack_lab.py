"""
OpenStack resources through openstacksdk: Keystone projects, users, role
grants, services and endpoints, Nova flavors, keypairs and servers, Glance
images, Neutron networks, subnets, routers, security group rules and
floating IPs (Salt 3008 has no OpenStack module).

Each function takes ``cloud``, a name from ``/etc/openstack/clouds.yaml``;
without it the minion's ``openstack:cloud`` config value, else
``saltlab-admin``. Lookups return the resource as a dict, or None when it
does not exist. Failures (Keystone down, a 403, an ambiguous name) raise
CommandExecutionError with the API's message.

.. code-block:: bash

    salt controller openstack.project_get demo
    salt controller openstack.endpoint_get glance public
    salt controller openstack.server_get demo1
"""

import importlib
import ipaddress
import logging

from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "openstack"

DEFAULT_CLOUD = "saltlab-admin"


def __virtual__():
    # Loads without openstacksdk: the keystone formula installs it
    # (python3-openstacksdk) in the same run as the first states that call
    # this module, which imports it on first use.
    return __virtualname__


def _sdk():
    """openstacksdk, imported on first use."""
    try:
        return importlib.import_module("openstack")
    except ImportError as exc:
        raise CommandExecutionError(f"openstacksdk is not installed (Debian: python3-openstacksdk): {exc}") from exc


def _conn(cloud=None):
    """A connection to the cloud, one per cloud name for the whole Salt run."""
    cloud = cloud or __salt__["config.get"]("openstack:cloud", DEFAULT_CLOUD)
    key = f"openstack.conn.{cloud}"
    if key not in __context__:
        sdk = _sdk()
        try:
            __context__[key] = sdk.connect(cloud=cloud)
        except sdk.exceptions.SDKException as exc:
            raise CommandExecutionError(f"cloud {cloud}: {exc}") from exc
    return __context__[key]


def _call(what, func, *args, **kwargs):
    """func(*args, **kwargs), an SDK failure turned into one clear message."""
    try:
        return func(*args, **kwargs)
    except _sdk().exceptions.SDKException as exc:
        raise CommandExecutionError(f"{what}: {exc}") from exc


def _plain(resource, *fields):
    """The resource's fields as a dict (None stays None)."""
    if resource is None:
        return None
    return {field: resource[field] for field in ("id",) + fields}


def _fields(kwargs):
    """The caller's keyword arguments without Salt's own (``__pub_*``)."""
    return {key: value for key, value in kwargs.items() if not key.startswith("__")}


def _domain_id(conn, domain):
    found = _call(f"domain {domain}", conn.identity.find_domain, domain, ignore_missing=True)
    if found is None:
        raise CommandExecutionError(f"domain {domain} does not exist")
    return found.id


def _require(what, resource):
    if resource is None:
        raise CommandExecutionError(f"{what} does not exist")
    return resource


# Projects


def _find_project(conn, name, domain):
    return _call(
        f"project {name}", conn.identity.find_project, name, domain_id=_domain_id(conn, domain), ignore_missing=True
    )


def project_get(name, domain="default", cloud=None):
    """The project ``name`` in ``domain``: id, name, description, is_enabled."""
    conn = _conn(cloud)
    return _plain(_find_project(conn, name, domain), "name", "description", "is_enabled")


def project_create(name, description="", domain="default", cloud=None):
    conn = _conn(cloud)
    project = _call(
        f"creating project {name}",
        conn.identity.create_project,
        name=name,
        description=description,
        domain_id=_domain_id(conn, domain),
        is_enabled=True,
    )
    return _plain(project, "name", "description", "is_enabled")


def project_update(name, domain="default", cloud=None, **fields):
    """Set ``fields`` (description, is_enabled) on the project."""
    conn = _conn(cloud)
    project = _require(f"project {name}", _find_project(conn, name, domain))
    project = _call(f"updating project {name}", conn.identity.update_project, project, **_fields(fields))
    return _plain(project, "name", "description", "is_enabled")


def project_delete(name, domain="default", cloud=None):
    conn = _conn(cloud)
    project = _require(f"project {name}", _find_project(conn, name, domain))
    _call(f"deleting project {name}", conn.identity.delete_project, project)
    return True


# Users


def _find_user(conn, name, domain):
    return _call(f"user {name}", conn.identity.find_user, name, domain_id=_domain_id(conn, domain), ignore_missing=True)


def _user(conn, user):
    """A user as a dict, its default project by name."""
    if user is None:
        return None
    ret = _plain(user, "name", "is_enabled")
    project_id = user.default_project_id
    project = conn.identity.find_project(project_id, ignore_missing=True) if project_id else None
    ret["default_project"] = project.name if project else None
    return ret


def user_get(name, domain="default", cloud=None):
    """The user ``name``: id, name, is_enabled and default_project (a name)."""
    conn = _conn(cloud)
    return _user(conn, _find_user(conn, name, domain))


def user_create(name, password, default_project=None, domain="default", cloud=None):
    conn = _conn(cloud)
    fields = {"name": name, "password": password, "domain_id": _domain_id(conn, domain), "is_enabled": True}
    if default_project:
        fields["default_project_id"] = _require(
            f"project {default_project}", _find_project(conn, default_project, domain)
        ).id
    return _user(conn, _call(f"creating user {name}", conn.identity.create_user, **fields))


def user_update(name, password=None, default_project=None, domain="default", cloud=None):
    """Set the user's password and/or default project (given by name)."""
    conn = _conn(cloud)
    user = _require(f"user {name}", _find_user(conn, name, domain))
    fields = {}
    if password is not None:
        fields["password"] = password
    if default_project is not None:
        fields["default_project_id"] = _require(
            f"project {default_project}", _find_project(conn, default_project, domain)
        ).id
    return _user(conn, _call(f"updating user {name}", conn.identity.update_user, user, **fields))


def user_delete(name, domain="default", cloud=None):
    conn = _conn(cloud)
    user = _require(f"user {name}", _find_user(conn, name, domain))
    _call(f"deleting user {name}", conn.identity.delete_user, user)
    return True


def user_password_valid(name, password, domain="default", cloud=None):
    """
    Whether Keystone accepts ``password`` for the user: it asks Keystone for
    an unscoped token as that user. Keystone keeps password hashes only, so
    this is the one way to compare.
    """
    conn = _conn(cloud)
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": name, "domain": {"id": _domain_id(conn, domain)}, "password": password}},
            }
        }
    }
    response = _call(
        f"authenticating user {name}",
        conn.identity.post,
        "/auth/tokens",
        json=body,
        authenticated=False,
        raise_exc=False,
    )
    if response.status_code == 201:
        return True
    if response.status_code == 401:
        return False
    raise CommandExecutionError(f"authenticating user {name}: HTTP {response.status_code} {response.text}")


# Role grants on projects


def _grant_parts(conn, role, user, project, domain):
    return (
        _require(f"role {role}", _call(f"role {role}", conn.identity.find_role, role, ignore_missing=True)),
        _require(f"user {user}", _find_user(conn, user, domain)),
        _require(f"project {project}", _find_project(conn, project, domain)),
    )


def role_granted(role, user, project, domain="default", cloud=None):
    """Whether ``user`` has ``role`` on ``project``."""
    conn = _conn(cloud)
    role_, user_, project_ = _grant_parts(conn, role, user, project, domain)
    return bool(
        _call(
            f"role {role} of {user} on {project}", conn.identity.validate_user_has_project_role, project_, user_, role_
        )
    )


def role_grant(role, user, project, domain="default", cloud=None):
    conn = _conn(cloud)
    role_, user_, project_ = _grant_parts(conn, role, user, project, domain)
    _call(f"granting {role} to {user} on {project}", conn.identity.assign_project_role_to_user, project_, user_, role_)
    return True


def role_revoke(role, user, project, domain="default", cloud=None):
    conn = _conn(cloud)
    role_, user_, project_ = _grant_parts(conn, role, user, project, domain)
    _call(
        f"revoking {role} from {user} on {project}",
        conn.identity.unassign_project_role_from_user,
        project_,
        user_,
        role_,
    )
    return True


# Catalog: services and endpoints


def _find_service(conn, name):
    """The service named ``name``; Keystone does not keep names unique."""
    found = [service for service in _call("services", conn.identity.services) if service.name == name]
    if len(found) > 1:
        raise CommandExecutionError(f"{len(found)} services are named {name}: delete all but one")
    return found[0] if found else None


def service_get(name, cloud=None):
    """The catalog service ``name``: id, name, type, description, is_enabled."""
    return _plain(_find_service(_conn(cloud), name), "name", "type", "description", "is_enabled")


def service_create(name, type, description="", cloud=None):  # pylint: disable=redefined-builtin
    service = _call(
        f"creating service {name}",
        _conn(cloud).identity.create_service,
        name=name,
        type=type,
        description=description,
        is_enabled=True,
    )
    return _plain(service, "name", "type", "description", "is_enabled")


def service_update(name, cloud=None, **fields):
    """Set ``fields`` (type, description, is_enabled) on the service."""
    conn = _conn(cloud)
    service = _require(f"service {name}", _find_service(conn, name))
    service = _call(f"updating service {name}", conn.identity.update_service, service, **_fields(fields))
    return _plain(service, "name", "type", "description", "is_enabled")


def service_delete(name, cloud=None):
    """Delete the service (Keystone deletes its endpoints with it)."""
    conn = _conn(cloud)
    service = _require(f"service {name}", _find_service(conn, name))
    _call(f"deleting service {name}", conn.identity.delete_service, service)
    return True


def _find_endpoint(conn, service, interface, region):
    service_ = _require(f"service {service}", _find_service(conn, service))
    found = list(
        _call(
            f"endpoints of {service}",
            conn.identity.endpoints,
            service_id=service_.id,
            interface=interface,
            region_id=region,
        )
    )
    if len(found) > 1:
        raise CommandExecutionError(f"{len(found)} {interface} endpoints of {service} in {region}: delete all but one")
    return service_, (found[0] if found else None)


def endpoint_get(service, interface, region="RegionOne", cloud=None):
    """The ``interface`` endpoint of ``service`` in ``region``: id, url, is_enabled."""
    return _plain(_find_endpoint(_conn(cloud), service, interface, region)[1], "url", "is_enabled")


def endpoint_create(service, interface, url, region="RegionOne", cloud=None):
    conn = _conn(cloud)
    service_, _ = _find_endpoint(conn, service, interface, region)
    endpoint = _call(
        f"creating the {interface} endpoint of {service}",
        conn.identity.create_endpoint,
        service_id=service_.id,
        interface=interface,
        url=url,
        region_id=region,
        is_enabled=True,
    )
    return _plain(endpoint, "url", "is_enabled")


def endpoint_update(service, interface, url, region="RegionOne", cloud=None):
    conn = _conn(cloud)
    endpoint = _require(
        f"the {interface} endpoint of {service} in {region}", _find_endpoint(conn, service, interface, region)[1]
    )
    endpoint = _call(
        f"updating the {interface} endpoint of {service}", conn.identity.update_endpoint, endpoint, url=url
    )
    return _plain(endpoint, "url", "is_enabled")


def endpoint_delete(service, interface, region="RegionOne", cloud=None):
    conn = _conn(cloud)
    endpoint = _require(
        f"the {interface} endpoint of {service} in {region}", _find_endpoint(conn, service, interface, region)[1]
    )
    _call(f"deleting the {interface} endpoint of {service}", conn.identity.delete_endpoint, endpoint)
    return True


# Nova flavors (immutable: a different flavor is a new one)

FLAVOR_FIELDS = ("name", "vcpus", "ram", "disk", "is_public")


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
    services = _call("nova-compute services", lambda: list(conn.compute.services(binary="nova-compute")))
    agents = _call("Open vSwitch agents", lambda: list(conn.network.agents(agent_type="Open vSwitch agent")))
    alive = {agent.host for agent in agents if agent.is_alive}
    return {
        service.host: {
            "nova_compute": service.state == "up" and service.status == "enabled",
            "ovs_agent": service.host in alive,
        }
        for service in services
    }


def _find_flavor(conn, name):
    return _call(f"flavor {name}", conn.compute.find_flavor, name, ignore_missing=True)


def flavor_get(name, cloud=None):
    """The flavor ``name``: id, name, vcpus, ram (MiB), disk (GiB), is_public."""
    return _plain(_find_flavor(_conn(cloud), name), *FLAVOR_FIELDS)


def flavor_create(name, vcpus, ram, disk=0, is_public=True, cloud=None):
    flavor = _call(
        f"creating flavor {name}",
        _conn(cloud).compute.create_flavor,
        name=name,
        vcpus=vcpus,
        ram=ram,
        disk=disk,
        is_public=is_public,
    )
    return _plain(flavor, *FLAVOR_FIELDS)


def flavor_delete(name, cloud=None):
    conn = _conn(cloud)
    flavor = _require(f"flavor {name}", _find_flavor(conn, name))
    _call(f"deleting flavor {name}", conn.compute.delete_flavor, flavor)
    return True


# Neutron networks

NETWORK_FIELDS = (
    "name",
    "provider_network_type",
    "provider_physical_network",
    "is_router_external",
    "is_shared",
    "mtu",
)


def _find_network(conn, name):
    return _call(f"network {name}", conn.network.find_network, name, ignore_missing=True)


def network_get(name, cloud=None):
    """The network ``name``: id, name, provider type and physical network, external, shared, mtu."""
    return _plain(_find_network(_conn(cloud), name), *NETWORK_FIELDS)


def network_create(name, cloud=None, **fields):
    """Create the network with ``fields`` (any of NETWORK_FIELDS but name)."""
    network = _call(f"creating network {name}", _conn(cloud).network.create_network, name=name, **_fields(fields))
    return _plain(network, *NETWORK_FIELDS)


def network_update(name, cloud=None, **fields):
    """Set ``fields`` (is_router_external, is_shared, mtu) on the network."""
    conn = _conn(cloud)
    network = _require(f"network {name}", _find_network(conn, name))
    network = _call(f"updating network {name}", conn.network.update_network, network, **_fields(fields))
    return _plain(network, *NETWORK_FIELDS)


def network_delete(name, cloud=None):
    conn = _conn(cloud)
    network = _require(f"network {name}", _find_network(conn, name))
    _call(f"deleting network {name}", conn.network.delete_network, network)
    return True


# Neutron subnets

SUBNET_FIELDS = ("name", "network_id", "cidr", "gateway_ip", "is_dhcp_enabled", "dns_nameservers", "allocation_pools")


def _find_subnet(conn, name, network=None):
    """The subnet ``name``, in the network ``network`` when given (none when that network does not exist)."""
    query = {}
    if network is not None:
        network_ = _find_network(conn, network)
        if network_ is None:
            return None
        query["network_id"] = network_.id
    return _call(f"subnet {name}", conn.network.find_subnet, name, ignore_missing=True, **query)


def subnet_get(name, network=None, cloud=None):
    """
    The subnet ``name`` (of ``network`` when given): id, name, network_id,
    cidr, gateway_ip, is_dhcp_enabled, dns_nameservers, allocation_pools.

    .. code-block:: bash

        salt controller openstack.subnet_get demo-subnet network=demo-net
    """
    return _plain(_find_subnet(_conn(cloud), name, network), *SUBNET_FIELDS)


def subnet_create(name, network, cidr, cloud=None, **fields):
    """
    Create the subnet ``cidr`` in ``network`` with ``fields`` (gateway_ip,
    is_dhcp_enabled, dns_nameservers, allocation_pools).

    .. code-block:: bash

        salt controller openstack.subnet_create demo-subnet demo-net 10.0.0.0/24 gateway_ip=10.0.0.1
    """
    conn = _conn(cloud)
    network_ = _require(f"network {network}", _find_network(conn, network))
    try:
        ip_version = ipaddress.ip_network(cidr, strict=False).version
    except ValueError as exc:
        raise CommandExecutionError(f"subnet {name}: {exc}") from exc
    subnet = _call(
        f"creating subnet {name}",
        conn.network.create_subnet,
        name=name,
        network_id=network_.id,
        cidr=cidr,
        ip_version=ip_version,
        **_fields(fields),
    )
    return _plain(subnet, *SUBNET_FIELDS)


def subnet_update(name, network=None, cloud=None, **fields):
    """
    Set ``fields`` (gateway_ip, is_dhcp_enabled, dns_nameservers,
    allocation_pools) on the subnet; Neutron cannot change its cidr.

    .. code-block:: bash

        salt controller openstack.subnet_update demo-subnet network=demo-net is_dhcp_enabled=True
    """
    conn = _conn(cloud)
    subnet = _require(f"subnet {name}", _find_subnet(conn, name, network))
    subnet = _call(f"updating subnet {name}", conn.network.update_subnet, subnet, **_fields(fields))
    return _plain(subnet, *SUBNET_FIELDS)


def subnet_delete(name, network=None, cloud=None):
    """
    .. code-block:: bash

        salt controller openstack.subnet_delete demo-subnet network=demo-net
    """
    conn = _conn(cloud)
    subnet = _require(f"subnet {name}", _find_subnet(conn, name, network))
    _call(f"deleting subnet {name}", conn.network.delete_subnet, subnet)
    return True


# Neutron routers

# The device owners of a router's ports on its subnets (legacy, HA, DVR);
# its gateway port and HA network ports are not interfaces.
ROUTER_INTERFACE_OWNERS = (
    "network:router_interface",
    "network:ha_router_replicated_interface",
    "network:router_interface_distributed",
)


def _find_router(conn, name):
    return _call(f"router {name}", conn.network.find_router, name, ignore_missing=True)


def _router_ports(conn, router):
    return [
        port
        for port in _call(f"ports of router {router.name}", conn.network.ports, device_id=router.id)
        if port.device_owner in ROUTER_INTERFACE_OWNERS
    ]


def _router(conn, router):
    """A router as a dict: its external network and interfaces (subnets) by name."""
    if router is None:
        return None
    network_id = (router.external_gateway_info or {}).get("network_id")
    subnet_ids = {fixed_ip["subnet_id"] for port in _router_ports(conn, router) for fixed_ip in port.fixed_ips}
    return dict(
        _plain(router, "name"),
        external_network=_call(f"network {network_id}", conn.network.get_network, network_id).name
        if network_id
        else None,
        interfaces=sorted(
            _call(f"subnet {subnet_id}", conn.network.get_subnet, subnet_id).name for subnet_id in subnet_ids
        ),
    )


def _gateway(conn, external_network):
    """A router's external_gateway_info for the network ``external_network`` (None: no gateway)."""
    if external_network is None:
        return None
    return {"network_id": _require(f"network {external_network}", _find_network(conn, external_network)).id}


def router_get(name, cloud=None):
    """
    The router ``name``: id, name, external_network (a name or None) and
    interfaces (the names of the subnets it is attached to).

    .. code-block:: bash

        salt controller openstack.router_get demo-router
    """
    conn = _conn(cloud)
    return _router(conn, _find_router(conn, name))


def router_create(name, external_network=None, cloud=None):
    """
    Create the router, its gateway on ``external_network`` when given.

    .. code-block:: bash

        salt controller openstack.router_create demo-router external_network=public
    """
    conn = _conn(cloud)
    fields = {"name": name}
    if external_network is not None:
        fields["external_gateway_info"] = _gateway(conn, external_network)
    return _router(conn, _call(f"creating router {name}", conn.network.create_router, **fields))


def router_update(name, external_network=None, cloud=None):
    """
    Set the router's gateway on ``external_network`` (None removes it).

    .. code-block:: bash

        salt controller openstack.router_update demo-router external_network=public
    """
    conn = _conn(cloud)
    router = _require(f"router {name}", _find_router(conn, name))
    router = _call(
        f"updating router {name}",
        conn.network.update_router,
        router,
        external_gateway_info=_gateway(conn, external_network),
    )
    return _router(conn, router)


def router_add_interface(name, subnet, cloud=None):
    """
    Attach the router to the subnet ``subnet``.

    .. code-block:: bash

        salt controller openstack.router_add_interface demo-router demo-subnet
    """
    conn = _conn(cloud)
    router = _require(f"router {name}", _find_router(conn, name))
    subnet_ = _require(f"subnet {subnet}", _find_subnet(conn, subnet))
    _call(
        f"attaching router {name} to subnet {subnet}",
        conn.network.add_interface_to_router,
        router,
        subnet_id=subnet_.id,
    )
    return True


def router_delete(name, cloud=None):
    """
    Detach the router from its subnets, then delete it.

    .. code-block:: bash

        salt controller openstack.router_delete demo-router
    """
    conn = _conn(cloud)
    router = _require(f"router {name}", _find_router(conn, name))
    for port in _router_ports(conn, router):
        _call(
            f"detaching router {name} from port {port.id}",
            conn.network.remove_interface_from_router,
            router,
            port_id=port.id,
        )
    _call(f"deleting router {name}", conn.network.delete_router, router)
    return True


# Neutron security group rules

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
    fields = _fields(fields)
    unknown = sorted(set(fields) - set(RULE_DEFAULTS))
    if unknown:
        raise CommandExecutionError(f"unknown security group rule fields: {', '.join(unknown)}")
    rule = dict(RULE_DEFAULTS, **fields)
    if rule["remote_ip_prefix"] in ANY_PREFIX:
        rule["remote_ip_prefix"] = None
    return rule


def _security_group(conn, name):
    """The security group ``name`` of the connection's current project."""
    project_id = _call("the current project", getattr, conn, "current_project_id")
    return _require(
        f"security group {name} of project {project_id}",
        _call(
            f"security group {name}", conn.network.find_security_group, name, project_id=project_id, ignore_missing=True
        ),
    )


def security_group_rule_get(security_group="default", cloud=None, **rule):
    """
    The rule of ``security_group`` (in the current project) with the fields
    ``rule`` (protocol, port_range_min, port_range_max, remote_ip_prefix,
    direction, ethertype; defaults as RULE_DEFAULTS), and no remote group:
    id, security_group and those fields. None when there is none.

    .. code-block:: bash

        salt controller openstack.security_group_rule_get protocol=tcp port_range_min=22 port_range_max=22
    """
    conn = _conn(cloud)
    wanted = _rule(rule)
    group = _security_group(conn, security_group)
    for found in _call(
        f"rules of security group {security_group}", conn.network.security_group_rules, security_group_id=group.id
    ):
        fields = _rule(
            {
                "protocol": found.protocol,
                "port_range_min": found.port_range_min,
                "port_range_max": found.port_range_max,
                "remote_ip_prefix": found.remote_ip_prefix,
                "direction": found.direction,
                "ethertype": found.ether_type,
            }
        )
        if fields == wanted and found.remote_group_id is None:
            return dict(id=found.id, security_group=security_group, **fields)
    return None


def security_group_rule_create(security_group="default", cloud=None, **rule):
    """
    Add the rule with the fields ``rule`` (as security_group_rule_get takes
    them) to ``security_group`` of the current project.

    .. code-block:: bash

        salt controller openstack.security_group_rule_create protocol=icmp
    """
    conn = _conn(cloud)
    wanted = _rule(rule)
    group = _security_group(conn, security_group)
    attrs = {("ether_type" if key == "ethertype" else key): value for key, value in wanted.items() if value is not None}
    found = _call(
        f"adding a rule to security group {security_group}",
        conn.network.create_security_group_rule,
        security_group_id=group.id,
        **attrs,
    )
    return dict(id=found.id, security_group=security_group, **wanted)


# Nova keypairs (of the connection's user)


def _find_keypair(conn, name):
    return _call(f"keypair {name}", conn.compute.find_keypair, name, ignore_missing=True)


def keypair_get(name, cloud=None):
    """
    The keypair ``name``: id, name, public_key.

    .. code-block:: bash

        salt controller openstack.keypair_get demo-key
    """
    return _plain(_find_keypair(_conn(cloud), name), "name", "public_key")


def keypair_create(name, public_key, cloud=None):
    """
    .. code-block:: bash

        salt controller openstack.keypair_create demo-key "$(cat ~/.ssh/id_ed25519.pub)"
    """
    keypair = _call(f"creating keypair {name}", _conn(cloud).compute.create_keypair, name=name, public_key=public_key)
    return _plain(keypair, "name", "public_key")


def keypair_delete(name, cloud=None):
    """
    .. code-block:: bash

        salt controller openstack.keypair_delete demo-key
    """
    conn = _conn(cloud)
    keypair = _require(f"keypair {name}", _find_keypair(conn, name))
    _call(f"deleting keypair {name}", conn.compute.delete_keypair, keypair)
    return True


# Glance images

IMAGE_FIELDS = ("name", "status", "checksum", "disk_format", "container_format", "visibility")


def _find_image(conn, name):
    return _call(f"image {name}", conn.image.find_image, name, ignore_missing=True)


def image_get(name, cloud=None):
    """
    The image ``name``: id, name, status, checksum (md5 hex of its data),
    disk_format, container_format, visibility.

    .. code-block:: bash

        salt controller openstack.image_get cirros
    """
    return _plain(_find_image(_conn(cloud), name), *IMAGE_FIELDS)


def image_create(
    name, filename, disk_format="raw", container_format="bare", visibility="public", timeout=600, cloud=None
):
    """
    Upload the local file ``filename`` as the image ``name`` and wait (up
    to ``timeout`` seconds) until it is active.

    .. code-block:: bash

        salt controller openstack.image_create cirros /var/cache/saltlab/cirros.img disk_format=qcow2
    """
    conn = _conn(cloud)
    image = _call(
        f"uploading {filename} as image {name}",
        conn.image.create_image,
        name,
        filename=filename,
        disk_format=disk_format,
        container_format=container_format,
        visibility=visibility,
        wait=True,
        timeout=timeout,
    )
    image = _call(
        f"waiting for image {name} to be active",
        conn.image.wait_for_status,
        image,
        "active",
        failures=["killed", "deleted"],
        wait=timeout,
    )
    return _plain(image, *IMAGE_FIELDS)


# Nova servers


def _find_server(conn, name):
    return _call(f"server {name}", conn.compute.find_server, name, ignore_missing=True)


def _fault(server):
    """Nova's message on why the server failed."""
    return (server.fault or {}).get("message") or "Nova recorded no fault"


def _server(server):
    """A server as a dict; host is None unless the caller is admin."""
    if server is None:
        return None
    return dict(
        _plain(server, "name", "status", "addresses"),
        host=server.compute_host,
        fault=_fault(server) if server.status == "ERROR" else None,
    )


def _wait_active(conn, server, name, timeout):
    """The server once ACTIVE; ERROR fails with Nova's fault."""
    sdk = _sdk()
    try:
        return conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], wait=timeout)
    except sdk.exceptions.ResourceFailure:
        server = _call(f"server {name}", conn.compute.get_server, server)
        raise CommandExecutionError(f"server {name} is in ERROR: {_fault(server)}") from None
    except sdk.exceptions.SDKException as exc:
        raise CommandExecutionError(f"waiting for server {name} to be ACTIVE: {exc}") from exc


def server_get(name, cloud=None):
    """
    The server ``name``: id, name, status, addresses, host (its compute
    node, for admins only, else None) and fault (Nova's message when it is
    in ERROR, else None).

    .. code-block:: bash

        salt controller openstack.server_get demo1
    """
    return _server(_find_server(_conn(cloud), name))


def _find_server_group(conn, name):
    return _call(f"server group {name}", conn.compute.find_server_group, name, ignore_missing=True)


def _server_group(group):
    """A server group as a dict; Nova's API before 2.64 lists its policy in ``policies``."""
    if group is None:
        return None
    return dict(_plain(group, "name"), policy=group.policy or (group.policies or [None])[0])


def server_group_get(name, cloud=None):
    """
    The server group ``name`` (of the cloud's project): id, name, policy.

    .. code-block:: bash

        salt controller openstack.server_group_get demo-spread
    """
    return _server_group(_find_server_group(_conn(cloud), name))


def server_group_create(name, policy, cloud=None):
    """
    A server group whose members Nova's scheduler places by ``policy``
    (affinity, anti-affinity, soft-affinity, soft-anti-affinity).

    .. code-block:: bash

        salt controller openstack.server_group_create demo-spread anti-affinity
    """
    return _server_group(
        _call(f"creating server group {name}", _conn(cloud).compute.create_server_group, name=name, policy=policy)
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
    timeout=600,
    cloud=None,
):
    """
    Boot the server ``name`` from ``image`` with ``flavor`` on ``network``
    (all names), in ``server_group`` when given (a name: the scheduler
    places it by the group's policy), and wait up to ``timeout`` seconds
    until it is ACTIVE.

    .. code-block:: bash

        salt controller openstack.server_create demo1 cirros m1.nano demo-net key_name=demo-key
    """
    conn = _conn(cloud)
    fields = {
        "name": name,
        "image_id": _require(f"image {image}", _find_image(conn, image)).id,
        "flavor_id": _require(f"flavor {flavor}", _find_flavor(conn, flavor)).id,
        "networks": [{"uuid": _require(f"network {network}", _find_network(conn, network)).id}],
    }
    if key_name is not None:
        fields["key_name"] = key_name
    if availability_zone is not None:
        fields["availability_zone"] = availability_zone
    if security_groups is not None:
        fields["security_groups"] = [{"name": group} for group in security_groups]
    if server_group is not None:
        group = _require(f"server group {server_group}", _find_server_group(conn, server_group))
        fields["scheduler_hints"] = {"group": group.id}
    server = _call(f"creating server {name}", conn.compute.create_server, **fields)
    return _server(_wait_active(conn, server, name, timeout))


def server_start(name, timeout=600, cloud=None):
    """
    Start the (SHUTOFF) server and wait up to ``timeout`` seconds until it
    is ACTIVE.

    .. code-block:: bash

        salt controller openstack.server_start demo1
    """
    conn = _conn(cloud)
    server = _require(f"server {name}", _find_server(conn, name))
    _call(f"starting server {name}", conn.compute.start_server, server)
    return _server(_wait_active(conn, server, name, timeout))


def server_delete(name, timeout=600, cloud=None):
    """
    Delete the server and wait up to ``timeout`` seconds until it is gone.

    .. code-block:: bash

        salt controller openstack.server_delete demo1
    """
    conn = _conn(cloud)
    server = _require(f"server {name}", _find_server(conn, name))
    _call(f"deleting server {name}", conn.compute.delete_server, server)
    _call(f"waiting for server {name} to be deleted", conn.compute.wait_for_delete, server, wait=timeout)
    return True


# Neutron floating IPs


def _server_ports(conn, server):
    server_ = _require(f"server {server}", _find_server(conn, server))
    return list(_call(f"ports of server {server}", conn.network.ports, device_id=server_.id))


def floating_ip_of(server, cloud=None):
    """
    The floating IP address on a port of the server ``server``, or None.

    .. code-block:: bash

        salt controller openstack.floating_ip_of demo1
    """
    conn = _conn(cloud)
    for port in _server_ports(conn, server):
        for found in _call(f"floating IPs of server {server}", conn.network.ips, port_id=port.id):
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
    network_ = _require(f"network {network}", _find_network(conn, network))
    found = _call(
        f"allocating a floating IP from {network} for server {server}",
        conn.network.create_ip,
        floating_network_id=network_.id,
        port_id=ports[0].id,
    )
    return found.floating_ip_address
