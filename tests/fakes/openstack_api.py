"""
A local fake of the OpenStack APIs that the ``openstack`` execution module
calls through openstacksdk: Keystone v3 (password tokens with their service
catalog, domains, projects, users, roles and role assignments, services,
endpoints), Nova v2.1, Neutron v2.0, Glance v2, Cinder v3 and Octavia v2
(``openstack_services.py``), each under its own path of one HTTP server on
the loopback address, with state.

What the real APIs do and the SDK relies on: version discovery documents
at each service's root; ``X-Auth-Token`` checked on every call (401
without); paged listings (``page_size`` items, then a ``next`` link in each
API's own shape: ``<resources>_links`` for Nova, Neutron, Cinder and
Octavia, ``next`` for Glance; Keystone does not page); 404s and other
errors in each API's own document (Keystone ``{"error": {...}}``, Nova and
Cinder ``{"itemNotFound": {...}}``, Neutron ``{"NeutronError": {...}}``,
Glance an HTML page, Octavia ``{"faultstring": ...}``); statuses that move
on as they are read (a volume is ``creating``, then ``available``; a load
balancer ``PENDING_CREATE``, then ``ACTIVE``).

Fault injection, from the test::

    api.fail("GET", r"/network/v2.0/networks\\?.*marker=", 503, "Service Unavailable")  # the second page
    api.server_fault = "No valid host was found."   # the next servers go to ERROR
    api.broken["volumes"] = {"status": "error"}      # the next volume goes to error, not available

In tests::

    with OpenStackAPI() as api:
        api.clouds_yaml(path)      # clouds fake-admin and fake-demo, auth_url on the fake

By hand::

    python3 tests/fakes/openstack_api.py --port 8767
"""

import json
import re
import urllib.parse
import uuid

try:
    from fakes import openstack_services, server
except ImportError:  # run by hand: python3 tests/fakes/openstack_api.py
    import openstack_services
    import server

ADMIN_PASSWORD = "secret"
DEMO_PASSWORD = "demo-secret"
# service type, catalog name, path of its endpoint (the project's id replaces {project})
CATALOG = [
    ("identity", "keystone", "/identity/v3"),
    ("compute", "nova", "/compute/v2.1"),
    ("network", "neutron", "/network"),
    ("image", "glance", "/image"),
    ("block-storage", "cinder", "/volume/v3/{project}"),
    ("load-balancer", "octavia", "/load-balancer"),
]
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}
NOVA_KEYS = {400: "badRequest", 403: "forbidden", 404: "itemNotFound", 409: "conflictingRequest"}


def new_id():
    return str(uuid.uuid4())


class ApiError(server.ApiError):
    """An error answer, in the document of the API (``service``) that sends it."""

    def __init__(self, service, status, message, kind=None):
        super().__init__(service, status, message)
        self.service, self.status, self.message, self.kind = service, status, message, kind

    def reply(self):
        """(status, payload, content type) as that API sends it."""
        status, message = self.status, self.message
        if self.service == "image":
            title = f"{status} {TITLES.get(status, 'Error')}"
            page = (
                f"<html>\n <head>\n  <title>{title}</title>\n </head>\n"
                f" <body>\n  <h1>{title}</h1>\n  {message}<br /><br />\n </body>\n</html>"
            )
            return status, page.encode(), "text/html; charset=UTF-8"
        if self.service == "identity":
            document = {"error": {"code": status, "message": message, "title": TITLES.get(status, "Error")}}
        elif self.service in ("compute", "volume"):
            document = {NOVA_KEYS.get(status, "computeFault"): {"code": status, "message": message}}
        elif self.service == "network":
            document = {"NeutronError": {"type": self.kind or "NeutronError", "message": message, "detail": ""}}
        else:  # load-balancer: WSME
            document = {"faultcode": "Client" if status < 500 else "Server", "faultstring": message, "debuginfo": None}
        return status, json.dumps(document).encode(), "application/json"


class OpenStackAPI(server.FakeAPI, openstack_services.Services):
    """
    The fake's state (``self.db``: collection name → {id: resource as the
    API shows it}) and its HTTP server (started by ``with`` or ``start()``).
    """

    methods = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

    def __init__(self, page_size=3):
        super().__init__()
        self.page_size = int(page_size)
        self.db = {}
        self.tokens = {}  # token: project id or None (unscoped)
        self.faults = []
        self.server_fault = None
        self.broken = {}
        self.domain = self.add("domains", {"id": "default", "name": "Default", "description": "", "enabled": True})
        self.roles = {name: self.add("roles", {"name": name}) for name in ("admin", "member", "reader")}
        self.admin_project = self.add_project("admin")
        self.demo_project = self.add_project("demo")
        self.admin = self.add_user("admin", ADMIN_PASSWORD, self.admin_project, "admin")
        self.demo = self.add_user("demo", DEMO_PASSWORD, self.demo_project, "member")
        self.assignments = {(self.admin_project["id"], self.admin["id"], self.roles["admin"]["id"])}
        self.assignments.add((self.demo_project["id"], self.demo["id"], self.roles["member"]["id"]))
        self.setup_services()

    # -- state --------------------------------------------------------------

    @staticmethod
    def error(*args):
        """The ApiError (service, status, message, Neutron's type) to raise."""
        return ApiError(*args)

    def add(self, collection, resource):
        if collection in self.broken:  # it fails on its way: the status given instead of the next one
            resource["_steps"] = [self.broken.pop(collection)]
        resource.setdefault("id", new_id())
        self.db.setdefault(collection, {})[resource["id"]] = resource
        return resource

    def add_project(self, name):
        return self.add("projects", {"name": name, "description": "", "domain_id": "default", "enabled": True})

    def add_user(self, name, password, project, role=None):
        user = {"name": name, "domain_id": "default", "enabled": True, "default_project_id": project["id"]}
        user["_password"] = password
        return self.add("users", user)

    def items(self, collection):
        return list(self.db.setdefault(collection, {}).values())

    def one(self, collection, resource_id, service, what):
        found = self.db.setdefault(collection, {}).get(resource_id)
        if found is None:
            raise ApiError(service, 404, f"{what} {resource_id} could not be found.", f"{what}NotFound")
        return found

    def fail(self, method, regex, status, message, times=1):
        """The next ``times`` requests of ``method`` whose path?query matches ``regex`` answer this error."""
        self.faults.append({"method": method, "regex": re.compile(regex), "status": status, "message": message})
        self.faults[-1]["times"] = times

    def clouds_yaml(self, path):
        """A clouds.yaml for this fake: clouds fake-admin (admin on admin) and fake-demo (demo on demo)."""
        auth = {"auth_url": f"{self.url}/identity/v3", "user_domain_name": "Default", "project_domain_name": "Default"}
        clouds = {
            f"fake-{who}": {
                "auth": dict(auth, username=who, password=password, project_name=who),
                "region_name": "RegionOne",
                "identity_api_version": 3,
            }
            for who, password in (("admin", ADMIN_PASSWORD), ("demo", DEMO_PASSWORD))
        }
        path.write_text(json.dumps({"clouds": clouds}))
        return path

    # -- answering ------------------------------------------------------------

    def respond(self, method, url, headers, raw):
        status, payload, content_type, *extra = self.answer(method, url, headers, raw)
        if method == "HEAD":  # headers only, an error's too: a body would be read as the next response
            payload = b""
        return status, payload, content_type, *extra

    def answer(self, method, url, headers, raw):
        service = self.service_of(url.path)
        target = url.path + ("?" + url.query if url.query else "")
        try:
            for fault in self.faults:
                if fault["times"] and fault["method"] == method and fault["regex"].search(target):
                    fault["times"] -= 1
                    raise ApiError(service, fault["status"], fault["message"])
            if method == "GET":
                self.tick()
            is_login = method == "POST" and url.path == "/identity/v3/auth/tokens"
            if not is_login and not self.is_discovery(url.path):
                self.project = self.authorize_token(service, headers)
            body = raw if "octet-stream" in (headers.get("Content-Type") or "") else json.loads(raw) if raw else {}
            answer = self.handle(service, method, url.path, urllib.parse.parse_qs(url.query), body, headers)
        except ApiError as exc:
            return exc.reply()
        except ValueError:
            return ApiError(service, 400, "Malformed request body").reply()
        except Exception as exc:  # pylint: disable=broad-except  (a bug of the fake: an API's 500, with its cause)
            return ApiError(service, 500, f"fake failure: {exc!r}").reply()
        status, document, *extra = answer
        payload = b"" if document is None else json.dumps(document).encode()
        return status, payload, "application/json" if payload else None, *extra

    @staticmethod
    def service_of(path):
        prefix = path.split("/")[1] if path.count("/") else ""
        return {"identity": "identity", "compute": "compute", "network": "network", "image": "image"}.get(
            prefix, {"volume": "volume", "load-balancer": "load-balancer"}.get(prefix, "identity")
        )

    def authorize_token(self, service, headers):
        token = headers.get("X-Auth-Token")
        if token not in self.tokens:
            raise ApiError(service, 401, "The request you have made requires authentication.")
        return self.tokens[token]

    def handle(self, service, method, path, query, body, headers):
        discovery = self.discovery(path)
        if discovery is not None:
            return 200, discovery
        handler = {
            "identity": self.keystone,
            "compute": self.nova,
            "network": self.neutron,
            "image": self.glance,
            "volume": self.cinder,
            "load-balancer": self.octavia,
        }[service]
        answer = handler(method, path, query, body)
        if answer is None:
            raise ApiError(service, 404, f"The resource could not be found: {method} {path}")
        return answer

    # -- version discovery ----------------------------------------------------

    def is_discovery(self, path):
        return self.discovery(path) is not None

    def discovery(self, path):
        """The version document at a service's root (or its version's), as keystoneauth reads them."""
        path = path.rstrip("/")
        url = self.url

        def version(vid, href, status="CURRENT", minimum="", maximum=""):
            return {
                "id": vid,
                "status": status,
                "links": [{"rel": "self", "href": f"{url}{href}/"}],
                "min_version": minimum,
                "version": maximum,
                "updated": "2025-01-01T00:00:00Z",
            }

        docs = {
            "/identity": {"versions": {"values": [dict(version("v3.14", "/identity/v3", "stable"))]}},
            "/identity/v3": {"version": version("v3.14", "/identity/v3", "stable")},
            "/compute": {"versions": [version("v2.1", "/compute/v2.1", minimum="2.1", maximum="2.96")]},
            "/compute/v2.1": {"version": version("v2.1", "/compute/v2.1", minimum="2.1", maximum="2.96")},
            "/network": {"versions": [version("v2.0", "/network/v2.0")]},
            "/image": {"versions": [version("v2.16", "/image/v2")]},
            "/volume": {"versions": [version("v3.0", "/volume/v3", minimum="3.0", maximum="3.71")]},
            "/volume/v3": {"versions": [version("v3.0", "/volume/v3", minimum="3.0", maximum="3.71")]},
            "/load-balancer": {"versions": [version("v2.28", "/load-balancer/v2")]},
        }
        return docs.get(path)

    # -- paging ------------------------------------------------------------------

    def page(self, path, query, key, items, style="links"):
        """One page of ``items`` (in the order made) after ``marker``, and the link to the next."""
        ids = [item["id"] for item in items]
        start = ids.index(query["marker"][0]) + 1 if "marker" in query and query["marker"][0] in ids else 0
        limit = min(int(query.get("limit", [self.page_size])[0]), self.page_size)
        shown, more = items[start : start + limit], start + limit < len(items)
        rest = {k: v[0] for k, v in query.items() if k not in ("marker", "limit")}
        document = {key: shown}
        if more:
            link = "?" + urllib.parse.urlencode(dict(rest, limit=limit, marker=shown[-1]["id"]))
            if style == "glance":
                document["next"] = "/v2/images" + link
            else:
                document[f"{key}_links"] = [{"rel": "next", "href": f"{self.url}{path}{link}"}]
        elif style == "links":
            document[f"{key}_links"] = []
        return document

    @staticmethod
    def matching(items, query, fields=None, ignore=("limit", "marker", "sort_key", "sort_dir", "fields")):
        """The items whose fields equal the query's filters (``fields`` maps a filter to its field)."""
        fields = fields or {}
        for name, values in query.items():
            if name in ignore:
                continue
            field = fields.get(name, name)
            items = [item for item in items if str(item.get(field)).lower() == values[0].lower()]
        return items

    # -- Keystone -----------------------------------------------------------------

    def token(self, body):
        identity = body.get("auth", {}).get("identity", {})
        given = identity.get("password", {}).get("user", {})
        users = [user for user in self.items("users") if user["name"] == given.get("name")]
        if not users or users[0]["_password"] != given.get("password"):
            raise ApiError("identity", 401, "The request you have made requires authentication.")
        user = users[0]
        scope = body["auth"].get("scope", {}).get("project")
        project = None
        if scope:
            project = next(
                p for p in self.items("projects") if scope.get("id") == p["id"] or scope.get("name") == p["name"]
            )
        token = new_id().replace("-", "")
        self.tokens[token] = project["id"] if project else None
        document = {
            "methods": ["password"],
            "user": {"id": user["id"], "name": user["name"], "domain": {"id": "default", "name": "Default"}},
            "expires_at": "2099-01-01T00:00:00.000000Z",
            "issued_at": "2026-01-01T00:00:00.000000Z",
        }
        if project:
            roles = [self.db["roles"][r] for p, u, r in self.assignments if p == project["id"] and u == user["id"]]
            document["project"] = {
                "id": project["id"],
                "name": project["name"],
                "domain": {"id": "default", "name": "Default"},
            }
            document["roles"] = [{"id": role["id"], "name": role["name"]} for role in roles]
            document["catalog"] = [
                {
                    "type": kind,
                    "name": name,
                    "id": name,
                    "endpoints": [
                        {
                            "id": f"{name}-{interface}",
                            "interface": interface,
                            "region": "RegionOne",
                            "region_id": "RegionOne",
                            "url": self.url + path.format(project=project["id"]),
                        }
                        for interface in ("public", "internal", "admin")
                    ],
                }
                for kind, name, path in CATALOG
            ]
        return 201, {"token": document}, {"X-Subject-Token": token}

    KEYSTONE = {
        "domains": "domain",
        "projects": "project",
        "users": "user",
        "roles": "role",
        "services": "service",
        "endpoints": "endpoint",
    }

    def keystone(self, method, path, query, body):
        parts = path.split("/")[3:]  # after /identity/v3
        if parts == ["auth", "tokens"] and method == "POST":
            return self.token(body)
        if len(parts) == 6 and parts[0] == "projects" and parts[2] == "users" and parts[4] == "roles":
            return self.assignment(method, parts)
        if not parts or parts[0] not in self.KEYSTONE:
            return None
        collection, singular = parts[0], self.KEYSTONE[parts[0]]
        if len(parts) == 1 and method == "GET":
            items = self.matching(self.items(collection), query)
            shown = [self.shown(item) for item in items]
            return 200, {collection: shown, "links": {"self": f"{self.url}{path}", "next": None, "previous": None}}
        if len(parts) == 1 and method == "POST":
            fields = dict(body[singular])
            if collection == "users":
                fields["_password"] = fields.pop("password", None)
            if (
                collection in ("projects", "users", "services", "domains")
                and "name" not in fields
                and collection != "services"
            ):
                raise ApiError("identity", 400, "'name' is a required property")
            self.check_unique(collection, fields)
            fields.setdefault("enabled", True)
            return 201, {singular: self.shown(self.add(collection, fields))}
        item = self.one(collection, parts[1], "identity", f"Could not find {singular}:")
        if method == "GET":
            return 200, {singular: self.shown(item)}
        if method == "PATCH":
            fields = dict(body[singular])
            if "password" in fields:
                fields["_password"] = fields.pop("password")
            item.update(fields)
            return 200, {singular: self.shown(item)}
        if method == "DELETE":
            del self.db[collection][item["id"]]
            if collection == "services":
                for endpoint in self.items("endpoints"):
                    if endpoint["service_id"] == item["id"]:
                        del self.db["endpoints"][endpoint["id"]]
            return 204, None
        return None

    def check_unique(self, collection, fields):
        """Keystone refuses a second project or user of a name in a domain (services it does not)."""
        if collection in ("projects", "users", "domains", "roles"):
            domain = fields.setdefault("domain_id", "default") if collection != "domains" else None
            for other in self.items(collection):
                if other["name"] == fields["name"] and other.get("domain_id") == domain:
                    singular = self.KEYSTONE[collection]
                    raise ApiError(
                        "identity", 409, f"Conflict occurred attempting to store {singular} - Duplicate entry."
                    )

    def shown(self, item):
        """A Keystone resource as the API shows it: without the private fields, with its link."""
        return {key: value for key, value in item.items() if not key.startswith("_")}

    def assignment(self, method, parts):
        project = self.one("projects", parts[1], "identity", "Could not find project:")
        user = self.one("users", parts[3], "identity", "Could not find user:")
        role = self.one("roles", parts[5], "identity", "Could not find role:")
        key = (project["id"], user["id"], role["id"])
        if method == "PUT":
            self.assignments.add(key)
            return 204, None
        if key not in self.assignments:
            raise ApiError(
                "identity",
                404,
                f"Could not find role assignment with role: {role['id']}, user or group: {user['id']},"
                f" project, domain, or system: {project['id']}.",
            )
        if method == "DELETE":
            self.assignments.discard(key)
        return 204, None


if __name__ == "__main__":
    server.main(
        OpenStackAPI, "OpenStack fake", "Keystone, Nova, Neutron, Glance, Cinder and Octavia", 8767, page_size=3
    )
