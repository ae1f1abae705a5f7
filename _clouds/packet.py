"""
salt-cloud driver for bare-metal servers on the Packet API's successor,
Equinix Metal (``/metal/v1``), through apache-libcloud's EquinixMetal driver.

The Equinix Metal service was shut down in June 2026. The driver is kept
for providers that serve the same API (``api_url``) and is tested against a
local fake of it (``tests/fakes/metal_api.py``).

Its profile builds the lab host: one large server that then runs the local
(``nspawn``) lab on itself (``salt/labhost``).

The API token comes from the environment, never from a file:
``PACKET_API_TOKEN`` or ``METAL_AUTH_TOKEN``.

Provider configuration (``cloud.providers.d/packet.conf``):

.. code-block:: yaml

    packet:
      driver: packet
      project: saltlab              # name or id; default: the token's first project
      api_url: https://api.equinix.com
      ssh_keyfile: ~/.ssh/packet-default-key

Profile keys: ``metro`` (a metro code), ``plan`` (a plan slug), ``image``
(an operating system slug); ``salt-cloud --list-locations packet``,
``--list-sizes packet`` and ``--list-images packet`` show what there is.

The operator's public key (``ssh_keyfile`` + ``.pub``) is registered as a
project SSH key when the project has no key with the same material; new
devices get the project's keys.

CLI examples:

.. code-block:: bash

    salt-cloud -p packet-labhost labhost
    salt-cloud -Q
    salt-cloud -a show_instance labhost
    salt-cloud -d labhost
"""

import functools
import json
import logging
import os
import time
import urllib.parse

import salt.config as config
from salt.exceptions import SaltCloudConfigError, SaltCloudSystemExit

try:
    from libcloud.common.types import InvalidCredsError
    from libcloud.compute.providers import get_driver
    from libcloud.compute.types import NodeState, Provider

    HAS_LIBCLOUD = True
except ImportError:
    HAS_LIBCLOUD = False

log = logging.getLogger(__name__)

__virtualname__ = "packet"

TOKEN_VARIABLES = ("PACKET_API_TOKEN", "METAL_AUTH_TOKEN")
DEFAULTS = {
    "api_url": "https://api.equinix.com",
    "ssh_keyfile": "~/.ssh/packet-default-key",
    "ssh_key_label": "saltlab-operator",
    # bare metal takes minutes to provision
    "active_timeout": 1800,
    "poll_interval": 10,
    "request_timeout": 60,
}


def __virtual__():
    """
    Load when a provider uses this driver and apache-libcloud is installed.
    """
    return _cloud().virtual(
        HAS_LIBCLOUD, "packet driver: apache-libcloud is not installed (pip install -r requirements.txt)"
    )


def _cloud():
    """
    The helpers the lab's drivers share (_utils/saltlab_cloud.py), bound to this one.
    """
    return __utils__["saltlab_cloud.cloud"](  # pylint: disable=undefined-variable
        __virtualname__, __active_provider_name__, __opts__, __utils__, DEFAULTS
    )


def get_configured_provider():
    """
    Return the first provider configured with this driver (and check the
    map salt-cloud is about to make).
    """
    return _cloud().configured()


# ---------------------------------------------------------------------------
# the API


def _error_text(exc):
    """
    libcloud raises the API's own error list as the exception's argument.
    """
    if exc.args and isinstance(exc.args[0], list):
        return "; ".join(str(e) for e in exc.args[0])
    return str(exc) or type(exc).__name__


def _error_message(exc, doing):
    """
    One readable sentence for what the API or the network said.
    """
    if isinstance(exc, InvalidCredsError):
        return (
            f"packet: the API at {_cloud().setting('api_url')} rejected the token (401 Unauthorized) "
            f"while {doing}; check {' / '.join(TOKEN_VARIABLES)}"
        )
    if isinstance(exc, OSError):
        return f"packet: cannot reach the API at {_cloud().setting('api_url')} while {doing}: {exc}"
    # libcloud raises a bare Exception carrying the API's message
    return f"packet: {doing} failed: {_error_text(exc)}"


def _api(doing):
    """
    Turn whatever the API or the network says into one clear salt-cloud
    error naming what was being done.
    """
    return _cloud().api(doing, _error_message)


def _token():
    for variable in TOKEN_VARIABLES:
        if os.environ.get(variable):
            return os.environ[variable]
    raise SaltCloudConfigError(f"packet: no API token: set {' or '.join(TOKEN_VARIABLES)} in the environment")


def _connect():
    """
    A libcloud EquinixMetal driver on ``api_url``, bound to the configured
    project (or the token's first one).
    """
    token = _token()
    api_url = str(_cloud().setting("api_url"))
    url = urllib.parse.urlsplit(api_url)
    if url.scheme not in ("http", "https") or not url.hostname or url.path not in ("", "/"):
        raise SaltCloudConfigError(
            f"packet: api_url {api_url!r} must be http(s)://HOST[:PORT] (the API lives under /metal/v1)"
        )
    driver = get_driver(Provider.EQUINIXMETAL)(token)
    # libcloud's driver has the public endpoint built in: point its
    # connection at api_url and open it again.
    connection = driver.connection
    connection.host = url.hostname
    connection.secure = url.scheme == "https"
    connection.port = url.port or (443 if connection.secure else 80)
    connection.timeout = _cloud().setting("request_timeout")
    connection.connect()
    with _api("listing projects"):
        projects = driver.ex_list_projects() or []
    if not projects:
        raise SaltCloudSystemExit("packet: the token's account has no project; create one with the provider first")
    wanted = _cloud().setting("project")
    if wanted:
        matches = [p for p in projects if str(wanted) in (p.name, p.id)]
        if not matches:
            raise SaltCloudConfigError(
                f"packet: project {wanted!r} not found; the token sees: " + ", ".join(sorted(p.name for p in projects))
            )
        project = matches[0]
    else:
        project = projects[0]
    driver.project_id, driver.project_name = project.id, project.name
    return driver


def _nodes(driver):
    with _api(f"listing the devices of project {driver.project_name}"):
        return driver.list_nodes(ex_project_id=driver.project_id)


def _find(driver, name):
    return next((node for node in _nodes(driver) if node.name == name), None)


def _describe(node):
    return {
        "id": node.id,
        "name": node.name,
        "state": str(node.state),
        "image": node.image.id if node.image else None,
        "size": node.size.id if node.size else None,
        "metro": (node.extra.get("metro") or {}).get("code"),
        "public_ips": list(node.public_ips),
        "private_ips": list(node.private_ips),
    }


def _public_ipv4(node):
    return next((ip for ip in node.public_ips if ":" not in ip), None)


# ---------------------------------------------------------------------------
# the operator's SSH key


def _register_key(driver, keyfile, label):
    """
    Make the operator's public key a project key unless the project or the
    user already has one with the same material. Returns the key's id.
    """
    with open(keyfile + ".pub", encoding="utf-8") as fh:
        public = fh.read().strip()
    material = public.split()[:2]
    path = f"/metal/v1/projects/{driver.project_id}/ssh-keys"
    with _api("listing SSH keys"):
        known = driver.connection.request(path).object.get("ssh_keys", [])
        known += [{"id": k.name, "key": k.public_key} for k in driver.list_key_pairs()]
    for key in known:
        if (key.get("key") or "").split()[:2] == material:
            return key["id"]
    with _api(f"registering the SSH key {keyfile}.pub"):
        # a JSON body, as the API takes it (libcloud's create_key_pair
        # sends query parameters)
        created = driver.connection.request(
            path, method="POST", data=json.dumps({"label": label, "key": public})
        ).object
    return created["id"]


# ---------------------------------------------------------------------------
# salt-cloud functions


def _required(vm_, key, listing):
    value = config.get_cloud_config_value(key, vm_, __opts__, search_global=False)
    if not value:
        raise SaltCloudConfigError(f"packet: profile {vm_.get('profile')} needs '{key}' (salt-cloud {listing} packet)")
    return str(value)


def _choose(kind, wanted, available, listing):
    if wanted not in available:
        raise SaltCloudConfigError(
            f"packet: unknown {kind} {wanted!r}; available: {', '.join(sorted(available))} "
            f"(salt-cloud {listing} packet)"
        )
    return available[wanted]


def _wait_until_active(driver, node, vm_):
    """
    Poll the device until it is active with a public IPv4 address.
    """
    timeout = _cloud().setting("active_timeout", vm_)
    interval = _cloud().setting("poll_interval", vm_)
    deadline = time.monotonic() + timeout
    while True:
        current = next((n for n in _nodes(driver) if n.id == node.id), None)
        if current is None:
            raise SaltCloudSystemExit(f"packet: device {node.name} disappeared while provisioning")
        if current.state == NodeState.ERROR:
            raise SaltCloudSystemExit(f"packet: device {node.name} failed to provision")
        if current.state == NodeState.RUNNING and _public_ipv4(current):
            return current
        if time.monotonic() >= deadline:
            raise SaltCloudSystemExit(
                f"packet: device {node.name} was not active with a public IPv4 address "
                f"after {timeout} s (state: {current.state})"
            )
        time.sleep(interval)


def _check(vm_, deploy):
    """
    The profile's metro, plan and image, the operator's key and the
    project, checked before anything is made.
    """
    name = _cloud().validate_name(vm_["name"], "device name")
    metro = _required(vm_, "metro", "--list-locations")
    plan = _required(vm_, "plan", "--list-sizes")
    image = _required(vm_, "image", "--list-images")
    keyfile = _cloud().operator_keyfile(vm_)
    driver = _connect()
    with _api("reading metros, plans and operating systems"):
        location = _choose(
            "metro", metro, {loc.extra["code"]: loc for loc in driver.list_locations()}, "--list-locations"
        )
        size = _choose("plan", plan, {s.id: s for s in driver.list_sizes(driver.project_id)}, "--list-sizes")
        os_image = _choose("image", image, {i.id: i for i in driver.list_images()}, "--list-images")
    if _find(driver, name) is not None:
        raise SaltCloudSystemExit(
            f"packet: project {driver.project_name} already has a device named {name}; destroy it first"
        )
    ssh = {"keyfile": keyfile, "user": vm_.get("ssh_username") or "root", "public": True, "gateway": None}
    what = {"driver": driver, "size": size, "image": os_image, "location": location, "vm_": vm_}
    return dict(ssh, model=None, node=None, **what)


def _make(plan):
    """
    The operator's key registered, the device made and active with a
    public IPv4 address.
    """
    driver, name, vm_ = plan["driver"], plan["name"], plan["vm_"]
    _register_key(driver, plan["keyfile"], _cloud().setting("ssh_key_label", vm_))
    _cloud().progress(
        name,
        f"creating a {plan['size'].id} device in metro {plan['location'].extra['code']} with {plan['image'].id} "
        f"in project {driver.project_name}",
    )
    with _api("creating the device"):
        plan["device"] = driver.create_node(
            name, plan["size"], plan["image"], plan["location"], ex_project_id=driver.project_id
        )
    _cloud().progress(name, "waiting until it is active with a public IPv4 address (bare metal: minutes)")
    plan["device"] = _wait_until_active(driver, plan["device"], vm_)
    plan["public_address"] = _public_ipv4(plan["device"])
    plan["addresses"] = {"public": plan["public_address"]}
    _cloud().progress(name, f"active at {plan['public_address']}")


def _remove(plan):
    if plan.get("device") is not None:
        with _api("deleting the failed device"):
            plan["driver"].destroy_node(plan["device"])


def _lookup(name):
    driver = _connect()
    node = _find(driver, name)
    if node is None:
        raise SaltCloudSystemExit(f"packet: project {driver.project_name} has no device named {name}")
    return driver, node


def _delete(found):
    driver, node = found
    with _api(f"deleting device {node.name}"):
        driver.destroy_node(node)


def _ops():
    return {
        "check": _check,
        "make": _make,
        "remove": _remove,
        "describe": lambda plan: _describe(plan["device"]),
        "lookup": _lookup,
        "addresses": lambda found: list(found[1].public_ips) + list(found[1].private_ips),
        "delete": _delete,
        "destroying": "deleting the device",
    }


def create(vm_):
    """
    ``salt-cloud -p packet-labhost labhost``: a bare-metal device, active
    with a public IPv4 address, Salt deployed on it as root.
    """
    return _cloud().create(vm_, _ops())


def destroy(name, call=None):
    """``salt-cloud -d labhost``: the device."""
    return _cloud().destroy(name, call, _ops())


def _inventory():
    nodes = _nodes(_connect())
    return {n.name: (functools.partial(_describe, n), functools.partial(_full, n)) for n in nodes}


def _full(node):
    return dict(node.extra, **_describe(node))


def _listing(function):
    """``salt-cloud`` -Q (``list_nodes``), -F (``list_nodes_full``), -S (``list_nodes_select``)."""
    return lambda call=None: getattr(_cloud(), function)(call, _inventory)


list_nodes, list_nodes_full, list_nodes_select = map(_listing, ("list_nodes", "list_nodes_full", "list_nodes_select"))


def show_instance(name, call=None):
    """
    One device's details.

    CLI example:

    .. code-block:: bash

        salt-cloud -a show_instance labhost
    """
    _cloud().action(call, "show_instance")
    driver = _connect()
    return _cloud().show_instance(name, call, lambda n: _find(driver, n), _full, f"project {driver.project_name}")


def avail_locations(call=None):
    """
    The metros (their codes are the profile's ``metro``).

    CLI example:

    .. code-block:: bash

        salt-cloud --list-locations packet
    """
    _cloud().function(call, "avail_locations")
    driver = _connect()
    with _api("listing metros"):
        return {
            loc.extra["code"]: {"name": loc.name, "country": loc.extra.get("country")}
            for loc in driver.list_locations()
        }


def avail_sizes(call=None):
    """
    The plans the project can use (their slugs are the profile's ``plan``).

    CLI example:

    .. code-block:: bash

        salt-cloud --list-sizes packet
    """
    _cloud().function(call, "avail_sizes")
    driver = _connect()
    with _api("listing plans"):
        return {
            s.id: {"description": s.extra["description"], "ram_mb": s.ram, "disk_gb": s.disk, "price_per_hour": s.price}
            for s in driver.list_sizes(driver.project_id)
        }


def avail_images(call=None):
    """
    The operating systems (their slugs are the profile's ``image``).

    CLI example:

    .. code-block:: bash

        salt-cloud --list-images packet
    """
    _cloud().function(call, "avail_images")
    driver = _connect()
    with _api("listing operating systems"):
        return {
            i.id: {"name": i.name, "distro": i.extra["distro"], "version": i.extra["version"]}
            for i in driver.list_images()
        }
