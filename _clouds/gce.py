"""
salt-cloud driver for the lab on Google Cloud (Compute Engine), through the
google-cloud-compute client (REST transport).

The lab's shape is the lab model (``pillar/model.yaml``): one VPC per
network (custom-subnet mode, one subnetwork, the model's CIDR and MTU),
made by the first node that needs them with their firewall rules and the
Cloud NAT, reused by the others, removed with the last node
(``_utils/gce_network.py``); each node's NICs in the model's order with its
fixed addresses, its roles (the ``roles`` grain), and the master (the
minions' ``master``: its management address). The public network lets in
only the operator's address, on ICMP and the ports the lab's TLS proxy
serves (the model's ``proxy_ports``). A node gets an external address on
the public network only, the operator's key for the user ``stack``
(``ssh-keys`` metadata), Debian 13, the label ``saltlab: <model name>``,
nested virtualization when its profile asks (Intel machine families only)
and the profile's extra persistent disk. Nodes without a public NIC are
deployed through the master's external address. Its SSH host keys are
read from the instance's guest attributes (``hostkeys/``, published by
Google's guest agent) and checked on every SSH connection.

Credentials: a service-account JSON key (``service_account_key``, used
when it is set or exists), else application-default credentials
(``gcloud auth application-default login``); either may impersonate a
service account (``impersonate_service_account``: for organisations that
refuse service-account keys). The project defaults to the key's, the
credentials' or the impersonated account's. The instances set
``enable-oslogin: FALSE``: the ``ssh-keys`` metadata is how the operator
logs in, also in a project that enables OS Login (a note says so); an
organisation policy that requires OS Login is not supported.

The master's external address (1:1 NAT outside the VM) is what the
operator reaches: every node gets it as the grain ``saltlab_proxy_address``
(``salt/lib/lab.jinja``: the proxy's certificate and the URLs it hands out).

Provider configuration (``cloud.providers.d/gce.conf``):

.. code-block:: yaml

    gce:
      driver: gce
      service_account_key: ~/.keys/gcp_service_account.json   # or unset: application-default credentials
      # impersonate_service_account: saltlab@my-project.iam.gserviceaccount.com
      # project: my-project              # default: the credentials' project
      zone: europe-west1-b               # region: from the zone unless given
      ssh_keyfile: ~/.ssh/gcp-default-key
      # operator_address: 203.0.113.7    # default: detected (operator_address_url)
      # operator_range_force: True       # to let in a range wider than a /24
      nat_network: management            # Cloud NAT for the network of this purpose; '' for none

Profile keys: ``machine_type``, ``nested_virtualization``,
``extra_disk_gb`` (a second persistent disk), ``image``, ``disk_size_gb``,
``disk_type`` (default: the machine series' own, pd-balanced or, on
Hyperdisk-only series such as N4 and C4, hyperdisk-balanced).
``api_endpoint``, ``iam_endpoint`` and ``anonymous: True`` point the
driver at a local fake or emulator of the API (tests only).

CLI examples:

.. code-block:: bash

    salt-cloud -m maps/gce.yaml -P
    salt-cloud -f create_lab_networks gce
    salt-cloud -f update_lab_firewall gce
    salt-cloud -m maps/gce.yaml -d
    salt-cloud -f destroy_lab_networks gce
"""

import functools
import logging
import re

import salt.config as config
from salt.exceptions import SaltCloudConfigError, SaltCloudSystemExit

try:
    from google.cloud import compute_v1

    HAS_GCE = True
except ImportError:
    HAS_GCE = False

log = logging.getLogger(__name__)

__virtualname__ = "gce"

DEFAULTS = {
    "service_account_key": "~/.keys/gcp_service_account.json",
    "zone": "europe-west1-b",
    "ssh_keyfile": "~/.ssh/gcp-default-key",
    "ssh_username": "stack",
    "operator_address_url": "https://api.ipify.org",
    "image": "projects/debian-cloud/global/images/family/debian-13",
    "image_projects": ["debian-cloud"],
    "disk_size_gb": 20,
    # None: the machine series' default (gce_instance.disk_type)
    "disk_type": None,
    "operator_range_force": False,
    "nat_network": "management",
    "operation_timeout": 600,
    "poll_interval": 2,
    "request_timeout": 60,
    # how long to wait for the guest agent to publish the SSH host keys
    "hostkeys_timeout": 180,
}
LAB_NAME_RE = re.compile(r"[a-z]([a-z0-9-]{0,19}[a-z0-9])?")


def __virtual__():
    """
    Load when a provider uses this driver and google-cloud-compute is installed.
    """
    return _cloud().virtual(
        HAS_GCE, "gce driver: google-cloud-compute is not installed (pip install -r requirements.txt)"
    )


def _cloud():
    """
    The helpers the lab's drivers share (_utils/saltlab_cloud.py), bound to this one.
    """
    return __utils__["saltlab_cloud.cloud"](  # pylint: disable=undefined-variable
        __virtualname__, __active_provider_name__, __opts__, __utils__, DEFAULTS
    )


def _api():
    """
    The Compute API (_utils/gce_api.py): connection, errors, operations.
    """
    return __utils__["gce_api.api"](_cloud())  # pylint: disable=undefined-variable


def _net(function):
    """
    The lab's networks (_utils/gce_network.py).
    """
    return __utils__[f"gce_network.{function}"]  # pylint: disable=undefined-variable


def _inst(function):
    """
    A node's instance (_utils/gce_instance.py): its body, view, host keys, removal.
    """
    return __utils__[f"gce_instance.{function}"]  # pylint: disable=undefined-variable


def get_configured_provider():
    """
    Return the first provider configured with this driver (and check the
    map salt-cloud is about to make).
    """
    return _cloud().configured()


# ---------------------------------------------------------------------------
# configuration (pure: unit-tested without the API)


def validate_name(name):
    """
    A node name must be a lowercase RFC 1035 label (Compute Engine's rule).
    """
    return _cloud().validate_name(name, "node name", "instance name")


def lab(model):
    """
    The lab's name (the model's ``name``): it prefixes the network names and
    labels the lab's resources.
    """
    if not LAB_NAME_RE.fullmatch(model["name"]):
        raise SaltCloudConfigError(
            f"gce: the model's name {model['name']!r} must be 1-21 lowercase letters, digits or '-', starting "
            "with a letter and not ending with '-' (it prefixes the network names and labels the lab's resources)"
        )
    return model["name"]


def operator_cidr(value=None, url=None):
    """
    The operator's address as a /32: ``operator_address`` (an address or a
    CIDR) or, when unset, what ``operator_address_url`` answers.
    """
    value = _cloud().setting("operator_address") if value is None else value
    return _net("operator_cidr")(value, url or _cloud().setting("operator_address_url"))


def _public_rule(model):
    """
    (``operator_address``, ``operator_address_url``, the proxy's ports of the
    model) for the public network's rule.
    """
    ports = __utils__["saltlab_model.proxy_ports"](model)  # noqa: F821 pylint: disable=undefined-variable
    force = bool(_cloud().setting("operator_range_force"))
    return _cloud().setting("operator_address"), _cloud().setting("operator_address_url"), ports, force


def _profile_value(vm_, key, default=None):
    return config.get_cloud_config_value(key, vm_, __opts__, default=default, search_global=False)  # noqa: F821


def _node_spec(vm_, node, nets, lab_name, master=False):
    """
    What the profile asks of a node, checked before any request; the
    master carries the network tag the public rule targets.
    """
    machine_type = _profile_value(vm_, "machine_type")
    if not machine_type:
        raise SaltCloudConfigError(
            f"gce: profile {vm_.get('profile')} needs 'machine_type' (salt-cloud --list-sizes gce)"
        )
    spec = {
        "machine_type": str(machine_type),
        "nics": list(node["nics"]),
        "addresses": _inst("node_addresses")(node, nets),
        "nested_virtualization": bool(_profile_value(vm_, "nested_virtualization", False)),
        "image": str(_cloud().setting("image", vm_)),
        "disk_size_gb": _cloud().setting("disk_size_gb", vm_),
        "disk_type": _inst("disk_type")(machine_type, _cloud().setting("disk_type", vm_)),
        "ssh_username": str(_cloud().setting("ssh_username", vm_)),
        "extra_disk_gb": _profile_value(vm_, "extra_disk_gb"),
        "role": ",".join(node["roles"]),
        "tags": [_net("proxy_tag")(lab_name)] if master else [],
    }
    if spec["nested_virtualization"]:
        _inst("check_nested_virtualization")(spec["machine_type"])
    for key in ("disk_size_gb", "extra_disk_gb"):
        value = spec[key]
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 10):
            raise SaltCloudConfigError(f"gce: {key} must be an integer of at least 10 (GB)")
    return spec


# ---------------------------------------------------------------------------
# instances


def _instance(conn, zone, name):
    call = functools.partial(conn.instances.get, project=conn.project, zone=zone, instance=name)
    return _api().get(call, f"reading instance {name}")


def _lab_instances(conn, zone, lab_name):
    with _api().doing(f"listing the instances of zone {zone}"):
        return [i for i in conn.instances.list(project=conn.project, zone=zone) if i.labels.get("saltlab") == lab_name]


def _oslogin(conn, name):
    """
    Whether the project enables OS Login (its metadata ``enable-oslogin``),
    said in a note: then the lab's instances turn it off for themselves
    (``enable-oslogin: FALSE``) to use the ssh-keys metadata; an
    organisation policy requiring OS Login would override that.
    """
    if not _api().oslogin_enabled(conn):
        return False
    _cloud().progress(
        name,
        f"project {conn.project} enables OS Login; the lab's instances set enable-oslogin=FALSE and take "
        "your key from ssh-keys metadata (if an organisation policy requires OS Login, SSH will be refused)",
    )
    return True


def _gateway(conn, zone, model, name):
    """
    The SSH gateway of a node without a public NIC: the external address of
    the master, looked up now.
    """
    master = model["master"]
    instance = _instance(conn, zone, master)
    address = _inst("external_ip")(instance) if instance is not None else None
    if not address:
        raise SaltCloudConfigError(
            f"gce: {name} has no public NIC and the master {master!r} is not an instance with an "
            "external address; create it first (the map does: it is the master)"
        )
    return address


# ---------------------------------------------------------------------------
# what the shared life cycle (_utils/saltlab_node.py) asks of this driver


def _check(vm_, deploy):
    """
    Everything about the new node, checked before anything is made.
    """
    name = validate_name(vm_["name"])
    model = _cloud().model()
    lab_name = lab(model)
    nets = _net("lab_networks")(model)
    nat = _net("nat_network")(model, _cloud().setting("nat_network"))
    node = _cloud().lab_node(name, model)
    zone, _region = _api().place()
    is_master = node["kind"] == model["master"]
    spec = _node_spec(vm_, node, nets, lab_name, is_master)
    keyfile = _cloud().operator_keyfile(vm_)
    with open(keyfile + ".pub", encoding="utf-8") as fh:
        public_key = fh.read()
    external = any(nets[nic]["external"] for nic in spec["nics"])
    conn = _api().connect()
    _inst("check_machine")(_api(), conn, zone, spec)
    if _instance(conn, zone, name) is not None:
        raise SaltCloudSystemExit(f"gce: zone {zone} already has an instance named {name}; destroy it first")
    # every node but the master is deployed through it: the public rule lets
    # the operator reach the master only (the controller's external address
    # lets nothing in)
    master = None if is_master else _instance(conn, zone, model["master"])
    gateway = None
    if deploy and not external:
        gateway = _gateway(conn, zone, model, name)
    elif deploy and master is not None:
        gateway = _inst("external_ip")(master)
    spec["oslogin_off"] = _oslogin(conn, name)
    plan = {"model": model, "node": node, "keyfile": keyfile, "user": spec["ssh_username"], "gateway": gateway}
    # where the operator reaches the master's proxy: its external address
    plan["proxy_address"] = _inst("external_ip")(master) if master is not None else None
    context = {"conn": conn, "zone": zone, "lab": lab_name, "nets": nets, "nat": nat, "public_key": public_key}
    return dict(plan, public=external, addresses=spec["addresses"], spec=spec, **context)


def _make(plan):
    """
    The lab's networks when they are missing, the node's data disk and its
    instance; its external address.
    """
    conn, zone, lab_name, spec, name = plan["conn"], plan["zone"], plan["lab"], plan["spec"], plan["name"]
    # what this node makes of the lab's networks goes with it if it fails
    plan["networks_made"] = []
    _net("ensure")(
        _api(), conn, lab_name, plan["nets"], plan["nat"], _public_rule(plan["model"]), name, plan["networks_made"]
    )
    data_disk = None
    if spec["extra_disk_gb"]:
        disk_name = f"{name}-data"
        _cloud().progress(name, f"creating disk {disk_name} ({spec['extra_disk_gb']} GB)")
        disk = compute_v1.Disk(
            name=disk_name,
            size_gb=spec["extra_disk_gb"],
            type_=f"zones/{zone}/diskTypes/{spec['disk_type']}",
            labels={"saltlab": lab_name, "saltlab-node": name},
            description=f"saltlab lab {lab_name}: data disk of {name}",
        )
        with _api().doing(f"creating disk {disk_name}"):
            operation = conn.disks.insert(project=conn.project, zone=zone, disk_resource=disk)
        _api().wait(conn, operation, ("zone", zone), f"creating disk {disk_name}")
        data_disk = f"projects/{conn.project}/zones/{zone}/disks/{disk_name}"
    body = _inst("instance_body")(conn.project, zone, lab_name, name, spec, plan["nets"], plan["public_key"], data_disk)
    _cloud().progress(
        name,
        f"creating a {spec['machine_type']} instance in {zone}: "
        + ", ".join(f"{n}={a}" for n, a in spec["addresses"].items())
        + (", nested virtualization" if spec["nested_virtualization"] else ""),
    )
    with _api().doing(f"creating instance {name}"):
        operation = conn.instances.insert(project=conn.project, zone=zone, instance_resource=body)
    _api().wait(conn, operation, ("zone", zone), f"creating instance {name}")
    with _api().doing(f"reading instance {name}"):
        plan["instance"] = conn.instances.get(project=conn.project, zone=zone, instance=name)
    plan["public_address"] = _inst("external_ip")(plan["instance"])
    if plan["node"]["kind"] == plan["model"]["master"]:
        plan["proxy_address"] = plan["public_address"]


def _grains(plan):
    """
    What the node learns only once it is made: the master's external
    address, where the operator reaches the proxy (1:1 NAT: no NIC has it).
    """
    return {"saltlab_proxy_address": plan["proxy_address"]} if plan.get("proxy_address") else {}


def _lookup(name):
    """The lab's instance ``name`` (with what deleting it needs)."""
    model = _cloud().model()
    lab_name = lab(model)
    zone, _region = _api().place()
    conn = _api().connect()
    instance = _instance(conn, zone, name)
    if instance is None or instance.labels.get("saltlab") != lab_name:
        raise SaltCloudSystemExit(f"gce: zone {zone} has no instance {name} of lab {lab_name}")
    return {"conn": conn, "zone": zone, "lab": lab_name, "instance": instance, "model": model}


def _delete(found):
    """
    The instance and its disks; the lab's networks with the last node that
    used them.
    """
    conn, zone, lab_name, name = found["conn"], found["zone"], found["lab"], found["instance"].name
    _inst("delete_node")(_api(), conn, zone, lab_name, name)
    nets = _net("lab_networks")(found["model"])
    if _net("users")(_api(), conn, zone, lab_name, nets):
        return {}
    _cloud().progress(name, "no node uses the lab's networks any more: deleting them")
    return {"networks_deleted": _net("remove")(_api(), conn, lab_name, nets, name)}


def _remove(plan):
    """
    A failed node's instance and disks; the lab's networks too when this
    node made them and no other instance uses them (a first node that
    failed leaves no billed network, rule or Cloud NAT).
    """
    conn, zone, lab_name, name = plan["conn"], plan["zone"], plan["lab"], plan["name"]
    _inst("delete_node")(_api(), conn, zone, lab_name, name)
    if not plan.get("networks_made"):
        return
    users = _net("users")(_api(), conn, zone, lab_name, plan["nets"])
    if users:
        _cloud().progress(name, f"the lab's networks it made stay: {', '.join(users)} use them")
        return
    _cloud().progress(name, "removing the lab's networks it made")
    _net("remove")(_api(), conn, lab_name, plan["nets"], name)


def _ops():
    return {
        "check": _check,
        "make": _make,
        "grains": _grains,
        "host_keys": lambda plan: _inst("host_keys")(_api(), plan["conn"], plan["zone"], plan["name"]),
        "remove": _remove,
        "describe": lambda plan: _inst("describe")(plan["instance"]),
        "lookup": _lookup,
        "addresses": lambda found: [
            a for k in ("public_ips", "private_ips") for a in _inst("describe")(found["instance"])[k]
        ],
        "delete": _delete,
        "destroying": "deleting the instance",
    }


# ---------------------------------------------------------------------------
# salt-cloud functions


def create(vm_):
    """
    ``salt-cloud -p gce-compute compute3``: the lab's networks when missing,
    the node's disks and instance, Salt deployed on it (through the master
    when it has no public NIC).
    """
    return _cloud().create(vm_, _ops())


def destroy(name, call=None):
    """
    ``salt-cloud -d compute2``: the node's instance and disks (its host keys
    and its key on the master too); the lab's networks with the last node.
    """
    return _cloud().destroy(name, call, _ops())


def _inventory():
    zone, _region = _api().place()
    instances = _lab_instances(_api().connect(), zone, lab(_cloud().model()))
    return {i.name: (functools.partial(_inst("describe"), i), functools.partial(_inst("full"), i)) for i in instances}


def _listing(function):
    """``salt-cloud`` -Q (``list_nodes``), -F (``list_nodes_full``), -S (``list_nodes_select``)."""
    return lambda call=None: getattr(_cloud(), function)(call, _inventory)


list_nodes, list_nodes_full, list_nodes_select = map(_listing, ("list_nodes", "list_nodes_full", "list_nodes_select"))


def show_instance(name, call=None):
    """
    One instance's details.

    CLI example:

    .. code-block:: bash

        salt-cloud -a show_instance controller
    """
    _cloud().action(call, "show_instance")
    zone, _region = _api().place()
    conn = _api().connect()
    return _cloud().show_instance(name, call, functools.partial(_instance, conn, zone), _inst("full"), f"zone {zone}")


def avail_locations(call=None):
    """
    The zones of the project (the provider's ``zone``).

    CLI example:

    .. code-block:: bash

        salt-cloud --list-locations gce
    """
    _cloud().function(call, "avail_locations")
    return _api().zones()


def avail_sizes(call=None):
    """
    The machine types of the provider's zone (a profile's ``machine_type``).

    CLI example:

    .. code-block:: bash

        salt-cloud --list-sizes gce
    """
    _cloud().function(call, "avail_sizes")
    return {
        name: dict(spec, nested_virtualization=_inst("nested_family")(name))
        for name, spec in _api().machine_types().items()
    }


def avail_images(call=None):
    """
    The images of ``image_projects`` (default debian-cloud); a profile's
    ``image`` may name one or a family (projects/debian-cloud/global/images/family/debian-13).

    CLI example:

    .. code-block:: bash

        salt-cloud --list-images gce
    """
    _cloud().function(call, "avail_images")
    return _api().images(_cloud().setting("image_projects"))


# ---------------------------------------------------------------------------
# the lab's networks alone


def _networks():
    model = _cloud().model()
    return model, lab(model), _net("lab_networks")(model)


def create_lab_networks(kwargs=None, call=None):
    """
    Make the lab's networks, subnetworks, firewall rules and Cloud Router
    with its NAT (what does not exist yet); the first node of a map does
    this too.

    CLI example:

    .. code-block:: bash

        salt-cloud -f create_lab_networks gce
    """
    _cloud().function(call, "create_lab_networks", strict=True)
    model, lab_name, nets = _networks()
    nat = _net("nat_network")(model, _cloud().setting("nat_network"))
    return {"created": _net("ensure")(_api(), _api().connect(), lab_name, nets, nat, _public_rule(model))}


def destroy_lab_networks(kwargs=None, call=None):
    """
    Delete the lab's Cloud Router and NAT, firewall rules, subnetworks and
    networks, refused while an instance still uses them.

    CLI example:

    .. code-block:: bash

        salt-cloud -f destroy_lab_networks gce
    """
    _cloud().function(call, "destroy_lab_networks", strict=True)
    _model, lab_name, nets = _networks()
    conn = _api().connect()
    zone, _region = _api().place()
    users = _net("users")(_api(), conn, zone, lab_name, nets)
    if users:
        raise SaltCloudSystemExit(
            f"gce: the lab's networks are still used by {', '.join(users)}; destroy those first "
            "(salt-cloud -m maps/gce.yaml -d)"
        )
    return {"deleted": _net("remove")(_api(), conn, lab_name, nets)}


def update_lab_firewall(kwargs=None, call=None):
    """
    Set the public network's firewall rule to the operator's address now
    (``operator_address``, or detected again) and the proxy's ports now
    (after an address change, or a service added to the model's catalog).

    CLI example:

    .. code-block:: bash

        salt-cloud -f update_lab_firewall gce
    """
    _cloud().function(call, "update_lab_firewall", strict=True)
    model, lab_name, nets = _networks()
    return _net("update_firewall")(_api(), _api().connect(), lab_name, nets, _public_rule(model))
