"""
A local fake of the Google Compute Engine REST API (``/compute/v1``), enough
for the ``gce`` salt-cloud driver and the real google-cloud-compute client
(REST transport): zones, machine types, images, networks, subnetworks,
firewalls, routers (with their Cloud NAT), disks, instances and zone,
region and global operations, in the
API's JSON shapes (``kind``, ``selfLink``, ``id`` as a string, list pages
with ``items`` and ``nextPageToken``, errors as
``{"error": {"code", "message", "errors": [{"reason", ...}]}}``), with state.

Every insert and delete answers with an operation (``RUNNING``); its effect
happens when the operation is done, after ``reads_to_done`` reads of it
(``get`` or ``wait``; ``wait`` finishes it at once unless operations are
held). A failed operation is ``DONE`` with ``error.errors[]`` and changes
nothing. The fake refuses what the API refuses and the driver must get
right: a name in use (409), a missing or foreign reference (404/400), a
network, subnetwork or disk still in use (400; a network also by a router),
a second Cloud NAT for all subnetworks of a network in one region (400), an
internal address taken
or outside its subnetwork, more NICs than the machine type allows, nested
virtualization on a machine type without it.

Machine series that take only Hyperdisk (``HYPERDISK_ONLY``: N4, C4...)
refuse a Persistent Disk (``pd-*``) as the API does. A project's metadata
(``project_metadata``, e.g. ``{"enable-oslogin": "TRUE"}``) is what
``projects.get`` shows; ``api_enabled=False`` answers every call with the
403 of a project where the Compute Engine API is not enabled
(``accessNotConfigured``). ``POST /iam/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken``
answers for an impersonated service account (``impersonable``: the emails
it accepts), as iamcredentials.googleapis.com does.

The rehearsal (tests/fakes/rehearsal.py) gives a ``backend``: then an
instance is a real local node, booted when it is inserted (its operation
stays RUNNING until the node is up, and ``reads_to_done`` polls at least),
stopped, started and removed with the instance; its external address comes
from ``external_range``; the firewall rules and Cloud NATs are applied to
the rehearsal's network whenever they or the instances change; its guest
attributes are what the node's guest agent published.

Fault injection, from the test::

    api.fail_request("POST", "/instances$", 403, "forbidden", "Required 'compute.instances.create' permission")
    api.fail_operation("insert", "instances/storage", "QUOTA_EXCEEDED", "Quota 'CPUS' exceeded.")
    api.hold_operations = True        # operations stay RUNNING (timeouts)
    api.delay = 2                     # every call answers after 2 s (request timeouts)

Authentication: by default any caller (AnonymousCredentials) is served; with
``require_token=True`` only ``Authorization: Bearer <token>`` where the token
is a self-signed JWT (RS256) of a service account registered with
``add_service_account(email, public_key_pem)`` (what google-auth sends for a
service-account key) or came from the fake's OAuth token endpoint
(``POST /token``, a key's ``token_uri``); anything else is a 401. ``GET /myip`` answers the operator's address
(``operator_address``) as plain text, like the address-echo services the
driver asks.

In tests::

    with ComputeAPI(project="saltlab-test") as api:
        api.url        # http://127.0.0.1:PORT

By hand (then point the gce provider's ``api_endpoint`` at it)::

    python3 tests/fakes/compute_api.py --port 8766
"""

import base64
import copy
import datetime
import ipaddress
import itertools
import json
import re
import time
import uuid

try:
    from fakes import server
except ImportError:  # run by hand: python3 tests/fakes/compute_api.py
    import server

PREFIX = "/compute/v1"
# what the real API puts in selfLinks; the fake accepts these, relative
# names ("global/networks/x") and its own URLs in references
SELF_BASE = "https://www.googleapis.com/compute/v1"

ZONES = {
    "europe-west1-b": "europe-west1",
    "europe-west1-c": "europe-west1",
    "us-central1-a": "us-central1",
}
# name: (vCPUs, memory MB, CPU platform, nested virtualization)
MACHINE_TYPES = {
    "n1-standard-1": (1, 3840, "Intel Skylake", True),
    "n1-standard-2": (2, 7680, "Intel Skylake", True),
    "n1-standard-4": (4, 15360, "Intel Skylake", True),
    "n1-standard-8": (8, 30720, "Intel Skylake", True),
    "n2-standard-4": (4, 16384, "Intel Cascade Lake", True),
    "n4-standard-4": (4, 16384, "Intel Emerald Rapids", True),
    "c4-standard-4": (4, 15360, "Intel Emerald Rapids", True),
    "e2-standard-4": (4, 16384, "Intel Broadwell", False),
    "n2d-standard-4": (4, 16384, "AMD Rome", False),
    "t2a-standard-4": (4, 16384, "Ampere Altra", False),
}
# project: [(name, family)]
IMAGES = {
    "debian-cloud": [
        ("debian-12-bookworm-v20251111", "debian-12"),
        ("debian-13-trixie-v20251111", "debian-13"),
    ],
}
# the external addresses without a rehearsal: a documentation range
EXTERNAL = ipaddress.IPv4Network("203.0.113.0/24")
# machine series that take only Hyperdisk volumes (no pd-*), boot disks included
HYPERDISK_ONLY = ("c4", "c4a", "c4d", "n4", "n4d", "h3", "x4", "m4", "h4d")


def _now():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


class ApiError(server.ApiError):
    """
    An error answer in Google's shape.
    """

    STATUS = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        409: "ALREADY_EXISTS",
        412: "FAILED_PRECONDITION",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }

    def __init__(self, code, reason, message):
        super().__init__(code, reason, message)
        self.code, self.reason, self.message = code, reason, message

    @property
    def status(self):
        return self.code

    def document(self):
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "status": self.STATUS.get(self.code, "UNKNOWN"),
                "errors": [{"message": self.message, "domain": "global", "reason": self.reason}],
            }
        }


class ComputeAPI(server.FakeAPI):
    """
    The fake's state and its HTTP server (started by ``with`` or ``start()``).
    Resources are kept as the API shows them (underscore keys are private).
    """

    methods = ("GET", "POST", "PUT", "PATCH", "DELETE")
    content_type = "application/json; charset=UTF-8"

    def __init__(  # pylint: disable=too-many-arguments
        self,
        project="saltlab-test",
        reads_to_done=1,
        page_size=3,
        require_token=False,
        operator_address="198.51.100.7",
        backend=None,
        external_range=None,
        project_metadata=None,
        api_enabled=True,
    ):
        super().__init__()
        self.project = project
        self.backend = backend
        self.external = ipaddress.IPv4Network(external_range) if external_range else EXTERNAL
        self.project_metadata = dict(project_metadata or {})
        self.api_enabled = api_enabled
        self.impersonable = set()
        self.reads_to_done = reads_to_done
        self.page_size = page_size
        self.require_token = require_token
        self.operator_address = operator_address
        self.hold_operations = False
        self.networks = {}  # name
        self.subnetworks = {}  # (region, name)
        self.firewalls = {}  # name
        self.routers = {}  # (region, name)
        self.disks = {}  # (zone, name)
        self.instances = {}  # (zone, name)
        # the SSH host keys the guest agent publishes ({(zone, name): {type: key}}),
        # when the instance has guest attributes enabled and publish_host_keys is set
        self.host_keys = {}
        self.publish_host_keys = True
        self.operations = {}  # name
        self.tokens = set()
        self.service_accounts = {}
        self._request_faults = []
        # seconds every API call takes before it answers (request timeouts)
        self.delay = 0
        self._operation_faults = []
        self._pending = set()  # (collection, key) being created
        self._ids = itertools.count(1000000000000000001)
        self._nat = itertools.count(10)

    # -- fault injection ------------------------------------------------------

    def fail_request(self, method, path_regex, code, reason, message, times=1):
        """
        The next ``times`` requests with this method whose path (under
        /compute/v1/projects/PROJECT) matches the regex answer this error.
        """
        self._request_faults.append(
            {
                "method": method,
                "regex": re.compile(path_regex),
                "code": code,
                "reason": reason,
                "message": message,
                "times": times,
            }
        )

    def fail_operation(self, operation_type, target_regex, code, message, http_status=403, times=1):
        """
        The next ``times`` operations of this type (insert, delete) on a
        target matching the regex end DONE with this error and change
        nothing (e.g. code QUOTA_EXCEEDED, as the API reports quotas).
        """
        self._operation_faults.append(
            {
                "type": operation_type,
                "regex": re.compile(target_regex),
                "code": code,
                "message": message,
                "http_status": http_status,
                "times": times,
            }
        )

    def add_service_account(self, email, public_key_pem):
        """
        Accept self-signed JWTs of this service account (its key's public half).
        """
        self.service_accounts[email] = public_key_pem

    def _authorized(self, header):
        if not header.startswith("Bearer "):
            return False
        token = header[len("Bearer ") :]
        if token in self.tokens:
            return True
        try:
            from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
            from cryptography.hazmat.primitives.asymmetric import padding  # pylint: disable=import-outside-toplevel

            def decode(part):
                return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

            head, payload, signature = token.split(".")
            claims = json.loads(decode(payload))
            if json.loads(decode(head)).get("alg") != "RS256" or claims.get("iss") not in self.service_accounts:
                return False
            key = serialization.load_pem_public_key(self.service_accounts[claims["iss"]].encode())
            key.verify(decode(signature), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
            return True
        except Exception:  # pylint: disable=broad-except
            return False

    # -- names and links --------------------------------------------------------

    def _id(self):
        return str(next(self._ids))

    def link(self, *parts):
        return "/".join((SELF_BASE, "projects", self.project) + parts)

    def _ref(self, value, kind):
        """
        The (scope, name) a reference names: ``kind`` is e.g. "global/networks"
        or "regions/subnetworks"; a foreign project is a 404.
        """
        text = str(value or "")
        for base in (SELF_BASE + "/", PREFIX.lstrip("/") + "/", "/"):
            if text.startswith(base):
                text = text[len(base) :]
        text = text.lstrip("/")
        match = re.fullmatch(r"(?:projects/([^/]+)/)?(global|regions/[^/]+|zones/[^/]+)/([a-zA-Z]+)/([^/]+)", text)
        if not match or f"{match.group(2).split('/')[0]}/{match.group(3)}" != kind:
            raise ApiError(400, "invalid", f"Invalid value for field: '{value}' is not a valid {kind} reference.")
        project = match.group(1) or self.project
        if project != self.project:
            raise ApiError(404, "notFound", f"The resource '{text}' was not found")
        scope = match.group(2).split("/")[1] if "/" in match.group(2) else None
        return scope, match.group(4)

    # -- operations ------------------------------------------------------------

    def _operation(self, scope, operation_type, target_link, apply, target_id=None, pending=None, work=None):
        """
        A new RUNNING operation; ``apply`` makes its effect when it is done.
        ``scope`` is ("zones", zone), ("regions", region) or ("global",).
        """
        name = f"operation-{uuid.uuid4().int % 10**13}-{uuid.uuid4().hex[:13]}-{uuid.uuid4().hex[:8]}"
        where = self.link(*scope)
        operation = {
            "kind": "compute#operation",
            "id": self._id(),
            "name": name,
            "operationType": operation_type,
            "targetLink": target_link,
            "targetId": target_id or self._id(),
            "status": "RUNNING",
            "user": "saltlab@example.iam.gserviceaccount.com",
            "progress": 0,
            "insertTime": _now(),
            "startTime": _now(),
            "selfLink": f"{where}/operations/{name}",
            "_apply": apply,
            "_reads": 0,
            "_scope": scope,
            "_pending": pending,
            "_work": work,
        }
        if scope[0] == "zones":
            operation["zone"] = self.link("zones", scope[1])
        elif scope[0] == "regions":
            operation["region"] = self.link("regions", scope[1])
        for fault in self._operation_faults:
            if fault["times"] > 0 and fault["type"] == operation_type and fault["regex"].search(target_link):
                fault["times"] -= 1
                operation["_fault"] = fault
                break
        self.operations[name] = operation
        return 200, self._public(operation)

    def _advance(self, operation, finish=False):
        if operation["status"] == "DONE" or self.hold_operations:
            return
        operation["_reads"] += 1
        if not finish and operation["_reads"] < self.reads_to_done:
            operation["progress"] = 50
            return
        work = operation.get("_work")
        if work is not None:
            # the rehearsal's node: done when it is, after reads_to_done polls however asked
            if not work.done() or operation["_reads"] < self.reads_to_done:
                operation["progress"] = 50
                return
            if work.error and "_fault" not in operation:
                operation["_fault"] = {"code": "RESOURCE_OPERATION_FAILED", "message": work.error, "http_status": 500}
        fault = operation.pop("_fault", None)
        apply = operation.pop("_apply")
        if fault is None:
            try:
                apply()
            except ApiError as exc:
                fault = {"code": exc.reason.upper(), "message": exc.message, "http_status": exc.code}
        if fault is not None:
            # a failed creation frees its name again
            self._pending.discard(operation.pop("_pending", None))
        if fault is not None:
            operation["error"] = {"errors": [{"code": fault["code"], "message": fault["message"]}]}
            operation["httpErrorStatusCode"] = fault["http_status"]
            operation["httpErrorMessage"] = ApiError.STATUS.get(fault["http_status"], "ERROR").replace("_", " ")
        operation.update(status="DONE", progress=100, endTime=_now())

    def _get_operation(self, scope, name, finish):
        operation = self.operations.get(name)
        if operation is None or operation["_scope"] != scope:
            raise ApiError(
                404,
                "notFound",
                f"The resource '{'/'.join(('projects', self.project) + scope)}/operations/{name}' was not found",
            )
        self._advance(operation, finish)
        return 200, self._public(operation)

    def get_zone_operation(self, zone, name, query, body):
        return self._get_operation(("zones", zone), name, False)

    def wait_zone_operation(self, zone, name, query, body):
        return self._get_operation(("zones", zone), name, True)

    def get_region_operation(self, region, name, query, body):
        return self._get_operation(("regions", region), name, False)

    def wait_region_operation(self, region, name, query, body):
        return self._get_operation(("regions", region), name, True)

    def get_global_operation(self, name, query, body):
        return self._get_operation(("global",), name, False)

    def wait_global_operation(self, name, query, body):
        return self._get_operation(("global",), name, True)

    # -- helpers -------------------------------------------------------------------

    @staticmethod
    def _public(record):
        return {k: copy.deepcopy(v) for k, v in record.items() if not k.startswith("_")}

    def _list(self, kind, records, query):
        records = [self._public(r) for r in records]
        size = int((query.get("maxResults") or [self.page_size])[0]) or self.page_size
        start = int((query.get("pageToken") or ["0"])[0])
        page = {"kind": kind, "id": f"projects/{self.project}", "items": records[start : start + size]}
        if start + size < len(records):
            page["nextPageToken"] = str(start + size)
        return 200, page

    def _zone(self, zone):
        if zone not in ZONES:
            raise ApiError(404, "notFound", f"The resource 'projects/{self.project}/zones/{zone}' was not found")
        return zone

    def _region(self, region):
        if region not in ZONES.values():
            raise ApiError(404, "notFound", f"The resource 'projects/{self.project}/regions/{region}' was not found")
        return region

    def _get(self, collection, key, path):
        if key not in collection:
            raise ApiError(404, "notFound", f"The resource 'projects/{self.project}/{path}' was not found")
        return collection[key]

    def _reserve(self, collection, key, path):
        if key in getattr(self, collection) or (collection, key) in self._pending:
            raise ApiError(409, "alreadyExists", f"The resource 'projects/{self.project}/{path}' already exists")
        self._pending.add((collection, key))
        return (collection, key)

    def _created(self, collection, key, record):
        self._pending.discard((collection, key))
        getattr(self, collection)[key] = record

    @staticmethod
    def _name(body, what):
        name = body.get("name") or ""
        if not re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", name):
            raise ApiError(
                400,
                "invalid",
                f"Invalid value for field 'resource.name': '{name}'. "
                f"Must be a match of regex '(?:[a-z](?:[-a-z0-9]{{0,61}}[a-z0-9])?)' ({what})",
            )
        return name

    @staticmethod
    def _labels(body):
        labels = body.get("labels") or {}
        for key, value in labels.items():
            if not re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", key) or not re.fullmatch(r"[a-z0-9_-]{0,63}", value):
                raise ApiError(400, "invalid", f"Invalid value for field 'resource.labels': '{key}: {value}'")
        return labels

    # -- the project ---------------------------------------------------------------------

    def get_project(self, query, body):
        """projects.get: the project and its metadata (commonInstanceMetadata)."""
        return 200, {
            "kind": "compute#project",
            "id": "123456789012",
            "name": self.project,
            "selfLink": self.link(),
            "commonInstanceMetadata": {
                "kind": "compute#metadata",
                "fingerprint": "projectmeta0",
                "items": [{"key": k, "value": v} for k, v in sorted(self.project_metadata.items())],
            },
            "defaultNetworkTier": "PREMIUM",
        }

    # -- zones, machine types, images -------------------------------------------------

    def _zone_view(self, zone):
        return {
            "kind": "compute#zone",
            "id": str(2000 + sorted(ZONES).index(zone)),
            "name": zone,
            "description": zone,
            "status": "UP",
            "region": self.link("regions", ZONES[zone]),
            "selfLink": self.link("zones", zone),
            "availableCpuPlatforms": sorted({m[2] for m in MACHINE_TYPES.values()}),
        }

    def list_zones(self, query, body):
        return self._list("compute#zoneList", [self._zone_view(z) for z in sorted(ZONES)], query)

    def get_zone(self, zone, query, body):
        return 200, self._zone_view(self._zone(zone))

    def _machine_type_view(self, zone, name):
        cpus, memory, _platform, _nested = MACHINE_TYPES[name]
        return {
            "kind": "compute#machineType",
            "id": str(3000 + sorted(MACHINE_TYPES).index(name)),
            "name": name,
            "description": f"{cpus} vCPU{'s' if cpus > 1 else ''}, {memory / 1024:g} GB RAM",
            "guestCpus": cpus,
            "memoryMb": memory,
            "maximumPersistentDisks": 128,
            "maximumPersistentDisksSizeGb": "263168",
            "zone": zone,
            "isSharedCpu": False,
            "selfLink": self.link("zones", zone, "machineTypes", name),
        }

    def list_machine_types(self, zone, query, body):
        self._zone(zone)
        return self._list(
            "compute#machineTypeList", [self._machine_type_view(zone, n) for n in sorted(MACHINE_TYPES)], query
        )

    def get_machine_type(self, zone, name, query, body):
        self._zone(zone)
        if name not in MACHINE_TYPES:
            raise ApiError(
                404,
                "notFound",
                f"The resource 'projects/{self.project}/zones/{zone}/machineTypes/{name}' was not found",
            )
        return 200, self._machine_type_view(zone, name)

    def _image_view(self, project, name, family):
        return {
            "kind": "compute#image",
            "id": str(4000 + len(name)),
            "name": name,
            "family": family,
            "creationTimestamp": "2025-11-11T00:00:00.000-08:00",
            "status": "READY",
            "archiveSizeBytes": "1234567890",
            "diskSizeGb": "10",
            "architecture": "X86_64",
            "description": f"Debian, {family}, amd64 built on {name[-8:]}",
            "selfLink": f"{SELF_BASE}/projects/{project}/global/images/{name}",
        }

    def _images(self, project):
        if project not in IMAGES:
            raise ApiError(404, "notFound", f"The resource 'projects/{project}' was not found")
        return [self._image_view(project, n, f) for n, f in IMAGES[project]]

    def list_images(self, project, query, body):
        return self._list("compute#imageList", self._images(project), query)

    def image_from_family(self, project, family, query, body):
        for image in self._images(project):
            if image["family"] == family:
                return 200, image
        raise ApiError(
            404, "notFound", f"The resource 'projects/{project}/global/images/family/{family}' was not found"
        )

    def _image(self, reference):
        match = re.search(r"projects/([^/]+)/global/images/(family/)?([^/]+)$", str(reference or ""))
        if not match:
            raise ApiError(400, "invalid", f"Invalid value for field 'sourceImage': '{reference}'")
        images = self._images(match.group(1))
        key = "family" if match.group(2) else "name"
        if not any(image[key] == match.group(3) for image in images):
            raise ApiError(404, "notFound", f"The resource '{reference}' was not found")

    # -- networks, subnetworks, firewalls ---------------------------------------------

    def list_networks(self, query, body):
        return self._list("compute#networkList", self.networks.values(), query)

    def get_network(self, name, query, body):
        return 200, self._public(self._get(self.networks, name, f"global/networks/{name}"))

    def insert_network(self, query, body):
        name = self._name(body, "network")
        if body.get("autoCreateSubnetworks") is not False:
            raise ApiError(
                400, "invalid", "The lab's networks must be in custom subnet mode (autoCreateSubnetworks: false)"
            )
        mtu = int(body.get("mtu") or 1460)
        if not 1300 <= mtu <= 8896:
            raise ApiError(
                400, "invalid", f"Invalid value for field 'resource.mtu': '{mtu}'. Must be between 1300 and 8896."
            )
        pending = self._reserve("networks", name, f"global/networks/{name}")
        link = self.link("global", "networks", name)
        record = {
            "kind": "compute#network",
            "id": self._id(),
            "creationTimestamp": _now(),
            "name": name,
            "description": body.get("description", ""),
            "selfLink": link,
            "autoCreateSubnetworks": False,
            "mtu": mtu,
            "subnetworks": [],
            "routingConfig": body.get("routingConfig") or {"routingMode": "REGIONAL"},
            "networkFirewallPolicyEnforcementOrder": "AFTER_CLASSIC_FIREWALL",
        }
        return self._operation(
            ("global",), "insert", link, lambda: self._created("networks", name, record), record["id"], pending
        )

    def delete_network(self, name, query, body):
        network = self._get(self.networks, name, f"global/networks/{name}")
        for _what, users in (
            ("subnetworks", network["subnetworks"]),
            ("firewalls", [f["selfLink"] for f in self.firewalls.values() if f["network"] == network["selfLink"]]),
            ("routers", [r["selfLink"] for r in self.routers.values() if r["network"] == network["selfLink"]]),
        ):
            if users:
                raise ApiError(
                    400,
                    "resourceInUseByAnotherResource",
                    f"The network resource 'projects/{self.project}/global/networks/{name}' is already "
                    f"being used by '{users[0].split('/compute/v1/')[-1]}'",
                )

        def apply():
            self.networks.pop(name, None)

        return self._operation(("global",), "delete", network["selfLink"], apply, network["id"])

    def list_subnetworks(self, region, query, body):
        self._region(region)
        return self._list(
            "compute#subnetworkList", [s for (r, _n), s in self.subnetworks.items() if r == region], query
        )

    def get_subnetwork(self, region, name, query, body):
        self._region(region)
        return 200, self._public(self._get(self.subnetworks, (region, name), f"regions/{region}/subnetworks/{name}"))

    def insert_subnetwork(self, region, query, body):
        self._region(region)
        name = self._name(body, "subnetwork")
        _scope, network_name = self._ref(body.get("network"), "global/networks")
        network = self._get(self.networks, network_name, f"global/networks/{network_name}")
        try:
            cidr = ipaddress.IPv4Network(str(body.get("ipCidrRange")), strict=True)
        except ValueError:
            raise ApiError(400, "invalid", f"Invalid IPCidrRange: {body.get('ipCidrRange')}") from None
        if (region, name) in self.subnetworks or ("subnetworks", (region, name)) in self._pending:
            raise ApiError(
                409,
                "alreadyExists",
                f"The resource 'projects/{self.project}/regions/{region}/subnetworks/{name}' already exists",
            )
        for other in self.subnetworks.values():
            if other["network"] == network["selfLink"] and cidr.overlaps(ipaddress.IPv4Network(other["ipCidrRange"])):
                raise ApiError(
                    400,
                    "invalid",
                    f"Invalid IPCidrRange: {cidr} conflicts with existing subnetwork "
                    f"'{other['name']}' in region '{region}'.",
                )
        pending = self._reserve("subnetworks", (region, name), f"regions/{region}/subnetworks/{name}")
        link = self.link("regions", region, "subnetworks", name)
        record = {
            "kind": "compute#subnetwork",
            "id": self._id(),
            "creationTimestamp": _now(),
            "name": name,
            "description": body.get("description", ""),
            "network": network["selfLink"],
            "ipCidrRange": str(cidr),
            "gatewayAddress": str(cidr.network_address + 1),
            "region": self.link("regions", region),
            "selfLink": link,
            "privateIpGoogleAccess": False,
            "fingerprint": uuid.uuid4().hex[:12],
            "stackType": "IPV4_ONLY",
            "purpose": "PRIVATE",
        }

        def apply():
            if network_name not in self.networks:
                raise ApiError(404, "notFound", f"The resource 'global/networks/{network_name}' was not found")
            self._created("subnetworks", (region, name), record)
            self.networks[network_name]["subnetworks"].append(link)

        return self._operation(("regions", region), "insert", link, apply, record["id"], pending)

    def delete_subnetwork(self, region, name, query, body):
        self._region(region)
        subnet = self._get(self.subnetworks, (region, name), f"regions/{region}/subnetworks/{name}")
        users = [
            i["selfLink"]
            for i in self.instances.values()
            if any(n["subnetwork"] == subnet["selfLink"] for n in i["networkInterfaces"])
        ]
        if users:
            raise ApiError(
                400,
                "resourceInUseByAnotherResource",
                f"The subnetwork resource 'projects/{self.project}/regions/{region}/subnetworks/{name}' "
                f"is already being used by '{users[0].split('/compute/v1/')[-1]}'",
            )

        def apply():
            self.subnetworks.pop((region, name), None)
            for network in self.networks.values():
                if subnet["selfLink"] in network["subnetworks"]:
                    network["subnetworks"].remove(subnet["selfLink"])

        return self._operation(("regions", region), "delete", subnet["selfLink"], apply, subnet["id"])

    def list_firewalls(self, query, body):
        return self._list("compute#firewallList", self.firewalls.values(), query)

    def get_firewall(self, name, query, body):
        return 200, self._public(self._get(self.firewalls, name, f"global/firewalls/{name}"))

    def insert_firewall(self, query, body):
        name = self._name(body, "firewall")
        _scope, network_name = self._ref(body.get("network") or "global/networks/default", "global/networks")
        network = self._get(self.networks, network_name, f"global/networks/{network_name}")
        allowed = body.get("allowed") or []
        if not allowed and not body.get("denied"):
            raise ApiError(400, "invalid", "Invalid value for field 'resource': one of allowed or denied is required")
        for rule in allowed:
            if rule.get("IPProtocol") not in ("tcp", "udp", "icmp", "all", "esp", "ah", "sctp", "ipip"):
                raise ApiError(
                    400,
                    "invalid",
                    f"Invalid value for field 'resource.allowed[].IPProtocol': '{rule.get('IPProtocol')}'",
                )
        for source in body.get("sourceRanges") or []:
            try:
                ipaddress.ip_network(source, strict=True)
            except ValueError:
                raise ApiError(400, "invalid", f"Invalid value for field 'resource.sourceRanges': '{source}'") from None
        pending = self._reserve("firewalls", name, f"global/firewalls/{name}")
        link = self.link("global", "firewalls", name)
        record = {
            "kind": "compute#firewall",
            "id": self._id(),
            "creationTimestamp": _now(),
            "name": name,
            "description": body.get("description", ""),
            "network": network["selfLink"],
            "priority": int(body.get("priority") or 1000),
            "direction": body.get("direction") or "INGRESS",
            "sourceRanges": list(body.get("sourceRanges") or ["0.0.0.0/0"]),
            "allowed": allowed,
            "disabled": False,
            "selfLink": link,
            "logConfig": {"enable": False},
        }
        if body.get("targetTags"):
            record["targetTags"] = list(body["targetTags"])

        def apply():
            self._created("firewalls", name, record)
            self._network_changed()

        return self._operation(("global",), "insert", link, apply, record["id"], pending)

    def patch_firewall(self, name, query, body):
        firewall = self._get(self.firewalls, name, f"global/firewalls/{name}")
        changes = {
            k: copy.deepcopy(v)
            for k, v in body.items()
            if k in ("allowed", "sourceRanges", "description", "priority", "disabled", "targetTags")
        }
        for source in changes.get("sourceRanges", []):
            try:
                ipaddress.ip_network(source, strict=True)
            except ValueError:
                raise ApiError(400, "invalid", f"Invalid value for field 'resource.sourceRanges': '{source}'") from None

        def apply():
            firewall.update(changes)
            self._network_changed()

        return self._operation(("global",), "patch", firewall["selfLink"], apply, firewall["id"])

    def delete_firewall(self, name, query, body):
        firewall = self._get(self.firewalls, name, f"global/firewalls/{name}")

        def apply():
            self.firewalls.pop(name, None)
            self._network_changed()

        return self._operation(("global",), "delete", firewall["selfLink"], apply, firewall["id"])

    # -- disks ----------------------------------------------------------------------------

    def _disk_record(self, zone, name, size_gb, disk_type, labels, image=None, description=""):
        record = {
            "kind": "compute#disk",
            "id": self._id(),
            "creationTimestamp": _now(),
            "name": name,
            "description": description,
            "sizeGb": str(size_gb),
            "zone": self.link("zones", zone),
            "status": "READY",
            "selfLink": self.link("zones", zone, "disks", name),
            "type": self.link("zones", zone, "diskTypes", str(disk_type or "pd-standard").rsplit("/", 1)[-1]),
            "labels": labels,
            "labelFingerprint": uuid.uuid4().hex[:12],
            "physicalBlockSizeBytes": "4096",
            "users": [],
        }
        if image:
            record["sourceImage"] = image
        return record

    def list_disks(self, zone, query, body):
        self._zone(zone)
        return self._list("compute#diskList", [d for (z, _n), d in self.disks.items() if z == zone], query)

    def get_disk(self, zone, name, query, body):
        self._zone(zone)
        return 200, self._public(self._get(self.disks, (zone, name), f"zones/{zone}/disks/{name}"))

    def insert_disk(self, zone, query, body):
        self._zone(zone)
        name = self._name(body, "disk")
        size = int(body.get("sizeGb") or 10)
        if not 10 <= size <= 65536:
            raise ApiError(400, "invalid", f"Invalid value for field 'resource.sizeGb': '{size}'.")
        labels = self._labels(body)
        pending = self._reserve("disks", (zone, name), f"zones/{zone}/disks/{name}")
        record = self._disk_record(zone, name, size, body.get("type"), labels, description=body.get("description", ""))
        return self._operation(
            ("zones", zone),
            "insert",
            record["selfLink"],
            lambda: self._created("disks", (zone, name), record),
            record["id"],
            pending,
        )

    def delete_disk(self, zone, name, query, body):
        self._zone(zone)
        disk = self._get(self.disks, (zone, name), f"zones/{zone}/disks/{name}")
        if disk["users"]:
            raise ApiError(
                400,
                "resourceInUseByAnotherResource",
                f"The disk resource 'projects/{self.project}/zones/{zone}/disks/{name}' is already "
                f"being used by '{disk['users'][0].split('/compute/v1/')[-1]}'",
            )

        def apply():
            self.disks.pop((zone, name), None)

        return self._operation(("zones", zone), "delete", disk["selfLink"], apply, disk["id"])

    # -- instances --------------------------------------------------------------------------

    def list_instances(self, zone, query, body):
        self._zone(zone)
        return self._list("compute#instanceList", [i for (z, _n), i in self.instances.items() if z == zone], query)

    def get_instance(self, zone, name, query, body):
        self._zone(zone)
        return 200, self._public(self._get(self.instances, (zone, name), f"zones/{zone}/instances/{name}"))

    def insert_instance(self, zone, query, body):  # pylint: disable=too-many-locals,too-many-branches
        self._zone(zone)
        name = self._name(body, "instance")
        labels = self._labels(body)
        machine_type = str(body.get("machineType") or "").rsplit("/", 1)[-1]
        if machine_type not in MACHINE_TYPES:
            raise ApiError(
                400,
                "invalid",
                f"Invalid value for field 'resource.machineType': "
                f"'{body.get('machineType')}'. Machine type with name "
                f"'{machine_type}' does not exist in zone '{zone}'.",
            )
        cpus, _memory, platform, nested_ok = MACHINE_TYPES[machine_type]
        features = body.get("advancedMachineFeatures") or {}
        if features.get("enableNestedVirtualization") and not nested_ok:
            raise ApiError(400, "invalid", f"Nested virtualization is not supported on machine type {machine_type}.")
        nics = body.get("networkInterfaces") or []
        if not nics:
            raise ApiError(400, "invalid", "At least one network interface is required.")
        if len(nics) > max(2, min(cpus, 8)):
            raise ApiError(
                400, "invalid", f"Too many network interfaces: {machine_type} allows at most {max(2, min(cpus, 8))}."
            )
        interfaces, seen_networks = [], set()
        for index, nic in enumerate(nics):
            region, subnet_name = self._ref(nic.get("subnetwork"), "regions/subnetworks")
            if region != ZONES[zone]:
                raise ApiError(
                    400,
                    "invalid",
                    f"Subnetwork '{subnet_name}' is in region {region}, not in the instance's region {ZONES[zone]}.",
                )
            subnet = self._get(self.subnetworks, (region, subnet_name), f"regions/{region}/subnetworks/{subnet_name}")
            if nic.get("network"):
                _scope, network_name = self._ref(nic["network"], "global/networks")
                if self.link("global", "networks", network_name) != subnet["network"]:
                    raise ApiError(
                        400, "invalid", f"Subnetwork '{subnet_name}' does not belong to network '{network_name}'."
                    )
            if subnet["network"] in seen_networks:
                raise ApiError(400, "invalid", "Each network interface must be in a different VPC network.")
            seen_networks.add(subnet["network"])
            cidr = ipaddress.IPv4Network(subnet["ipCidrRange"])
            if nic.get("networkIP"):
                address = ipaddress.IPv4Address(nic["networkIP"])
                if address not in cidr or address in (
                    cidr.network_address,
                    cidr.network_address + 1,
                    cidr.broadcast_address - 1,
                    cidr.broadcast_address,
                ):
                    raise ApiError(
                        400,
                        "invalid",
                        f"Requested internal IP address '{address}' is not available "
                        f"in subnetwork '{subnet_name}' ({cidr}).",
                    )
            else:
                used = {n["networkIP"] for i in self.instances.values() for n in i["networkInterfaces"]}
                address = next(a for a in cidr.hosts() if int(a) - int(cidr.network_address) > 1 and str(a) not in used)
            for other in self.instances.values():
                if any(
                    n["networkIP"] == str(address) and n["subnetwork"] == subnet["selfLink"]
                    for n in other["networkInterfaces"]
                ):
                    raise ApiError(
                        400,
                        "invalid",
                        f"IP address '{address}' is already being used by another resource ({other['name']}).",
                    )
            interface = {
                "kind": "compute#networkInterface",
                "name": f"nic{index}",
                "network": subnet["network"],
                "subnetwork": subnet["selfLink"],
                "networkIP": str(address),
                "fingerprint": uuid.uuid4().hex[:12],
                "stackType": "IPV4_ONLY",
            }
            if nic.get("accessConfigs"):
                interface["accessConfigs"] = [
                    {
                        "kind": "compute#accessConfig",
                        "type": c.get("type", "ONE_TO_ONE_NAT"),
                        "name": c.get("name", "External NAT"),
                        "networkTier": c.get("networkTier", "PREMIUM"),
                    }
                    for c in nic["accessConfigs"]
                ]
            interfaces.append(interface)
        series = machine_type.split("-", 1)[0]

        def check_disk_type(disk_type):
            kind = str(disk_type or "pd-standard").rsplit("/", 1)[-1]
            if series in HYPERDISK_ONLY and kind.startswith("pd-"):
                raise ApiError(
                    400,
                    "invalid",
                    f"[{kind}] features are not compatible for creating instance: machine series "
                    f"{series.upper()} takes only Hyperdisk volumes (e.g. hyperdisk-balanced).",
                )

        disks, new_disks, attached = [], [], []
        for index, disk in enumerate(body.get("disks") or []):
            entry = {
                "kind": "compute#attachedDisk",
                "type": "PERSISTENT",
                "mode": disk.get("mode", "READ_WRITE"),
                "index": index,
                "boot": bool(disk.get("boot")),
                "autoDelete": bool(disk.get("autoDelete")),
                "interface": "SCSI",
            }
            if disk.get("source"):
                disk_zone, disk_name = self._ref(disk["source"], "zones/disks")
                if disk_zone != zone:
                    raise ApiError(400, "invalid", f"Disk '{disk_name}' is in zone {disk_zone}, not {zone}.")
                existing = self._get(self.disks, (zone, disk_name), f"zones/{zone}/disks/{disk_name}")
                if existing["users"]:
                    raise ApiError(
                        400,
                        "resourceInUseByAnotherResource",
                        f"The disk resource '{disk_name}' is already being used by "
                        f"'{existing['users'][0].split('/compute/v1/')[-1]}'",
                    )
                check_disk_type(existing["type"])
                attached.append((zone, disk_name))
                entry.update(
                    source=existing["selfLink"],
                    deviceName=disk.get("deviceName") or disk_name,
                    diskSizeGb=existing["sizeGb"],
                )
            else:
                params = disk.get("initializeParams") or {}
                if not params.get("sourceImage") and disk.get("boot"):
                    raise ApiError(400, "invalid", "A boot disk needs initializeParams.sourceImage or a source.")
                if params.get("sourceImage"):
                    self._image(params["sourceImage"])
                check_disk_type(params.get("diskType"))
                disk_name = params.get("diskName") or (name if disk.get("boot") else f"{name}-{index}")
                if (zone, disk_name) in self.disks or ("disks", (zone, disk_name)) in self._pending:
                    raise ApiError(
                        409,
                        "alreadyExists",
                        f"The resource 'projects/{self.project}/zones/{zone}/disks/{disk_name}' already exists",
                    )
                new_disks.append(
                    self._disk_record(
                        zone,
                        disk_name,
                        int(params.get("diskSizeGb") or 10),
                        params.get("diskType"),
                        dict(params.get("labels") or {}),
                        image=params.get("sourceImage"),
                    )
                )
                entry.update(
                    source=new_disks[-1]["selfLink"],
                    deviceName=disk.get("deviceName") or disk_name,
                    diskSizeGb=new_disks[-1]["sizeGb"],
                )
            disks.append(entry)
        if not any(d["boot"] for d in disks):
            raise ApiError(400, "invalid", "The instance has no boot disk.")
        metadata = body.get("metadata") or {}
        pending = self._reserve("instances", (zone, name), f"zones/{zone}/instances/{name}")
        link = self.link("zones", zone, "instances", name)
        record = {
            "kind": "compute#instance",
            "id": self._id(),
            "creationTimestamp": _now(),
            "name": name,
            "description": body.get("description", ""),
            "tags": {"items": list((body.get("tags") or {}).get("items") or []), "fingerprint": uuid.uuid4().hex[:12]},
            "machineType": self.link("zones", zone, "machineTypes", machine_type),
            "status": "RUNNING",
            "zone": self.link("zones", zone),
            "canIpForward": bool(body.get("canIpForward")),
            "networkInterfaces": interfaces,
            "disks": disks,
            "metadata": {
                "kind": "compute#metadata",
                "fingerprint": uuid.uuid4().hex[:12],
                "items": list(metadata.get("items") or []),
            },
            "selfLink": link,
            "labels": labels,
            "labelFingerprint": uuid.uuid4().hex[:12],
            "cpuPlatform": platform,
            "lastStartTimestamp": _now(),
            "startRestricted": False,
            "deletionProtection": False,
            "fingerprint": uuid.uuid4().hex[:12],
        }
        if features:
            record["advancedMachineFeatures"] = dict(features)
        if body.get("scheduling"):
            record["scheduling"] = dict(body["scheduling"])

        nat_ips = {}
        for index, interface in enumerate(interfaces):
            if interface.get("accessConfigs"):
                used = {
                    c.get("natIP")
                    for i in self.instances.values()
                    for n in i["networkInterfaces"]
                    for c in n.get("accessConfigs", [])
                }
                nat_ips[index] = (
                    next(str(a) for a in itertools.islice(self.external.hosts(), 10, None) if str(a) not in used)
                    if self.backend
                    else str(self.external.network_address + next(self._nat))
                )
        work = None
        if self.backend:
            # the node boots now; the operation is done when it is up
            view = copy.deepcopy(record)
            for index, address in nat_ips.items():
                view["networkInterfaces"][index]["accessConfigs"][0]["natIP"] = address
            work = self.backend.create(zone, name, view, dict(self.project_metadata))

        def apply():
            for key in attached:
                if key not in self.disks or self.disks[key]["users"]:
                    raise ApiError(400, "resourceInUseByAnotherResource", f"Disk {key[1]} is not available.")
            for index, interface in enumerate(interfaces):
                for config in interface.get("accessConfigs", []):
                    config["natIP"] = nat_ips[index]
            for disk in new_disks:
                self.disks[(zone, disk["name"])] = disk
            for key in attached + [(zone, d["name"]) for d in new_disks]:
                self.disks[key]["users"].append(link)
            self._created("instances", (zone, name), record)
            self.host_keys[(zone, name)] = {
                kind: base64.b64encode(uuid.uuid4().bytes * 3).decode()
                for kind in ("ecdsa-sha2-nistp256", "ssh-ed25519", "ssh-rsa")
            }
            self._network_changed()

        return self._operation(("zones", zone), "insert", link, apply, record["id"], pending, work)

    def delete_instance(self, zone, name, query, body):
        self._zone(zone)
        instance = self._get(self.instances, (zone, name), f"zones/{zone}/instances/{name}")
        instance["status"] = "STOPPING"
        work = self.backend.delete(zone, name) if self.backend else None

        def apply():
            self.instances.pop((zone, name), None)
            self.host_keys.pop((zone, name), None)
            self._network_changed()
            for attached in instance["disks"]:
                _scope, disk_name = self._ref(attached["source"], "zones/disks")
                disk = self.disks.get((zone, disk_name))
                if disk is None:
                    continue
                disk["users"] = [u for u in disk["users"] if u != instance["selfLink"]]
                if attached["autoDelete"]:
                    self.disks.pop((zone, disk_name))

        return self._operation(("zones", zone), "delete", instance["selfLink"], apply, instance["id"], work=work)

    def _power(self, zone, name, verb):
        """instances.stop / instances.start: the node powered off (kept) or booted again."""
        self._zone(zone)
        instance = self._get(self.instances, (zone, name), f"zones/{zone}/instances/{name}")
        instance["status"] = "STOPPING" if verb == "stop" else "PROVISIONING"
        work = getattr(self.backend, verb)(zone, name) if self.backend else None

        def apply():
            instance["status"] = "TERMINATED" if verb == "stop" else "RUNNING"
            if verb == "start":
                instance["lastStartTimestamp"] = _now()

        return self._operation(("zones", zone), verb, instance["selfLink"], apply, instance["id"], work=work)

    def stop_instance(self, zone, name, query, body):
        return self._power(zone, name, "stop")

    def start_instance(self, zone, name, query, body):
        return self._power(zone, name, "start")

    def _network_changed(self):
        """The rehearsal's network follows the instances, firewall rules and Cloud NATs."""
        if self.backend:
            self.backend.network(
                {k: self._public(v) for k, v in self.instances.items()},
                [self._public(f) for f in self.firewalls.values()],
                [self._public(r) for r in self.routers.values()],
            )

    def get_guest_attributes(self, zone, name, query, body):
        """
        The instance's guest attributes under ``queryPath``: what the guest
        agent publishes (here the SSH host keys, ``hostkeys/``).
        """
        self._zone(zone)
        instance = self._get(self.instances, (zone, name), f"zones/{zone}/instances/{name}")
        items = {i["key"]: i["value"] for i in instance["metadata"]["items"]}
        if str(items.get("enable-guest-attributes", "")).upper() != "TRUE":
            raise ApiError(400, "badRequest", "Guest attributes are disabled for this instance.")
        path = query.get("queryPath", [""])[0]
        keys = self.host_keys.get((zone, name), {}) if self.publish_host_keys else {}
        if self.backend:
            keys = self.backend.guest_attributes(zone, name, "hostkeys") if self.publish_host_keys else {}
        if path != "hostkeys/" or not keys:
            raise ApiError(
                404,
                "notFound",
                f"The resource 'projects/{self.project}/zones/{zone}/instances/{name}' "
                f"guest attribute {path!r} was not found",
            )
        return 200, {
            "kind": "compute#guestAttributes",
            "queryPath": path,
            "queryValue": {"items": [{"namespace": "hostkeys", "key": k, "value": v} for k, v in keys.items()]},
            "selfLink": self.link("zones", zone, "instances", name) + "/getGuestAttributes",
        }

    # -- routers and their Cloud NAT ------------------------------------------------------

    NAT_RANGES = ("ALL_SUBNETWORKS_ALL_IP_RANGES", "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES", "LIST_OF_SUBNETWORKS")

    def list_routers(self, region, query, body):
        self._region(region)
        return self._list("compute#routerList", [r for (g, _n), r in self.routers.items() if g == region], query)

    def get_router(self, region, name, query, body):
        self._region(region)
        return 200, self._public(self._get(self.routers, (region, name), f"regions/{region}/routers/{name}"))

    def _router_nat(self, nat):
        name = self._name(nat, "nat")
        ranges = nat.get("sourceSubnetworkIpRangesToNat")
        if ranges not in self.NAT_RANGES:
            raise ApiError(
                400, "invalid", f"Invalid value for field 'resource.nats[0].sourceSubnetworkIpRangesToNat': '{ranges}'."
            )
        option = nat.get("natIpAllocateOption")
        if option not in ("AUTO_ONLY", "MANUAL_ONLY"):
            raise ApiError(
                400, "invalid", f"Invalid value for field 'resource.nats[0].natIpAllocateOption': '{option}'."
            )
        if option == "MANUAL_ONLY" and not nat.get("natIps"):
            raise ApiError(400, "invalid", "natIps must be specified when natIpAllocateOption is MANUAL_ONLY.")
        if ranges == "LIST_OF_SUBNETWORKS" and not nat.get("subnetworks"):
            raise ApiError(
                400,
                "invalid",
                "subnetworks must be specified when sourceSubnetworkIpRangesToNat is LIST_OF_SUBNETWORKS.",
            )
        record = {
            "name": name,
            "sourceSubnetworkIpRangesToNat": ranges,
            "natIpAllocateOption": option,
            "endpointTypes": list(nat.get("endpointTypes") or ["ENDPOINT_TYPE_VM"]),
            "enableEndpointIndependentMapping": bool(nat.get("enableEndpointIndependentMapping")),
            "enableDynamicPortAllocation": bool(nat.get("enableDynamicPortAllocation")),
            "type": nat.get("type") or "PUBLIC",
            "autoNetworkTier": "PREMIUM",
        }
        for key in ("natIps", "subnetworks", "logConfig", "minPortsPerVm"):
            if nat.get(key):
                record[key] = copy.deepcopy(nat[key])
        return record

    def insert_router(self, region, query, body):
        self._region(region)
        name = self._name(body, "router")
        _scope, network_name = self._ref(body.get("network"), "global/networks")
        network = self._get(self.networks, network_name, f"global/networks/{network_name}")
        nats = [self._router_nat(n) for n in body.get("nats") or []]
        if len({n["name"] for n in nats}) != len(nats):
            raise ApiError(400, "invalid", "Each NAT of a router needs its own name.")
        if (region, name) in self.routers or ("routers", (region, name)) in self._pending:
            raise ApiError(
                409,
                "alreadyExists",
                f"The resource 'projects/{self.project}/regions/{region}/routers/{name}' already exists",
            )
        whole = [n for n in nats if n["sourceSubnetworkIpRangesToNat"].startswith("ALL_SUBNETWORKS")]
        for (other_region, _other), other in self.routers.items():
            if other_region == region and other["network"] == network["selfLink"] and whole and other.get("nats"):
                raise ApiError(
                    400,
                    "invalid",
                    f"Network '{network_name}' already has a NAT in region '{region}' "
                    f"(router '{other['name']}'); a NAT for all its subnetworks "
                    "cannot be added.",
                )
        pending = self._reserve("routers", (region, name), f"regions/{region}/routers/{name}")
        link = self.link("regions", region, "routers", name)
        record = {
            "kind": "compute#router",
            "id": self._id(),
            "creationTimestamp": _now(),
            "name": name,
            "description": body.get("description", ""),
            "region": self.link("regions", region),
            "network": network["selfLink"],
            "selfLink": link,
            "encryptedInterconnectRouter": False,
        }
        if nats:
            record["nats"] = nats

        def apply():
            if network_name not in self.networks:
                raise ApiError(404, "notFound", f"The resource 'global/networks/{network_name}' was not found")
            self._created("routers", (region, name), record)
            self._network_changed()

        return self._operation(("regions", region), "insert", link, apply, record["id"], pending)

    def delete_router(self, region, name, query, body):
        self._region(region)
        router = self._get(self.routers, (region, name), f"regions/{region}/routers/{name}")

        def apply():
            self.routers.pop((region, name), None)
            self._network_changed()

        return self._operation(("regions", region), "delete", router["selfLink"], apply, router["id"])

    # -- routing ------------------------------------------------------------------------------

    NAME = "([a-z0-9][-a-z0-9]*)"
    routes = [
        ("", "GET", get_project),
        ("/zones", "GET", list_zones),
        (f"/zones/{NAME}", "GET", get_zone),
        (f"/zones/{NAME}/machineTypes", "GET", list_machine_types),
        (f"/zones/{NAME}/machineTypes/{NAME}", "GET", get_machine_type),
        ("/global/networks", "GET", list_networks),
        ("/global/networks", "POST", insert_network),
        (f"/global/networks/{NAME}", "GET", get_network),
        (f"/global/networks/{NAME}", "DELETE", delete_network),
        (f"/regions/{NAME}/subnetworks", "GET", list_subnetworks),
        (f"/regions/{NAME}/subnetworks", "POST", insert_subnetwork),
        (f"/regions/{NAME}/subnetworks/{NAME}", "GET", get_subnetwork),
        (f"/regions/{NAME}/subnetworks/{NAME}", "DELETE", delete_subnetwork),
        ("/global/firewalls", "GET", list_firewalls),
        ("/global/firewalls", "POST", insert_firewall),
        (f"/global/firewalls/{NAME}", "GET", get_firewall),
        (f"/global/firewalls/{NAME}", "PATCH", patch_firewall),
        (f"/global/firewalls/{NAME}", "DELETE", delete_firewall),
        (f"/regions/{NAME}/routers", "GET", list_routers),
        (f"/regions/{NAME}/routers", "POST", insert_router),
        (f"/regions/{NAME}/routers/{NAME}", "GET", get_router),
        (f"/regions/{NAME}/routers/{NAME}", "DELETE", delete_router),
        (f"/zones/{NAME}/disks", "GET", list_disks),
        (f"/zones/{NAME}/disks", "POST", insert_disk),
        (f"/zones/{NAME}/disks/{NAME}", "GET", get_disk),
        (f"/zones/{NAME}/disks/{NAME}", "DELETE", delete_disk),
        (f"/zones/{NAME}/instances", "GET", list_instances),
        (f"/zones/{NAME}/instances", "POST", insert_instance),
        (f"/zones/{NAME}/instances/{NAME}", "GET", get_instance),
        (f"/zones/{NAME}/instances/{NAME}", "DELETE", delete_instance),
        (f"/zones/{NAME}/instances/{NAME}/getGuestAttributes", "GET", get_guest_attributes),
        (f"/zones/{NAME}/instances/{NAME}/stop", "POST", stop_instance),
        (f"/zones/{NAME}/instances/{NAME}/start", "POST", start_instance),
        (f"/zones/{NAME}/operations/{NAME}", "GET", get_zone_operation),
        (f"/zones/{NAME}/operations/{NAME}/wait", "POST", wait_zone_operation),
        (f"/regions/{NAME}/operations/{NAME}", "GET", get_region_operation),
        (f"/regions/{NAME}/operations/{NAME}/wait", "POST", wait_region_operation),
        (f"/global/operations/{NAME}", "GET", get_global_operation),
        (f"/global/operations/{NAME}/wait", "POST", wait_global_operation),
    ]

    def handle(self, method, path, query, body):
        """
        One API call under /compute/v1: (status, JSON document).
        """
        if not path.startswith(PREFIX + "/projects/"):
            raise ApiError(404, "notFound", f"The requested URL {path} was not found on this server.")
        project, _, rest = path[len(PREFIX + "/projects/") :].partition("/")
        rest = ("/" + rest.rstrip("/")) if rest else ""
        if self.delay:
            time.sleep(self.delay)
        if not self.api_enabled:
            raise ApiError(
                403,
                "accessNotConfigured",
                f"Compute Engine API has not been used in project {self.project} before or it is disabled. "
                "Enable it by visiting https://console.developers.google.com/apis/api/compute.googleapis.com/"
                f"overview?project={self.project} then retry.",
            )
        public_images = re.fullmatch(r"/global/images(/family/([^/]+))?", rest)
        if public_images and method == "GET":
            if public_images.group(1):
                return self.image_from_family(project, public_images.group(2), query, body)
            return self.list_images(project, query, body)
        if project != self.project:
            raise ApiError(
                403,
                "forbidden",
                f"Required 'compute.{rest.split('/')[-1] or 'projects'}.get' permission for 'projects/{project}'",
            )
        for fault in self._request_faults:
            if fault["times"] > 0 and fault["method"] == method and fault["regex"].search(rest):
                fault["times"] -= 1
                raise ApiError(fault["code"], fault["reason"], fault["message"])
        for pattern, verb, handler in self.routes:
            match = re.fullmatch(pattern, rest)
            if match and verb == method:
                return handler(self, *match.groups(), query=query, body=body)
        if any(re.fullmatch(pattern, rest) for pattern, _verb, _handler in self.routes):
            raise ApiError(405, "httpMethodNotAllowed", f"Method {method} is not allowed on {rest}")
        raise ApiError(404, "notFound", f"The requested URL {path} was not found on this server.")

    def resources(self):
        """
        Every resource the fake holds, as sorted "kind/name" strings.
        """
        return sorted(
            [f"network/{n}" for n in self.networks]
            + [f"subnetwork/{n}" for _r, n in self.subnetworks]
            + [f"firewall/{n}" for n in self.firewalls]
            + [f"router/{n}" for _r, n in self.routers]
            + [f"disk/{n}" for _z, n in self.disks]
            + [f"instance/{n}" for _z, n in self.instances]
        )

    # -- the server ------------------------------------------------------------------------------

    def authorize(self, headers):
        if self.require_token and not self._authorized(headers.get("Authorization") or ""):
            raise ApiError(
                401, "required", "Request is missing required authentication credential. Expected OAuth 2 access token."
            )

    def bad_json(self):
        return ApiError(400, "parseError", "Invalid JSON payload received.")

    def respond(self, method, url, headers, raw):
        """
        Besides the API: the operator's address (``GET /myip``) and access
        tokens (``POST /token``).
        """
        if url.path == "/myip":
            return 200, f"{self.operator_address}\n".encode(), "text/plain"
        impersonate = re.fullmatch(r"/iam/v1/projects/-/serviceAccounts/([^/:]+):generateAccessToken", url.path)
        if impersonate and method == "POST":
            allowed = not self.require_token or self._authorized(headers.get("Authorization") or "")
            if allowed and impersonate.group(1) in self.impersonable:
                token = f"ya29.impersonated-{uuid.uuid4().hex}"
                self.tokens.add(token)
                expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
                return self.reply(200, {"accessToken": token, "expireTime": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")})
            return self.reply(
                403,
                {
                    "error": {
                        "code": 403,
                        "message": "Permission 'iam.serviceAccounts.getAccessToken' denied on resource "
                        "(or it may not exist).",
                        "status": "PERMISSION_DENIED",
                    }
                },
            )
        if url.path == "/token" and method == "POST":
            token = f"ya29.fake-{uuid.uuid4().hex}"
            self.tokens.add(token)
            return self.reply(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})
        return super().respond(method, url, headers, raw)


if __name__ == "__main__":
    server.main(
        ComputeAPI, "fake Compute API", "A local fake of the Compute Engine REST API.", 8766, project="saltlab-test"
    )
