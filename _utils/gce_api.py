"""
The Compute Engine API as the gce driver (``_clouds/gce.py``) uses it,
through the google-cloud-compute client (REST transport): credentials and
clients on the configured endpoint, the zone and region, operations waited
for, resources read (None when missing), and whatever the API or the
network raises turned into one sentence naming what was being done.

A Salt utils module: ``__utils__["gce_api.api"](cloud)`` is the API for
the driver's ``saltlab_cloud.Cloud`` (its settings and messages).
"""

import functools
import json
import logging
import os
import re
import time
import urllib.parse

from salt.exceptions import SaltCloudConfigError, SaltCloudSystemExit

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

COMPUTE_SCOPE = "https://www.googleapis.com/auth/compute"
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


# the project of the last connection, for the messages of later errors
_PROJECT = {}


def api(cloud):
    """The API for the driver's cloud helpers (settings, messages)."""
    return Api(cloud)


def message(exc):
    """
    The API's own words, without the client's "METHOD URL: " prefix.
    """
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return re.sub(r"^(GET|POST|PUT|PATCH|DELETE) \S+: ", "", str(text))


def _reasons(exc):
    return [e.get("reason") for e in getattr(exc, "errors", None) or [] if isinstance(e, dict)]


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


class Api:
    """
    The API of the gce provider salt-cloud runs; see :func:`api`.
    """

    def __init__(self, cloud):
        self.cloud = cloud

    # -- errors -----------------------------------------------------------------

    def error_text(self, exc, doing):
        """
        One readable sentence for what the API or the network said.
        """
        text = message(exc)
        key = self.cloud.setting("service_account_key")
        if HAS_GCE and isinstance(exc, (api_exceptions.Forbidden, api_exceptions.TooManyRequests)):
            if any(r in QUOTA_REASONS for r in _reasons(exc)) or "quota" in text.lower():
                return f"gce: quota exceeded while {doing}: {text}"
            project = _PROJECT.get("project") or self.cloud.setting("project") or "?"
            needs = f"the service account needs {ROLES_NEEDED} on project {project}"
            return f"gce: permission denied while {doing}: {text} ({needs})"
        if HAS_GCE and isinstance(exc, google.auth.exceptions.InvalidOperation):
            # a 401 to credentials that cannot be refreshed (anonymous ones)
            return f"gce: the API rejected the credentials while {doing}: {text}"
        if HAS_GCE and isinstance(exc, api_exceptions.Unauthorized):
            return f"gce: the API rejected the credentials while {doing}: {text} (check service_account_key {key})"
        if HAS_GCE and isinstance(exc, google.auth.exceptions.RefreshError):
            why = "deleted or disabled key? create a new one"
            return f"gce: the service-account key {key} was refused while {doing}: {exc} ({why})"
        if HAS_GCE and isinstance(exc, requests.exceptions.Timeout):
            return f"gce: the API at {self.endpoint()[0]} did not answer in time while {doing}"
        unreachable = (requests.exceptions.ConnectionError, google.auth.exceptions.TransportError) if HAS_GCE else ()
        if isinstance(exc, (OSError, *unreachable)):
            return f"gce: cannot reach the API at {self.endpoint()[0]} while {doing}: {type(exc).__name__}"
        if HAS_GCE and isinstance(exc, api_exceptions.RetryError):
            return f"gce: {doing} timed out: {text}"
        return f"gce: {doing} failed: {text}"

    def doing(self, doing):
        """
        Turn whatever the API or the network says into one clear salt-cloud
        error naming what was being done.
        """
        return self.cloud.api(doing, self.error_text)

    # -- where and as whom ------------------------------------------------------

    def endpoint(self):
        """
        (host[:port] or None, url scheme) of ``api_endpoint``.
        """
        value = self.cloud.setting("api_endpoint")
        if not value:
            return None, "https"
        url = urllib.parse.urlsplit(str(value))
        if url.scheme not in ("http", "https") or not url.netloc or url.path not in ("", "/"):
            raise SaltCloudConfigError(f"gce: api_endpoint {value!r} must be http(s)://HOST[:PORT]")
        return url.netloc, url.scheme

    def credentials(self):
        """
        (credentials, the key's project) from the service-account key, or
        anonymous ones for a local fake.
        """
        if self.cloud.setting("anonymous"):
            if not self.cloud.setting("api_endpoint"):
                raise SaltCloudConfigError("gce: anonymous: True is only for a local fake (set api_endpoint)")
            return AnonymousCredentials(), None
        path = os.path.expanduser(str(self.cloud.setting("service_account_key")))
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

    def connect(self):
        """The Compute clients for the provider's endpoint, credentials and project."""
        host, scheme = self.endpoint()
        credentials, key_project = self.credentials()
        project = self.cloud.setting("project") or key_project
        if not project:
            raise SaltCloudConfigError(
                "gce: no project: set project in cloud.providers.d/gce.conf (the service-account key names none)"
            )
        _PROJECT["project"] = str(project)
        return _Connection(credentials, str(project), host, scheme, self.cloud.setting("request_timeout"))

    def place(self):
        """
        (zone, region) of the provider; the region is the zone's unless given.
        """
        zone = str(self.cloud.setting("zone"))
        if not re.fullmatch(r"[a-z]+-[a-z]+[0-9]+-[a-z]", zone):
            raise SaltCloudConfigError(f"gce: zone {zone!r} is not a zone name (like europe-west1-b)")
        region = str(self.cloud.setting("region") or zone.rsplit("-", 1)[0])
        if zone.rsplit("-", 1)[0] != region:
            raise SaltCloudConfigError(f"gce: zone {zone} is not in region {region}")
        return zone, region

    # -- reading and waiting ----------------------------------------------------

    def get(self, call, doing, **kwargs):
        """
        A resource, or None when the API says it does not exist.
        """
        with self.doing(doing):
            try:
                return call(**kwargs)
            except api_exceptions.NotFound:
                return None

    def ensure(self, conn, kind, name, getter, inserter, scope, label):
        """
        Get a resource, or create it and wait; when another salt-cloud
        process created it meanwhile (409), wait until it shows. Returns
        whether this call made it.
        """
        if self.get(getter, f"reading {kind} {name}") is not None:
            return False
        self.cloud.progress(label, f"creating {kind} {name}")
        with self.doing(f"creating {kind} {name}"):
            try:
                operation = inserter()
            except api_exceptions.Conflict:
                operation = None
        if operation is not None:
            self.wait(conn, operation, scope, f"creating {kind} {name}")
            return True
        deadline = time.monotonic() + float(self.cloud.setting("operation_timeout"))
        while self.get(getter, f"reading {kind} {name}") is None:
            if time.monotonic() > deadline:
                raise SaltCloudSystemExit(f"gce: {kind} {name} is being created by someone else and did not appear")
            time.sleep(float(self.cloud.setting("poll_interval")))
        return False

    def delete(self, conn, kind, call, scope, doing):
        """
        Delete a resource and wait; False when it was not there.
        """
        with self.doing(doing):
            try:
                operation = call()
            except api_exceptions.NotFound:
                return False
        self.wait(conn, operation, scope, doing)
        return True

    def wait(self, conn, operation, scope, doing):
        """
        Wait for an operation (``scope``: ("zone", z), ("region", r) or
        ("global",)) with the operations service's ``wait``, until it is
        DONE or ``operation_timeout`` passes; an operation that ends with an
        error raises with the API's messages.

        Not the client's own ``operation.result()``: its poller is an
        operations client made without our ``client_options``, so it would
        ask the public endpoint, never ``api_endpoint``.
        """
        timeout = float(self.cloud.setting("operation_timeout"))
        interval = float(self.cloud.setting("poll_interval"))
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
            with self.doing(doing):
                # the service answers when the operation is done or after about 2 min
                current = client.wait(
                    project=conn.project, operation=operation.name, timeout=min(max(remaining, 5.0), 150.0), **where
                )
            if current.status != done:
                time.sleep(max(0.0, min(interval, deadline - time.monotonic())))
        _raise_errors(current, doing)
        return current


def _raise_errors(operation, doing):
    errors = list(operation.error.errors) if operation.error else []
    if not errors:
        return
    codes = [e.code for e in errors]
    text = "; ".join(e.message or e.code for e in errors)
    if any(c in QUOTA_REASONS for c in codes) or "quota" in text.lower():
        raise SaltCloudSystemExit(f"gce: quota exceeded while {doing}: {text}")
    if operation.http_error_status_code == 403:
        raise SaltCloudSystemExit(
            f"gce: permission denied while {doing}: {text} (the service account needs {ROLES_NEEDED})"
        )
    raise SaltCloudSystemExit(f"gce: {doing} failed: {text} ({', '.join(codes)})")
