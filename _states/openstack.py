"""
OpenStack resources as states, on the ``openstack`` execution module:
Keystone projects, users, role grants, catalog services and endpoints, Nova
flavors, keypairs and servers, Glance images, Neutron networks, subnets,
routers, security group rules and floating IPs. Every state compares what
exists with what it is given, changes only the difference, reports it in
``changes`` and writes nothing under ``test=True``.

.. code-block:: yaml

    glance-keystone-endpoint-public:
      openstack.endpoint_present:
        - service: glance
        - interface: public
        - url: http://192.168.1.11:9292
        - region: RegionOne

Each state takes ``cloud`` (a name in ``clouds.yaml``), as the execution
module does.
"""

import functools
import hashlib
import ipaddress
import time

from salt.exceptions import CommandExecutionError

__virtualname__ = "openstack"

# Shown in changes instead of a password.
HIDDEN = "********"


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


@_api_errors_fail
def project_present(name, description="", domain="default", cloud=None):
    """The project ``name`` exists, enabled, with ``description``."""
    where = {"domain": domain, "cloud": cloud}
    return _present(
        name,
        f"project {name}",
        __salt__["openstack.project_get"](name, **where),
        {"description": description, "is_enabled": True},
        lambda: __salt__["openstack.project_create"](name, description=description, **where),
        lambda diff: __salt__["openstack.project_update"](name, **diff, **where),
    )


@_api_errors_fail
def project_absent(name, domain="default", cloud=None):
    where = {"domain": domain, "cloud": cloud}
    return _absent(
        name,
        f"project {name}",
        __salt__["openstack.project_get"](name, **where),
        lambda: __salt__["openstack.project_delete"](name, **where),
    )


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
        __salt__["openstack.user_update"](
            name,
            password=password if "password" in diff else None,
            default_project=diff.get("default_project"),
            **where,
        )

    return _present(
        name,
        f"user {name}",
        current,
        wanted,
        lambda: __salt__["openstack.user_create"](name, password, default_project=default_project, **where),
        update,
    )


@_api_errors_fail
def user_absent(name, domain="default", cloud=None):
    where = {"domain": domain, "cloud": cloud}
    return _absent(
        name,
        f"user {name}",
        __salt__["openstack.user_get"](name, **where),
        lambda: __salt__["openstack.user_delete"](name, **where),
    )


@_api_errors_fail
def role_granted(name, user, project, domain="default", cloud=None):
    """``user`` has the role ``name`` on ``project``."""
    args = (name, user, project)
    where = {"domain": domain, "cloud": cloud}
    granted = __salt__["openstack.role_granted"](*args, **where)
    return _present(
        name,
        f"role {name} of {user} on {project}",
        {"granted": True} if granted else None,
        {"granted": True},
        lambda: __salt__["openstack.role_grant"](*args, **where),
        None,
    )


@_api_errors_fail
def role_revoked(name, user, project, domain="default", cloud=None):
    """``user`` does not have the role ``name`` on ``project``."""
    args = (name, user, project)
    where = {"domain": domain, "cloud": cloud}
    granted = __salt__["openstack.role_granted"](*args, **where)
    return _absent(
        name,
        f"role {name} of {user} on {project}",
        {"granted": True} if granted else None,
        lambda: __salt__["openstack.role_revoke"](*args, **where),
    )


@_api_errors_fail
def service_present(name, type, description="", cloud=None):  # pylint: disable=redefined-builtin
    """The catalog has one service ``name`` of ``type``, enabled."""
    return _present(
        name,
        f"service {name}",
        __salt__["openstack.service_get"](name, cloud=cloud),
        {"type": type, "description": description, "is_enabled": True},
        lambda: __salt__["openstack.service_create"](name, type, description=description, cloud=cloud),
        lambda diff: __salt__["openstack.service_update"](name, cloud=cloud, **diff),
    )


@_api_errors_fail
def service_absent(name, cloud=None):
    """No service ``name`` (Keystone deletes its endpoints with it)."""
    return _absent(
        name,
        f"service {name}",
        __salt__["openstack.service_get"](name, cloud=cloud),
        lambda: __salt__["openstack.service_delete"](name, cloud=cloud),
    )


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
        lambda _diff: __salt__["openstack.endpoint_update"](service, interface, url, **where),
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
def compute_ready(name, minimum=1, timeout=300, interval=5, cloud=None):
    """
    At least ``minimum`` compute hosts can take a server: nova-compute up
    and the host's Open vSwitch agent alive (``openstack.compute_hosts``),
    waited for up to ``timeout`` seconds (agents report a little after a
    highstate starts them). ``name`` is only a label; nothing changes.

    .. code-block:: yaml

        demo-compute-ready:
          openstack.compute_ready:
            - minimum: 2
    """

    def ready():
        hosts = __salt__["openstack.compute_hosts"](cloud=cloud)
        return hosts, sorted(host for host, state in hosts.items() if all(state.values()))

    hosts, usable = ready()
    deadline = time.monotonic() + timeout
    while len(usable) < minimum and not __opts__["test"] and time.monotonic() < deadline:
        time.sleep(interval)
        hosts, usable = ready()
    if len(usable) >= minimum:
        return {"name": name, "result": True, "changes": {}, "comment": f"compute hosts ready: {', '.join(usable)}"}
    waiting = (
        ", ".join(
            f"{host} ({', '.join(k for k, ok in state.items() if not ok)} not up)"
            for host, state in sorted(hosts.items())
            if not all(state.values())
        )
        or "no nova-compute"
    )
    if __opts__["test"]:
        return {
            "name": name,
            "result": None,
            "changes": {},
            "comment": f"{len(usable)} of {minimum} compute hosts ready now, would wait for: {waiting}",
        }
    return _fail(name, f"{len(usable)} of {minimum} compute hosts ready after {timeout} s; waiting for: {waiting}")


@_api_errors_fail
def flavor_present(name, vcpus, ram, disk=0, is_public=True, cloud=None):
    """
    The flavor ``name`` has these sizes. Nova cannot change a flavor: a
    different one is deleted and made again (servers keep their sizes).
    """
    wanted = {"vcpus": vcpus, "ram": ram, "disk": disk, "is_public": is_public}

    def create():
        __salt__["openstack.flavor_create"](name, cloud=cloud, **wanted)

    def replace(_diff):
        __salt__["openstack.flavor_delete"](name, cloud=cloud)
        create()

    return _present(
        name, f"flavor {name}", __salt__["openstack.flavor_get"](name, cloud=cloud), wanted, create, replace
    )


@_api_errors_fail
def flavor_absent(name, cloud=None):
    return _absent(
        name,
        f"flavor {name}",
        __salt__["openstack.flavor_get"](name, cloud=cloud),
        lambda: __salt__["openstack.flavor_delete"](name, cloud=cloud),
    )


@_api_errors_fail
def network_present(
    name,
    provider_network_type=None,
    provider_physical_network=None,
    is_router_external=False,
    is_shared=False,
    mtu=None,
    cloud=None,
):
    """
    The network ``name`` exists. Its provider type and physical network are
    fixed when it is made (a network that differs there is an error: it may
    have ports); external, shared and MTU are updated.
    """
    current = __salt__["openstack.network_get"](name, cloud=cloud)
    fixed = {"provider_network_type": provider_network_type, "provider_physical_network": provider_physical_network}
    wanted = {"is_router_external": is_router_external, "is_shared": is_shared}
    if mtu is not None:
        wanted["mtu"] = mtu
    if current is not None:
        differ = {field: value for field, value in fixed.items() if value is not None and current[field] != value}
        if differ:
            return _fail(
                name,
                f"network {name} exists with {', '.join(f'{k}={current[k]}' for k in differ)},"
                " which Neutron cannot change: delete the network to make it again",
            )
    return _present(
        name,
        f"network {name}",
        current,
        dict(fixed, **wanted) if current is None else wanted,
        lambda: __salt__["openstack.network_create"](
            name, cloud=cloud, **{k: v for k, v in dict(fixed, **wanted).items() if v is not None}
        ),
        lambda diff: __salt__["openstack.network_update"](name, cloud=cloud, **diff),
    )


@_api_errors_fail
def network_absent(name, cloud=None):
    return _absent(
        name,
        f"network {name}",
        __salt__["openstack.network_get"](name, cloud=cloud),
        lambda: __salt__["openstack.network_delete"](name, cloud=cloud),
    )


@_api_errors_fail
def subnet_present(
    name, network, cidr, gateway_ip=None, enable_dhcp=True, dns_nameservers=None, allocation_pools=None, cloud=None
):
    """
    The subnet ``name`` of ``network`` has ``cidr``; DHCP, and the gateway,
    DNS servers and allocation pools when given (else Neutron's choice), are
    updated. Neutron cannot change a subnet's cidr: a subnet with another
    one is an error.

    .. code-block:: yaml

        demo-subnet:
          openstack.subnet_present:
            - network: demo-net
            - cidr: 10.0.0.0/24
            - dns_nameservers: [9.9.9.9]
            - allocation_pools:
              - {start: 10.0.0.10, end: 10.0.0.200}
    """
    try:
        wanted_cidr = ipaddress.ip_network(cidr, strict=False)
    except ValueError as exc:
        return _fail(name, f"subnet {name}: {exc}")
    where = {"network": network, "cloud": cloud}
    current = __salt__["openstack.subnet_get"](name, **where)
    if current is not None and ipaddress.ip_network(current["cidr"], strict=False) != wanted_cidr:
        return _fail(
            name,
            f"subnet {name} exists with cidr {current['cidr']}, which Neutron cannot change:"
            " delete the subnet to make it again",
        )
    optional = {"gateway_ip": gateway_ip, "dns_nameservers": dns_nameservers, "allocation_pools": allocation_pools}
    wanted = dict({key: value for key, value in optional.items() if value is not None}, is_dhcp_enabled=enable_dhcp)
    return _present(
        name,
        f"subnet {name}",
        current,
        dict(wanted, cidr=cidr) if current is None else wanted,
        lambda: __salt__["openstack.subnet_create"](name, network, cidr, cloud=cloud, **wanted),
        lambda diff: __salt__["openstack.subnet_update"](name, **where, **diff),
    )


@_api_errors_fail
def subnet_absent(name, network=None, cloud=None):
    where = {"network": network, "cloud": cloud}
    return _absent(
        name,
        f"subnet {name}",
        __salt__["openstack.subnet_get"](name, **where),
        lambda: __salt__["openstack.subnet_delete"](name, **where),
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
def router_absent(name, cloud=None):
    """No router ``name``: it is detached from its subnets, then deleted."""
    return _absent(
        name,
        f"router {name}",
        __salt__["openstack.router_get"](name, cloud=cloud),
        lambda: __salt__["openstack.router_delete"](name, cloud=cloud),
    )


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


@_api_errors_fail
def keypair_present(name, public_key, cloud=None):
    """
    The keypair ``name`` (of the cloud's user) holds ``public_key``. Nova
    cannot change a keypair: one with another key is deleted and made again.

    .. code-block:: yaml

        demo-key:
          openstack.keypair_present:
            - public_key: ssh-ed25519 AAAA... operator
    """
    current = __salt__["openstack.keypair_get"](name, cloud=cloud)
    if current is not None:
        current = dict(current, public_key=current["public_key"].strip())

    def create():
        __salt__["openstack.keypair_create"](name, public_key, cloud=cloud)

    def replace(_diff):
        __salt__["openstack.keypair_delete"](name, cloud=cloud)
        create()

    return _present(
        name, f"keypair {name}", current, {"public_key": public_key.strip()}, create, replace, updated="replaced"
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
def image_present(name, filename, disk_format="raw", container_format="bare", visibility="public", cloud=None):
    """
    The image ``name`` is active and holds the local file ``filename`` (it
    is uploaded once). An image of that name with other data, or one that is
    not active, is an error: images are not deleted silently.

    .. code-block:: yaml

        cirros:
          openstack.image_present:
            - filename: /var/cache/saltlab/cirros-0.6.3-x86_64-disk.img
            - disk_format: qcow2
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
    wanted = {"disk_format": disk_format, "container_format": container_format, "visibility": visibility}
    return _present(
        name,
        f"image {name}",
        current,
        dict(wanted, filename=filename, checksum=checksum) if current is None else {"checksum": checksum},
        lambda: __salt__["openstack.image_create"](name, filename, cloud=cloud, **wanted),
        None,
    )


@_api_errors_fail
def server_group_present(name, policy="anti-affinity", cloud=None):
    """
    The server group ``name`` exists with ``policy``. Nova cannot change a
    group's policy: a group with another one is an error.

    .. code-block:: yaml

        demo-spread:
          openstack.server_group_present:
            - policy: anti-affinity
    """
    current = __salt__["openstack.server_group_get"](name, cloud=cloud)
    if current is not None and current["policy"] != policy:
        return _fail(
            name,
            f"server group {name} exists with policy {current['policy']}, which Nova cannot"
            " change: delete the group (and its servers) to make it again",
        )
    return _present(
        name,
        f"server group {name}",
        current,
        {"policy": policy},
        lambda: __salt__["openstack.server_group_create"](name, policy, cloud=cloud),
        None,
    )


@_api_errors_fail
def server_present(
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
    The server ``name`` exists: it is booted from ``image`` with ``flavor``
    on ``network`` (in ``server_group`` when given) and awaited until
    ACTIVE (up to ``timeout`` seconds). An
    existing ACTIVE or SHUTOFF server is left as it is (a SHUTOFF one is not
    started); one in ERROR fails with Nova's fault.

    .. code-block:: yaml

        demo1:
          openstack.server_present:
            - image: cirros
            - flavor: m1.nano
            - network: demo-net
            - key_name: demo-key
    """
    current = __salt__["openstack.server_get"](name, cloud=cloud)
    if current is not None and current["status"] == "ERROR":
        return _fail(name, f"server {name} is in ERROR: {current['fault']}")
    if current is not None and current["status"] not in ("ACTIVE", "SHUTOFF"):
        return _fail(name, f"server {name} is {current['status']}, neither ACTIVE nor SHUTOFF")
    options = {
        "key_name": key_name,
        "availability_zone": availability_zone,
        "security_groups": security_groups,
        "server_group": server_group,
    }
    wanted = dict(
        {key: value for key, value in options.items() if value is not None}, image=image, flavor=flavor, network=network
    )
    ret = _present(
        name,
        f"server {name}",
        current,
        wanted if current is None else {},
        lambda: __salt__["openstack.server_create"](name, timeout=timeout, cloud=cloud, **wanted),
        None,
    )
    if current is not None and current["status"] == "SHUTOFF":
        ret["comment"] = f"server {name} exists and is SHUTOFF (not started)"
    return ret


@_api_errors_fail
def server_absent(name, cloud=None):
    return _absent(
        name,
        f"server {name}",
        __salt__["openstack.server_get"](name, cloud=cloud),
        lambda: __salt__["openstack.server_delete"](name, cloud=cloud),
    )


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
