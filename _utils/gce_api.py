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
    import google.auth
    import google.auth.exceptions
    import requests.exceptions
    from google.api_core import exceptions as api_exceptions
    from google.auth import impersonated_credentials
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import compute_v1
    from google.oauth2 import service_account

    HAS_GCE = True
except ImportError:
    HAS_GCE = False

log = logging.getLogger(__name__)

COMPUTE_SCOPE = "https://www.googleapis.com/auth/compute"
# what the credentials that impersonate a service account need (IAM Credentials API)
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# the reasons the API gives for a project where the Compute Engine API is not enabled
DISABLED_REASONS = ("accessNotConfigured", "SERVICE_DISABLED")
CREDENTIALS = ("service_account_key", "application_default")
QUOTA_REASONS = (
    "quotaExceeded",
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "QUOTA_EXCEEDED",
    "ZONE_RESOURCE_POOL_EXHAUSTED",
    "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
)
ROLES_NEEDED = "Compute Instance Admin (v1), Compute Network Admin, Compute Security Admin and Service Account User"
ENABLE_API = "gcloud services enable compute.googleapis.com --project {project}"
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
    "projects": "ProjectsClient",
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
    reasons = [e.get("reason") for e in getattr(exc, "errors", None) or [] if isinstance(e, dict)]
    # google.rpc.ErrorInfo details (SERVICE_DISABLED)
    reasons += [getattr(d, "reason", None) for d in getattr(exc, "details", None) or []]
    return reasons


def api_disabled(exc, text=""):
    """Whether the API says it is not enabled in the project (a 403 of its own)."""
    return any(r in DISABLED_REASONS for r in _reasons(exc)) or (
        "has not been used in project" in text or "it is disabled" in text
    )


class _Timed:
    """
    A client whose calls take ``request_timeout`` (seconds per HTTP request)
    unless the call gives its own ``timeout``.
    """

    def __init__(self, client, timeout):
        self._client, self._timeout = client, timeout

    def __getattr__(self, name):
        value = getattr(self._client, name)
        if name.startswith("_") or not callable(value) or not self._timeout:
            return value
        return functools.partial(value, timeout=float(self._timeout))


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
            client = cls(credentials=self._credentials, client_options=options, transport=transport)
            self._clients[name] = _Timed(client, self.timeout)
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
            project = _PROJECT.get("project") or self.cloud.setting("project") or "?"
            if api_disabled(exc, text):
                return (
                    f"gce: the Compute Engine API is not enabled in project {project} (seen while {doing}): "
                    f"enable it with `{ENABLE_API.format(project=project)}` (or the console's APIs & Services), "
                    "wait a minute, then run again"
                )
            if any(r in QUOTA_REASONS for r in _reasons(exc)) or "quota" in text.lower():
                return f"gce: quota exceeded while {doing}: {text}"
            needs = f"the service account needs {ROLES_NEEDED} on project {project}"
            return f"gce: permission denied while {doing}: {text} ({needs})"
        if HAS_GCE and isinstance(exc, google.auth.exceptions.InvalidOperation):
            # a 401 to credentials that cannot be refreshed (anonymous ones)
            return f"gce: the API rejected the credentials while {doing}: {text}"
        if HAS_GCE and isinstance(exc, api_exceptions.Unauthorized):
            return f"gce: the API rejected the credentials while {doing}: {text} (check service_account_key {key})"
        if HAS_GCE and isinstance(exc, google.auth.exceptions.RefreshError):
            target = self.cloud.setting("impersonate_service_account")
            if target:
                why = f"your credentials need Service Account Token Creator on {target}"
                return f"gce: impersonating {target} was refused while {doing}: {exc} ({why})"
            if self._source() == "application_default":
                why = "run `gcloud auth application-default login` again"
                return f"gce: the application-default credentials were refused while {doing}: {exc} ({why})"
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

    def _source(self):
        """
        Where the credentials come from: ``credentials`` when set, else the
        service-account key when one is configured or at the default path,
        else application-default credentials.
        """
        chosen = self.cloud.setting("credentials")
        if chosen:
            if chosen not in CREDENTIALS:
                raise SaltCloudConfigError(f"gce: credentials must be one of {', '.join(CREDENTIALS)}, not {chosen!r}")
            return chosen
        provider = self.cloud.provider() or {}
        if provider.get("service_account_key"):
            return "service_account_key"
        path = os.path.expanduser(str(self.cloud.setting("service_account_key")))
        return "service_account_key" if os.path.isfile(path) else "application_default"

    def credentials(self):
        """
        (credentials, their project or None): a service-account key
        (``service_account_key``), application-default credentials
        (``gcloud auth application-default login``, ``GOOGLE_APPLICATION_CREDENTIALS``
        or the metadata server), either impersonating the service account
        ``impersonate_service_account``; or anonymous ones for a local fake.
        """
        if self.cloud.setting("anonymous"):
            if not self.cloud.setting("api_endpoint"):
                raise SaltCloudConfigError("gce: anonymous: True is only for a local fake (set api_endpoint)")
            return AnonymousCredentials(), None
        target = self.cloud.setting("impersonate_service_account")
        scopes = [CLOUD_PLATFORM_SCOPE] if target else [COMPUTE_SCOPE]
        if self._source() == "application_default":
            source, project = self._application_default(scopes)
        else:
            source, project = self._key_file(scopes)
        if not target:
            return source, project
        return self._impersonated(source, str(target)), self._account_project(str(target)) or project

    def _application_default(self, scopes):
        try:
            credentials, project = google.auth.default(scopes=scopes)
        except google.auth.exceptions.DefaultCredentialsError as exc:
            key = os.path.expanduser(str(self.cloud.setting("service_account_key")))
            raise SaltCloudConfigError(
                f"gce: no credentials: no service-account key at {key} and no application-default credentials "
                f"({exc}); run `gcloud auth application-default login`, or set service_account_key "
                "(README: Google Cloud)"
            ) from None
        return credentials, project

    @staticmethod
    def _account_project(email):
        match = re.fullmatch(r"[^@]+@([a-z][-a-z0-9]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com", email)
        return match.group(1) if match else None

    def _impersonated(self, source, target):
        if "@" not in target:
            raise SaltCloudConfigError(f"gce: impersonate_service_account {target!r} is not a service account's email")
        override = self.cloud.setting("iam_endpoint")
        extra = {}
        if override:
            extra["iam_endpoint_override"] = (
                f"{str(override).rstrip('/')}/iam/v1/projects/-/serviceAccounts/{target}:generateAccessToken"
            )
        return impersonated_credentials.Credentials(
            source_credentials=source, target_principal=target, target_scopes=[COMPUTE_SCOPE], lifetime=3600, **extra
        )

    def _key_file(self, scopes):
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
            credentials = service_account.Credentials.from_service_account_info(info, scopes=scopes)
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
                "gce: no project: set project in cloud.providers.d/gce.conf (the credentials name none)"
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

    def oslogin_enabled(self, conn):
        """Whether the project's metadata enables OS Login (False when the project cannot be read)."""
        call = functools.partial(conn.projects.get, project=conn.project)
        try:
            project = self.get(call, f"reading project {conn.project}")
        except SaltCloudSystemExit:
            return False  # no compute.projects.get: nothing known
        items = {i.key: i.value for i in project.common_instance_metadata.items} if project else {}
        return str(items.get("enable-oslogin", "")).strip().upper() == "TRUE"

    def zones(self):
        """The project's zones: ``{name: {"region", "status"}}``."""
        conn = self.connect()
        with self.doing("listing zones"):
            zones = conn.zones.list(project=conn.project)
            return {z.name: {"region": z.region.rsplit("/", 1)[-1], "status": z.status} for z in zones}

    def machine_types(self):
        """The machine types of the provider's zone: ``{name: {"cpus", "memory_mb", "description"}}``."""
        zone, _region = self.place()
        conn = self.connect()
        with self.doing(f"listing the machine types of zone {zone}"):
            types = conn.machine_types.list(project=conn.project, zone=zone)
            return {
                m.name: {"cpus": m.guest_cpus, "memory_mb": m.memory_mb, "description": m.description} for m in types
            }

    def images(self, projects):
        """The images of these projects, by path, with their family's path."""
        conn = self.connect()
        found = {}
        for project in projects:
            with self.doing(f"listing the images of project {project}"):
                for image in conn.images.list(project=project):
                    found[f"projects/{project}/global/images/{image.name}"] = {
                        "name": image.name,
                        "family": image.family,
                        "status": image.status,
                        "family_link": f"projects/{project}/global/images/family/{image.family}",
                    }
        return found

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
    if any(c in DISABLED_REASONS for c in codes):
        project = _PROJECT.get("project", "?")
        raise SaltCloudSystemExit(
            f"gce: the Compute Engine API is not enabled in project {project} (seen while {doing}): "
            f"enable it with `{ENABLE_API.format(project=project)}`, wait a minute, then run again"
        )
    if operation.http_error_status_code == 403:
        raise SaltCloudSystemExit(
            f"gce: permission denied while {doing}: {text} (the service account needs {ROLES_NEEDED})"
        )
    raise SaltCloudSystemExit(f"gce: {doing} failed: {text} ({', '.join(codes)})")
