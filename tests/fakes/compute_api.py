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

The resources are kept in parts that ``ComputeAPI`` mixes in:
``compute_catalog.py`` (the project, zones, machine types and public
images), ``compute_networks.py`` (networks, subnetworks, firewalls,
routers and their Cloud NAT) and ``compute_instances.py`` (disks,
instances, their power and guest attributes); what they share (the error
answer, the selfLinks' base) is in ``compute_common.py``.

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
    from fakes.compute_catalog import Catalog
    from fakes.compute_common import PREFIX, SELF_BASE, ApiError, _now
    from fakes.compute_instances import Instances
    from fakes.compute_networks import Networks
except ImportError:  # run by hand: python3 tests/fakes/compute_api.py
    import server
    from compute_catalog import Catalog
    from compute_common import PREFIX, SELF_BASE, ApiError, _now
    from compute_instances import Instances
    from compute_networks import Networks

# the external addresses without a rehearsal: a documentation range
EXTERNAL = ipaddress.IPv4Network("203.0.113.0/24")


class ComputeAPI(Catalog, Networks, Instances, server.FakeAPI):
    """
    The fake's state and its HTTP server (started by ``with`` or ``start()``).
    Resources are kept as the API shows them (underscore keys are private);
    their handlers are the mixins' (``Catalog``, ``Networks``, ``Instances``).
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

    # -- the rehearsal's network ---------------------------------------------------------

    def _network_changed(self):
        """The rehearsal's network follows the instances, firewall rules and Cloud NATs."""
        if self.backend:
            self.backend.network(
                {k: self._public(v) for k, v in self.instances.items()},
                [self._public(f) for f in self.firewalls.values()],
                [self._public(r) for r in self.routers.values()],
            )

    # -- routing ------------------------------------------------------------------------------

    NAME = "([a-z0-9][-a-z0-9]*)"
    # (path under the project, method, the name of its handler)
    routes = [
        ("", "GET", "get_project"),
        ("/zones", "GET", "list_zones"),
        (f"/zones/{NAME}", "GET", "get_zone"),
        (f"/zones/{NAME}/machineTypes", "GET", "list_machine_types"),
        (f"/zones/{NAME}/machineTypes/{NAME}", "GET", "get_machine_type"),
        ("/global/networks", "GET", "list_networks"),
        ("/global/networks", "POST", "insert_network"),
        (f"/global/networks/{NAME}", "GET", "get_network"),
        (f"/global/networks/{NAME}", "DELETE", "delete_network"),
        (f"/regions/{NAME}/subnetworks", "GET", "list_subnetworks"),
        (f"/regions/{NAME}/subnetworks", "POST", "insert_subnetwork"),
        (f"/regions/{NAME}/subnetworks/{NAME}", "GET", "get_subnetwork"),
        (f"/regions/{NAME}/subnetworks/{NAME}", "DELETE", "delete_subnetwork"),
        ("/global/firewalls", "GET", "list_firewalls"),
        ("/global/firewalls", "POST", "insert_firewall"),
        (f"/global/firewalls/{NAME}", "GET", "get_firewall"),
        (f"/global/firewalls/{NAME}", "PATCH", "patch_firewall"),
        (f"/global/firewalls/{NAME}", "DELETE", "delete_firewall"),
        (f"/regions/{NAME}/routers", "GET", "list_routers"),
        (f"/regions/{NAME}/routers", "POST", "insert_router"),
        (f"/regions/{NAME}/routers/{NAME}", "GET", "get_router"),
        (f"/regions/{NAME}/routers/{NAME}", "DELETE", "delete_router"),
        (f"/zones/{NAME}/disks", "GET", "list_disks"),
        (f"/zones/{NAME}/disks", "POST", "insert_disk"),
        (f"/zones/{NAME}/disks/{NAME}", "GET", "get_disk"),
        (f"/zones/{NAME}/disks/{NAME}", "DELETE", "delete_disk"),
        (f"/zones/{NAME}/instances", "GET", "list_instances"),
        (f"/zones/{NAME}/instances", "POST", "insert_instance"),
        (f"/zones/{NAME}/instances/{NAME}", "GET", "get_instance"),
        (f"/zones/{NAME}/instances/{NAME}", "DELETE", "delete_instance"),
        (f"/zones/{NAME}/instances/{NAME}/getGuestAttributes", "GET", "get_guest_attributes"),
        (f"/zones/{NAME}/instances/{NAME}/stop", "POST", "stop_instance"),
        (f"/zones/{NAME}/instances/{NAME}/start", "POST", "start_instance"),
        (f"/zones/{NAME}/operations/{NAME}", "GET", "get_zone_operation"),
        (f"/zones/{NAME}/operations/{NAME}/wait", "POST", "wait_zone_operation"),
        (f"/regions/{NAME}/operations/{NAME}", "GET", "get_region_operation"),
        (f"/regions/{NAME}/operations/{NAME}/wait", "POST", "wait_region_operation"),
        (f"/global/operations/{NAME}", "GET", "get_global_operation"),
        (f"/global/operations/{NAME}/wait", "POST", "wait_global_operation"),
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
                return getattr(self, handler)(*match.groups(), query=query, body=body)
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
