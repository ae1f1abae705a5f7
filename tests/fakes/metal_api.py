"""
A local fake of the Equinix Metal API (``/metal/v1``, the Packet API's
successor), enough for the ``packet`` salt-cloud driver and apache-libcloud's
EquinixMetal driver: projects, project and user SSH keys, metros, plans,
operating systems and devices, in the API's JSON shapes, with state.

A device is created ``queued``, reads as ``provisioning`` and becomes
``active`` with its addresses after ``reads_to_active`` reads (or turns
``failed``, or never gets there, when told to). Every request needs the
``X-Auth-Token`` header with the right token: anything else is a 401, as
the real API answers.

In tests::

    with MetalAPI(token="secret") as api:
        driver_url = api.url        # http://127.0.0.1:PORT

By hand (then point the packet provider's ``api_url`` at it)::

    python3 tests/fakes/metal_api.py --port 8765 --token secret
"""

import base64
import datetime
import hashlib
import ipaddress
import re
import uuid

try:
    from fakes import server
except ImportError:  # run by hand: python3 tests/fakes/metal_api.py
    import server

PREFIX = "/metal/v1"

METROS = [
    {"code": "am", "name": "Amsterdam", "country": "NL"},
    {"code": "da", "name": "Dallas", "country": "US"},
    {"code": "sv", "name": "Silicon Valley", "country": "US"},
]
# (slug, cpu type, cores, memory, drives, price per hour, metros)
PLANS = [
    ("c3.small.x86", "Intel Xeon E-2278G", 8, "32GB", [(2, "480GB", "SSD")], 0.75, ["am", "da", "sv"]),
    ("m3.large.x86", "AMD EPYC 7502P", 32, "256GB", [(2, "3.8TB", "NVMe")], 3.10, ["am", "da"]),
    ("n3.xlarge.x86", "Intel Xeon Gold 6314U", 32, "512GB", [(2, "3.8TB", "NVMe")], 4.50, ["da"]),
]
OPERATING_SYSTEMS = [
    ("debian_12", "Debian 12", "debian", "12"),
    ("debian_13", "Debian 13", "debian", "13"),
    ("ubuntu_24_04", "Ubuntu 24.04 LTS", "ubuntu", "24.04"),
]
# documentation ranges: nothing is ever reachable there
PUBLIC_V4 = ipaddress.IPv4Network("198.51.100.0/24")
PRIVATE_V4 = ipaddress.IPv4Network("10.66.0.0/25")
PUBLIC_V6 = ipaddress.IPv6Network("2001:db8:66::/64")


def _now():
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fingerprint(public_key):
    """
    The MD5 fingerprint the API shows for a key (aa:bb:...).
    """
    try:
        blob = base64.b64decode(public_key.split()[1], validate=True)
    except (IndexError, ValueError):
        return None
    digest = hashlib.md5(blob).hexdigest()  # noqa: S324 (the API's own format)
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


class ApiError(server.ApiError):
    def __init__(self, status, *errors):
        super().__init__(status, errors)
        self.status = status
        self.errors = list(errors)

    def document(self):
        return {"errors": self.errors}


class MetalAPI(server.FakeAPI):
    """
    The fake's state and its HTTP server (started by ``with`` or
    ``start()``).
    """

    def __init__(self, token="fake-token", projects=("saltlab",), reads_to_active=2, outcome="active"):
        super().__init__()
        self.token = token
        self.reads_to_active = reads_to_active
        # what new devices become: "active", "failed", or "stuck" (provisioning forever)
        self.outcome = outcome
        self.metros = {m["code"]: dict(m, id=str(uuid.uuid4())) for m in METROS}
        self.plans = {p[0]: self._plan(*p) for p in PLANS}
        self.operating_systems = {o[0]: self._os(*o) for o in OPERATING_SYSTEMS}
        self.projects = {}
        for name in projects:
            self.add_project(name)
        self.devices = {}
        self.ssh_keys = {}
        self._addresses = 0

    # -- records in the API's shapes ------------------------------------

    def _plan(self, slug, cpu, cores, memory, drives, price, metros):
        return {
            "id": str(uuid.uuid4()),
            "slug": slug,
            "name": slug,
            "line": "baremetal",
            "class": slug,
            "legacy": False,
            "deployment_types": ["on_demand"],
            "description": f"{cores} cores {cpu}, {memory} RAM",
            "specs": {
                "cpus": [{"count": 1, "type": cpu}],
                "memory": {"total": memory},
                "drives": [{"count": count, "size": size, "type": kind} for count, size, kind in drives],
                "nics": [{"count": 2, "type": "25Gbps"}],
            },
            "pricing": {"hour": price},
            "available_in_metros": [
                {"href": f"{PREFIX}/locations/metros/{self.metros[code]['id']}"} for code in metros
            ],
        }

    def _os(self, slug, name, distro, version):
        return {
            "id": str(uuid.uuid4()),
            "slug": slug,
            "name": name,
            "distro": distro,
            "version": version,
            "provisionable_on": list(self.plans),
        }

    def add_project(self, name):
        project_id = str(uuid.uuid4())
        self.projects[project_id] = {
            "id": project_id,
            "name": name,
            "created_at": _now(),
            "updated_at": _now(),
            "href": f"{PREFIX}/projects/{project_id}",
            "backend_transfer_enabled": False,
            "payment_method": {"href": f"{PREFIX}/payment-methods/{uuid.uuid4()}"},
        }
        return project_id

    def _project_view(self, project):
        devices = [d for d in self.devices.values() if d["project"]["href"] == project["href"]]
        keys = [k for k in self.ssh_keys.values() if k["owner"]["href"] == project["href"]]
        return dict(
            project,
            devices=[{"href": d["href"]} for d in devices],
            ssh_keys=[{"href": k["href"]} for k in keys],
            members=[],
            memberships=[],
            invitations=[],
            max_devices=None,
        )

    def _address(self, network, public, family, management=True):
        self._addresses += 1
        step = 2 if family == 4 else 1
        address = network.network_address + self._addresses * step
        return {
            "id": str(uuid.uuid4()),
            "address_family": family,
            "public": public,
            "management": management,
            "manageable": True,
            "address": str(address),
            "cidr": 31 if family == 4 else 127,
            "netmask": "255.255.255.254" if family == 4 else "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
            "gateway": str(address - 1),
            "network": str(address - 1),
        }

    def _advance(self, device):
        """
        One read of a device: queued -> provisioning -> the outcome.
        """
        state = device["state"]
        if state not in ("queued", "provisioning"):
            return
        device["_reads"] += 1
        if device["_reads"] < self.reads_to_active or self.outcome == "stuck":
            device["state"] = "provisioning"
            return
        if self.outcome == "failed":
            device["state"] = "failed"
            return
        device["state"] = "active"
        device["ip_addresses"] = [
            self._address(PUBLIC_V4, True, 4),
            self._address(PUBLIC_V6, True, 6),
            self._address(PRIVATE_V4, False, 4),
        ]
        device["updated_at"] = _now()

    @staticmethod
    def _public(record):
        return {k: v for k, v in record.items() if not k.startswith("_")}

    # -- requests -----------------------------------------------------------

    def authorize(self, headers):
        if headers.get("X-Auth-Token") != self.token:
            raise ApiError(401, "Invalid authentication token")

    def bad_json(self):
        return ApiError(422, "The request body is not JSON")

    def handle(self, method, path, query, body):
        """
        One API call: (status, JSON document or None).
        """
        if not path.startswith(PREFIX + "/"):
            raise ApiError(404, "Not found")
        path = path[len(PREFIX) :].rstrip("/")
        for pattern, verb, handler in self.routes:
            match = re.fullmatch(pattern, path)
            if match and verb == method:
                return handler(self, *match.groups(), query=query, body=body)
        if any(re.fullmatch(pattern, path) for pattern, _verb, _handler in self.routes):
            raise ApiError(405, "Method not allowed")
        raise ApiError(404, "Not found")

    def _find(self, collection, key, what):
        if key not in collection:
            raise ApiError(404, f"{what} not found")
        return collection[key]

    def list_projects(self, query, body):
        projects = [self._project_view(p) for p in self.projects.values()]
        return 200, {"projects": projects, "meta": self._meta(projects)}

    def get_project(self, project_id, query, body):
        return 200, self._project_view(self._find(self.projects, project_id, "Project"))

    def list_devices(self, project_id, query, body):
        project = self._find(self.projects, project_id, "Project")
        devices = []
        for device in self.devices.values():
            if device["project"]["href"] == project["href"]:
                self._advance(device)
                devices.append(self._public(device))
        return 200, {"devices": devices, "meta": self._meta(devices)}

    def create_device(self, project_id, query, body):
        project = self._find(self.projects, project_id, "Project")
        errors = [f"{key} is required" for key in ("hostname", "plan", "operating_system") if not body.get(key)]
        if not body.get("metro") and not body.get("facility"):
            errors.append("metro is required")
        if errors:
            raise ApiError(422, *errors)
        plan = self.plans.get(body["plan"])
        metro = self.metros.get(body.get("metro"))
        system = self.operating_systems.get(body["operating_system"])
        if plan is None:
            raise ApiError(422, f"Plan {body['plan']} is not valid")
        if metro is None:
            raise ApiError(422, f"Metro {body.get('metro')} is not valid")
        if system is None:
            raise ApiError(422, f"Operating system {body['operating_system']} is not valid")
        if {"href": f"{PREFIX}/locations/metros/{metro['id']}"} not in plan["available_in_metros"]:
            raise ApiError(422, f"{plan['slug']} is not available in metro {metro['code']}")
        # a new device gets the project's keys and the users' keys
        keys = [
            {"href": k["href"]}
            for k in self.ssh_keys.values()
            if k["owner"]["href"] in (project["href"], f"{PREFIX}/users/me")
        ]
        device_id = str(uuid.uuid4())
        device = {
            "id": device_id,
            "short_id": device_id[:8],
            "hostname": body["hostname"],
            "description": body.get("description"),
            "state": "queued",
            "tags": body.get("tags", []),
            "billing_cycle": body.get("billing_cycle", "hourly"),
            "locked": False,
            "userdata": body.get("userdata", ""),
            "customdata": body.get("customdata", {}),
            "created_at": _now(),
            "updated_at": _now(),
            "operating_system": system,
            "plan": plan,
            "metro": {k: metro[k] for k in ("id", "code", "name", "country")},
            "project": {"href": project["href"]},
            "ssh_keys": keys,
            "ip_addresses": [],
            "href": f"{PREFIX}/devices/{device_id}",
            "_reads": 0,
        }
        self.devices[device_id] = device
        return 201, self._public(device)

    def get_device(self, device_id, query, body):
        device = self._find(self.devices, device_id, "Device")
        self._advance(device)
        return 200, self._public(device)

    def delete_device(self, device_id, query, body):
        self._find(self.devices, device_id, "Device")
        del self.devices[device_id]
        return 204, None

    def _keys(self, owner_href):
        keys = [
            self._public(k) for k in self.ssh_keys.values() if owner_href is None or k["owner"]["href"] == owner_href
        ]
        return 200, {"ssh_keys": keys, "meta": self._meta(keys)}

    def _create_key(self, owner_href, body):
        if not body.get("label") or not body.get("key"):
            raise ApiError(422, "label and key are required")
        fingerprint = _fingerprint(body["key"])
        if fingerprint is None:
            raise ApiError(422, "Key is not a valid SSH public key")
        if any(k["fingerprint"] == fingerprint for k in self.ssh_keys.values()):
            raise ApiError(422, "Fingerprint has already been taken")
        key_id = str(uuid.uuid4())
        self.ssh_keys[key_id] = {
            "id": key_id,
            "label": body["label"],
            "key": body["key"].strip(),
            "fingerprint": fingerprint,
            "created_at": _now(),
            "updated_at": _now(),
            "href": f"{PREFIX}/ssh-keys/{key_id}",
            "owner": {"href": owner_href},
        }
        return 201, self._public(self.ssh_keys[key_id])

    def list_user_keys(self, query, body):
        return self._keys(None)

    def create_user_key(self, query, body):
        return self._create_key(f"{PREFIX}/users/me", body)

    def list_project_keys(self, project_id, query, body):
        return self._keys(self._find(self.projects, project_id, "Project")["href"])

    def create_project_key(self, project_id, query, body):
        return self._create_key(self._find(self.projects, project_id, "Project")["href"], body)

    def delete_key(self, key_id, query, body):
        self._find(self.ssh_keys, key_id, "SSH key")
        del self.ssh_keys[key_id]
        return 204, None

    def list_metros(self, query, body):
        metros = list(self.metros.values())
        return 200, {"metros": metros, "meta": self._meta(metros)}

    def list_plans(self, query, body):
        plans = list(self.plans.values())
        return 200, {"plans": plans, "meta": self._meta(plans)}

    def list_project_plans(self, project_id, query, body):
        self._find(self.projects, project_id, "Project")
        return self.list_plans(query, body)

    def list_operating_systems(self, query, body):
        systems = list(self.operating_systems.values())
        return 200, {"operating_systems": systems, "meta": self._meta(systems)}

    @staticmethod
    def _meta(items):
        return {"current_page": 1, "last_page": 1, "total": len(items)}

    UUID = "([0-9a-f-]{36})"
    routes = [
        ("/projects", "GET", list_projects),
        (f"/projects/{UUID}", "GET", get_project),
        (f"/projects/{UUID}/devices", "GET", list_devices),
        (f"/projects/{UUID}/devices", "POST", create_device),
        (f"/projects/{UUID}/ssh-keys", "GET", list_project_keys),
        (f"/projects/{UUID}/ssh-keys", "POST", create_project_key),
        (f"/projects/{UUID}/plans", "GET", list_project_plans),
        (f"/devices/{UUID}", "GET", get_device),
        (f"/devices/{UUID}", "DELETE", delete_device),
        ("/ssh-keys", "GET", list_user_keys),
        ("/ssh-keys", "POST", create_user_key),
        (f"/ssh-keys/{UUID}", "DELETE", delete_key),
        ("/locations/metros", "GET", list_metros),
        ("/plans", "GET", list_plans),
        ("/operating-systems", "GET", list_operating_systems),
    ]


if __name__ == "__main__":
    server.main(MetalAPI, "fake Metal API", "A local fake of the Equinix Metal API.", 8765, token="fake-token")
