"""
The table of OpenStack resource kinds that the ``openstack`` execution
module (``_modules/openstack.py``) and state module (``_states/openstack.py``)
are generated from: for each kind, the openstacksdk proxy and method names,
how a resource is looked up (its key and scope), the fields compared and
returned, the references resolved by name, and what cannot be changed.

Plain data: no Salt dunders, no openstacksdk import. Both modules load this
file by path (their ``_load``), from the repository's ``_utils/`` or the
minion's extension modules' ``utils/`` (where Salt syncs ``_utils``), so
that one table serves both; Salt's loader also loads it as a utils module,
which is harmless.

A field is ``F(attr, default, ...)``: ``attr`` the SDK attribute (None: the
same name), ``default`` its value when the caller gives none (REQUIRED: the
caller must; None: not managed unless given), ``ref`` the kind whose name
the caller gives instead of an id (read back as a name), ``fixed`` when the
service cannot change it, ``hidden`` when it is never read back nor shown
(passwords), ``create`` when it only matters on creation (an image to boot
a volume from), ``readonly`` when it is only read back (a status).
"""

import dataclasses
import inspect
import ipaddress

REQUIRED = object()


@dataclasses.dataclass(frozen=True)
class F:
    attr: str = None
    default: object = None
    ref: str = None
    fixed: bool = False
    hidden: bool = False
    create: bool = False
    readonly: bool = False


@dataclasses.dataclass(frozen=True)
class Kind:
    """
    One resource kind. ``sdk`` names the proxy methods (``find_<sdk>`` is
    not used: lookups list ``<listing>`` with ``query`` on the server side
    and compare ``key`` and ``scope`` fields here). ``parent`` is the scope
    field whose resource the SDK methods take first (a pool's members).
    ``status`` is (attribute, awaited value, failure values) after a
    create; ``wait_gone`` when a delete is awaited. ``replace``: a change to
    a fixed field deletes and makes it again (else the state refuses).
    """

    name: str
    proxy: str
    sdk: str
    fields: dict
    key: dict = dataclasses.field(default_factory=lambda: {"name": F("name")})
    scope: dict = dataclasses.field(default_factory=dict)
    listing: str = None
    query: tuple = ("name",)
    list_args: dict = dataclasses.field(default_factory=dict)
    parent: str = None
    project_scoped: bool = False
    status: tuple = None
    wait_gone: bool = False
    delete_args: dict = dataclasses.field(default_factory=dict)
    replace: bool = False
    state: bool = True
    doc: str = ""
    example: str = ""

    @property
    def label(self):
        return self.name.replace("_", " ")

    @property
    def methods(self):
        """(list, create, update, delete, get) method names of the proxy."""
        sdk = self.sdk
        return (self.listing or f"{sdk}s", f"create_{sdk}", f"update_{sdk}", f"delete_{sdk}", f"get_{sdk}")

    @property
    def wait_param(self):
        """The name of the argument that bounds a wait (a health monitor has a field ``timeout``)."""
        return "wait_timeout" if "timeout" in self.fields else "timeout"

    def arguments(self):
        """
        The arguments of each function made of this kind, in order:
        {verb: [(name, default or REQUIRED)]}; ``create`` is also the
        ``<kind>_present`` state's, ``delete`` its ``<kind>_absent``'s.
        """
        key, cloud = [(field, REQUIRED) for field in self.key], [("cloud", None)]
        scope = [(f, REQUIRED) for f, s in self.scope.items() if s.default is REQUIRED]
        scope_optional = [(f, s.default) for f, s in self.scope.items() if s.default is not REQUIRED]
        # making one needs a place: a scope without a default (a subnet's network) is required then
        where = [(f, REQUIRED) for f, s in self.scope.items() if s.default in (REQUIRED, None)]
        where_optional = [(f, s.default) for f, s in self.scope.items() if s.default not in (REQUIRED, None)]
        writable = [field for field, spec in self.fields.items() if not spec.readonly]
        required = [(f, REQUIRED) for f in writable if self.fields[f].default is REQUIRED]
        optional = [(f, self.fields[f].default) for f in writable if self.fields[f].default is not REQUIRED]
        wait = [(self.wait_param, 600)]
        return {
            "get": key + scope + scope_optional + cloud,
            "list": scope + scope_optional + cloud,
            "find": scope + scope_optional + cloud,
            "create": key + where + required + optional + where_optional + wait * bool(self.status) + cloud,
            "update": key + scope + [(field, None) for field in writable] + scope_optional + cloud,
            "delete": key + scope + scope_optional + wait * self.wait_gone + cloud,
        }

    @property
    def lookup(self):
        """The caller's key and scope fields, in the order of the functions' arguments."""
        return dict(self.key, **self.scope)

    def attr(self, field):
        spec = self.lookup.get(field) or self.fields[field]
        return spec.attr or field


def _cidr(value):
    return str(ipaddress.ip_network(value, strict=False)) if value else value


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _sorted(value):
    return sorted(value) if isinstance(value, list) else value


# How a field's value is compared: both sides go through it.
NORMALISE = {"cidr": _cidr, "public_key": _strip, "tags": _sorted, "dns_nameservers": _sorted}

# what Cinder's and Octavia's kinds share: a status awaited after a create, a delete awaited
CINDER = {"list_args": {"details": True}, "status": ("status", "available", ("error",)), "wait_gone": True}
OCTAVIA = {"status": ("provisioning_status", "ACTIVE", ("ERROR",)), "wait_gone": True}
STATUS = {"status": F(readonly=True)}
PROVISIONING = {"provisioning_status": F(readonly=True)}
DOMAIN = {"domain": F("domain_id", default="default", ref="domain")}
LB = {"load_balancer": F("loadbalancer_id", default=REQUIRED, ref="load_balancer")}

KINDS = {
    kind.name: kind
    for kind in (
        # Keystone
        Kind(
            "domain",
            "identity",
            "domain",
            {"description": F(default=""), "is_enabled": F(default=True)},
            query=(),
            state=False,
            doc="A Keystone domain (by name or id: ``default``)",
            example="Default",
        ),
        Kind(
            "project",
            "identity",
            "project",
            {"description": F(default=""), "is_enabled": F(default=True)},
            scope=DOMAIN,
            query=("name", "domain_id"),
            doc="A Keystone project of ``domain``",
            example="demo",
        ),
        Kind(
            "user",
            "identity",
            "user",
            {
                "password": F(default=REQUIRED, hidden=True),
                "default_project": F("default_project_id", ref="project"),
                "email": F(),
                "is_enabled": F(default=True),
            },
            scope=DOMAIN,
            query=("name", "domain_id"),
            state=False,
            doc="A Keystone user of ``domain``, its default project by name",
            example="glance",
        ),
        Kind(
            "service",
            "identity",
            "service",
            {"type": F(default=REQUIRED), "description": F(default=""), "is_enabled": F(default=True)},
            doc="A catalog service (Keystone does not keep their names unique: two are an error)",
            example="glance",
        ),
        Kind(
            "endpoint",
            "identity",
            "endpoint",
            {"url": F(default=REQUIRED), "is_enabled": F(default=True)},
            key={"service": F("service_id", ref="service"), "interface": F()},
            scope={"region": F("region_id", default="RegionOne")},
            query=("service_id", "interface", "region_id"),
            state=False,
            doc="The ``interface`` endpoint of a catalog service in ``region``",
            example="glance public",
        ),
        Kind("role", "identity", "role", {}, state=False, doc="A Keystone role", example="member"),
        # Nova
        Kind(
            "flavor",
            "compute",
            "flavor",
            {
                "vcpus": F(default=REQUIRED, fixed=True),
                "ram": F(default=REQUIRED, fixed=True),
                "disk": F(default=0, fixed=True),
                "is_public": F(default=True, fixed=True),
                "extra_specs": F(),
            },
            query=(),
            replace=True,
            doc="A Nova flavor (ram in MiB, disk in GiB; Nova cannot change its sizes: a new flavor replaces it)",
            example="m1.nano",
        ),
        Kind(
            "keypair",
            "compute",
            "keypair",
            {"public_key": F(default=REQUIRED, fixed=True)},
            query=(),
            replace=True,
            doc="A Nova keypair of the cloud's user",
            example="demo-key",
        ),
        Kind(
            "server_group",
            "compute",
            "server_group",
            {"policy": F(default="anti-affinity", fixed=True)},
            query=(),
            doc="A Nova server group (its policy cannot change)",
            example="demo-spread",
        ),
        Kind(
            "server",
            "compute",
            "server",
            {
                "status": F(readonly=True),
                "addresses": F(readonly=True),
                "host": F("compute_host", readonly=True),
                "fault": F(readonly=True),
            },
            list_args={"details": True},
            status=("status", "ACTIVE", ("ERROR",)),
            wait_gone=True,
            state=False,
            doc="A Nova server (host: its compute node, for admins only; fault: Nova's message when in ERROR)",
            example="demo1",
        ),
        # Glance
        Kind(
            "image",
            "image",
            "image",
            {
                "status": F(readonly=True),
                "checksum": F(readonly=True),
                "disk_format": F(default="raw", fixed=True),
                "container_format": F(default="bare", fixed=True),
                "visibility": F(default="public"),
                "tags": F(),
                "properties": F(),
            },
            state=False,
            doc="A Glance image (checksum: the md5 of its data; properties: Glance's own and the caller's)",
            example="cirros",
        ),
        # Neutron
        Kind(
            "network",
            "network",
            "network",
            {
                "provider_network_type": F(fixed=True),
                "provider_physical_network": F(fixed=True),
                "is_router_external": F(default=False),
                "is_shared": F(default=False),
                "mtu": F(),
            },
            doc="A Neutron network (its provider type and physical network cannot change)",
            example="demo-net",
        ),
        Kind(
            "subnet",
            "network",
            "subnet",
            {
                "cidr": F(default=REQUIRED, fixed=True),
                "gateway_ip": F(),
                "enable_dhcp": F("is_dhcp_enabled", default=True),
                "dns_nameservers": F(),
                "allocation_pools": F(),
            },
            scope={"network": F("network_id", ref="network")},
            query=("name", "network_id"),
            doc="A Neutron subnet, of ``network`` when given (its cidr cannot change)",
            example="demo-subnet network=demo-net",
        ),
        Kind(
            "router",
            "network",
            "router",
            {"external_network": F(ref="network"), "interfaces": F(readonly=True)},
            state=False,
            doc="A Neutron router: its gateway's network and the subnets it is attached to, by name",
            example="demo-router",
        ),
        Kind(
            "port",
            "network",
            "port",
            {
                "fixed_ips": F(),
                "description": F(),
                "mac_address": F(fixed=True),
                "device_owner": F(),
                "binding_host": F("binding_host_id"),
                "port_security": F("is_port_security_enabled"),
            },
            scope={"network": F("network_id", default=REQUIRED, ref="network")},
            query=("name", "network_id"),
            doc="A Neutron port of ``network``, its fixed IPs as [{subnet: NAME, ip_address: IP}]"
            " (binding_host: the host whose agent wires it; port_security: false, no security groups)",
            example="controller-mgmt network=mgmt",
        ),
        Kind(
            "security_group",
            "network",
            "security_group",
            {"description": F(default="")},
            query=("name", "project_id"),
            project_scoped=True,
            doc="A Neutron security group of the cloud's project",
            example="web",
        ),
        # Cinder
        Kind(
            "volume_type",
            "block_storage",
            "type",
            {"description": F(default=""), "is_public": F(default=True, fixed=True), "extra_specs": F(fixed=True)},
            listing="types",
            query=(),
            doc="A Cinder volume type",
            example="lvm",
        ),
        Kind(
            "volume",
            "block_storage",
            "volume",
            {
                "size": F(default=REQUIRED, fixed=True),
                "volume_type": F(fixed=True),
                "image": F("image_id", ref="image", create=True),
                "bootable": F("is_bootable"),
                "description": F(),
                **STATUS,
            },
            **CINDER,
            doc="A Cinder volume (size in GiB), made from ``image`` when given",
            example="data1",
        ),
        Kind(
            "volume_snapshot",
            "block_storage",
            "snapshot",
            {
                "volume": F("volume_id", default=REQUIRED, ref="volume", fixed=True),
                "description": F(),
                **STATUS,
            },
            **CINDER,
            doc="A Cinder snapshot of ``volume``",
            example="data1-snap",
        ),
        # Octavia
        Kind(
            "load_balancer",
            "load_balancer",
            "load_balancer",
            {
                "vip_network": F("vip_network_id", ref="network", fixed=True),
                "vip_subnet": F("vip_subnet_id", ref="subnet", fixed=True),
                "vip_address": F(fixed=True),
                "description": F(),
                **PROVISIONING,
            },
            **OCTAVIA,
            delete_args={"cascade": True},
            doc="An Octavia load balancer, its VIP on ``vip_network`` or ``vip_subnet``",
            example="web-lb",
        ),
        Kind(
            "listener",
            "load_balancer",
            "listener",
            {
                "protocol": F(default="HTTP", fixed=True),
                "protocol_port": F(default=80, fixed=True),
                "description": F(),
                **PROVISIONING,
            },
            scope={"load_balancer": F("load_balancer_id", default=REQUIRED, ref="load_balancer")},
            **OCTAVIA,
            doc="A listener of an Octavia load balancer",
            example="web-http load_balancer=web-lb",
        ),
        Kind(
            "pool",
            "load_balancer",
            "pool",
            {
                "protocol": F(default="HTTP", fixed=True),
                "lb_algorithm": F(default="ROUND_ROBIN"),
                "listener": F("listener_id", ref="listener", fixed=True),
                "description": F(),
                **PROVISIONING,
            },
            scope=LB,
            **OCTAVIA,
            doc="A pool of an Octavia load balancer, the default pool of ``listener`` when given",
            example="web-pool load_balancer=web-lb",
        ),
        Kind(
            "member",
            "load_balancer",
            "member",
            {
                "address": F(default=REQUIRED, fixed=True),
                "protocol_port": F(default=REQUIRED, fixed=True),
                "subnet": F("subnet_id", ref="subnet", fixed=True),
                "weight": F(),
                **PROVISIONING,
            },
            scope={"pool": F("pool_id", default=REQUIRED, ref="pool")},
            query=("name",),
            parent="pool",
            **OCTAVIA,
            doc="A member of an Octavia pool",
            example="web1 pool=web-pool",
        ),
        Kind(
            "health_monitor",
            "load_balancer",
            "health_monitor",
            {
                "pool": F("pool_id", default=REQUIRED, ref="pool", fixed=True),
                "type": F(default="HTTP", fixed=True),
                "delay": F(default=5),
                "timeout": F(default=5),
                "max_retries": F(default=3),
                "url_path": F(),
                **PROVISIONING,
            },
            **OCTAVIA,
            doc="A health monitor of an Octavia pool",
            example="web-check",
        ),
    )
}


def docstring(kind, verb):
    """The docstring of the execution module's ``<kind>_<verb>``, with its CLI example."""
    shown = ", ".join(field for field, spec in dict(kind.key, **kind.fields).items() if not spec.hidden)
    waits = f" and wait until its {kind.status[0]} is {kind.status[1]}" if kind.status else ""
    text = {
        "get": f"{kind.doc}: a dict of its id, {shown}; None when there is none.",
        "list": f"Every {kind.label} (of the scope given), as ``{kind.name}_get`` returns them.",
        "find": f"The one {kind.label} whose fields match the filters (a list holding the value matches); "
        "None when there is none, an error when several do.",
        "create": f"Make the {kind.label} (references by name){waits}; it as ``{kind.name}_get`` returns it.",
        "update": f"Set the fields given on the {kind.label} (references by name).",
        "delete": f"Delete the {kind.label}" + (" and wait until it is gone." if kind.wait_gone else "."),
    }[verb]
    example = {"list": "", "find": "name=" + kind.example.split()[0]}.get(verb, kind.example)
    if verb == "create":
        example += "".join(f" {f}=..." for f, s in kind.fields.items() if s.default is REQUIRED and not s.hidden)
    return f"{text}\n\n.. code-block:: bash\n\n    salt controller openstack.{kind.name}_{verb} {example}\n"


def signature(params, var_keyword=None):
    """An inspect.Signature of (name, default or REQUIRED) pairs, and ``**var_keyword``."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [
        inspect.Parameter(n, kind, default=inspect.Parameter.empty if d is REQUIRED else d) for n, d in params
    ]
    if var_keyword:
        parameters.append(inspect.Parameter(var_keyword, inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(parameters)


def normalise(field, value):
    """``value`` of ``field`` as compared (a cidr in its canonical form, a key without its newline...)."""
    return NORMALISE.get(field, lambda value: value)(value)
