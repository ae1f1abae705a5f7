"""
The machinery of the ``openstack`` execution module (``_modules/openstack.py``),
which loads this file by path: lookups, reads, creates, updates and deletes
of the resource kinds of ``openstack_kinds.py`` through openstacksdk, on a
connection the module gives. Every SDK call goes through ``call``, which
reads listings (the SDK's lazy generators) to their end inside it, so that
a failure on any page becomes CommandExecutionError("<what>: <message>").

No Salt dunders here (Salt's loader also loads this file as a utils
module, which is harmless).
"""

import collections.abc
import importlib
import importlib.util
import ipaddress
import os
import sys
import time

from salt.exceptions import CommandExecutionError

# Seconds between two looks at something being made or deleted.
POLL_INTERVAL = 2


def _load_kinds():
    """openstack_kinds.py, beside this file."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openstack_kinds.py")
    spec = importlib.util.spec_from_file_location(f"{__name__}_kinds", path)
    sys.modules[spec.name] = kinds = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kinds)
    return kinds


kinds = _load_kinds()
KINDS, REQUIRED = kinds.KINDS, kinds.REQUIRED


def sdk():
    """openstacksdk, imported on first use (this module's file is named like it: import by name)."""
    try:
        return importlib.import_module("openstack")
    except ImportError as exc:
        raise CommandExecutionError(f"openstacksdk is not installed (Debian: python3-openstacksdk): {exc}") from exc


def errors():
    """What an SDK call raises: its own exceptions and keystoneauth's (a refused connection)."""
    return (sdk().exceptions.SDKException, importlib.import_module("keystoneauth1.exceptions").ClientException)


def call(what, func, *args, **kwargs):
    """
    func(*args, **kwargs), a listing (the SDK's lazy generators) read to its
    end here: any SDK failure, on any page, becomes one clear message.
    """
    try:
        result = func(*args, **kwargs)
        if isinstance(result, collections.abc.Iterator):
            result = list(result)
        return result
    except errors() as exc:
        raise CommandExecutionError(f"{what}: {exc}") from exc


class Guarded:
    """
    A connection whose services (``conn.compute``, ``conn.network``...) are
    reached through ``call``: making a service's proxy authenticates and
    finds its endpoint, which fails like any call (Keystone or the API not
    answering yet) with one clear message, never a traceback; ``forget()``
    then drops the connection, so that the next call makes a new one.
    """

    def __init__(self, conn, cloud, forget=None):
        self._conn = conn
        self._cloud = cloud
        self._forget = forget

    def __getattr__(self, name):
        try:
            return call(f"the {name.replace('_', ' ')} API of cloud {self._cloud}", getattr, self._conn, name)
        except CommandExecutionError:
            # the token keeps the catalog it was issued with: a service
            # registered since (a first highstate of every node at once) is
            # found only by a new connection
            self.forget()
            raise

    def forget(self):
        """Drop this connection: the next call makes a new one (a new token)."""
        if self._forget:
            self._forget()


def _what(kind, values):
    """How messages name it: ``subnet demo-subnet of network demo-net``."""
    text = " ".join([kind.label] + [str(values.get(field)) for field in kind.key])
    for field, spec in kind.scope.items():
        if values.get(field) not in (None, spec.default):
            text += f" of {field.replace('_', ' ')} {values[field]}"
    return text


def _method(conn, kind, index):
    """The proxy method: 0 list, 1 create, 2 update, 3 delete, 4 get."""
    return getattr(getattr(conn, kind.proxy), kind.methods[index])


def _parent(kind, attrs):
    """The positional argument of a kind whose methods take the resource it lives in (a member's pool)."""
    return (attrs[kind.attr(kind.parent)],) if kind.parent else ()


def ref(conn, spec, value, values, need=True):
    """The id of the ``spec.ref`` resource named ``value``, scoped like the caller's ``values``."""
    target = KINDS[spec.ref]
    target_values = {field: values[field] for field in target.scope if values.get(field) is not None}
    target_values[next(iter(target.key))] = value
    found = lookup(conn, target, target_values, need=False)
    if found is None and need:
        raise CommandExecutionError(f"{_what(target, target_values)} does not exist")
    return found.id if found is not None else None


def where(conn, kind, values, need):
    """The SDK attributes of the key and scope ``values`` (names resolved); None when a reference is missing."""
    attrs = {}
    for field, spec in kind.lookup.items():
        value = values.get(field)
        if value is None or value is REQUIRED:
            continue
        if spec.ref:
            value = ref(conn, spec, value, values, need)
            if value is None:
                return None
        attrs[spec.attr or field] = value
    if kind.project_scoped:
        attrs["project_id"] = call("the cloud's project", getattr, conn, "current_project_id")
    return attrs


def _listing(conn, kind, attrs, what):
    """The resources of ``kind`` whose attributes are ``attrs`` (filtered by the API where it can)."""
    query = {attr: value for attr, value in attrs.items() if attr in kind.query}
    found = call(what, _method(conn, kind, 0), *_parent(kind, attrs), **kind.list_args, **query)
    return [resource for resource in found if all(_is(resource, a, v) for a, v in attrs.items())]


def _is(resource, attr, value):
    """The resource's attribute is ``value``; a name may be given as the id."""
    return attribute(resource, attr) == value or (attr == "name" and resource.id == value)


def attribute(resource, attr):
    """
    The SDK resource's attribute; Octavia answers a listener's load balancer
    as ``loadbalancers: [{id}]``, not the ``loadbalancer_id`` it takes: the
    first of those then.
    """
    value = getattr(resource, attr, None)
    if value is None and attr.endswith("_id"):
        linked = getattr(resource, attr[:-3] + "s", None)
        if isinstance(linked, list) and linked and isinstance(linked[0], dict):
            return linked[0].get("id")
    return value


def lookup(conn, kind, values, need=False):
    """
    The SDK resource of ``kind`` whose key and scope fields are ``values``;
    None when there is none or a resource it is in does not exist (an
    error with ``need``); an error when several match.
    """
    what = _what(kind, values)
    attrs = where(conn, kind, values, need)
    found = [] if attrs is None else _listing(conn, kind, attrs, what)
    if len(found) > 1:
        raise CommandExecutionError(f"{len(found)} resources are {what}: name one of them by its id, or delete one")
    if not found and need:
        raise CommandExecutionError(f"{what} does not exist")
    return found[0] if found else None


def name_of(conn, kind, resource_id):
    """The name of a referenced resource (its id if it is gone)."""
    try:
        return _method(conn, kind, 4)(resource_id).name
    except sdk().exceptions.NotFoundException:
        return resource_id
    except errors() as exc:
        raise CommandExecutionError(f"{kind.label} {resource_id}: {exc}") from exc


def read(conn, kind, resource):
    """A resource as a dict: id, key and fields (references by name, hidden fields left out)."""
    if resource is None:
        return None
    ret = {"id": resource.id}
    for field, spec in dict(kind.key, **kind.fields).items():
        if spec.hidden:
            continue
        if (kind.name, field) in READ:
            ret[field] = READ[kind.name, field](conn, resource)
            continue
        value = attribute(resource, spec.attr or field)
        ret[field] = name_of(conn, KINDS[spec.ref], value) if spec.ref and value else value
    return ret


def _attrs(conn, kind, fields, values):
    """The SDK attributes of the caller's ``fields`` (references resolved, WRITE hooks applied)."""
    attrs = {}
    for field, value in fields.items():
        spec = kind.fields[field]
        if (kind.name, field) in WRITE:
            attrs.update(WRITE[kind.name, field](conn, value, values))
        elif spec.ref and value is not None:
            attrs[spec.attr or field] = ref(conn, spec, value, values)
        else:
            attrs[spec.attr or field] = value
    return attrs


def await_status(conn, kind, resource, what, timeout, attrs, status=None):
    """
    The resource once its status (``status`` or the kind's: attribute,
    awaited value, failure values) is the awaited one; a failure status or
    the timeout is an error that names the status seen.
    """
    attr, target, failures = status or kind.status
    deadline = time.monotonic() + timeout
    # what a create answers may lack the status (Nova's): then look at once
    looked = getattr(resource, attr) is not None
    while (seen := getattr(resource, attr)) != target:
        if seen in failures:
            why = f": {FAULT[kind.name](resource)}" if kind.name in FAULT else f", not {target}"
            raise CommandExecutionError(f"{what} is in {seen}{why}")
        if looked and time.monotonic() >= deadline:
            raise CommandExecutionError(f"{what} is still {seen} after {timeout} s, not {target}")
        if looked:
            time.sleep(POLL_INTERVAL)
        looked = True
        resource = call(f"waiting for {what} to be {target}", _method(conn, kind, 4), resource, *_parent(kind, attrs))
    return resource


def _await_gone(conn, kind, resource, what, timeout, attrs):
    """Until the resource is gone; the timeout is an error naming its status."""
    deadline = time.monotonic() + timeout
    not_found = sdk().exceptions.NotFoundException
    while True:
        try:
            resource = _method(conn, kind, 4)(resource, *_parent(kind, attrs))
        except not_found:
            return
        except errors() as exc:
            raise CommandExecutionError(f"waiting for {what} to be deleted: {exc}") from exc
        if time.monotonic() >= deadline:
            status = getattr(resource, (kind.status or ("status",))[0], None)
            raise CommandExecutionError(f"{what} is still there ({status}) after {timeout} s")
        time.sleep(POLL_INTERVAL)


# -- what the generated functions of the module do ------------------------


def get(conn, kind, values):
    """The one found by ``values`` (key and scope), read; None when there is none."""
    return read(conn, kind, lookup(conn, kind, values))


def list_(conn, kind, values):
    """Every one of the scope ``values``, read."""
    attrs = where(conn, kind, values, need=True)
    return [read(conn, kind, found) for found in _listing(conn, kind, attrs, f"listing {kind.label}s")]


def _matches(current, wanted):
    """A listed value matches a filter: equal, or a list holding the filter's items (``tags=amphora``)."""
    if isinstance(current, list):
        return all(item in current for item in (wanted if isinstance(wanted, list) else [wanted]))
    if isinstance(current, dict) and isinstance(wanted, dict):
        return all(current.get(key) == value for key, value in wanted.items())
    return current == wanted


def find(conn, kind, values, filters):
    """The one of the scope whose read fields match ``filters``; None, or an error when several do."""
    filters = {key: value for key, value in filters.items() if not key.startswith("__")}
    found = [item for item in list_(conn, kind, values) if all(_matches(item.get(k), v) for k, v in filters.items())]
    if len(found) > 1:
        names = ", ".join(sorted(str(item.get("name", item["id"])) for item in found))
        raise CommandExecutionError(f"{len(found)} {kind.label}s match {filters}: {names}")
    return found[0] if found else None


def create(conn, kind, values, fields, timeout=None):
    """Make it with the ``fields`` given (None: not sent), await its status, set what is set apart; it read."""
    what = _what(kind, values)
    attrs = where(conn, kind, values, need=True)
    after = {field: fields.pop(field) for field in list(fields) if (kind.name, field) in AFTER}
    body = dict(attrs, **_attrs(conn, kind, {k: v for k, v in fields.items() if v is not None}, values))
    parent = _parent(kind, attrs)
    if kind.parent:  # given as the method's first argument, not in the body
        body.pop(kind.attr(kind.parent))
    created = call(f"creating {what}", _method(conn, kind, 1), *parent, **body)
    if kind.status:
        created = await_status(conn, kind, created, what, timeout, attrs)
    for field, value in after.items():
        if value is not None:
            created = AFTER[kind.name, field](conn, created, value, what) or created
    return read(conn, kind, created)


def update(conn, kind, values, fields):
    """Set the ``fields`` given (None too) on the one found by ``values``; it read."""
    what = _what(kind, values)
    found = lookup(conn, kind, values, need=True)
    attrs = where(conn, kind, values, need=True)
    after = {field: fields.pop(field) for field in list(fields) if (kind.name, field) in AFTER}
    body = _attrs(conn, kind, fields, values)
    if body:
        found = call(f"updating {what}", _method(conn, kind, 2), found, *_parent(kind, attrs), **body)
    for field, value in after.items():
        found = AFTER[kind.name, field](conn, found, value, what) or found
    if kind.status and body:
        found = await_status(conn, kind, found, what, 600, attrs)
    return read(conn, kind, found)


def delete(conn, kind, values, timeout=None):
    """Delete the one found by ``values``, and await its going when the kind says so."""
    what = _what(kind, values)
    found = lookup(conn, kind, values, need=True)
    attrs = where(conn, kind, values, need=True)
    if kind.name in BEFORE_DELETE:
        BEFORE_DELETE[kind.name](conn, found, what)
    call(f"deleting {what}", _method(conn, kind, 3), found, *_parent(kind, attrs), **kind.delete_args)
    if kind.wait_gone:
        _await_gone(conn, kind, found, what, timeout, attrs)
    return True


# -- what the table's fields need beyond a plain attribute -------------------

# The device owners of a router's ports on its subnets (legacy, HA, DVR);
# its gateway port and HA network ports are not interfaces.
ROUTER_INTERFACE_OWNERS = (
    "network:router_interface",
    "network:ha_router_replicated_interface",
    "network:router_interface_distributed",
)
SUBNET = kinds.F("subnet_id", ref="subnet")
NETWORK = kinds.F("network_id", ref="network")


def _router_ports(conn, router):
    ports = call(f"ports of router {router.name}", conn.network.ports, device_id=router.id)
    return [port for port in ports if port.device_owner in ROUTER_INTERFACE_OWNERS]


def _detach_all(conn, router, what):
    for port in _router_ports(conn, router):
        call(
            f"detaching {what} from port {port.id}", conn.network.remove_interface_from_router, router, port_id=port.id
        )


def _gateway(conn, network, values):
    """A router's external_gateway_info for the network named ``network`` (None: no gateway)."""
    return {"external_gateway_info": {"network_id": ref(conn, NETWORK, network, values)} if network else None}


def _gateway_network(conn, router):
    network_id = (router.external_gateway_info or {}).get("network_id")
    return name_of(conn, KINDS["network"], network_id) if network_id else None


def _interfaces(conn, router):
    subnet_ids = {ip["subnet_id"] for port in _router_ports(conn, router) for ip in port.fixed_ips}
    return sorted(name_of(conn, KINDS["subnet"], subnet_id) for subnet_id in subnet_ids)


def _fixed_ips(conn, fixed_ips, values):
    """[{subnet: NAME, ip_address: IP}] as Neutron takes them: subnet ids."""
    ips = [{key: value for key, value in ip.items() if key != "subnet"} for ip in fixed_ips or []]
    for ip, given in zip(ips, fixed_ips or [], strict=True):
        if given.get("subnet"):
            ip["subnet_id"] = ref(conn, SUBNET, given["subnet"], {})
    return {"fixed_ips": ips}


def _port_ips(conn, port):
    return [
        {"subnet": name_of(conn, KINDS["subnet"], ip["subnet_id"]), "ip_address": ip["ip_address"]}
        for ip in port.fixed_ips or []
    ]


def _subnet_cidr(conn, cidr, values):
    try:
        version = ipaddress.ip_network(cidr, strict=False).version
    except ValueError as exc:
        raise CommandExecutionError(f"subnet {values['name']}: {exc}") from exc
    return {"cidr": cidr, "ip_version": version}


def _flavor_specs(conn, flavor, specs, what):
    call(f"setting the extra specs of {what}", conn.compute.create_flavor_extra_specs, flavor, specs)
    return call(f"reading {what}", conn.compute.get_flavor, flavor.id)


def _bootable(conn, volume, bootable, what):
    call(f"marking {what} bootable={bootable}", conn.block_storage.set_volume_bootable_status, volume, bootable)
    return call(f"reading {what}", conn.block_storage.get_volume, volume.id)


def fault(server):
    """Nova's message on why the server failed."""
    return (server.fault or {}).get("message") or "Nova recorded no fault"


# What Glance says of every image: not among its properties.
IMAGE_OWN = [
    "id",
    "checksum",
    "container_format",
    "created_at",
    "disk_format",
    "file",
    "is_hidden",
    "is_protected",
    "min_disk",
    "min_ram",
    "name",
    "owner",
    "owner_id",
    "properties",
    "schema",
    "size",
    "status",
    "tags",
    "updated_at",
    "virtual_size",
    "visibility",
    "hash_algo",
    "hash_value",
    "location",
    "locations",
    "direct_url",
    "url",
    "store",
    "stores",
]


def _image_properties(conn, image):
    """The image's properties: the SDK's own attributes of them (os_distro...) and the others."""
    known = image.to_dict(computed=False, ignore_none=True)
    return dict({key: value for key, value in known.items() if key not in IMAGE_OWN}, **(image.properties or {}))


# (kind, field): how it is read from the SDK resource / written to the SDK call
READ = {
    ("router", "external_network"): _gateway_network,
    ("router", "interfaces"): _interfaces,
    ("port", "fixed_ips"): _port_ips,
    ("server_group", "policy"): lambda conn, group: group.policy or (group.policies or [None])[0],
    ("server", "fault"): lambda conn, server: fault(server) if server.status == "ERROR" else None,
    ("image", "properties"): _image_properties,
}
WRITE = {
    ("router", "external_network"): _gateway,
    ("port", "fixed_ips"): _fixed_ips,
    ("subnet", "cidr"): _subnet_cidr,
    ("image", "properties"): lambda conn, properties, values: dict(properties or {}),
}
# (kind, field): set by a call of its own once the resource exists
AFTER = {("flavor", "extra_specs"): _flavor_specs, ("volume", "bootable"): _bootable}
BEFORE_DELETE = {"router": _detach_all}
FAULT = {"server": fault}
