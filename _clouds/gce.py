"""
salt-cloud driver for the lab on Google Cloud (Compute Engine), through the
google-cloud-compute client (REST transport).

The lab's three VPCs (public, mgmt, underlay), each in custom-subnet mode
with one subnetwork and an MTU (default 1460), and their firewall rules are
made by the first node that needs them and reused by the others; they go
with the last node (or ``salt-cloud -f destroy_lab_networks gce``). The
public network lets in only the operator's address, only on ICMP, SSH and
the ports the lab's TLS proxy serves (read from the state tree's
``salt/openstack/defaults.yaml`` and ``salt/proxy/defaults.yaml``); mgmt and
underlay let in everything from their own CIDR. The mgmt network
(``nat_network``) has a Cloud Router with Cloud NAT in the lab's region, so
that nodes without an external address (compute, storage) reach Debian's
mirror and PyPI; it is made and removed with the networks.

Each node gets one NIC per network of its profile (in that order) with a
fixed internal address (``host_number``: 12 gives 192.168.1.12 on mgmt), an
external address on the public network only, the operator's key for the
user ``stack`` (``ssh-keys`` metadata), Debian 13, the label
``saltlab: <lab_name>``, nested virtualization when the profile asks (Intel
machine families only) and, for storage, an extra persistent disk. Nodes
without a public NIC are deployed through the ``ssh_gateway_node`` (the
network node), whose external address is looked up at deploy time. The
profiles' deploy script (``cloud.deploy.d/saltlab-gce.sh``) installs the
pinned Salt, which Debian's image does not have. When the master is
deployed, the driver records it in ``var/bastion`` (host, key and the SSH
user ``stack``) and runs ``tools/push``, as the local provider does.

Credentials: a service-account JSON key (``service_account_key``); the
project defaults to the key's ``project_id``.

Provider configuration (``cloud.providers.d/gce.conf``):

.. code-block:: yaml

    gce:
      driver: gce
      service_account_key: ~/.keys/gcp_service_account.json
      # project: my-project              # default: the key's project_id
      zone: europe-west1-b               # region: from the zone unless given
      ssh_keyfile: ~/.ssh/gcp-default-key
      # operator_address: 203.0.113.7    # default: detected (operator_address_url)
      lab_name: saltlab
      mtu: 1460
      lab_networks:
        public:   {cidr: 10.99.0.0/24, external: True}
        mgmt:     {cidr: 192.168.1.0/24}
        underlay: {cidr: 192.168.2.0/24}
      nat_network: mgmt                  # Cloud NAT for it; '' for none

Profile keys: ``machine_type``, ``nics`` (network names, in NIC order),
``host_number``, ``nested_virtualization``, ``extra_disk_gb`` (a second
persistent disk), ``image``, ``disk_size_gb``, ``disk_type``,
``ssh_gateway_node``. ``api_endpoint`` and ``anonymous: True`` point the
driver at a local fake or emulator of the API (tests only).

CLI examples:

.. code-block:: bash

    salt-cloud -m maps/gce.yaml -P
    salt-cloud -Q
    salt-cloud -a show_instance controller
    salt-cloud -f create_lab_networks gce
    salt-cloud -f update_lab_firewall gce
    salt-cloud -m maps/gce.yaml -d
    salt-cloud -f destroy_lab_networks gce
"""

import functools
import ipaddress
import json
import logging
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import salt.config as config
import salt.utils.yaml
from salt.exceptions import SaltCloudConfigError, SaltCloudException, SaltCloudSystemExit

try:
    import google.auth.exceptions
    import requests.exceptions
    from google.api_core import exceptions as api_exceptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import compute_v1
    from google.oauth2 import service_account

    HAS_GCE = True
except ImportError:
    HAS_GCE = False

log = logging.getLogger(__name__)

__virtualname__ = "gce"

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPUTE_SCOPE = "https://www.googleapis.com/auth/compute"
DEFAULTS = {
    "service_account_key": "~/.keys/gcp_service_account.json",
    "zone": "europe-west1-b",
    "ssh_keyfile": "~/.ssh/gcp-default-key",
    "ssh_username": "stack",
    "lab_name": "saltlab",
    "mtu": 1460,
    "lab_networks": {
        "public": {"cidr": "10.99.0.0/24", "external": True},
        "mgmt": {"cidr": "192.168.1.0/24"},
        "underlay": {"cidr": "192.168.2.0/24"},
    },
    "operator_address_url": "https://api.ipify.org",
    "image": "projects/debian-cloud/global/images/family/debian-13",
    "image_projects": ["debian-cloud"],
    "disk_size_gb": 20,
    "disk_type": "pd-balanced",
    "ssh_gateway_node": "network",
    "nat_network": "mgmt",
    "operation_timeout": 600,
    "poll_interval": 2,
    "request_timeout": 60,
}
LAB_NAME_RE = re.compile(r"^[a-z]([a-z0-9-]{0,19}[a-z0-9])?$")
# machine families on Intel CPUs, where Compute Engine offers nested
# virtualization (not E2, the AMD families N2D/C2D/C3D/T2D, nor Arm)
NESTED_FAMILIES = ("n1", "n2", "n4", "c2", "c3", "c4", "m1", "m2", "m3", "h3")
QUOTA_REASONS = (
    "quotaExceeded",
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "QUOTA_EXCEEDED",
    "ZONE_RESOURCE_POOL_EXHAUSTED",
    "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
)
ROLES_NEEDED = "Compute Instance Admin (v1), Compute Network Admin, Compute Security Admin and Service Account User"
CLIENTS = {
    "zones": "ZonesClient",
    "machine_types": "MachineTypesClient",
    "images": "ImagesClient",
    "networks": "NetworksClient",
    "subnetworks": "SubnetworksClient",
    "firewalls": "FirewallsClient",
    "routers": "RoutersClient",
    "disks": "DisksClient",
    "instances": "InstancesClient",
    "zone_operations": "ZoneOperationsClient",
    "region_operations": "RegionOperationsClient",
    "global_operations": "GlobalOperationsClient",
}


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


def get_configured_provider():
    """
    Return the first provider configured with this driver.
    """
    return _cloud().provider()


# ---------------------------------------------------------------------------
# configuration (pure: unit-tested without the API)


def validate_name(name):
    """
    A node name must be a lowercase RFC 1035 label (Compute Engine's rule).
    """
    return _cloud().validate_name(name, "node name", "instance name")


def lab_name(value=None):
    value = _cloud().setting("lab_name") if value is None else value
    if not isinstance(value, str) or not LAB_NAME_RE.match(value):
        raise SaltCloudConfigError(
            f"gce: lab_name {value!r} must be 1-21 lowercase letters, digits or '-', starting with a letter "
            "(it prefixes the network names and labels the lab's resources)"
        )
    return value


def lab_networks(settings=None, mtu=None):
    """
    The provider's networks, checked: valid names, strict non-overlapping
    IPv4 CIDRs, a Compute Engine MTU (1300-8896), exactly one ``external``
    network. Returns ``{name: {"net": IPv4Network, "external": bool, "mtu": int}}``.
    """
    raw = _cloud().setting("lab_networks") if settings is None else settings
    mtu = _cloud().setting("mtu") if mtu is None else mtu
    nets = _cloud().lab_networks(
        raw,
        mtu,
        (1300, 8896),
        lambda _where, _net, spec: {"external": bool(spec.get("external"))},
        mtu_note=" (Compute Engine's range)",
    )
    if sum(n["external"] for n in nets.values()) != 1:
        raise SaltCloudConfigError("gce: exactly one of lab_networks must be `external: True` (the public one)")
    return nets


def node_addresses(nics, host_number, nets):
    """
    The node's internal address on each of its NICs, in NIC order:
    ``<network>.<host_number>``, refused where Compute Engine reserves the
    address (network, gateway, the last two).
    """
    if not isinstance(nics, list) or not nics:
        raise SaltCloudConfigError("gce: the profile needs `nics`, a list of lab network names")
    if len(set(nics)) != len(nics):
        raise SaltCloudConfigError(f"gce: nics {nics} name a network twice (one NIC per VPC)")
    if not isinstance(host_number, int) or isinstance(host_number, bool):
        raise SaltCloudConfigError("gce: the profile (or map entry) needs an integer `host_number`")
    addresses = {}
    for nic in nics:
        if nic not in nets:
            raise SaltCloudConfigError(f"gce: nic {nic!r} is not one of lab_networks ({', '.join(nets)})")
        net = nets[nic]["net"]
        if not 2 <= host_number <= net.num_addresses - 3:
            raise SaltCloudConfigError(
                f"gce: host_number {host_number} gives no usable address in {nic} ({net}): "
                f"Compute Engine reserves the first two and the last two"
            )
        addresses[nic] = str(net.network_address + host_number)
    return addresses


def check_nested_virtualization(machine_type):
    """
    Nested virtualization needs an Intel machine family.
    """
    family = str(machine_type).split("-", 1)[0]
    if family not in NESTED_FAMILIES:
        raise SaltCloudConfigError(
            f"gce: machine type {machine_type} cannot run nested virtualization (family {family}: "
            f"not an Intel family that supports it); use one of the families {', '.join(NESTED_FAMILIES)}, "
            "e.g. n1-standard-4 or n2-standard-4"
        )


def public_ports(repo=REPO):
    """
    The TCP ports the public firewall opens: the NGINX proxy's (every API
    in the catalog of salt/openstack/defaults.yaml at its public port, the
    noVNC websocket) and salt/proxy/defaults.yaml's ``open_ports`` (SSH).
    """
    paths = [
        os.path.join(repo, "salt", "openstack", "defaults.yaml"),
        os.path.join(repo, "salt", "proxy", "defaults.yaml"),
    ]
    try:
        documents = []
        for path in paths:
            with open(path, encoding="utf-8") as fh:
                documents.append(salt.utils.yaml.safe_load(fh))
        openstack, proxy = documents[0]["openstack"], documents[1]["proxy"]
        ports = {int(p) for p in proxy.get("open_ports", [])}
        ports.update(int(e.get("public_port", e["port"])) for e in openstack["catalog"].values())
        if openstack.get("novnc_port"):
            ports.add(int(openstack["novnc_port"]))
    except (OSError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SaltCloudConfigError(
            f"gce: cannot read the proxy's ports from {' and '.join(paths)} ({exc}); "
            "set public_ports in cloud.providers.d/gce.conf"
        ) from None
    return sorted(ports)


def operator_cidr(value=None, url=None):
    """
    The operator's address as a /32: ``operator_address`` (an address or a
    CIDR) or, when unset, what ``operator_address_url`` answers.
    """
    value = _cloud().setting("operator_address") if value is None else value
    if not value:
        url = url or _cloud().setting("operator_address_url")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (configured URL)
                value = response.read(100).decode().strip()
        except (OSError, ValueError) as exc:
            raise SaltCloudConfigError(
                f"gce: could not detect your public address from {url} ({exc}); "
                "set operator_address in cloud.providers.d/gce.conf"
            ) from None
        source = url
    else:
        source = "operator_address"
    try:
        network = ipaddress.IPv4Network(str(value), strict=False)
    except ValueError:
        raise SaltCloudConfigError(f"gce: {source} gave {value!r}, not an IPv4 address") from None
    return str(network)


def resource_names(lab, net):
    """
    Network, subnetwork, firewall, router and NAT names of one lab network.
    """
    return {
        "network": f"{lab}-{net}",
        "subnetwork": f"{lab}-{net}",
        "firewall": f"{lab}-{net}-in",
        "router": f"{lab}-{net}-router",
        "nat": f"{lab}-{net}-nat",
    }


def nat_network(nets, value=None):
    """
    The lab network that gets the Cloud NAT (``nat_network``, default
    mgmt: the first NIC of the nodes without an external address), or None
    when set to ''.
    """
    value = _cloud().setting("nat_network") if value is None else value
    if not value:
        return None
    if value not in nets or nets[value]["external"]:
        internal = ", ".join(n for n, s in nets.items() if not s["external"])
        raise SaltCloudConfigError(
            f"gce: nat_network {value!r} must be one of the internal lab_networks ({internal}), or '' for no Cloud NAT"
        )
    return value


def network_body(lab, net, spec):
    return compute_v1.Network(
        name=resource_names(lab, net)["network"],
        auto_create_subnetworks=False,
        mtu=spec["mtu"],
        routing_config=compute_v1.NetworkRoutingConfig(routing_mode="REGIONAL"),
        description=f"saltlab lab {lab}: {net} network",
    )


def subnetwork_body(project, region, lab, net, spec):
    return compute_v1.Subnetwork(
        name=resource_names(lab, net)["subnetwork"],
        ip_cidr_range=str(spec["net"]),
        network=f"projects/{project}/global/networks/{resource_names(lab, net)['network']}",
        region=region,
        description=f"saltlab lab {lab}: {net} subnetwork",
    )


def firewall_body(project, lab, net, spec, operator=None, ports=None):
    """
    The external network: ICMP and the given TCP ports from the operator
    only. The others: everything from their own CIDR.
    """
    if spec["external"]:
        allowed = [
            compute_v1.Allowed(I_p_protocol="icmp"),
            compute_v1.Allowed(I_p_protocol="tcp", ports=[str(p) for p in ports]),
        ]
        sources = [operator]
        what = "ICMP, SSH and the proxy's ports from the operator only"
    else:
        allowed = [compute_v1.Allowed(I_p_protocol="all")]
        sources = [str(spec["net"])]
        what = f"everything from {spec['net']}"
    return compute_v1.Firewall(
        name=resource_names(lab, net)["firewall"],
        direction="INGRESS",
        priority=1000,
        network=f"projects/{project}/global/networks/{resource_names(lab, net)['network']}",
        allowed=allowed,
        source_ranges=sources,
        description=f"saltlab lab {lab}: {what}",
    )


def router_body(project, region, lab, net):
    """
    A Cloud Router on the network with one Cloud NAT for all its
    subnetworks' ranges, on addresses Google allocates.
    """
    names = resource_names(lab, net)
    return compute_v1.Router(
        name=names["router"],
        region=region,
        network=f"projects/{project}/global/networks/{names['network']}",
        description=f"saltlab lab {lab}: Cloud NAT for the nodes on {net} without an external address",
        nats=[
            compute_v1.RouterNat(
                name=names["nat"],
                source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
                nat_ip_allocate_option="AUTO_ONLY",
            )
        ],
    )


def instance_body(project, zone, lab, name, spec, nets, public_key, data_disk=None):
    """
    The instance resource for a node. ``spec``: machine_type, nics,
    addresses ({nic: address}), nested_virtualization, image, disk_size_gb,
    disk_type, ssh_username, role.
    """
    region = zone.rsplit("-", 1)[0]
    labels = {"saltlab": lab, "saltlab-node": name}
    interfaces = []
    for nic in spec["nics"]:
        names = resource_names(lab, nic)
        interface = compute_v1.NetworkInterface(
            network=f"projects/{project}/global/networks/{names['network']}",
            subnetwork=f"projects/{project}/regions/{region}/subnetworks/{names['subnetwork']}",
            network_i_p=spec["addresses"][nic],
        )
        if nets[nic]["external"]:
            interface.access_configs = [
                compute_v1.AccessConfig(name="External NAT", type_="ONE_TO_ONE_NAT", network_tier="PREMIUM")
            ]
        interfaces.append(interface)
    disks = [
        compute_v1.AttachedDisk(
            boot=True,
            auto_delete=True,
            device_name=name,
            initialize_params=compute_v1.AttachedDiskInitializeParams(
                source_image=spec["image"],
                disk_size_gb=int(spec["disk_size_gb"]),
                disk_type=f"zones/{zone}/diskTypes/{spec['disk_type']}",
                labels=labels,
            ),
        )
    ]
    if data_disk:
        disks.append(compute_v1.AttachedDisk(source=data_disk, auto_delete=True, boot=False, device_name="data"))
    instance = compute_v1.Instance(
        name=name,
        machine_type=f"zones/{zone}/machineTypes/{spec['machine_type']}",
        description=f"saltlab lab {lab}: {spec.get('role') or name}",
        labels=labels,
        network_interfaces=interfaces,
        disks=disks,
        metadata=compute_v1.Metadata(
            items=[
                compute_v1.Items(key="ssh-keys", value=f"{spec['ssh_username']}:{public_key.strip()}"),
                # what the boot disk was made from, for salt-cloud -Q
                compute_v1.Items(key="saltlab-image", value=spec["image"]),
            ]
        ),
    )
    if spec.get("nested_virtualization"):
        instance.advanced_machine_features = compute_v1.AdvancedMachineFeatures(enable_nested_virtualization=True)
    return instance


# ---------------------------------------------------------------------------
# the API


def _message(exc):
    """
    The API's own words, without the client's "METHOD URL: " prefix.
    """
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return re.sub(r"^(GET|POST|PUT|PATCH|DELETE) \S+: ", "", str(text))


def _reasons(exc):
    return [e.get("reason") for e in getattr(exc, "errors", None) or [] if isinstance(e, dict)]


def _project_hint():
    return f"project {_project_cache.get('project') or _cloud().setting('project') or '?'}"


_project_cache = {}


def error_text(exc, doing):
    """
    One readable sentence for what the API or the network said.
    """
    message = _message(exc)
    if HAS_GCE and isinstance(exc, (api_exceptions.Forbidden, api_exceptions.TooManyRequests)):
        if any(r in QUOTA_REASONS for r in _reasons(exc)) or "quota" in message.lower():
            return f"gce: quota exceeded while {doing}: {message}"
        return (
            f"gce: permission denied while {doing}: {message} "
            f"(the service account needs {ROLES_NEEDED} on {_project_hint()})"
        )
    if HAS_GCE and isinstance(exc, google.auth.exceptions.InvalidOperation):
        # a 401 to credentials that cannot be refreshed (anonymous ones)
        return f"gce: the API rejected the credentials while {doing}: {message}"
    if HAS_GCE and isinstance(exc, api_exceptions.Unauthorized):
        return (
            f"gce: the API rejected the credentials while {doing}: {message} "
            f"(check service_account_key {_cloud().setting('service_account_key')})"
        )
    if HAS_GCE and isinstance(exc, google.auth.exceptions.RefreshError):
        return (
            f"gce: the service-account key {_cloud().setting('service_account_key')} was refused while {doing}: "
            f"{exc} (deleted or disabled key? create a new one)"
        )
    if HAS_GCE and isinstance(exc, requests.exceptions.Timeout):
        return f"gce: the API at {_endpoint()[0]} did not answer in time while {doing}"
    if (
        HAS_GCE
        and isinstance(exc, (requests.exceptions.ConnectionError, google.auth.exceptions.TransportError))
        or isinstance(exc, OSError)
    ):
        return f"gce: cannot reach the API at {_endpoint()[0]} while {doing}: {type(exc).__name__}"
    if HAS_GCE and isinstance(exc, api_exceptions.RetryError):
        return f"gce: {doing} timed out: {message}"
    return f"gce: {doing} failed: {message}"


def _api(doing):
    """
    Turn whatever the API or the network says into one clear salt-cloud
    error naming what was being done.
    """
    return _cloud().api(doing, error_text)


def _endpoint():
    """
    (host[:port] or None, url scheme) of ``api_endpoint``.
    """
    value = _cloud().setting("api_endpoint")
    if not value:
        return None, "https"
    url = urllib.parse.urlsplit(str(value))
    if url.scheme not in ("http", "https") or not url.netloc or url.path not in ("", "/"):
        raise SaltCloudConfigError(f"gce: api_endpoint {value!r} must be http(s)://HOST[:PORT]")
    return url.netloc, url.scheme


def _credentials():
    """
    (credentials, the key's project) from the service-account key, or
    anonymous ones for a local fake.
    """
    if _cloud().setting("anonymous"):
        if not _cloud().setting("api_endpoint"):
            raise SaltCloudConfigError("gce: anonymous: True is only for a local fake (set api_endpoint)")
        return AnonymousCredentials(), None
    path = os.path.expanduser(str(_cloud().setting("service_account_key")))
    if not os.path.isfile(path):
        raise SaltCloudConfigError(
            f"gce: the service-account key {path} is missing; create a JSON key for the lab's service account "
            "and put it there (README: Google Cloud), or set service_account_key"
        )
    try:
        with open(path, encoding="utf-8") as fh:
            info = json.load(fh)
    except (OSError, ValueError) as exc:
        raise SaltCloudConfigError(f"gce: the service-account key {path} is not a JSON file: {exc}") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        kind = info.get("type") if isinstance(info, dict) else type(info).__name__
        raise SaltCloudConfigError(
            f"gce: {path} is not a service-account key (type: {kind!r}); download a JSON key of a service account"
        )
    try:
        credentials = service_account.Credentials.from_service_account_info(info, scopes=[COMPUTE_SCOPE])
    except (ValueError, KeyError, TypeError) as exc:
        raise SaltCloudConfigError(f"gce: the service-account key {path} is not usable: {exc}") from None
    return credentials, info.get("project_id")


class _Connection:
    """
    The Compute clients on one endpoint with one set of credentials, made
    on first use (``conn.instances``, ``conn.zone_operations``...).
    """

    def __init__(self, credentials, project, host, scheme, timeout):
        self.project, self.host, self.scheme, self.timeout = project, host, scheme, timeout
        self._credentials = credentials
        self._clients = {}

    def __getattr__(self, name):
        if name.startswith("_") or name not in CLIENTS:
            raise AttributeError(name)
        if name not in self._clients:
            cls = getattr(compute_v1, CLIENTS[name])
            options = {"api_endpoint": self.host} if self.host else None
            transport = functools.partial(cls.get_transport_class("rest"), url_scheme=self.scheme)
            self._clients[name] = cls(credentials=self._credentials, client_options=options, transport=transport)
        return self._clients[name]


def _connect():
    host, scheme = _endpoint()
    credentials, key_project = _credentials()
    project = _cloud().setting("project") or key_project
    if not project:
        raise SaltCloudConfigError(
            "gce: no project: set project in cloud.providers.d/gce.conf (the service-account key names none)"
        )
    _project_cache["project"] = project
    return _Connection(credentials, str(project), host, scheme, _cloud().setting("request_timeout"))


def _place():
    """
    (zone, region) of the provider; the region is the zone's unless given.
    """
    zone = str(_cloud().setting("zone"))
    if not re.fullmatch(r"[a-z]+-[a-z]+[0-9]+-[a-z]", zone):
        raise SaltCloudConfigError(f"gce: zone {zone!r} is not a zone name (like europe-west1-b)")
    region = str(_cloud().setting("region") or zone.rsplit("-", 1)[0])
    if zone.rsplit("-", 1)[0] != region:
        raise SaltCloudConfigError(f"gce: zone {zone} is not in region {region}")
    return zone, region


def _wait(conn, operation, scope, doing):
    """
    Wait for an operation (``scope``: ("zone", z), ("region", r) or
    ("global",)) with the operations service's ``wait``, until it is DONE
    or ``operation_timeout`` passes; an operation that ends with an error
    raises with the API's messages.

    Not the client's own ``operation.result()``: its poller is an
    operations client made without our ``client_options``, so it would ask
    the public endpoint, never ``api_endpoint``.
    """
    timeout = float(_cloud().setting("operation_timeout"))
    interval = float(_cloud().setting("poll_interval"))
    client = getattr(conn, f"{scope[0]}_operations")
    where = {scope[0]: scope[1]} if len(scope) > 1 else {}
    deadline = time.monotonic() + timeout
    current = operation
    done = compute_v1.Operation.Status.DONE
    while current.status != done:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SaltCloudSystemExit(
                f"gce: {doing}: operation {operation.name} was not done after {timeout:g} s "
                f"(status {compute_v1.Operation.Status(current.status).name}); "
                "it may still finish: check with salt-cloud -Q before trying again"
            )
        with _api(doing):
            # the service answers when the operation is done or after about 2 min
            current = client.wait(
                project=conn.project, operation=operation.name, timeout=min(max(remaining, 5.0), 150.0), **where
            )
        if current.status != done:
            time.sleep(max(0.0, min(interval, deadline - time.monotonic())))
    errors = list(current.error.errors) if current.error else []
    if errors:
        codes = [e.code for e in errors]
        text = "; ".join(e.message or e.code for e in errors)
        if any(c in QUOTA_REASONS for c in codes) or "quota" in text.lower():
            raise SaltCloudSystemExit(f"gce: quota exceeded while {doing}: {text}")
        if current.http_error_status_code == 403:
            raise SaltCloudSystemExit(
                f"gce: permission denied while {doing}: {text} (the service account needs {ROLES_NEEDED})"
            )
        raise SaltCloudSystemExit(f"gce: {doing} failed: {text} ({', '.join(codes)})")
    return current


def _get(call, doing, **kwargs):
    """
    A resource, or None when the API says it does not exist.
    """
    with _api(doing):
        try:
            return call(**kwargs)
        except api_exceptions.NotFound:
            return None


def _lab_instances(conn, zone, lab):
    with _api(f"listing the instances of zone {zone}"):
        return [i for i in conn.instances.list(project=conn.project, zone=zone) if i.labels.get("saltlab") == lab]


# ---------------------------------------------------------------------------
# the lab's networks


def _ensure(conn, kind, name, getter, inserter, scope, label):
    """
    Get a resource, or create it and wait; when another salt-cloud process
    created it meanwhile (409), wait until it shows.
    """
    if _get(getter, f"reading {kind} {name}") is not None:
        return False
    _cloud().progress(label, f"creating {kind} {name}")
    with _api(f"creating {kind} {name}"):
        try:
            operation = inserter()
        except api_exceptions.Conflict:
            operation = None
    if operation is not None:
        _wait(conn, operation, scope, f"creating {kind} {name}")
        return True
    deadline = time.monotonic() + float(_cloud().setting("operation_timeout"))
    while _get(getter, f"reading {kind} {name}") is None:
        if time.monotonic() > deadline:
            raise SaltCloudSystemExit(f"gce: {kind} {name} is being created by someone else and did not appear")
        time.sleep(float(_cloud().setting("poll_interval")))
    return False


def ensure_lab_networks(conn, label="lab"):
    """
    Make the lab's networks, subnetworks, firewall rules and Cloud Router
    (with its NAT) that do not exist yet. Returns the names it made.
    """
    lab = lab_name()
    nets = lab_networks()
    zone, region = _place()
    project = conn.project
    made = []
    ports = operator = None
    for net, spec in nets.items():
        names = resource_names(lab, net)
        body = network_body(lab, net, spec)
        if _ensure(
            conn,
            "network",
            names["network"],
            functools.partial(conn.networks.get, project=project, network=names["network"]),
            functools.partial(conn.networks.insert, project=project, network_resource=body),
            ("global",),
            label,
        ):
            made.append(names["network"])
    for net, spec in nets.items():
        names = resource_names(lab, net)
        body = subnetwork_body(project, region, lab, net, spec)
        if _ensure(
            conn,
            "subnetwork",
            names["subnetwork"],
            functools.partial(conn.subnetworks.get, project=project, region=region, subnetwork=names["subnetwork"]),
            functools.partial(conn.subnetworks.insert, project=project, region=region, subnetwork_resource=body),
            ("region", region),
            label,
        ):
            made.append(names["subnetwork"])
    for net, spec in nets.items():
        names = resource_names(lab, net)
        if (
            spec["external"]
            and _get(
                functools.partial(conn.firewalls.get, project=project, firewall=names["firewall"]),
                f"reading firewall {names['firewall']}",
            )
            is None
        ):
            ports = _cloud().setting("public_ports") or public_ports()
            operator = operator_cidr()
            _cloud().progress(
                label,
                f"the public network lets in {operator} only, on ICMP and TCP " + ", ".join(str(p) for p in ports),
            )
        body = firewall_body(project, lab, net, spec, operator, ports) if (not spec["external"] or operator) else None
        if body is None:
            continue
        if _ensure(
            conn,
            "firewall",
            names["firewall"],
            functools.partial(conn.firewalls.get, project=project, firewall=names["firewall"]),
            functools.partial(conn.firewalls.insert, project=project, firewall_resource=body),
            ("global",),
            label,
        ):
            made.append(names["firewall"])
    net = nat_network(nets)
    if net:
        names = resource_names(lab, net)
        if _ensure(
            conn,
            "router",
            names["router"],
            functools.partial(conn.routers.get, project=project, region=region, router=names["router"]),
            functools.partial(
                conn.routers.insert,
                project=project,
                region=region,
                router_resource=router_body(project, region, lab, net),
            ),
            ("region", region),
            label,
        ):
            made.append(names["router"])
    return made


def update_lab_firewall(kwargs=None, call=None):
    """
    Set the public network's firewall rule to the operator's address now
    (``operator_address``, or detected again) and the proxy's ports now
    (after an address change, or a service added to the catalog).

    CLI example:

    .. code-block:: bash

        salt-cloud -f update_lab_firewall gce
    """
    _cloud().function(call, "update_lab_firewall", strict=True)
    conn = _connect()
    lab = lab_name()
    net, spec = next((n, s) for n, s in lab_networks().items() if s["external"])
    name = resource_names(lab, net)["firewall"]
    current = _get(
        functools.partial(conn.firewalls.get, project=conn.project, firewall=name), f"reading firewall {name}"
    )
    if current is None:
        raise SaltCloudSystemExit(f"gce: there is no firewall {name} yet (salt-cloud -f create_lab_networks gce)")
    wanted = firewall_body(
        conn.project, lab, net, spec, operator_cidr(), _cloud().setting("public_ports") or public_ports()
    )
    before = {
        "source_ranges": list(current.source_ranges),
        "allowed": [(a.I_p_protocol, list(a.ports)) for a in current.allowed],
    }
    after = {
        "source_ranges": list(wanted.source_ranges),
        "allowed": [(a.I_p_protocol, list(a.ports)) for a in wanted.allowed],
    }
    if before == after:
        return {"unchanged": name, **after}
    _cloud().progress(
        "lab",
        f"firewall {name}: from {', '.join(after['source_ranges'])} on ICMP and TCP "
        + ", ".join(after["allowed"][-1][1]),
    )
    patch = compute_v1.Firewall(
        source_ranges=wanted.source_ranges, allowed=wanted.allowed, description=wanted.description
    )
    with _api(f"updating firewall {name}"):
        operation = conn.firewalls.patch(project=conn.project, firewall=name, firewall_resource=patch)
    _wait(conn, operation, ("global",), f"updating firewall {name}")
    return {"updated": name, **after}


def remove_lab_networks(conn, label="lab"):
    """
    Delete the lab's Cloud Router (its NAT goes with it), firewall rules,
    subnetworks, then networks (what exists of them). Returns the names it
    deleted.
    """
    lab = lab_name()
    nets = lab_networks()
    _zone, region = _place()
    project = conn.project
    removed = []
    # the router whatever nat_network says now: it may have been made under another setting
    steps = [
        ("router", "router", ("region", region), lambda n: {"region": region, "router": n}, conn.routers),
        ("firewall", "firewall", ("global",), lambda n: {"firewall": n}, conn.firewalls),
        (
            "subnetwork",
            "subnetwork",
            ("region", region),
            lambda n: {"region": region, "subnetwork": n},
            conn.subnetworks,
        ),
        ("network", "network", ("global",), lambda n: {"network": n}, conn.networks),
    ]
    for kind, key, scope, args, client in steps:
        for net in nets:
            name = resource_names(lab, net)[key]
            if _get(functools.partial(client.get, project=project, **args(name)), f"reading {kind} {name}") is None:
                continue
            _cloud().progress(label, f"deleting {kind} {name}")
            with _api(f"deleting {kind} {name}"):
                try:
                    operation = client.delete(project=project, **args(name))
                except api_exceptions.NotFound:
                    continue
            _wait(conn, operation, scope, f"deleting {kind} {name}")
            removed.append(name)
    return removed


def _users_of_networks(conn, zone, lab):
    """
    The instances of the zone with a NIC on one of the lab's networks.
    """
    wanted = {resource_names(lab, net)["network"] for net in lab_networks()}
    with _api(f"listing the instances of zone {zone}"):
        instances = list(conn.instances.list(project=conn.project, zone=zone))
    return sorted(
        i.name for i in instances if any(nic.network.rsplit("/", 1)[-1] in wanted for nic in i.network_interfaces)
    )


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
    conn = _connect()
    return {"created": ensure_lab_networks(conn)}


def destroy_lab_networks(kwargs=None, call=None):
    """
    Delete the lab's Cloud Router and NAT, firewall rules, subnetworks and
    networks, refused while an instance still uses them.

    CLI example:

    .. code-block:: bash

        salt-cloud -f destroy_lab_networks gce
    """
    _cloud().function(call, "destroy_lab_networks", strict=True)
    conn = _connect()
    zone, _region = _place()
    users = _users_of_networks(conn, zone, lab_name())
    if users:
        raise SaltCloudSystemExit(
            f"gce: the lab's networks are still used by {', '.join(users)}; destroy those first "
            "(salt-cloud -m maps/gce.yaml -d)"
        )
    return {"deleted": remove_lab_networks(conn)}


# ---------------------------------------------------------------------------
# salt-cloud functions


def _profile_value(vm_, key, default=None):
    return config.get_cloud_config_value(key, vm_, __opts__, default=default, search_global=False)


def _node_spec(vm_, nets):
    """
    What the profile asks of a node, checked before any request.
    """
    machine_type = _profile_value(vm_, "machine_type")
    if not machine_type:
        raise SaltCloudConfigError(
            f"gce: profile {vm_.get('profile')} needs 'machine_type' (salt-cloud --list-sizes gce)"
        )
    nics = _profile_value(vm_, "nics")
    spec = {
        "machine_type": str(machine_type),
        "nics": nics,
        "addresses": node_addresses(nics, _profile_value(vm_, "host_number"), nets),
        "nested_virtualization": bool(_profile_value(vm_, "nested_virtualization", False)),
        "image": str(_cloud().setting("image", vm_)),
        "disk_size_gb": _cloud().setting("disk_size_gb", vm_),
        "disk_type": str(_cloud().setting("disk_type", vm_)),
        "ssh_username": str(_cloud().setting("ssh_username", vm_)),
        "extra_disk_gb": _profile_value(vm_, "extra_disk_gb"),
        "role": ",".join((_profile_value(vm_, "grains", {}) or {}).get("roles", [])),
    }
    if spec["nested_virtualization"]:
        check_nested_virtualization(spec["machine_type"])
    for key in ("disk_size_gb", "extra_disk_gb"):
        value = spec[key]
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 10):
            raise SaltCloudConfigError(f"gce: {key} must be an integer of at least 10 (GB)")
    return spec


def _external_ip(instance):
    return next((c.nat_i_p for nic in instance.network_interfaces for c in nic.access_configs if c.nat_i_p), None)


def _describe(instance):
    return {
        "id": str(instance.id),
        "name": instance.name,
        "state": instance.status,
        "image": next((i.value for i in instance.metadata.items if i.key == "saltlab-image"), None),
        "size": instance.machine_type.rsplit("/", 1)[-1],
        "zone": instance.zone.rsplit("/", 1)[-1],
        "public_ips": [c.nat_i_p for nic in instance.network_interfaces for c in nic.access_configs if c.nat_i_p],
        "private_ips": [nic.network_i_p for nic in instance.network_interfaces],
    }


def _full(instance):
    data = type(instance).to_dict(instance, preserving_proto_field_name=False)
    data.update(_describe(instance))
    return data


def _delete_instance(conn, zone, name, label):
    with _api(f"deleting instance {name}"):
        try:
            operation = conn.instances.delete(project=conn.project, zone=zone, instance=name)
        except api_exceptions.NotFound:
            return False
    _wait(conn, operation, ("zone", zone), f"deleting instance {name}")
    return True


def _delete_node_disks(conn, zone, lab, name, label):
    """
    The disks the lab made for a node that are left (e.g. a data disk
    whose instance was never made).
    """
    with _api(f"listing the disks of zone {zone}"):
        disks = [
            d
            for d in conn.disks.list(project=conn.project, zone=zone)
            if d.labels.get("saltlab") == lab and d.labels.get("saltlab-node") == name and not d.users
        ]
    for disk in disks:
        _cloud().progress(label, f"deleting disk {disk.name}")
        with _api(f"deleting disk {disk.name}"):
            try:
                operation = conn.disks.delete(project=conn.project, zone=zone, disk=disk.name)
            except api_exceptions.NotFound:
                continue
        _wait(conn, operation, ("zone", zone), f"deleting disk {disk.name}")


def _gateway(conn, zone, vm_, keyfile, name):
    """
    The SSH gateway of a node without a public NIC: the external address of
    ``ssh_gateway_node`` (the network node), looked up now.
    """
    node = str(_cloud().setting("ssh_gateway_node", vm_))
    instance = _get(
        functools.partial(conn.instances.get, project=conn.project, zone=zone, instance=node),
        f"reading instance {node}",
    )
    address = _external_ip(instance) if instance is not None else None
    if not address:
        raise SaltCloudConfigError(
            f"gce: {name} has no public NIC and its ssh_gateway_node {node!r} is not an instance with an "
            "external address; create it first (the map does: it is the master)"
        )
    return {
        "ssh_gateway": address,
        "ssh_gateway_user": str(_cloud().setting("ssh_username", vm_)),
        "ssh_gateway_key": keyfile,
        "ssh_gateway_command": "-W %h:%p",
    }


def _config_path(path):
    """
    Paths in the configuration are relative to the config dir (this repo).
    """
    return os.path.join(os.path.dirname(__opts__["conf_file"]), path)


def _publish_master(name, host, keyfile, user):
    """
    Record the new master as the bastion (``var/bastion``: its address, the
    operator's key and the SSH user, who uses sudo when not root) and push
    the state tree and pillar to it (``tools/push``).
    """
    path = _config_path("var/bastion")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"bastion_host={host}\nbastion_key={keyfile}\nbastion_user={user}\n")
    _cloud().progress(name, f"pushing the state tree and pillar to the master as {user} (tools/push)")
    try:
        proc = subprocess.run([_config_path("tools/push"), host], stdout=sys.stderr, check=False)
    except OSError as exc:
        raise SaltCloudSystemExit(f"gce: cannot run tools/push: {exc}") from None
    if proc.returncode != 0:
        raise SaltCloudSystemExit(f"gce: tools/push to the new master {host} failed (see above)")


def create(vm_):
    """
    Create a node from a profile: the lab's networks first when they are
    missing, then the node's data disk and instance; then deploy Salt on it
    over SSH (through the network node when it has no public NIC).

    CLI example:

    .. code-block:: bash

        salt-cloud -p gce-compute compute3
    """
    name = validate_name(vm_["name"])
    lab = lab_name()
    nets = lab_networks()
    nat_network(nets)
    zone, region = _place()
    spec = _node_spec(vm_, nets)
    keyfile = _cloud().operator_keyfile(vm_)
    with open(keyfile + ".pub", encoding="utf-8") as fh:
        public_key = fh.read()
    deploy = config.get_cloud_config_value("deploy", vm_, __opts__, default=True) is not False
    external = any(nets[nic]["external"] for nic in spec["nics"])
    conn = _connect()

    if _get(functools.partial(conn.zones.get, project=conn.project, zone=zone), f"reading zone {zone}") is None:
        raise SaltCloudConfigError(
            f"gce: unknown zone {zone!r} in project {conn.project} (salt-cloud --list-locations gce)"
        )
    machine = _get(
        functools.partial(conn.machine_types.get, project=conn.project, zone=zone, machine_type=spec["machine_type"]),
        f"reading machine type {spec['machine_type']}",
    )
    if machine is None:
        raise SaltCloudConfigError(
            f"gce: unknown machine type {spec['machine_type']!r} in zone {zone} (salt-cloud --list-sizes gce)"
        )
    if len(spec["nics"]) > max(2, min(machine.guest_cpus, 8)):
        raise SaltCloudConfigError(
            f"gce: {spec['machine_type']} ({machine.guest_cpus} vCPUs) takes at most "
            f"{max(2, min(machine.guest_cpus, 8))} NICs, the profile has {len(spec['nics'])}"
        )
    if (
        _get(
            functools.partial(conn.instances.get, project=conn.project, zone=zone, instance=name),
            f"reading instance {name}",
        )
        is not None
    ):
        raise SaltCloudSystemExit(f"gce: zone {zone} already has an instance named {name}; destroy it first")
    gateway = None
    if deploy and not external:
        gateway = _gateway(conn, zone, vm_, keyfile, name)

    ensure_lab_networks(conn, name)
    _cloud().fire(name, "starting create", "creating", vm_=vm_)
    data_disk = None
    try:
        if spec["extra_disk_gb"]:
            disk_name = f"{name}-data"
            _cloud().progress(name, f"creating disk {disk_name} ({spec['extra_disk_gb']} GB)")
            disk = compute_v1.Disk(
                name=disk_name,
                size_gb=spec["extra_disk_gb"],
                type_=f"zones/{zone}/diskTypes/{spec['disk_type']}",
                labels={"saltlab": lab, "saltlab-node": name},
                description=f"saltlab lab {lab}: data disk of {name}",
            )
            with _api(f"creating disk {disk_name}"):
                operation = conn.disks.insert(project=conn.project, zone=zone, disk_resource=disk)
            _wait(conn, operation, ("zone", zone), f"creating disk {disk_name}")
            data_disk = f"projects/{conn.project}/zones/{zone}/disks/{disk_name}"
        body = instance_body(conn.project, zone, lab, name, spec, nets, public_key, data_disk)
        _cloud().progress(
            name,
            f"creating a {spec['machine_type']} instance in {zone}: "
            + ", ".join(f"{n}={a}" for n, a in spec["addresses"].items())
            + (", nested virtualization" if spec["nested_virtualization"] else ""),
        )
        with _api(f"creating instance {name}"):
            operation = conn.instances.insert(project=conn.project, zone=zone, instance_resource=body)
        _wait(conn, operation, ("zone", zone), f"creating instance {name}")
        with _api(f"reading instance {name}"):
            instance = conn.instances.get(project=conn.project, zone=zone, instance=name)

        if external:
            vm_["ssh_host"] = _external_ip(instance)
        else:
            vm_["ssh_host"] = spec["addresses"].get("mgmt") or next(iter(spec["addresses"].values()))
            if gateway:
                vm_["gateway"] = gateway
        vm_["key_filename"] = keyfile
        vm_["ssh_username"] = spec["ssh_username"]
        if deploy:
            _cloud().progress(
                name,
                f"deploying Salt over SSH to {spec['ssh_username']}@{vm_['ssh_host']}"
                + (f" via {gateway['ssh_gateway']}" if gateway else ""),
            )
            ret = __utils__["cloud.bootstrap"](vm_, __opts__)
            if config.get_cloud_config_value("make_master", vm_, __opts__) is True:
                _publish_master(name, vm_["ssh_host"], keyfile, spec["ssh_username"])
        else:
            _cloud().progress(name, "up; Salt not deployed (deploy: False)")
            ret = {}
    except BaseException:
        _cloud().progress(name, "creation failed; removing what was made for it")
        try:
            _delete_instance(conn, zone, name, name)
            _delete_node_disks(conn, zone, lab, name, name)
        except SaltCloudException as exc:
            _cloud().progress(name, f"cleaning up failed too: {exc}")
        raise
    _cloud().deployed(ret, keep_empty=False)
    ret.update(_describe(instance))
    _cloud().fire(name, "created instance", "created", vm_=vm_)
    _cloud().progress(name, "ready" + (f" at {_external_ip(instance)}" if external else ""))
    return ret


def destroy(name, call=None):
    """
    Delete a node's instance (its disks go with it); the lab's networks go
    with the last node that used them.

    CLI example:

    .. code-block:: bash

        salt-cloud -d compute2
    """
    _cloud().destroy(call)
    lab = lab_name()
    zone, _region = _place()
    conn = _connect()
    instance = _get(
        functools.partial(conn.instances.get, project=conn.project, zone=zone, instance=name),
        f"reading instance {name}",
    )
    if instance is None or instance.labels.get("saltlab") != lab:
        raise SaltCloudSystemExit(f"gce: zone {zone} has no instance {name} of lab {lab}")
    with _cloud().destroying(name, "deleting the instance"):
        _delete_instance(conn, zone, name, name)
        _delete_node_disks(conn, zone, lab, name, name)
    ret = {"destroyed": name}
    if not _users_of_networks(conn, zone, lab):
        _cloud().progress(name, "no node uses the lab's networks any more: deleting them")
        ret["networks_deleted"] = remove_lab_networks(conn, name)
    return ret


def list_nodes(call=None):
    """
    The lab's instances with their state and addresses.

    CLI example:

    .. code-block:: bash

        salt-cloud -Q
    """
    _cloud().function(call, "list_nodes")
    zone, _region = _place()
    return {i.name: _describe(i) for i in _lab_instances(_connect(), zone, lab_name())}


def list_nodes_full(call=None):
    """
    Everything the API says of each of the lab's instances.

    CLI example:

    .. code-block:: bash

        salt-cloud -F
    """
    _cloud().function(call, "list_nodes_full")
    zone, _region = _place()
    return {i.name: _full(i) for i in _lab_instances(_connect(), zone, lab_name())}


def list_nodes_select(call=None):
    """
    The fields of each instance chosen by ``query.selection``.

    CLI example:

    .. code-block:: bash

        salt-cloud -S
    """
    return _cloud().list_nodes_select(list_nodes_full, call)


def show_instance(name, call=None):
    """
    One instance's details.

    CLI example:

    .. code-block:: bash

        salt-cloud -a show_instance controller
    """
    _cloud().action(call, "show_instance")
    zone, _region = _place()
    conn = _connect()
    instance = _get(
        functools.partial(conn.instances.get, project=conn.project, zone=zone, instance=name),
        f"reading instance {name}",
    )
    if instance is None:
        raise SaltCloudSystemExit(f"gce: zone {zone} has no instance named {name}")
    return _full(instance)


def avail_locations(call=None):
    """
    The zones of the project (the provider's ``zone``).

    CLI example:

    .. code-block:: bash

        salt-cloud --list-locations gce
    """
    _cloud().function(call, "avail_locations")
    conn = _connect()
    with _api("listing zones"):
        return {
            z.name: {"region": z.region.rsplit("/", 1)[-1], "status": z.status}
            for z in conn.zones.list(project=conn.project)
        }


def avail_sizes(call=None):
    """
    The machine types of the provider's zone (a profile's ``machine_type``).

    CLI example:

    .. code-block:: bash

        salt-cloud --list-sizes gce
    """
    _cloud().function(call, "avail_sizes")
    zone, _region = _place()
    conn = _connect()
    with _api(f"listing the machine types of zone {zone}"):
        return {
            m.name: {
                "cpus": m.guest_cpus,
                "memory_mb": m.memory_mb,
                "description": m.description,
                "nested_virtualization": m.name.split("-", 1)[0] in NESTED_FAMILIES,
            }
            for m in conn.machine_types.list(project=conn.project, zone=zone)
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
    conn = _connect()
    images = {}
    for project in _cloud().setting("image_projects"):
        with _api(f"listing the images of project {project}"):
            for image in conn.images.list(project=project):
                images[f"projects/{project}/global/images/{image.name}"] = {
                    "name": image.name,
                    "family": image.family,
                    "status": image.status,
                    "family_link": f"projects/{project}/global/images/family/{image.family}",
                }
    return images
