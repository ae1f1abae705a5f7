"""
OpenStack resources through openstacksdk: Keystone projects, users, role
grants, services and endpoints, Nova flavors and Neutron networks (Salt
3008 has no OpenStack module).

Each function takes ``cloud``, a name from ``/etc/openstack/clouds.yaml``;
without it the minion's ``openstack:cloud`` config value, else
``saltlab-admin``. Lookups return the resource as a dict, or None when it
does not exist. Failures (Keystone down, a 403, an ambiguous name) raise
CommandExecutionError with the API's message.

.. code-block:: bash

    salt controller openstack.project_get demo
    salt controller openstack.endpoint_get glance public
"""

import importlib
import logging

from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "openstack"

DEFAULT_CLOUD = "saltlab-admin"


def __virtual__():
    # Loads without openstacksdk: the keystone formula installs it
    # (python3-openstacksdk) in the same run as the first states that call
    # this module, which imports it on first use.
    return __virtualname__


def _sdk():
    """openstacksdk, imported on first use."""
    try:
        return importlib.import_module("openstack")
    except ImportError as exc:
        raise CommandExecutionError(f"openstacksdk is not installed (Debian: python3-openstacksdk): {exc}") from exc


def _conn(cloud=None):
    """A connection to the cloud, one per cloud name for the whole Salt run."""
    cloud = cloud or __salt__["config.get"]("openstack:cloud", DEFAULT_CLOUD)
    key = f"openstack.conn.{cloud}"
    if key not in __context__:
        sdk = _sdk()
        try:
            __context__[key] = sdk.connect(cloud=cloud)
        except sdk.exceptions.SDKException as exc:
            raise CommandExecutionError(f"cloud {cloud}: {exc}") from exc
    return __context__[key]


def _call(what, func, *args, **kwargs):
    """func(*args, **kwargs), an SDK failure turned into one clear message."""
    try:
        return func(*args, **kwargs)
    except _sdk().exceptions.SDKException as exc:
        raise CommandExecutionError(f"{what}: {exc}") from exc


def _plain(resource, *fields):
    """The resource's fields as a dict (None stays None)."""
    if resource is None:
        return None
    return {field: resource[field] for field in ("id",) + fields}


def _fields(kwargs):
    """The caller's keyword arguments without Salt's own (``__pub_*``)."""
    return {key: value for key, value in kwargs.items() if not key.startswith("__")}


def _domain_id(conn, domain):
    found = _call(f"domain {domain}", conn.identity.find_domain, domain, ignore_missing=True)
    if found is None:
        raise CommandExecutionError(f"domain {domain} does not exist")
    return found.id


def _require(what, resource):
    if resource is None:
        raise CommandExecutionError(f"{what} does not exist")
    return resource


# Projects


def _find_project(conn, name, domain):
    return _call(f"project {name}", conn.identity.find_project, name,
                 domain_id=_domain_id(conn, domain), ignore_missing=True)


def project_get(name, domain="default", cloud=None):
    """The project ``name`` in ``domain``: id, name, description, is_enabled."""
    conn = _conn(cloud)
    return _plain(_find_project(conn, name, domain), "name", "description", "is_enabled")


def project_create(name, description="", domain="default", cloud=None):
    conn = _conn(cloud)
    project = _call(f"creating project {name}", conn.identity.create_project, name=name,
                    description=description, domain_id=_domain_id(conn, domain), is_enabled=True)
    return _plain(project, "name", "description", "is_enabled")


def project_update(name, domain="default", cloud=None, **fields):
    """Set ``fields`` (description, is_enabled) on the project."""
    conn = _conn(cloud)
    project = _require(f"project {name}", _find_project(conn, name, domain))
    project = _call(f"updating project {name}", conn.identity.update_project, project, **_fields(fields))
    return _plain(project, "name", "description", "is_enabled")


def project_delete(name, domain="default", cloud=None):
    conn = _conn(cloud)
    project = _require(f"project {name}", _find_project(conn, name, domain))
    _call(f"deleting project {name}", conn.identity.delete_project, project)
    return True


# Users


def _find_user(conn, name, domain):
    return _call(f"user {name}", conn.identity.find_user, name,
                 domain_id=_domain_id(conn, domain), ignore_missing=True)


def _user(conn, user):
    """A user as a dict, its default project by name."""
    if user is None:
        return None
    ret = _plain(user, "name", "is_enabled")
    project_id = user.default_project_id
    project = conn.identity.find_project(project_id, ignore_missing=True) if project_id else None
    ret["default_project"] = project.name if project else None
    return ret


def user_get(name, domain="default", cloud=None):
    """The user ``name``: id, name, is_enabled and default_project (a name)."""
    conn = _conn(cloud)
    return _user(conn, _find_user(conn, name, domain))


def user_create(name, password, default_project=None, domain="default", cloud=None):
    conn = _conn(cloud)
    fields = {"name": name, "password": password, "domain_id": _domain_id(conn, domain), "is_enabled": True}
    if default_project:
        fields["default_project_id"] = _require(
            f"project {default_project}", _find_project(conn, default_project, domain)).id
    return _user(conn, _call(f"creating user {name}", conn.identity.create_user, **fields))


def user_update(name, password=None, default_project=None, domain="default", cloud=None):
    """Set the user's password and/or default project (given by name)."""
    conn = _conn(cloud)
    user = _require(f"user {name}", _find_user(conn, name, domain))
    fields = {}
    if password is not None:
        fields["password"] = password
    if default_project is not None:
        fields["default_project_id"] = _require(
            f"project {default_project}", _find_project(conn, default_project, domain)).id
    return _user(conn, _call(f"updating user {name}", conn.identity.update_user, user, **fields))


def user_delete(name, domain="default", cloud=None):
    conn = _conn(cloud)
    user = _require(f"user {name}", _find_user(conn, name, domain))
    _call(f"deleting user {name}", conn.identity.delete_user, user)
    return True


def user_password_valid(name, password, domain="default", cloud=None):
    """
    Whether Keystone accepts ``password`` for the user: it asks Keystone for
    an unscoped token as that user. Keystone keeps password hashes only, so
    this is the one way to compare.
    """
    conn = _conn(cloud)
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": _domain_id(conn, domain)}, "password": password}}}}}
    response = _call(f"authenticating user {name}", conn.identity.post, "/auth/tokens", json=body,
                     authenticated=False, raise_exc=False)
    if response.status_code == 201:
        return True
    if response.status_code == 401:
        return False
    raise CommandExecutionError(f"authenticating user {name}: HTTP {response.status_code} {response.text}")


# Role grants on projects


def _grant_parts(conn, role, user, project, domain):
    return (_require(f"role {role}", _call(f"role {role}", conn.identity.find_role, role, ignore_missing=True)),
            _require(f"user {user}", _find_user(conn, user, domain)),
            _require(f"project {project}", _find_project(conn, project, domain)))


def role_granted(role, user, project, domain="default", cloud=None):
    """Whether ``user`` has ``role`` on ``project``."""
    conn = _conn(cloud)
    role_, user_, project_ = _grant_parts(conn, role, user, project, domain)
    return bool(_call(f"role {role} of {user} on {project}", conn.identity.validate_user_has_project_role,
                      project_, user_, role_))


def role_grant(role, user, project, domain="default", cloud=None):
    conn = _conn(cloud)
    role_, user_, project_ = _grant_parts(conn, role, user, project, domain)
    _call(f"granting {role} to {user} on {project}", conn.identity.assign_project_role_to_user,
          project_, user_, role_)
    return True


def role_revoke(role, user, project, domain="default", cloud=None):
    conn = _conn(cloud)
    role_, user_, project_ = _grant_parts(conn, role, user, project, domain)
    _call(f"revoking {role} from {user} on {project}", conn.identity.unassign_project_role_from_user,
          project_, user_, role_)
    return True


# Catalog: services and endpoints


def _find_service(conn, name):
    """The service named ``name``; Keystone does not keep names unique."""
    found = [service for service in _call("services", conn.identity.services) if service.name == name]
    if len(found) > 1:
        raise CommandExecutionError(f"{len(found)} services are named {name}: delete all but one")
    return found[0] if found else None


def service_get(name, cloud=None):
    """The catalog service ``name``: id, name, type, description, is_enabled."""
    return _plain(_find_service(_conn(cloud), name), "name", "type", "description", "is_enabled")


def service_create(name, type, description="", cloud=None):  # pylint: disable=redefined-builtin
    service = _call(f"creating service {name}", _conn(cloud).identity.create_service,
                    name=name, type=type, description=description, is_enabled=True)
    return _plain(service, "name", "type", "description", "is_enabled")


def service_update(name, cloud=None, **fields):
    """Set ``fields`` (type, description, is_enabled) on the service."""
    conn = _conn(cloud)
    service = _require(f"service {name}", _find_service(conn, name))
    service = _call(f"updating service {name}", conn.identity.update_service, service, **_fields(fields))
    return _plain(service, "name", "type", "description", "is_enabled")


def service_delete(name, cloud=None):
    """Delete the service (Keystone deletes its endpoints with it)."""
    conn = _conn(cloud)
    service = _require(f"service {name}", _find_service(conn, name))
    _call(f"deleting service {name}", conn.identity.delete_service, service)
    return True


def _find_endpoint(conn, service, interface, region):
    service_ = _require(f"service {service}", _find_service(conn, service))
    found = list(_call(f"endpoints of {service}", conn.identity.endpoints,
                       service_id=service_.id, interface=interface, region_id=region))
    if len(found) > 1:
        raise CommandExecutionError(
            f"{len(found)} {interface} endpoints of {service} in {region}: delete all but one")
    return service_, (found[0] if found else None)


def endpoint_get(service, interface, region="RegionOne", cloud=None):
    """The ``interface`` endpoint of ``service`` in ``region``: id, url, is_enabled."""
    return _plain(_find_endpoint(_conn(cloud), service, interface, region)[1], "url", "is_enabled")


def endpoint_create(service, interface, url, region="RegionOne", cloud=None):
    conn = _conn(cloud)
    service_, _ = _find_endpoint(conn, service, interface, region)
    endpoint = _call(f"creating the {interface} endpoint of {service}", conn.identity.create_endpoint,
                     service_id=service_.id, interface=interface, url=url, region_id=region, is_enabled=True)
    return _plain(endpoint, "url", "is_enabled")


def endpoint_update(service, interface, url, region="RegionOne", cloud=None):
    conn = _conn(cloud)
    endpoint = _require(f"the {interface} endpoint of {service} in {region}",
                        _find_endpoint(conn, service, interface, region)[1])
    endpoint = _call(f"updating the {interface} endpoint of {service}", conn.identity.update_endpoint,
                     endpoint, url=url)
    return _plain(endpoint, "url", "is_enabled")


def endpoint_delete(service, interface, region="RegionOne", cloud=None):
    conn = _conn(cloud)
    endpoint = _require(f"the {interface} endpoint of {service} in {region}",
                        _find_endpoint(conn, service, interface, region)[1])
    _call(f"deleting the {interface} endpoint of {service}", conn.identity.delete_endpoint, endpoint)
    return True


# Nova flavors (immutable: a different flavor is a new one)

FLAVOR_FIELDS = ("name", "vcpus", "ram", "disk", "is_public")


def _find_flavor(conn, name):
    return _call(f"flavor {name}", conn.compute.find_flavor, name, ignore_missing=True)


def flavor_get(name, cloud=None):
    """The flavor ``name``: id, name, vcpus, ram (MiB), disk (GiB), is_public."""
    return _plain(_find_flavor(_conn(cloud), name), *FLAVOR_FIELDS)


def flavor_create(name, vcpus, ram, disk=0, is_public=True, cloud=None):
    flavor = _call(f"creating flavor {name}", _conn(cloud).compute.create_flavor,
                   name=name, vcpus=vcpus, ram=ram, disk=disk, is_public=is_public)
    return _plain(flavor, *FLAVOR_FIELDS)


def flavor_delete(name, cloud=None):
    conn = _conn(cloud)
    flavor = _require(f"flavor {name}", _find_flavor(conn, name))
    _call(f"deleting flavor {name}", conn.compute.delete_flavor, flavor)
    return True


# Neutron networks

NETWORK_FIELDS = ("name", "provider_network_type", "provider_physical_network", "is_router_external",
                  "is_shared", "mtu")


def _find_network(conn, name):
    return _call(f"network {name}", conn.network.find_network, name, ignore_missing=True)


def network_get(name, cloud=None):
    """The network ``name``: id, name, provider type and physical network, external, shared, mtu."""
    return _plain(_find_network(_conn(cloud), name), *NETWORK_FIELDS)


def network_create(name, cloud=None, **fields):
    """Create the network with ``fields`` (any of NETWORK_FIELDS but name)."""
    network = _call(f"creating network {name}", _conn(cloud).network.create_network, name=name,
                    **_fields(fields))
    return _plain(network, *NETWORK_FIELDS)


def network_update(name, cloud=None, **fields):
    """Set ``fields`` (is_router_external, is_shared, mtu) on the network."""
    conn = _conn(cloud)
    network = _require(f"network {name}", _find_network(conn, name))
    network = _call(f"updating network {name}", conn.network.update_network, network, **_fields(fields))
    return _plain(network, *NETWORK_FIELDS)


def network_delete(name, cloud=None):
    conn = _conn(cloud)
    network = _require(f"network {name}", _find_network(conn, name))
    _call(f"deleting network {name}", conn.network.delete_network, network)
    return True
